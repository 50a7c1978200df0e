//! Changes to sessions that arrive together share one transaction, as the SQLite writer's do.
//!
//! A writer takes what is waiting (at most `GROUP_MAX` changes, one per session), locks those
//! sessions in id order in one round trip (two groups, on this node or another, never wait on
//! each other in a cycle), decides each change on its session's state, and sends every change
//! in one more round trip, each under a savepoint of its own: a change the database refuses is
//! rolled back alone, and the ones sent after it are sent again. One commit for the group: one
//! WAL flush, and four round trips for the whole group where a transaction per change takes
//! four per change.

use std::collections::{HashSet, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot, Mutex};
use vouch_core::{AppId, SessionId};

use super::driver::{in_order, Pg};
use super::rows::db_err;
use super::Shared;
use crate::model::{Decide, Modified, SessionChange};
use crate::queries::{changes, sessions};
use crate::sql::Stmt;
use crate::stats::{Histogram, HistogramSnapshot, GROUP_SIZES};
use crate::{StoreError, StoreResult};

/// Changes in one group at most: each takes a subtransaction (its savepoint), and PostgreSQL
/// keeps up to 64 of a transaction's in shared memory before everyone's snapshots slow down.
const GROUP_MAX: usize = 32;
/// Changes a writer holds back at most: second changes of a session already in its group,
/// for its next group.
const HELD_MAX: usize = 4 * GROUP_MAX;

struct Job {
    app_id: AppId,
    session_id: SessionId,
    decide: Decide,
    reply: oneshot::Sender<StoreResult<Modified>>,
}

/// The workers a committed change wakes.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Wakes {
    pub events: bool,
    pub emails: bool,
    pub engines: bool,
}

impl Wakes {
    pub fn of(c: &SessionChange) -> Self {
        Self {
            events: !c.events.is_empty(),
            emails: !c.emails.is_empty(),
            engines: !c.engine_jobs.is_empty(),
        }
    }

    fn add(&mut self, o: Wakes) {
        self.events |= o.events;
        self.emails |= o.emails;
        self.engines |= o.engines;
    }
}

/// The queue of changes and the writers that empty it.
pub(super) struct Groups {
    queue: mpsc::Sender<Job>,
    sizes: Arc<Histogram>,
    writers: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Groups {
    fn drop(&mut self) {
        for w in &self.writers {
            w.abort();
        }
    }
}

impl Groups {
    /// `capacity` changes may wait; more are refused at once (`StoreError::Overloaded`).
    pub fn spawn(shared: Arc<Shared>, writers: usize, capacity: usize) -> Self {
        let (queue, rx) = mpsc::channel(capacity.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let sizes = Arc::new(Histogram::new(GROUP_SIZES));
        let writers = (0..writers.max(1))
            .map(|_| tokio::spawn(writer(shared.clone(), rx.clone(), sizes.clone())))
            .collect();
        Self {
            queue,
            sizes,
            writers,
        }
    }

    pub async fn modify(
        &self,
        app_id: AppId,
        session_id: SessionId,
        decide: Decide,
    ) -> StoreResult<Modified> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            app_id,
            session_id,
            decide,
            reply,
        };
        self.queue.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => StoreError::Overloaded(
                "too many changes are waiting for the database's writers".into(),
            ),
            TrySendError::Closed(_) => StoreError::Unavailable("the writers have stopped".into()),
        })?;
        answer.await.map_err(|_| {
            StoreError::Unavailable("the change's writer stopped before answering".into())
        })?
    }

    /// How many changes each committed group carried.
    pub fn sizes(&self) -> HistogramSnapshot {
        self.sizes.snapshot()
    }

    /// Changes waiting for a writer now.
    pub fn queued(&self) -> u64 {
        (self.queue.max_capacity() - self.queue.capacity()) as u64
    }
}

async fn writer(
    shared: Arc<Shared>,
    queue: Arc<Mutex<mpsc::Receiver<Job>>>,
    sizes: Arc<Histogram>,
) {
    let mut held: VecDeque<Job> = VecDeque::new();
    loop {
        let mut group = Vec::new();
        let mut sessions = HashSet::new();
        let mut later = VecDeque::new();
        for job in held.drain(..) {
            if group.len() < GROUP_MAX && sessions.insert(job.session_id) {
                group.push(job);
            } else {
                later.push_back(job);
            }
        }
        // A writer with held changes does not wait for the queue (another writer may be
        // waiting on it for new ones).
        let rx = if group.is_empty() {
            Some(queue.lock().await)
        } else {
            queue.try_lock().ok()
        };
        if let Some(mut rx) = rx {
            if group.is_empty() {
                let Some(job) = rx.recv().await else { return };
                sessions.insert(job.session_id);
                group.push(job);
            }
            while group.len() < GROUP_MAX && later.len() < HELD_MAX {
                let Ok(job) = rx.try_recv() else { break };
                if sessions.insert(job.session_id) {
                    group.push(job);
                } else {
                    later.push_back(job);
                }
            }
        }
        held = later;
        sizes.observe(group.len() as f64);
        // A panicking decision drops its group's answers (each request gets an error); the
        // writer goes on.
        if AssertUnwindSafe(write(&shared, group))
            .catch_unwind()
            .await
            .is_err()
        {
            tracing::error!("a write group panicked; its requests were answered with an error");
        }
    }
}

