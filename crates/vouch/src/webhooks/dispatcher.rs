//! The outbox dispatcher: fans committed events out into deliveries, claims due deliveries with
//! a lease, sends them outside any transaction and records results in batches. A crash at any
//! point leaves leased rows that are claimed again once their lease ends: at-least-once, with the
//! same `event_id`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, Notify, Semaphore};
use uuid::Uuid;
use vouch_store::{AttemptResult, ClaimQuery, Store};

use super::send::{timeout, Sender};
use super::ssrf;
use crate::config::Config;

const FAN_OUT_BATCH: i64 = 1000;
const RECORD_BATCH: usize = 512;

pub fn spawn(store: Arc<dyn Store>, cfg: &Config) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let w = cfg.webhooks.clone();
    let sender = Arc::new(Sender {
        client: ssrf::client(cfg.allow_private_destinations, timeout(&w))?,
        config: w.clone(),
        allow_private: cfg.allow_private_destinations,
        public_url: cfg.public_url.clone(),
    });
    let wake = store.outbox_signal();
    let (results_tx, results_rx) = mpsc::unbounded_channel::<AttemptResult>();
    let freed = Arc::new(Notify::new());
    let recorder = tokio::spawn(record(
        store.clone(),
        results_rx,
        freed.clone(),
        w.disable_after_seconds,
    ));
    Ok(tokio::spawn(async move {
        match store.release_leases_at_start().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                deliveries = n,
                "resuming deliveries leased before a restart"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot release earlier delivery leases"),
        }
        let permits = Arc::new(Semaphore::new(w.max_in_flight));
        // Per-destination caps, on this node: a slow receiver holds only its own slots.
        let mut lanes: HashMap<Uuid, Arc<Semaphore>> = HashMap::new();
        let cap = w.per_destination_concurrency.max(1) as usize;
        let poll = Duration::from_millis(w.poll_interval_ms.max(10));
        loop {
            lanes.retain(|_, lane| lane.available_permits() < cap);
            let skip: Vec<Uuid> = lanes
                .iter()
                .filter(|(_, lane)| lane.available_permits() == 0)
                .map(|(id, _)| *id)
                .collect();
            let mut busy = false;
            match store.fan_out(Utc::now(), FAN_OUT_BATCH).await {
                Ok(n) => busy |= n as i64 >= FAN_OUT_BATCH,
                Err(e) => tracing::warn!(error = %e, "webhook fan-out failed"),
            }
            let room = permits.available_permits().min(w.batch as usize) as i64;
            if room > 0 {
                let now = Utc::now();
                let lease = chrono::Duration::seconds(w.lease_seconds as i64);
                match store
                    .claim_deliveries(ClaimQuery {
                        now,
                        lease_until: now + lease,
                        per_destination: w.per_destination_concurrency,
                        skip_destinations: skip,
                        limit: room,
                    })
                    .await
                {
                    Ok(claimed) => {
                        busy |= claimed.len() as i64 >= room;
                        for d in claimed {
                            let Ok(permit) = permits.clone().acquire_owned().await else {
                                break;
                            };
                            let (store, sender, tx) =
                                (store.clone(), sender.clone(), results_tx.clone());
                            tokio::spawn(async move {
                                let r = sender.attempt(store.as_ref(), d).await;
                                let _ = tx.send(r);
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "claiming webhook deliveries failed"),
                }
            }
            if busy {
                continue;
            }
            let due = match store.next_delivery_due().await {
                Ok(Some(t)) => (t - Utc::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(poll),
                _ => poll,
            };
            tokio::select! {
                _ = wake.notified() => {}
                _ = freed.notified() => {}
                _ = tokio::time::sleep(due.max(Duration::from_millis(5))) => {}
            }
            if recorder.is_finished() {
                tracing::error!("webhook result recorder stopped");
                return;
            }
        }
    }))
}

/// Writes finished attempts in batches, then wakes the dispatcher (capacity is free again).
async fn record(
    store: Arc<dyn Store>,
    mut rx: mpsc::UnboundedReceiver<AttemptResult>,
    freed: Arc<Notify>,
    disable_after_seconds: i64,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < RECORD_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let now = Utc::now();
        let disable_before = now - chrono::Duration::seconds(disable_after_seconds);
        // On failure the leases run out and the deliveries are sent again: at-least-once.
        if let Err(e) = store.record_attempts(batch, disable_before, now).await {
            tracing::warn!(error = %e, "recording webhook attempts failed");
        }
        freed.notify_one();
    }
}
