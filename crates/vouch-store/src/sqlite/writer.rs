//! The single SQLite writer: one thread owns the write connection and commits queued requests
//! in groups. Each request runs inside its own savepoint, so a failing request is rolled back
//! alone; every request is answered only after the group's COMMIT is on disk.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::checkpoint::{restart_if_wanted, RestartWanted};
use crate::{StoreError, StoreResult};

/// How many queued requests one transaction may take.
const MAX_GROUP: usize = 256;
/// Requests allowed to wait for the writer before callers are told the store is busy.
const QUEUE_DEPTH: usize = 16_384;

/// Called once the group's fate is known: `None` after a successful commit.
type Completion = Box<dyn FnOnce(Option<StoreError>) + Send>;
/// Runs one request; answers whether it succeeded (else its savepoint is rolled back).
type Job = Box<dyn FnOnce(&Connection) -> (bool, Completion) + Send>;

#[derive(Clone)]
pub struct Writer {
    tx: SyncSender<Job>,
}

impl Writer {
    pub fn start(conn: Connection, restart: RestartWanted) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel::<Job>(QUEUE_DEPTH);
        std::thread::Builder::new()
            .name("vouch-sqlite-writer".into())
            .spawn(move || run(conn, rx, restart))?;
        Ok(Self { tx })
    }

    /// Runs `f` in the next group and answers its result once committed.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let completion: Completion = Box::new(move |commit_error| {
                let outcome = match (commit_error, result) {
                    (Some(e), Ok(_)) => Err(e),
                    (_, r) => r,
                };
                let _ = reply.send(outcome);
            });
            (ok, completion)
        });
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(StoreError::Unavailable("the write queue is full".into()))
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

fn run(conn: Connection, rx: Receiver<Job>, restart: RestartWanted) {
    while let Ok(first) = rx.recv() {
        let mut group = Vec::with_capacity(16);
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        commit_group(&conn, group);
        restart_if_wanted(&conn, &restart);
    }
}

fn commit_group(conn: &Connection, group: Vec<Job>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let err = StoreError::Unavailable(format!("cannot begin a transaction: {e}"));
        // Dropping the jobs unrun answers each caller that nothing was written.
        tracing::error!(error = %err, requests = group.len(), "write group refused");
        return;
    }
    let mut completions = Vec::with_capacity(group.len());
    let mut aborted = None;
    for job in group {
        if aborted.is_some() {
            // Dropped unrun: its caller learns nothing was written.
            continue;
        }
        if let Err(e) = conn.execute_batch("SAVEPOINT request") {
            tracing::error!(error = %e, "savepoint failed");
            continue;
        }
        match catch_unwind(AssertUnwindSafe(|| job(conn))) {
            Ok((true, completion)) => {
                let _ = conn.execute_batch("RELEASE request");
                completions.push(completion);
            }
            Ok((false, completion)) => {
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
            aborted = Some("the transaction was rolled back by the database".to_string());
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
                Some(format!("commit failed: {e}"))
            }
        },
    };
    for c in completions {
        c(commit_error.clone().map(StoreError::Unavailable));
    }
}
