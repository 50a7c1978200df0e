//! `AdminStore` for SQLite: the shared statements on the writer.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vouch_core::{AppId, WorkflowId};

use super::driver::{ready, Lite};
use super::SqliteStore;
use crate::admin::AdminStore;
use crate::model::WorkflowRecord;
use crate::queries::catalog;
use crate::StoreResult;

#[async_trait]
impl AdminStore for SqliteStore {
    async fn archive_workflow(
        &self,
        app_id: AppId,
        id: WorkflowId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<WorkflowRecord>> {
        self.writer
            .write(move |c| ready(catalog::archive_workflow(&Lite(c), app_id, id, now)))
            .await
    }
}
