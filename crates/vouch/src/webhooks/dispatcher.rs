//! The webhook queue for the job runner (`crate::jobs`): each round fans committed events out
//! into deliveries, claims due deliveries (at most `per_destination_concurrency` in flight per
//! destination, so a slow receiver holds only its own slots), sends them outside any transaction
//! and records results in batches, with the destination-disable rule.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};
use vouch_core::{DeliveryId, DestinationId};
use vouch_store::{AttemptResult, ClaimQuery, ClaimedDelivery, Store, StoreResult};

use super::send::{timeout, Sender};
use super::ssrf;
use crate::config::Config;
use crate::jobs::{self, Limits, Queue};

const FAN_OUT_BATCH: i64 = 1000;

struct Deliveries {
    store: Arc<dyn Store>,
    sender: Sender,
    disable_after: chrono::Duration,
}

#[async_trait]
impl Queue for Deliveries {
    type Job = ClaimedDelivery;
    type Outcome = AttemptResult;
    type Id = DeliveryId;
    type Lane = DestinationId;

    fn name(&self) -> &'static str {
        "webhooks"
    }

    async fn prepare(&self) -> bool {
        match self.store.fan_out(crate::clock::now(), FAN_OUT_BATCH).await {
            Ok(n) => n as i64 >= FAN_OUT_BATCH,
            Err(e) => {
                tracing::warn!(error = %e, "webhook fan-out failed");
                false
            }
        }
    }

    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
        skip_lanes: Vec<DestinationId>,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        self.store
            .claim_deliveries(ClaimQuery {
                now,
                lease_until,
                per_destination: self.sender.config.per_destination_concurrency,
                skip_destinations: skip_lanes,
                limit,
            })
            .await
    }

    fn id(&self, d: &ClaimedDelivery) -> DeliveryId {
        d.id
    }

    fn lane(&self, d: &ClaimedDelivery) -> Option<DestinationId> {
        Some(d.destination.id)
    }

    async fn run(&self, d: ClaimedDelivery) -> AttemptResult {
        self.sender.attempt(self.store.as_ref(), d).await
    }

    async fn record(&self, results: Vec<AttemptResult>) -> StoreResult<()> {
        let disable_after = self.disable_after;
        self.store
            .record_attempts(results, disable_after, crate::clock::now())
            .await
    }

    async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.store.next_delivery_due().await
    }

    async fn release(&self, ids: Vec<DeliveryId>) -> StoreResult<usize> {
        self.store.release_deliveries(ids).await
    }

    async fn release_at_start(&self) -> StoreResult<usize> {
        self.store.release_leases_at_start().await
    }

    fn wake(&self) -> Arc<Notify> {
        self.store.outbox_signal()
    }
}

pub fn spawn(
    store: Arc<dyn Store>,
    cfg: &Config,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let w = cfg.webhooks.clone();
    let limits = Limits {
        batch: w.batch,
        max_in_flight: w.max_in_flight,
        per_lane: w.per_destination_concurrency.max(1) as usize,
        lease: w.lease,
        poll: w.poll_interval.max(Duration::from_millis(10)),
        grace: cfg.workers.shutdown_grace,
    };
    let queue = Deliveries {
        store,
        sender: Sender {
            client: ssrf::client(cfg.allow_private_destinations, timeout(&w))?,
            config: w.clone(),
            allow_private: cfg.allow_private_destinations,
            public_url: cfg.public_url.clone(),
        },
        disable_after: chrono::Duration::from_std(w.disable_after).unwrap_or(chrono::Duration::MAX),
    };
    Ok(jobs::spawn(Arc::new(queue), limits, stop))
}
