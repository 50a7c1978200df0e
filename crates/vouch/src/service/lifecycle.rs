//! The lifecycle scheduler: Not Started → Expired, idle → Abandoned, Approved → Kyc Expired.
//!
//! State lives in the database, so a restart resumes where it stopped. Each due session is
//! moved by the core's `lifecycle::transition`, decided again inside the write transaction
//! like every other change: a SYSTEM review row and a `status.updated` event.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use vouch_core::lifecycle::transition;
use vouch_store::{LifecycleQuery, Modified, Store, StoreError};

use crate::config::LifecycleConfig;

fn since(d: StdDuration) -> Duration {
    Duration::from_std(d).unwrap_or(Duration::MAX)
}

/// One scan: applies every due transition; answers how many were applied.
pub async fn run_once(store: &dyn Store, cfg: &LifecycleConfig) -> Result<usize, StoreError> {
    let now = crate::clock::now();
    let due = store
        .due_transitions(LifecycleQuery {
            now,
            not_started_before: now - since(cfg.not_started_expire_after),
            idle_before: now - since(cfg.abandon_after),
            limit: cfg.batch,
        })
        .await?;
    let mut applied = 0;
    for d in due {
        let (scanned, to) = (d.session.version, d.to);
        let decide = Box::new(move |b: &_| Ok(transition(b, scanned, to, now)));
        // Unchanged: the session changed since the scan; the next scan looks again.
        if store
            .modify_session(d.session.app_id, d.session.id, decide, None)
            .await?
            == Modified::Applied
        {
            applied += 1;
        }
    }
    Ok(applied)
}

/// How often the session tallies' differences are folded (PostgreSQL): a count adds up the
/// ones not yet folded, so this bounds what a count reads, not what it answers.
const TALLY_FOLD_EVERY: StdDuration = StdDuration::from_secs(1);

/// Runs scans forever at the configured interval, and folds the session tallies every second.
pub fn spawn(store: Arc<dyn Store>, cfg: LifecycleConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(cfg.interval.max(StdDuration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut fold = tokio::time::interval(TALLY_FOLD_EVERY);
        fold.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => scan(store.as_ref(), &cfg).await,
                _ = fold.tick() => {
                    if let Err(e) = store.fold_tallies().await {
                        tracing::warn!(error = %e, "folding the session tallies failed");
                    }
                }
            }
        }
    })
}

/// Scans until a scan finds less than a batch.
async fn scan(store: &dyn Store, cfg: &LifecycleConfig) {
    loop {
        match run_once(store, cfg).await {
            Ok(n) if n as i64 >= cfg.batch => continue,
            Ok(n) => {
                if n > 0 {
                    tracing::info!(sessions = n, "lifecycle transitions applied");
                }
                break;
            }
            Err(e) => {
                tracing::warn!(error = %e, "lifecycle scan failed");
                break;
            }
        }
    }
}
