//! The engine queue: submitted steps written with the submission, claimed with a lease,
//! recorded once their result is on the session.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vouch_core::EngineJobId;

use crate::model::EngineJob;
use crate::StoreResult;

pub use crate::queries::engines::{EngineOutcome, EngineResult};

#[async_trait]
pub trait EngineStore: Send + Sync {
    /// Leases due pending jobs.
    async fn claim_engine_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<EngineJob>>;
    async fn record_engine_results(
        &self,
        results: Vec<EngineResult>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// When the next pending job comes due (a leased job not before its lease ends).
    async fn next_engine_due(&self) -> StoreResult<Option<DateTime<Utc>>>;
    /// Single-node stores end the leases of a previous run at start; shared stores let them expire.
    async fn release_engine_leases_at_start(&self) -> StoreResult<usize>;
    /// Ends the leases of these jobs (still running when a node stops).
    async fn release_engine_jobs(&self, ids: Vec<EngineJobId>) -> StoreResult<usize>;
    /// Notified after every commit on this node that queued an engine job.
    fn engine_signal(&self) -> std::sync::Arc<tokio::sync::Notify>;
}
