//! One runner for every leased queue (webhook deliveries, emails): claim due jobs with a lease,
//! run each outside any transaction, record outcomes in batches, sleep until the next one is
//! due or a commit (or another node's `NOTIFY`) wakes it, with polling as the fallback.
//!
//! At least once: a crash leaves leased jobs that are claimed again when their lease ends (on
//! SQLite, at the next start). On shutdown the runner stops claiming, lets the jobs in flight
//! finish for up to the grace period, records what they did, and releases the leases of those
//! still running, so that another node (or the next start) takes them at once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch, Notify, Semaphore};
use tokio::task::JoinSet;
use vouch_store::StoreResult;

/// A queue the runner works: how to claim, run and record its jobs.
#[async_trait]
pub trait Queue: Send + Sync + 'static {
    type Job: Send + 'static;
    type Outcome: Send + 'static;
    /// The job's id (what `release` takes back).
    type Id: Copy + Eq + std::hash::Hash + Send + Sync + 'static;
    /// What jobs are capped per (webhooks: destinations); `()` for a queue without lanes.
    type Lane: Copy + Eq + std::hash::Hash + Send + Sync + 'static;

    /// For logs.
    fn name(&self) -> &'static str;
    /// Work done before each claim (webhooks: fan-out of new events); true when it left more.
    async fn prepare(&self) -> bool {
        false
    }
    /// Due jobs, leased until `lease_until`; none in the lanes to skip.
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
        skip_lanes: Vec<Self::Lane>,
    ) -> StoreResult<Vec<Self::Job>>;
    fn id(&self, job: &Self::Job) -> Self::Id;
    /// The lane a job counts against (webhooks: its destination), capped per lane.
    fn lane(&self, _job: &Self::Job) -> Option<Self::Lane> {
        None
    }
    /// The job's work: network calls, never inside a transaction.
    async fn run(&self, job: Self::Job) -> Self::Outcome;
    async fn record(&self, outcomes: Vec<Self::Outcome>) -> StoreResult<()>;
    async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>>;
    /// Ends the leases of these jobs (still running at shutdown).
    async fn release(&self, ids: Vec<Self::Id>) -> StoreResult<usize>;
    /// Ends the leases a crashed run left (a lone SQLite node at start; nothing on PostgreSQL,
    /// where other nodes may hold them).
    async fn release_at_start(&self) -> StoreResult<usize>;
    /// Notified after a commit that queued work.
    fn wake(&self) -> Arc<Notify>;
}

/// How much a runner takes on.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Jobs claimed per round at most.
    pub batch: i64,
    /// Jobs running at once.
    pub max_in_flight: usize,
    /// Jobs running at once in one lane.
    pub per_lane: usize,
    pub lease: Duration,
    /// How often to look for work when nothing wakes the runner.
    pub poll: Duration,
    /// Time the jobs in flight get to finish once shutdown begins.
    pub grace: Duration,
}

const RECORD_BATCH: usize = 512;

/// Starts the runner; it returns once `stop` turns true and the jobs in flight are finished,
/// recorded or released.
pub fn spawn<Q: Queue>(
    queue: Arc<Q>,
    limits: Limits,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(queue, limits, stop))
}

