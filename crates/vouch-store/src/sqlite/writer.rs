//! The single SQLite writer: one thread owns the write connection and commits queued requests
//! in groups. Each request runs inside its own savepoint, so a failing request is rolled back
//! alone; every request is answered only after the group's COMMIT is on disk.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::checkpoint::{restart_if_wanted, RestartWanted};
use crate::{StoreError, StoreResult};

/// How many queued requests one transaction may take.
const MAX_GROUP: usize = 256;
/// Requests allowed to wait for the writer by default before more are refused at once
/// (`StoreError::Overloaded`): about a tenth of a second of work at full speed, so that an
/// accepted request is answered quickly however many more arrive.
pub const DEFAULT_QUEUE_DEPTH: usize = 1024;

/// Called once the group's fate is known: `None` after a successful commit.
type Completion = Box<dyn FnOnce(Option<StoreError>) + Send>;
/// Runs one request; answers how it went (a failed one's savepoint is rolled back).
type Run = Box<dyn FnOnce(&Connection) -> (Ran, Completion) + Send>;

struct Job {
    run: Run,
    /// When it was queued: how long writes wait is what admission looks at.
    queued_at: std::time::Instant,
    /// The readiness probe's write: it does not prove there is room for real writes.
    probe: bool,
}

/// How one request went.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ran {
    Ok,
    Failed,
    /// Failed because the disk (or the database's size limit) is full.
    Full,
}

#[derive(Clone)]
pub struct Writer {
    tx: SyncSender<Job>,
    /// Set when a write was refused for a full disk; cleared when a request's write commits.
    full: Arc<AtomicBool>,
    /// Writes queued and not yet taken, and how long the last group's first write waited.
    pressure: Arc<Pressure>,
    /// Past this wait (with more than `MIN_QUEUED` queued), new writes are refused.
    max_wait: std::time::Duration,
}

struct Pressure {
    queued: std::sync::atomic::AtomicUsize,
    last_wait_us: std::sync::atomic::AtomicU64,
    /// Requests per group taken (`/metrics`).
    groups: crate::stats::Histogram,
}

impl Default for Pressure {
    fn default() -> Self {
        Self {
            queued: Default::default(),
            last_wait_us: Default::default(),
            groups: crate::stats::Histogram::new(crate::stats::GROUP_SIZES),
        }
    }
}

/// Below this many queued writes none is refused for waiting: a pause of the disk alone does
/// not turn requests away.
const MIN_QUEUED: usize = 64;
/// The default longest wait a write may face before new ones are refused.
pub const DEFAULT_MAX_WAIT: std::time::Duration = std::time::Duration::from_millis(50);

impl Writer {
    pub fn start(
        conn: Connection,
        restart: RestartWanted,
        queue_depth: usize,
        max_wait: std::time::Duration,
    ) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel::<Job>(queue_depth.max(1));
        let full = Arc::new(AtomicBool::new(false));
        let flag = full.clone();
        let pressure = Arc::new(Pressure::default());
        let seen = pressure.clone();
        std::thread::Builder::new()
            .name("vouch-sqlite-writer".into())
            .spawn(move || run(conn, rx, restart, &flag, &seen))?;
        Ok(Self {
            tx,
            full,
            pressure,
            max_wait,
        })
    }

    /// Requests per write group so far, and the writes queued now.
    pub fn stats(&self) -> (crate::stats::HistogramSnapshot, u64) {
        (
            self.pressure.groups.snapshot(),
            self.pressure.queued.load(Ordering::Relaxed) as u64,
        )
    }

    /// Runs `f` in the next group and answers its result once committed.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.submit(f, false).await
    }

    /// The readiness probe: `f` committed like any write, and `Full` while the disk has
    /// refused a write and no request's write has committed since (a small probe may fit
    /// where requests do not).
    pub async fn probe<F>(&self, f: F) -> StoreResult<()>
    where
        F: FnOnce(&Connection) -> StoreResult<()> + Send + 'static,
    {
        self.submit(f, true).await?;
        if self.full.load(Ordering::Relaxed) {
            return Err(StoreError::Full(
                "a write was refused for a full disk and none has committed since".into(),
            ));
        }
        Ok(())
    }

    async fn submit<T, F>(&self, f: F, probe: bool) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<StoreResult<T>>();
        let run: Run = Box::new(move |conn| {
            let result = f(conn);
            let ran = match &result {
                Ok(_) => Ran::Ok,
                Err(StoreError::Full(_)) => Ran::Full,
                Err(_) => Ran::Failed,
            };
            let completion: Completion = Box::new(move |commit_error| {
                let outcome = match (commit_error, result) {
                    (Some(e), Ok(_)) => Err(e),
                    (_, r) => r,
                };
                let _ = reply.send(outcome);
            });
            (ran, completion)
        });
        let queued = self.pressure.queued.load(Ordering::Relaxed);
        let waited = self.pressure.last_wait_us.load(Ordering::Relaxed);
        if !probe && queued > MIN_QUEUED && waited > self.max_wait.as_micros() as u64 {
            return Err(StoreError::Overloaded(format!(
                "writes wait {} ms for the database",
                waited / 1000
            )));
        }
        self.pressure.queued.fetch_add(1, Ordering::Relaxed);
        let job = Job {
            run,
            queued_at: std::time::Instant::now(),
            probe,
        };
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.pressure.queued.fetch_sub(1, Ordering::Relaxed);
                return Err(StoreError::Overloaded(
                    "too many writes are waiting for the database".into(),
                ));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(StoreError::Unavailable("the writer has stopped".into()))
            }
        }
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the write was not committed".into()))?
    }
}

