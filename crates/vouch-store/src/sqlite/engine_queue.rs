//! `EngineStore` for SQLite: the shared queue statements on the writer and the read pool.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vouch_core::EngineJobId;

use super::driver::{ready, Lite};
use super::SqliteStore;
use crate::engines::*;
use crate::model::EngineJob;
use crate::queries::{engines, queue};
use crate::StoreResult;

#[async_trait]
impl EngineStore for SqliteStore {
    async fn claim_engine_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<EngineJob>> {
        self.writer
            .write(move |c| ready(engines::claim(&Lite(c), now, lease_until, limit)))
            .await
    }

    async fn record_engine_results(
        &self,
        results: Vec<EngineResult>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.writer
            .write(move |c| ready(engines::record(&Lite(c), &results, now)))
            .await
    }

    async fn next_engine_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.readers
            .read(|c| ready(queue::next_due(&Lite(c), &queue::ENGINE_JOBS)))
            .await
    }

    async fn release_engine_leases_at_start(&self) -> StoreResult<usize> {
        self.writer
            .write(|c| ready(queue::release_all(&Lite(c), &queue::ENGINE_JOBS)))
            .await
    }

    async fn release_engine_jobs(&self, ids: Vec<EngineJobId>) -> StoreResult<usize> {
        self.writer
            .write(move |c| ready(queue::release(&Lite(c), &queue::ENGINE_JOBS, &ids)))
            .await
    }

    fn engine_signal(&self) -> Arc<tokio::sync::Notify> {
        self.engine_signal.clone()
    }
}
