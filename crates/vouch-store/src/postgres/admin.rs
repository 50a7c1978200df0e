//! `AdminStore` for PostgreSQL: the shared statements, each write in one transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use vouch_core::{AppId, WorkflowId};

use super::driver::Pg;
use super::PgStore;
use crate::admin::{
    AdminStore, BatchJob, DeletionAnswer, DeletionRequest, ImportBatch, ImportDecide, ImportFile,
    ImportJob, ImportRowError, Imported, SharedImport,
};
use crate::model::WorkflowRecord;
use crate::model::{Idem, Written};
use crate::queries::{batches, catalog, idempotency, imports, queue, sharing};
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

    async fn request_deletion(
        &self,
        app_id: AppId,
        request: DeletionRequest,
        idem: Option<Idem<DeletionAnswer>>,
    ) -> StoreResult<Written<DeletionAnswer>> {
        let written = in_tx!(self, tx => {
            match idempotency::begin(&Pg(&tx), idem.as_ref().map(|i| &i.key)).await? {
                Some(replayed) => replayed,
                None => {
                    let answer = batches::request(&Pg(&tx), app_id, request).await?;
                    idempotency::finish(&Pg(&tx), idem, answer).await?
                }
            }
        });
        if matches!(written, Written::Fresh(DeletionAnswer::Queued(_))) {
            self.batch_signal.notify_one();
        }
        Ok(written)
    }

    async fn default_workflow(&self, app_id: AppId) -> StoreResult<Option<WorkflowRecord>> {
        let db = Pg(&self.conn().await?);
        match catalog::default_workflow_id(&db, app_id).await? {
            Some(id) => catalog::current_workflow(&db, app_id, id).await,
            None => Ok(None),
        }
    }

    async fn import_shared(
        &self,
        import: SharedImport,
        decide_new: crate::model::Decide,
        decide_source: crate::model::Decide,
    ) -> StoreResult<Imported> {
        let cache = self.shared.workflows.clone();
        let done = in_tx!(self, tx => {
            sharing::import(&Pg(&tx), &cache, import, decide_new, decide_source).await?
        });
        if matches!(done, Imported::Done(_)) {
            self.wake(true, false);
        }
        Ok(done)
    }

    async fn batch_job(&self, app_id: AppId, id: Uuid) -> StoreResult<Option<BatchJob>> {
        batches::get(&Pg(&self.conn().await?), app_id, id).await
    }

    async fn claim_batch_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<BatchJob>> {
        Ok(in_tx!(self, tx => batches::claim(&Pg(&tx), now, lease_until, limit).await?))
    }

    async fn run_batch_chunk(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<BatchJob>> {
        Ok(in_tx!(self, tx => batches::run_chunk(&Pg(&tx), id, now).await?))
    }

    async fn fail_batch_run(
        &self,
        id: Uuid,
        error: String,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        batches::failed(&Pg(&self.conn().await?), id, &error, retry_at, now).await
    }

    async fn next_batch_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        queue::next_due(&Pg(&self.conn().await?), &queue::BATCH_JOBS).await
    }

    async fn release_batch_jobs(&self, ids: Vec<Uuid>) -> StoreResult<usize> {
        queue::release(&Pg(&self.conn().await?), &queue::BATCH_JOBS, &ids).await
    }

    async fn release_batch_leases_at_start(&self) -> StoreResult<usize> {
        Ok(0)
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
        let written = in_tx!(self, tx => {
            match idempotency::begin(&Pg(&tx), idem.as_ref().map(|i| &i.key)).await? {
                Some(replayed) => replayed,
                None => {
                    imports::create(&Pg(&tx), &job, file).await?;
                    idempotency::finish(&Pg(&tx), idem, job).await?
                }
            }
        });
        self.import_signal.notify_one();
        Ok(written)
    }

    async fn import_job(&self, app_id: AppId, id: Uuid) -> StoreResult<Option<ImportJob>> {
        imports::get(&Pg(&self.conn().await?), app_id, id).await
    }

    async fn import_errors(
        &self,
        id: Uuid,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<ImportRowError>, i64)> {
        imports::errors(&Pg(&self.conn().await?), id, limit, offset).await
    }

    async fn attach_import_file(
        &self,
        id: Uuid,
        file: ImportFile,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tx!(self, tx => imports::attach(&Pg(&tx), id, file, now).await?);
        Ok(())
    }

    async fn import_window(
        &self,
        id: Uuid,
        offset: i64,
        len: i64,
    ) -> StoreResult<Option<(Vec<u8>, i64)>> {
        imports::window(&Pg(&self.conn().await?), id, offset, len).await
    }

    async fn import_rows(
        &self,
        batch: ImportBatch,
        decide: ImportDecide,
    ) -> StoreResult<Option<ImportJob>> {
        Ok(in_tx!(self, tx => imports::import_rows(&Pg(&tx), batch, decide).await?))
    }

    async fn claim_imports(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<ImportJob>> {
        Ok(in_tx!(self, tx => imports::claim(&Pg(&tx), now, lease_until, limit).await?))
    }

    async fn fail_import_run(
        &self,
        id: Uuid,
        error: String,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tx!(self, tx => imports::failed(&Pg(&tx), id, &error, retry_at, now).await?);
        Ok(())
    }

    async fn next_import_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        queue::next_due(&Pg(&self.conn().await?), &queue::IMPORT_JOBS).await
    }

    async fn release_imports(&self, ids: Vec<Uuid>) -> StoreResult<usize> {
        queue::release(&Pg(&self.conn().await?), &queue::IMPORT_JOBS, &ids).await
    }

    async fn release_import_leases_at_start(&self) -> StoreResult<usize> {
        Ok(0)
    }

    fn import_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.import_signal.clone()
    }

    async fn refresh_import_statistics(&self) -> StoreResult<()> {
        self.conn()
            .await?
            .batch_execute("ANALYZE sessions, attempts, reviews, import_refs")
            .await
            .map_err(super::rows::db_err)
    }
}
