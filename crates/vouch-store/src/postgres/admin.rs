//! `AdminStore` for PostgreSQL: the shared statements, each call in one transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vouch_core::{AppId, WorkflowId};

use super::driver::Pg;
use super::PgStore;
use crate::admin::AdminStore;
use crate::model::WorkflowRecord;
use crate::queries::catalog;
use crate::StoreResult;

#[async_trait]
impl AdminStore for PgStore {
    async fn archive_workflow(
        &self,
        app_id: AppId,
        id: WorkflowId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<WorkflowRecord>> {
        Ok(in_tx!(self, tx => catalog::archive_workflow(&Pg(&tx), app_id, id, now).await?))
    }
}
