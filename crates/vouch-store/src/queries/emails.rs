//! The mailer's queue: email jobs claimed with a lease, and what became of each.

use chrono::{DateTime, Utc};

use super::queue::skip_locked;
use crate::emails::EmailResult;
use crate::model::EmailJob;
use crate::rows;
use crate::sql::{Db, Stmt};
use crate::{sql_once, stmt, StoreResult};

pub async fn claim(
    db: &impl Db,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> StoreResult<Vec<EmailJob>> {
    let sql = sql_once!(
        db,
        "UPDATE email_jobs SET locked_until = $2
         WHERE id IN (SELECT id FROM email_jobs
                      WHERE state = 'pending' AND next_attempt_at <= $1
                        AND (locked_until IS NULL OR locked_until <= $1)
                      ORDER BY next_attempt_at LIMIT $3{})
         RETURNING *",
        skip_locked(db)
    );
    db.query(
        Stmt::new(sql, vec![now.into(), lease_until.into(), limit.into()]),
        rows::email_job,
    )
    .await
}

pub async fn record(db: &impl Db, results: &[EmailResult], now: DateTime<Utc>) -> StoreResult<()> {
    let batch = results
        .iter()
        .map(|r| {
            let e = r.outcome.settle(now);
            // A job dropped meanwhile (its session was deleted) stays dropped.
            stmt!(
                "UPDATE email_jobs SET state = CASE WHEN state = 'dropped' THEN 'dropped' ELSE $1 END,
                    next_attempt_at = $2, last_error = COALESCE($3, last_error),
                    not_sent_reason = COALESCE($4, not_sent_reason), attempts = $5,
                    locked_until = NULL, sent_at = CASE WHEN $1 = 'sent' THEN $6 ELSE sent_at END
                 WHERE id = $7",
                e.state.as_str(),
                e.next_attempt_at,
                e.error,
                e.not_sent_reason,
                r.attempts,
                now,
                r.id
            )
        })
        .collect();
    db.execute_all(batch).await.map(|_| ())
}
