//! `EmailStore` for SQLite.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};

use super::rows::{self, db_err, ts};
use super::SqliteStore;
use crate::emails::*;
use crate::model::EmailJob;
use crate::StoreResult;

fn claim(
    conn: &Connection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> StoreResult<Vec<EmailJob>> {
    let mut st = conn
        .prepare_cached(
            "UPDATE email_jobs SET locked_until = ?2
             WHERE id IN (SELECT id FROM email_jobs
                          WHERE state = 'pending' AND next_attempt_at <= ?1
                            AND (locked_until IS NULL OR locked_until <= ?1)
                          ORDER BY next_attempt_at LIMIT ?3)
             RETURNING *",
        )
        .map_err(db_err)?;
    let rows = st
        .query_map(
            params![ts(now), ts(lease_until), limit],
            rows::via(crate::rows::email_job),
        )
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

fn record(conn: &Connection, results: &[EmailResult], now: DateTime<Utc>) -> StoreResult<()> {
    let now_s = ts(now);
    for r in results {
        let (state, next, error, reason) = match &r.outcome {
            EmailOutcome::Sent => ("sent", now_s.clone(), None, None),
            EmailOutcome::Retry { at, error } => ("pending", ts(*at), Some(error.as_str()), None),
            EmailOutcome::Failed { error } => ("failed", now_s.clone(), Some(error.as_str()), None),
            EmailOutcome::NotSent { reason } => {
                ("not_sent", now_s.clone(), None, Some(reason.as_str()))
            }
        };
        // A job dropped meanwhile (its session was deleted) stays dropped.
        conn.prepare_cached(
            "UPDATE email_jobs SET state = CASE WHEN state = 'dropped' THEN 'dropped' ELSE ?1 END,
                next_attempt_at = ?2, last_error = COALESCE(?3, last_error),
                not_sent_reason = COALESCE(?4, not_sent_reason), attempts = ?5, locked_until = NULL,
                sent_at = CASE WHEN ?1 = 'sent' THEN ?6 ELSE sent_at END
             WHERE id = ?7",
        )
        .map_err(db_err)?
        .execute(params![
            state,
            next,
            error,
            reason,
            r.attempts,
            now_s,
            r.id.to_string()
        ])
        .map_err(db_err)?;
    }
    Ok(())
}

#[async_trait]
impl EmailStore for SqliteStore {
    async fn claim_email_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<EmailJob>> {
        self.writer
            .write(move |c| claim(c, now, lease_until, limit))
            .await
    }

    async fn record_email_results(
        &self,
        results: Vec<EmailResult>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.writer.write(move |c| record(c, &results, now)).await
    }

    async fn next_email_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.readers
            .read(|c| {
                let t: Option<String> = c
                    .query_row(
                        "SELECT MIN(MAX(next_attempt_at, COALESCE(locked_until, ''))) FROM email_jobs
                         WHERE state = 'pending'",
                        [],
                        |r| r.get(0),
                    )
                    .map_err(db_err)?;
                Ok(t.and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                    .map(|t| t.with_timezone(&Utc)))
            })
            .await
    }

    async fn release_email_leases_at_start(&self) -> StoreResult<usize> {
        self.writer
            .write(|c| {
                c.execute(
                    "UPDATE email_jobs SET locked_until = NULL WHERE state = 'pending' AND locked_until IS NOT NULL",
                    [],
                )
                .map_err(db_err)
            })
            .await
    }

    fn email_signal(&self) -> Arc<tokio::sync::Notify> {
        self.mail_signal.clone()
    }
}
