//! What every leased job table shares (webhook deliveries, email jobs, engine jobs): rows `pending` until
//! done, each due at `next_attempt_at` and held by whoever claimed it until `locked_until`.

use chrono::{DateTime, Utc};

use crate::sql::{built, built_once, Built, Db, Dialect, Param, Stmt};
use crate::stats::QueueStat;
use crate::StoreResult;

/// A table of leased jobs, with its statements as built for each dialect.
pub struct Queue {
    pub table: &'static str,
    next_due: Built,
    claim: Built,
    release: Built,
    release_all: Built,
}

impl Queue {
    const fn new(table: &'static str) -> Self {
        Self {
            table,
            next_due: built(),
            claim: built(),
            release: built(),
            release_all: built(),
        }
    }
}

pub static WEBHOOK_DELIVERIES: Queue = Queue::new("webhook_deliveries");
pub static EMAIL_JOBS: Queue = Queue::new("email_jobs");
pub static ENGINE_JOBS: Queue = Queue::new("engine_jobs");
pub static BATCH_JOBS: Queue = Queue::new("batch_jobs");
pub static IMPORT_JOBS: Queue = Queue::new("import_jobs");

/// `col` is one of the list in parameter `$n` (`Param::Uuids` or `Param::Ints`): one statement
/// text whatever the list's length, so it is prepared once.
pub fn in_list(db: &impl Db, col: &str, n: usize) -> String {
    match db.dialect() {
        Dialect::Postgres => format!("{col} = ANY(${n})"),
        Dialect::Sqlite => format!("{col} IN (SELECT value FROM json_each(${n}))"),
    }
}

/// `col` is none of the list in parameter `$n`.
pub fn not_in_list(db: &impl Db, col: &str, n: usize) -> String {
    match db.dialect() {
        Dialect::Postgres => format!("{col} <> ALL(${n})"),
        Dialect::Sqlite => format!("{col} NOT IN (SELECT value FROM json_each(${n}))"),
    }
}

/// `FOR UPDATE SKIP LOCKED` on PostgreSQL, where other nodes claim from the same table; nothing
/// on SQLite, whose single writer claims alone.
pub fn skip_locked(db: &impl Db) -> &'static str {
    match db.dialect() {
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    }
}

/// Leases up to `limit` due jobs, oldest due first, until `lease_until` (counting the claim in
/// `attempts`): the plain claim of a queue without lanes (batch deletions, imports).
pub async fn claim<T, F>(
    db: &impl Db,
    q: &'static Queue,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
    map: F,
) -> StoreResult<Vec<T>>
where
    T: Send,
    F: Fn(&crate::sql::Row) -> StoreResult<T> + Send + Sync,
{
    let sql = built_once(db, &q.claim, || {
        format!(
            "UPDATE {t} SET locked_until = $2, attempts = attempts + 1
             WHERE id IN (SELECT id FROM {t}
                          WHERE state = 'pending' AND next_attempt_at <= $1
                            AND (locked_until IS NULL OR locked_until <= $1)
                          ORDER BY next_attempt_at LIMIT $3{})
             RETURNING *",
            skip_locked(db),
            t = q.table
        )
    });
    db.query(
        Stmt::new(sql, vec![now.into(), lease_until.into(), limit.into()]),
        map,
    )
    .await
}

/// When the next pending job falls due; a leased job is not due before its lease ends.
pub async fn next_due(db: &impl Db, q: &'static Queue) -> StoreResult<Option<DateTime<Utc>>> {
    let sql = built_once(db, &q.next_due, || {
        let later = match db.dialect() {
            Dialect::Postgres => "GREATEST",
            Dialect::Sqlite => "MAX",
        };
        format!(
            "SELECT MIN({later}(next_attempt_at, COALESCE(locked_until, next_attempt_at))) AS t
             FROM {} WHERE state = 'pending'",
            q.table
        )
    });
    db.query_one(Stmt::new(sql, vec![]), |r| r.opt_time("t"))
        .await
}

/// Ends the leases of these jobs (still pending), so that they are claimed again at once.
pub async fn release(
    db: &impl Db,
    q: &'static Queue,
    ids: &[impl Into<uuid::Uuid> + Copy],
) -> StoreResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let sql = built_once(db, &q.release, || {
        format!(
            "UPDATE {} SET locked_until = NULL WHERE state = 'pending' AND {}",
            q.table,
            in_list(db, "id", 1)
        )
    });
    let n = db.execute(Stmt::new(sql, vec![Param::ids(ids)])).await?;
    Ok(n as usize)
}

/// Ends every lease: only for a store no other process works from (a single SQLite node
/// starting up), so jobs claimed by a crashed run go out at once.
pub async fn release_all(db: &impl Db, q: &'static Queue) -> StoreResult<usize> {
    let sql = built_once(db, &q.release_all, || {
        format!(
            "UPDATE {} SET locked_until = NULL
             WHERE state = 'pending' AND locked_until IS NOT NULL",
            q.table
        )
    });
    let n = db.execute(Stmt::new(sql, vec![])).await?;
    Ok(n as usize)
}

/// Every leased job table, for `/metrics`.
pub static ALL: [&Queue; 5] = [
    &WEBHOOK_DELIVERIES,
    &EMAIL_JOBS,
    &ENGINE_JOBS,
    &BATCH_JOBS,
    &IMPORT_JOBS,
];

/// Each queue's pending jobs, those due now and not leased, and the oldest due one's age; and
/// the events not yet fanned out to webhook deliveries (as the queue `webhook_fanout`).
pub async fn stats(db: &impl Db, now: DateTime<Utc>) -> StoreResult<Vec<QueueStat>> {
    let mut out = Vec::new();
    let read = |r: &crate::sql::Row| -> StoreResult<(i64, i64, Option<DateTime<Utc>>)> {
        Ok((r.int("pending")?, r.int("due")?, r.opt_time("oldest")?))
    };
    let age = |oldest: Option<DateTime<Utc>>| {
        oldest.map_or(0.0, |t| {
            ((now - t).num_microseconds().unwrap_or(0) as f64 / 1e6).max(0.0)
        })
    };
    for q in ALL {
        let (pending, due, oldest) = db
            .query_one(
                Stmt::new(
                    format!(
                        "SELECT COUNT(*) AS pending,
                                COALESCE(SUM(CASE WHEN next_attempt_at <= $1
                                    AND (locked_until IS NULL OR locked_until <= $1) THEN 1 ELSE 0 END), 0) AS due,
                                MIN(CASE WHEN next_attempt_at <= $1
                                    AND (locked_until IS NULL OR locked_until <= $1) THEN next_attempt_at END) AS oldest
                         FROM {} WHERE state = 'pending'",
                        q.table
                    ),
                    vec![now.into()],
                ),
                read,
            )
            .await?;
        out.push(QueueStat {
            queue: q.table,
            pending,
            due,
            oldest_due_age_seconds: age(oldest),
        });
    }
    let (pending, due, oldest) = db
        .query_one(
            crate::stmt!(
                "SELECT COUNT(*) AS pending, COUNT(*) AS due, MIN(created_at) AS oldest
                 FROM outbox_events WHERE fanned_out_at IS NULL AND dropped_at IS NULL"
            ),
            read,
        )
        .await?;
    out.push(QueueStat {
        queue: "webhook_fanout",
        pending,
        due,
        oldest_due_age_seconds: age(oldest),
    });
    Ok(out)
}
