//! The mailer's queue: email jobs written with status changes, claimed with a lease, recorded.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::model::EmailJob;
use crate::StoreResult;

pub use vouch_core::delivery::{EmailOutcome, EmailState};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailResult {
    pub id: Uuid,
    /// Tries made so far, this one included.
    pub attempts: i64,
    pub outcome: EmailOutcome,
}

#[async_trait]
pub trait EmailStore: Send + Sync {
    /// Leases due pending jobs.
    async fn claim_email_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<EmailJob>>;
    async fn record_email_results(
        &self,
        results: Vec<EmailResult>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// When the next pending job comes due (a leased job not before its lease ends).
    async fn next_email_due(&self) -> StoreResult<Option<DateTime<Utc>>>;
    /// Single-node stores end the leases of a previous run at start; shared stores let them expire.
    async fn release_email_leases_at_start(&self) -> StoreResult<usize>;
    /// Ends the leases of these jobs (still running when a node stops).
    async fn release_email_jobs(&self, ids: Vec<Uuid>) -> StoreResult<usize>;
    /// Notified after every commit that queued an email.
    fn email_signal(&self) -> std::sync::Arc<tokio::sync::Notify>;
}
