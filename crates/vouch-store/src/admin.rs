//! Back-office writes that Didit's clients call beside the session flow: archiving workflows,
//! and (as they are added) batch deletion, reviewer corrections, sharing and imports.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vouch_core::{AppId, WorkflowId};

use crate::model::WorkflowRecord;
use crate::StoreResult;

#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Archives the workflow: its sessions go on, new sessions on it are refused, and it is no
    /// longer the default. `None` when the application has no such workflow.
    async fn archive_workflow(
        &self,
        app_id: AppId,
        id: WorkflowId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<WorkflowRecord>>;
}
