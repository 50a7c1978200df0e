//! The batch runner: the fourth queue of the shared job runner (`jobs`). A batch deletion too
//! large to answer at once is a job; each run erases the next chunk of its sessions with the
//! job's progress in one transaction (the store's `run_batch_chunk`), then leaves it due again
//! until nothing is left. A crash between runs repeats nothing and loses nothing.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};
use uuid::Uuid;
use vouch_store::{BatchJob, Store, StoreResult};

use crate::config::Config;
use crate::jobs::{self, Limits, Queue};

struct Batches {
    store: Arc<dyn Store>,
}

/// Waits before a failed run is tried again; after the last the job is failed.
const RETRY_SCHEDULE: [Duration; 4] = [
    Duration::from_secs(1),
    Duration::from_secs(10),
    Duration::from_secs(60),
    Duration::from_secs(600),
];

#[async_trait]
impl Queue for Batches {
    type Job = BatchJob;
    type Outcome = ();
    type Id = Uuid;
    type Lane = ();

    fn name(&self) -> &'static str {
        "batches"
    }

    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
        _skip_lanes: Vec<()>,
    ) -> StoreResult<Vec<BatchJob>> {
        self.store.claim_batch_jobs(now, lease_until, limit).await
    }

    fn id(&self, job: &BatchJob) -> Uuid {
        job.id
    }

    async fn run(&self, job: BatchJob) {
        match self
            .store
            .run_batch_chunk(job.id, crate::clock::now())
            .await
        {
            Ok(Some(j)) if j.state == "done" => tracing::info!(
                job = %j.id, deleted = j.progress.deleted, not_found = j.progress.not_found.len(),
                "batch deletion finished"
            ),
            Ok(_) => {}
            Err(e) => {
                // `attempts` counts the claims, this one included.
                let retry_at = RETRY_SCHEDULE
                    .get(job.attempts.saturating_sub(1) as usize)
                    .map(|w| {
                        crate::clock::now() + chrono::Duration::from_std(*w).unwrap_or_default()
                    });
                tracing::warn!(job = %job.id, error = %e, retrying = retry_at.is_some(), "a batch run failed");
                if let Err(e) = self
                    .store
                    .fail_batch_run(job.id, e.to_string(), retry_at, crate::clock::now())
                    .await
                {
                    tracing::warn!(job = %job.id, error = %e, "cannot record the failed run; its lease will end");
                }
            }
        }
    }

    async fn record(&self, _outcomes: Vec<()>) -> StoreResult<()> {
        Ok(())
    }

    async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.store.next_batch_due().await
    }

    async fn release(&self, ids: Vec<Uuid>) -> StoreResult<usize> {
        self.store.release_batch_jobs(ids).await
    }

    async fn release_at_start(&self) -> StoreResult<usize> {
        self.store.release_batch_leases_at_start().await
    }

    fn wake(&self) -> Arc<Notify> {
        self.store.batch_signal()
    }
}

pub fn spawn(
    store: Arc<dyn Store>,
    cfg: &Config,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let limits = Limits {
        batch: 4,
        max_in_flight: 4,
        per_lane: 1,
        lease: Duration::from_secs(120),
        poll: Duration::from_secs(1),
        grace: cfg.workers.shutdown_grace,
    };
    jobs::spawn(Arc::new(Batches { store }), limits, stop)
}
