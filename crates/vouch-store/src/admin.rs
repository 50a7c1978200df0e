//! Back-office writes that Didit's clients call beside the session flow: archiving workflows
//! and batch deletion (with its leased job queue).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use vouch_core::{AppId, WorkflowId};

use crate::model::{Idem, WorkflowRecord, Written};
use crate::StoreResult;

pub use crate::queries::batches::{
    BatchJob, DeletionAnswer, DeletionInput, DeletionProgress, DeletionRequest, CHUNK, INLINE,
};
pub use crate::queries::sharing::{Imported, SharedImport};

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

    // --- batch deletion ---------------------------------------------------------------------
    /// Matches the sessions and erases them (as single deletions do) or queues the job that
    /// will, in one transaction with the idempotency record.
    async fn request_deletion(
        &self,
        app_id: AppId,
        request: DeletionRequest,
        idem: Option<Idem<DeletionAnswer>>,
    ) -> StoreResult<Written<DeletionAnswer>>;
    /// The application's default workflow at its current version, if it has one.
    async fn default_workflow(&self, app_id: AppId) -> StoreResult<Option<WorkflowRecord>>;

    // --- sharing ------------------------------------------------------------------------------
    /// Imports a shared session in one transaction: the redemption, the fresh session and its
    /// first change (`decide_new`), and the source's trail row (`decide_source`).
    async fn import_shared(
        &self,
        import: SharedImport,
        decide_new: crate::model::Decide,
        decide_source: crate::model::Decide,
    ) -> StoreResult<Imported>;

    async fn batch_job(&self, app_id: AppId, id: Uuid) -> StoreResult<Option<BatchJob>>;
    async fn claim_batch_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<BatchJob>>;
    /// One run of a claimed job: its next chunk and its progress, in one transaction.
    async fn run_batch_chunk(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<BatchJob>>;
    /// A run that failed: retried at `retry_at`, or failed for good.
    async fn fail_batch_run(
        &self,
        id: Uuid,
        error: String,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn next_batch_due(&self) -> StoreResult<Option<DateTime<Utc>>>;
    async fn release_batch_jobs(&self, ids: Vec<Uuid>) -> StoreResult<usize>;
    /// Single-node stores end the leases of a previous run at start; shared stores let them expire.
    async fn release_batch_leases_at_start(&self) -> StoreResult<usize>;
    /// Notified after a batch job is created on this node.
    fn batch_signal(&self) -> std::sync::Arc<tokio::sync::Notify>;
}
