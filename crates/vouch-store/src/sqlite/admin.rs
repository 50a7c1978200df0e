//! `AdminStore` for SQLite: the shared statements on the writer and the read pool.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use vouch_core::{AppId, WorkflowId};

use super::driver::{ready, Lite};
use super::SqliteStore;
use crate::admin::{
    AdminStore, BatchJob, DeletionAnswer, DeletionRequest, ImportBatch, ImportDecide, ImportFile,
    ImportJob, ImportRowError, Imported, SharedImport,
};
use crate::model::WorkflowRecord;
use crate::model::{Idem, Written};
use crate::queries::{batches, catalog, imports, queue, sharing};
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

    async fn request_deletion(
        &self,
        app_id: AppId,
        request: DeletionRequest,
        idem: Option<Idem<DeletionAnswer>>,
    ) -> StoreResult<Written<DeletionAnswer>> {
        let written = self
            .writer
            .write(move |c| {
                super::idempotency::run(c, idem, || {
                    ready(batches::request(&Lite(c), app_id, request))
                })
            })
            .await?;
        if matches!(written, Written::Fresh(DeletionAnswer::Queued(_))) {
            self.batch_signal.notify_one();
        }
        Ok(written)
    }

    async fn default_workflow(&self, app_id: AppId) -> StoreResult<Option<WorkflowRecord>> {
        self.readers
            .read(move |c| {
                ready(async move {
                    let db = Lite(c);
                    match catalog::default_workflow_id(&db, app_id).await? {
                        Some(id) => catalog::current_workflow(&db, app_id, id).await,
                        None => Ok(None),
                    }
                })
            })
            .await
    }

    async fn import_shared(
        &self,
        import: SharedImport,
        decide_new: crate::model::Decide,
        decide_source: crate::model::Decide,
    ) -> StoreResult<Imported> {
        let cache = self.workflows.clone();
        let done = self
            .writer
            .write(move |c| {
                ready(sharing::import(
                    &Lite(c),
                    &cache,
                    import,
                    decide_new,
                    decide_source,
                ))
            })
            .await?;
        if matches!(done, Imported::Done(_)) {
            self.wake(true, false);
        }
        Ok(done)
    }

    async fn batch_job(&self, app_id: AppId, id: Uuid) -> StoreResult<Option<BatchJob>> {
        self.readers
            .read(move |c| ready(batches::get(&Lite(c), app_id, id)))
            .await
    }

    async fn claim_batch_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<BatchJob>> {
        self.writer
            .write(move |c| ready(batches::claim(&Lite(c), now, lease_until, limit)))
            .await
    }

    async fn run_batch_chunk(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<BatchJob>> {
        self.writer
            .write(move |c| ready(batches::run_chunk(&Lite(c), id, now)))
            .await
    }

    async fn fail_batch_run(
        &self,
        id: Uuid,
        error: String,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.writer
            .write(move |c| ready(batches::failed(&Lite(c), id, &error, retry_at, now)))
            .await
    }

    async fn next_batch_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.readers
            .read(|c| ready(queue::next_due(&Lite(c), &queue::BATCH_JOBS)))
            .await
    }

    async fn release_batch_jobs(&self, ids: Vec<Uuid>) -> StoreResult<usize> {
        self.writer
            .write(move |c| ready(queue::release(&Lite(c), &queue::BATCH_JOBS, &ids)))
            .await
    }

    async fn release_batch_leases_at_start(&self) -> StoreResult<usize> {
        self.writer
            .write(|c| ready(queue::release_all(&Lite(c), &queue::BATCH_JOBS)))
            .await
    }

    fn batch_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.batch_signal.clone()
    }

    async fn create_import(
        &self,
        job: ImportJob,
        file: Option<ImportFile>,
        idem: Option<Idem<ImportJob>>,
    ) -> StoreResult<Written<ImportJob>> {
        let written = self
            .writer
            .write(move |c| {
                super::idempotency::run(c, idem, || {
                    ready(async move {
                        imports::create(&Lite(c), &job, file).await?;
                        Ok(job)
                    })
                })
            })
            .await?;
        self.import_signal.notify_one();
        Ok(written)
    }

    async fn import_job(&self, app_id: AppId, id: Uuid) -> StoreResult<Option<ImportJob>> {
        self.readers
            .read(move |c| ready(imports::get(&Lite(c), app_id, id)))
            .await
    }

    async fn import_errors(
        &self,
        id: Uuid,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<ImportRowError>, i64)> {
        self.readers
            .read(move |c| ready(imports::errors(&Lite(c), id, limit, offset)))
            .await
    }

    async fn attach_import_file(
        &self,
        id: Uuid,
        file: ImportFile,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.writer
            .write(move |c| ready(imports::attach(&Lite(c), id, file, now)))
            .await
    }

    async fn import_window(
        &self,
        id: Uuid,
        offset: i64,
        len: i64,
    ) -> StoreResult<Option<(Vec<u8>, i64)>> {
        self.readers
            .read(move |c| ready(imports::window(&Lite(c), id, offset, len)))
            .await
    }

    async fn import_rows(
        &self,
        batch: ImportBatch,
        decide: ImportDecide,
    ) -> StoreResult<Option<ImportJob>> {
        self.writer
            .write(move |c| ready(imports::import_rows(&Lite(c), batch, decide)))
            .await
    }

    async fn claim_imports(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<ImportJob>> {
        self.writer
            .write(move |c| ready(imports::claim(&Lite(c), now, lease_until, limit)))
            .await
    }

    async fn fail_import_run(
        &self,
        id: Uuid,
        error: String,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.writer
            .write(move |c| ready(imports::failed(&Lite(c), id, &error, retry_at, now)))
            .await
    }

    async fn next_import_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.readers
            .read(|c| ready(queue::next_due(&Lite(c), &queue::IMPORT_JOBS)))
            .await
    }

    async fn release_imports(&self, ids: Vec<Uuid>) -> StoreResult<usize> {
        self.writer
            .write(move |c| ready(queue::release(&Lite(c), &queue::IMPORT_JOBS, &ids)))
            .await
    }

    async fn release_import_leases_at_start(&self) -> StoreResult<usize> {
        self.writer
            .write(|c| ready(queue::release_all(&Lite(c), &queue::IMPORT_JOBS)))
            .await
    }

    fn import_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.import_signal.clone()
    }

    /// SQLite's planner needs no statistics for these statements (primary-key lookups).
    async fn refresh_import_statistics(&self) -> StoreResult<()> {
        Ok(())
    }
}
