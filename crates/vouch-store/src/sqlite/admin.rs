//! `AdminStore` for SQLite: the shared statements on the writer and the read pool.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use vouch_core::{AppId, WorkflowId};

use super::driver::{ready, Lite};
use super::SqliteStore;
use crate::admin::{AdminStore, BatchJob, DeletionAnswer, DeletionRequest, Imported, SharedImport};
use crate::model::WorkflowRecord;
use crate::model::{Idem, Written};
use crate::queries::{batches, catalog, queue, sharing};
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
}
