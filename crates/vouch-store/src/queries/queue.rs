//! What every leased job table shares (webhook deliveries, email jobs): rows `pending` until
//! done, each due at `next_attempt_at` and held by whoever claimed it until `locked_until`.

use chrono::{DateTime, Utc};

use crate::sql::{Db, Dialect, Param, Stmt};
use crate::StoreResult;

/// A table of leased jobs.
#[derive(Debug, Clone, Copy)]
pub struct Queue {
    pub table: &'static str,
}

pub const WEBHOOK_DELIVERIES: Queue = Queue {
    table: "webhook_deliveries",
};
pub const EMAIL_JOBS: Queue = Queue {
    table: "email_jobs",
};

/// The placeholders `$from, $from+1, …` for `n` values, for an `IN (…)` list.
pub fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `FOR UPDATE SKIP LOCKED` on PostgreSQL, where other nodes claim from the same table; nothing
/// on SQLite, whose single writer claims alone.
pub fn skip_locked(db: &impl Db) -> &'static str {
    match db.dialect() {
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    }
}

/// When the next pending job falls due; a leased job is not due before its lease ends.
pub async fn next_due(db: &impl Db, q: Queue) -> StoreResult<Option<DateTime<Utc>>> {
    let later = match db.dialect() {
        Dialect::Postgres => "GREATEST",
        Dialect::Sqlite => "MAX",
    };
    db.query_one(
        Stmt::new(
            format!(
                "SELECT MIN({later}(next_attempt_at, COALESCE(locked_until, next_attempt_at))) AS t
                 FROM {} WHERE state = 'pending'",
                q.table
            ),
            vec![],
        ),
        |r| r.opt_time("t"),
    )
    .await
}

/// Ends every lease: only for a store no other process works from (a single SQLite node
/// starting up), so jobs claimed by a crashed run go out at once.
pub async fn release_all(db: &impl Db, q: Queue) -> StoreResult<usize> {
    let n = db
        .execute(Stmt::new(
            format!(
                "UPDATE {} SET locked_until = NULL
                 WHERE state = 'pending' AND locked_until IS NOT NULL",
                q.table
            ),
            Vec::<Param>::new(),
        ))
        .await?;
    Ok(n as usize)
}
