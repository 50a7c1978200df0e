//! `EmailStore` for SQLite: the shared queue statements on the writer and the read pool.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::driver::{ready, Lite};
use super::SqliteStore;
use crate::emails::*;
use crate::model::EmailJob;
use crate::queries::{emails, queue};
use crate::StoreResult;

#[async_trait]
impl EmailStore for SqliteStore {
    async fn claim_email_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<EmailJob>> {
        self.writer
            .write(move |c| ready(emails::claim(&Lite(c), now, lease_until, limit)))
            .await
    }

    async fn record_email_results(
        &self,
        results: Vec<EmailResult>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.writer
            .write(move |c| ready(emails::record(&Lite(c), &results, now)))
            .await
    }

    async fn next_email_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.readers
            .read(|c| ready(queue::next_due(&Lite(c), &queue::EMAIL_JOBS)))
            .await
    }

    async fn release_email_leases_at_start(&self) -> StoreResult<usize> {
        self.writer
            .write(|c| ready(queue::release_all(&Lite(c), &queue::EMAIL_JOBS)))
            .await
    }

    async fn release_email_jobs(&self, ids: Vec<Uuid>) -> StoreResult<usize> {
        self.writer
            .write(move |c| ready(queue::release(&Lite(c), &queue::EMAIL_JOBS, &ids)))
            .await
    }

    fn email_signal(&self) -> Arc<tokio::sync::Notify> {
        self.mail_signal.clone()
    }
}
