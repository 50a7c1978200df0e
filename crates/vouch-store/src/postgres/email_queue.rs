//! The mailer's queue on PostgreSQL: jobs claimed with `FOR UPDATE SKIP LOCKED` and a lease.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use super::rows::{all, execute, get, query, query_one};
use crate::emails::*;
use crate::model::EmailJob;
use crate::StoreResult;

pub async fn claim(
    c: &impl GenericClient,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> StoreResult<Vec<EmailJob>> {
    let r = query(
        c,
        "UPDATE email_jobs SET locked_until = $2
         WHERE id IN (SELECT id FROM email_jobs
                      WHERE state = 'pending' AND next_attempt_at <= $1
                        AND (locked_until IS NULL OR locked_until <= $1)
                      ORDER BY next_attempt_at LIMIT $3
                      FOR UPDATE SKIP LOCKED)
         RETURNING *",
        &[&now, &lease_until, &limit],
    )
    .await?;
    all(&r, crate::rows::email_job)
}

pub async fn record(
    c: &impl GenericClient,
    results: &[EmailResult],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    for r in results {
        let (state, next, error, reason) = match &r.outcome {
            EmailOutcome::Sent => ("sent", now, None, None),
            EmailOutcome::Retry { at, error } => ("pending", *at, Some(error.as_str()), None),
            EmailOutcome::Failed { error } => ("failed", now, Some(error.as_str()), None),
            EmailOutcome::NotSent { reason } => ("not_sent", now, None, Some(reason.as_str())),
        };
        // A job dropped meanwhile (its session was deleted) stays dropped.
        execute(
            c,
            "UPDATE email_jobs SET state = CASE WHEN state = 'dropped' THEN 'dropped' ELSE $1 END,
                next_attempt_at = $2, last_error = COALESCE($3, last_error),
                not_sent_reason = COALESCE($4, not_sent_reason), attempts = $5, locked_until = NULL,
                sent_at = CASE WHEN $1 = 'sent' THEN $6 ELSE sent_at END
             WHERE id = $7",
            &[&state, &next, &error, &reason, &r.attempts, &now, &r.id],
        )
        .await?;
    }
    Ok(())
}

pub async fn next_due(c: &impl GenericClient) -> StoreResult<Option<DateTime<Utc>>> {
    let row = query_one(
        c,
        "SELECT MIN(GREATEST(next_attempt_at, COALESCE(locked_until, next_attempt_at))) AS t
         FROM email_jobs WHERE state = 'pending'",
        &[],
    )
    .await?;
    get(&row, "t")
}
