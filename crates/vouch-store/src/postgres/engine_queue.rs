//! `EngineStore` for PostgreSQL: claims skip rows other nodes hold.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vouch_core::EngineJobId;

use super::driver::Pg;
use super::PgStore;
use crate::engines::*;
use crate::model::EngineJob;
use crate::queries::{engines, queue};
use crate::StoreResult;

#[async_trait]
impl EngineStore for PgStore {
    async fn claim_engine_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<EngineJob>> {
        Ok(in_tx!(self, tx => engines::claim(&Pg(&tx), now, lease_until, limit).await?))
    }

    async fn record_engine_results(
        &self,
        results: Vec<EngineResult>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tx!(self, tx => engines::record(&Pg(&tx), &results, now).await?);
        Ok(())
    }

    async fn next_engine_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        queue::next_due(&Pg(&self.conn().await?), &queue::ENGINE_JOBS).await
    }

    async fn release_engine_leases_at_start(&self) -> StoreResult<usize> {
        Ok(0)
    }

    async fn release_engine_jobs(&self, ids: Vec<EngineJobId>) -> StoreResult<usize> {
        queue::release(&Pg(&self.conn().await?), &queue::ENGINE_JOBS, &ids).await
    }

    fn engine_signal(&self) -> Arc<tokio::sync::Notify> {
        self.shared.engine_signal.clone()
    }
}
