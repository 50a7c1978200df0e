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
pub use crate::queries::imports::{
    BatchRow, ImportBatch, ImportDecide, ImportFile, ImportJob, ImportRowError,
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

    // --- bulk imports -----------------------------------------------------------------------
    /// Creates an import job (with its checked file when uploaded), in one transaction with the
    /// idempotency record.
    async fn create_import(
        &self,
        job: ImportJob,
        file: Option<ImportFile>,
        idem: Option<Idem<ImportJob>>,
    ) -> StoreResult<Written<ImportJob>>;
    async fn import_job(&self, app_id: AppId, id: Uuid) -> StoreResult<Option<ImportJob>>;
    /// A page of an import's row errors and their count.
    async fn import_errors(
        &self,
        id: Uuid,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<ImportRowError>, i64)>;
    /// Keeps a fetched file (checked) for its job.
    async fn attach_import_file(
        &self,
        id: Uuid,
        file: ImportFile,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Up to `len` bytes of a job's file from `offset`, and the file's length.
    async fn import_window(
        &self,
        id: Uuid,
        offset: i64,
        len: i64,
    ) -> StoreResult<Option<(Vec<u8>, i64)>>;
    /// One run's rows, the job's counters and position, in one transaction.
    async fn import_rows(
        &self,
        batch: ImportBatch,
        decide: ImportDecide,
    ) -> StoreResult<Option<ImportJob>>;
    async fn claim_imports(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<ImportJob>>;
    async fn fail_import_run(
        &self,
        id: Uuid,
        error: String,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn next_import_due(&self) -> StoreResult<Option<DateTime<Utc>>>;
    async fn release_imports(&self, ids: Vec<Uuid>) -> StoreResult<usize>;
    async fn release_import_leases_at_start(&self) -> StoreResult<usize>;
    /// Notified after an import job is created on this node.
    fn import_signal(&self) -> std::sync::Arc<tokio::sync::Notify>;
    /// Refreshes the planner's statistics of the tables an import grows. PostgreSQL plans
    /// cached while they were nearly empty (a fresh database) would otherwise walk a whole
    /// index per row once they are large (measured: 200 rows/s at 100,000 rows instead of
    /// thousands) until autovacuum analyzes them, which it may never do.
    async fn refresh_import_statistics(&self) -> StoreResult<()>;
}