fn run(
    conn: Connection,
    rx: Receiver<Job>,
    restart: RestartWanted,
    full: &AtomicBool,
    pressure: &Pressure,
) {
    while let Ok(first) = rx.recv() {
        pressure.last_wait_us.store(
            first.queued_at.elapsed().as_micros() as u64,
            Ordering::Relaxed,
        );
        let mut group = Vec::with_capacity(16);
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        pressure.queued.fetch_sub(group.len(), Ordering::Relaxed);
        pressure.groups.observe(group.len() as f64);
        match commit_group(&conn, group) {
            Group::Full => full.store(true, Ordering::Relaxed),
            Group::Committed { requests: true } => full.store(false, Ordering::Relaxed),
            _ => {}
        }
        restart_if_wanted(&conn, &restart);
    }
}

/// How a group ended.
enum Group {
    /// Committed; `requests`: with at least one request's write (not only probes).
    Committed {
        requests: bool,
    },
    /// A write, or the group, was refused for a full disk.
    Full,
    Failed,
}

fn commit_group(conn: &Connection, group: Vec<Job>) -> Group {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let err = match super::driver::db_err(e) {
            StoreError::Full(m) => StoreError::Full(format!("cannot begin a transaction: {m}")),
            other => StoreError::Unavailable(format!("cannot begin a transaction: {other}")),
        };
        // Dropping the jobs unrun answers each caller that nothing was written.
        tracing::error!(error = %err, requests = group.len(), "write group refused");
        return match err {
            StoreError::Full(_) => Group::Full,
            _ => Group::Failed,
        };
    }
    let mut completions = Vec::with_capacity(group.len());
    let mut aborted = None;
    let mut any_full = false;
    let mut requests = false;
    for job in group {
        if aborted.is_some() {
            // Dropped unrun: its caller learns nothing was written.
            continue;
        }
        if let Err(e) = conn.execute_batch("SAVEPOINT request") {
            tracing::error!(error = %e, "savepoint failed");
            continue;
        }
        let mut full = false;
        let probe = job.probe;
        match catch_unwind(AssertUnwindSafe(|| (job.run)(conn))) {
            Ok((Ran::Ok, completion)) => {
                let _ = conn.execute_batch("RELEASE request");
                completions.push(completion);
                requests |= !probe;
            }
            Ok((ran, completion)) => {
                full = ran == Ran::Full;
                any_full |= full;
                let _ = conn.execute_batch("ROLLBACK TO request; RELEASE request");
                completions.push(completion);
            }
            Err(_) => {
                tracing::error!("a write request panicked; its changes were rolled back");
                let _ = conn.execute_batch("ROLLBACK TO request; RELEASE request");
            }
        }
        // Some errors (I/O, disk full) make SQLite roll back the whole transaction: the
        // requests before this one are undone too, and later ones would commit on their own.
        if conn.is_autocommit() {
            aborted = Some(if full {
                StoreError::Full("the disk is full; the transaction was rolled back".into())
            } else {
                StoreError::Unavailable("the transaction was rolled back by the database".into())
            });
        }
    }
    let commit_error = match aborted {
        Some(reason) => {
            tracing::error!(%reason, "write group aborted");
            Some(reason)
        }
        None => match conn.execute_batch("COMMIT") {
            Ok(()) => None,
            Err(e) => {
                tracing::error!(error = %e, "group commit failed");
                let _ = conn.execute_batch("ROLLBACK");
                Some(match super::driver::db_err(e) {
                    StoreError::Full(m) => StoreError::Full(format!("commit failed: {m}")),
                    other => StoreError::Unavailable(format!("commit failed: {other}")),
                })
            }
        },
    };
    let ended = match &commit_error {
        None if any_full => Group::Full,
        None => Group::Committed { requests },
        Some(StoreError::Full(_)) => Group::Full,
        Some(_) => Group::Failed,
    };
    for c in completions {
        c(commit_error.as_ref().map(same_error));
    }
    ended
}

/// Each caller of a failed group gets its own copy of the group's error.
fn same_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Full(m) => StoreError::Full(m.clone()),
        other => StoreError::Unavailable(other.to_string()),
    }
}