async fn run<Q: Queue>(queue: Arc<Q>, limits: Limits, mut stop: watch::Receiver<bool>) {
    let name = queue.name();
    match queue.release_at_start().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            queue = name,
            jobs = n,
            "resuming jobs leased before a restart"
        ),
        Err(e) => tracing::warn!(queue = name, error = %e, "cannot release earlier leases"),
    }
    let (results, results_rx) = mpsc::unbounded_channel::<Q::Outcome>();
    let freed = Arc::new(Notify::new());
    let recorder = tokio::spawn(record(queue.clone(), results_rx, freed.clone()));
    let permits = Arc::new(Semaphore::new(limits.max_in_flight.max(1)));
    let per_lane = limits.per_lane.max(1);
    let mut lanes: HashMap<Q::Lane, Arc<Semaphore>> = HashMap::new();
    // Jobs whose outcome is not yet handed to the recorder.
    let in_flight: Arc<Mutex<HashSet<Q::Id>>> = Arc::default();
    let mut running = JoinSet::new();
    let wake = queue.wake();
    while !*stop.borrow() {
        while running.try_join_next().is_some() {}
        lanes.retain(|_, lane| lane.available_permits() < per_lane);
        let skip: Vec<Q::Lane> = lanes
            .iter()
            .filter(|(_, lane)| lane.available_permits() == 0)
            .map(|(id, _)| *id)
            .collect();
        let mut busy = queue.prepare().await;
        let room = permits
            .available_permits()
            .min(limits.batch.max(1) as usize) as i64;
        if room > 0 {
            let now = crate::clock::now();
            let lease_until = now + chrono::Duration::from_std(limits.lease).unwrap_or_default();
            let mut put_back = Vec::new();
            match queue.claim(now, lease_until, room, skip).await {
                Ok(jobs) => {
                    busy |= jobs.len() as i64 >= room;
                    for job in jobs {
                        let Ok(permit) = permits.clone().acquire_owned().await else {
                            break;
                        };
                        let lane = queue.lane(&job).map(|l| {
                            lanes
                                .entry(l)
                                .or_insert_with(|| Arc::new(Semaphore::new(per_lane)))
                                .clone()
                        });
                        let id = queue.id(&job);
                        let lane_permit = match lane.map(|l| l.try_acquire_owned()) {
                            Some(Ok(p)) => Some(p),
                            // Its lane filled up since the claim: back to the queue.
                            Some(Err(_)) => {
                                put_back.push(id);
                                continue;
                            }
                            None => None,
                        };
                        lock(&in_flight).insert(id);
                        let (queue, results, in_flight) =
                            (queue.clone(), results.clone(), in_flight.clone());
                        running.spawn(async move {
                            let outcome = queue.run(job).await;
                            // Handed over before the job leaves the in-flight set, so shutdown
                            // either records it or releases it, never neither.
                            let _ = results.send(outcome);
                            lock(&in_flight).remove(&id);
                            drop((permit, lane_permit));
                        });
                    }
                }
                Err(e) => tracing::warn!(queue = name, error = %e, "claiming jobs failed"),
            }
            if !put_back.is_empty() {
                if let Err(e) = queue.release(put_back).await {
                    tracing::warn!(queue = name, error = %e, "cannot release jobs of a full lane");
                }
            }
        }
        if busy {
            continue;
        }
        let due = match queue.next_due().await {
            Ok(Some(t)) => (t - crate::clock::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(limits.poll),
            _ => limits.poll,
        };
        tokio::select! {
            _ = wake.notified() => {}
            _ = freed.notified() => {}
            _ = stop.changed() => {}
            _ = tokio::time::sleep(due.max(Duration::from_millis(5))) => {}
        }
        if recorder.is_finished() {
            tracing::error!(queue = name, "the result recorder stopped");
            return;
        }
    }
    drain(queue, limits.grace, running, in_flight, results, recorder).await;
}

/// Shutdown: the jobs in flight get `grace` to finish; the leases of the rest are released.
async fn drain<Q: Queue>(
    queue: Arc<Q>,
    grace: Duration,
    mut running: JoinSet<()>,
    in_flight: Arc<Mutex<HashSet<Q::Id>>>,
    results: mpsc::UnboundedSender<Q::Outcome>,
    recorder: tokio::task::JoinHandle<()>,
) {
    let name = queue.name();
    let started = running.len();
    let finished = tokio::time::timeout(grace, async {
        while running.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    if !finished {
        running.abort_all();
        while running.join_next().await.is_some() {}
    }
    let unfinished: Vec<Q::Id> = lock(&in_flight).drain().collect();
    // Every finished job's outcome is in the channel: record them all before releasing.
    drop(results);
    let _ = recorder.await;
    if !unfinished.is_empty() {
        match queue.release(unfinished.clone()).await {
            Ok(n) => tracing::info!(
                queue = name,
                jobs = n,
                "released jobs still running at shutdown"
            ),
            Err(e) => {
                tracing::warn!(queue = name, error = %e, "cannot release jobs at shutdown; their leases will run out")
            }
        }
    }
    tracing::info!(
        queue = name,
        in_flight = started,
        released = unfinished.len(),
        "stopped"
    );
}

/// Records outcomes in batches, then tells the runner capacity is free again. Returns once
/// every sender is gone and the channel is empty.
async fn record<Q: Queue>(
    queue: Arc<Q>,
    mut rx: mpsc::UnboundedReceiver<Q::Outcome>,
    freed: Arc<Notify>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < RECORD_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        // On failure the leases run out and the jobs run again: at least once.
        if let Err(e) = queue.record(batch).await {
            tracing::warn!(queue = queue.name(), error = %e, "recording job outcomes failed");
        }
        freed.notify_one();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