/// Answers every job of the group with the same error.
fn fail(jobs: impl IntoIterator<Item = oneshot::Sender<StoreResult<Modified>>>, e: &StoreError) {
    for reply in jobs {
        let _ = reply.send(Err(e.clone()));
    }
}

async fn write(shared: &Shared, mut group: Vec<Job>) {
    group.sort_by_key(|j| j.session_id);
    let mut client = match shared.conn().await {
        Ok(c) => c,
        Err(e) => return fail(group.into_iter().map(|j| j.reply), &e),
    };
    let tx = match client.transaction().await {
        Ok(tx) => tx,
        Err(e) => return fail(group.into_iter().map(|j| j.reply), &db_err(e)),
    };
    let db = Pg(&tx);
    // Every session's row lock, taken in id order.
    let keys: Vec<(AppId, SessionId)> = group.iter().map(|j| (j.app_id, j.session_id)).collect();
    let loaded = in_order(
        keys.iter()
            .map(|(app, id)| sessions::state(&db, &shared.workflows, *app, *id)),
    )
    .await;
    let loaded: StoreResult<Vec<_>> = loaded.into_iter().collect();
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => {
            // A deadlock with a transaction that locks several sessions otherwise, a lost
            // connection…: nothing was decided yet, so each change runs alone.
            tracing::debug!(error = %e, "a write group could not be loaded; its changes run alone");
            let _ = tx.rollback().await;
            drop(client);
            for job in group {
                let r = shared
                    .modify_alone(job.app_id, job.session_id, job.decide, None)
                    .await;
                let _ = job.reply.send(r);
            }
            return;
        }
    };

    // Decided on the states read under the locks; answers without a change go at once.
    let mut pending: Vec<(oneshot::Sender<StoreResult<Modified>>, Vec<Stmt>, Wakes)> = Vec::new();
    for (job, found) in group.into_iter().zip(loaded) {
        let answer = match found {
            None => Modified::NotFound,
            Some((state, tip)) => match (job.decide)(&state) {
                Ok(None) => Modified::Unchanged,
                Err(r) => Modified::Rejected(r),
                Ok(Some(change)) => {
                    let wakes = Wakes::of(&change);
                    pending.push((job.reply, changes::statements(change, tip), wakes));
                    continue;
                }
            },
        };
        let _ = job.reply.send(Ok(answer));
    }
    if pending.is_empty() {
        let _ = tx.commit().await;
        return;
    }

    // Sent together, each after a savepoint named by its place in `pending`.
    let mut applied = Vec::new();
    let mut wakes = Wakes::default();
    let mut rest = pending.into_iter().enumerate().collect::<VecDeque<_>>();
    while !rest.is_empty() {
        let mut sts = Vec::new();
        let mut starts = Vec::new();
        for (i, (_, stmts, _)) in &rest {
            sts.push(Stmt::new(format!("SAVEPOINT change_{i}"), Vec::new()));
            starts.push(sts.len());
            sts.extend(stmts.iter().cloned());
        }
        let done = match db.execute_each(&sts).await {
            Ok(done) => done,
            Err(e) => {
                let _ = tx.rollback().await;
                let replies = applied
                    .into_iter()
                    .chain(rest.into_iter().map(|(_, p)| p.0));
                return fail(replies, &e);
            }
        };
        // The first change refused (or whose savepoint failed); the ones before it stand.
        let mut refused = None;
        for (k, start) in starts.iter().enumerate() {
            let end = starts.get(k + 1).map_or(done.len(), |next| next - 1);
            let outcome = done[start - 1]
                .clone()
                .and_then(|_| changes::judge(done[*start..end].iter().cloned().collect()));
            if let Err(e) = outcome {
                refused = Some((k, e));
                break;
            }
        }
        let stood = refused.as_ref().map_or(rest.len(), |(k, _)| *k);
        for (_, (reply, _, w)) in rest.drain(..stood) {
            wakes.add(w);
            applied.push(reply);
        }
        if let Some((_, e)) = refused {
            let Some((i, (reply, _, _))) = rest.pop_front() else {
                break;
            };
            let _ = reply.send(Err(e));
            let undo = format!("ROLLBACK TO SAVEPOINT change_{i}");
            if let Err(e) = tx.batch_execute(&undo).await {
                let _ = tx.rollback().await;
                let replies = applied
                    .into_iter()
                    .chain(rest.into_iter().map(|(_, p)| p.0));
                return fail(replies, &db_err(e));
            }
        }
    }
    match tx.commit().await {
        Ok(()) => {
            shared.wake(wakes.events, wakes.emails, wakes.engines);
            for reply in applied {
                let _ = reply.send(Ok(Modified::Applied));
            }
        }
        Err(e) => fail(applied, &db_err(e)),
    }
}
