//! The engine queue: submitted steps claimed with a lease, and what became of each.

use chrono::{DateTime, Utc};
use vouch_core::engine::Engine;
use vouch_core::{Feature, SessionId};

use super::queue::skip_locked;
use crate::model::EngineJob;
use crate::sql::{Db, Row, Stmt};
use crate::{sql_once, stmt, StoreResult};

/// What became of one job.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineOutcome {
    /// Its result is recorded on the session (or the session is gone).
    Done,
    /// To be tried again at that time.
    Retry { at: DateTime<Utc>, error: String },
    /// Retries are exhausted.
    Failed { error: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct EngineResult {
    pub id: vouch_core::EngineJobId,
    /// Tries made, this one included.
    pub attempts: i64,
    pub outcome: EngineOutcome,
}

fn job(r: &Row) -> StoreResult<EngineJob> {
    Ok(EngineJob {
        id: r.uuid("id")?,
        app_id: r.uuid("app_id")?,
        session_id: r.uuid("session_id")?,
        node_id: r.text("node_id")?,
        feature: r.parse("feature", Feature::from_workflow_name)?,
        engine: r.parse("engine", Engine::parse)?,
        input: r.json("input")?,
        attempts: r.int("attempts")?,
        created_at: r.time("created_at")?,
    })
}

pub async fn claim(
    db: &impl Db,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> StoreResult<Vec<EngineJob>> {
    let sql = sql_once!(
        db,
        "UPDATE engine_jobs SET locked_until = $2
         WHERE id IN (SELECT id FROM engine_jobs
                      WHERE state = 'pending' AND next_attempt_at <= $1
                        AND (locked_until IS NULL OR locked_until <= $1)
                      ORDER BY next_attempt_at LIMIT $3{})
         RETURNING *",
        skip_locked(db)
    );
    db.query(
        Stmt::new(sql, vec![now.into(), lease_until.into(), limit.into()]),
        job,
    )
    .await
}

pub async fn record(db: &impl Db, results: &[EngineResult], now: DateTime<Utc>) -> StoreResult<()> {
    let batch = results
        .iter()
        .map(|r| {
            let (state, at, error) = match &r.outcome {
                EngineOutcome::Done => ("done", now, None),
                EngineOutcome::Retry { at, error } => ("pending", *at, Some(error.as_str())),
                EngineOutcome::Failed { error } => ("failed", now, Some(error.as_str())),
            };
            // A job dropped meanwhile (its session was deleted) stays dropped.
            stmt!(
                "UPDATE engine_jobs SET state = CASE WHEN state = 'dropped' THEN 'dropped' ELSE $1 END,
                    next_attempt_at = $2, last_error = COALESCE($3, last_error), attempts = $4,
                    locked_until = NULL, done_at = CASE WHEN $1 = 'pending' THEN done_at ELSE $5 END
                 WHERE id = $6",
                state,
                at,
                error,
                r.attempts,
                now,
                r.id
            )
        })
        .collect();
    db.execute_all(batch).await.map(|_| ())
}

/// The nodes of a session with a job still pending: the steps being checked.
pub async fn checking(db: &impl Db, session_id: SessionId) -> StoreResult<Vec<String>> {
    db.query(
        stmt!(
            "SELECT DISTINCT node_id FROM engine_jobs WHERE session_id = $1 AND state = 'pending'",
            session_id
        ),
        |r| r.text("node_id"),
    )
    .await
}
