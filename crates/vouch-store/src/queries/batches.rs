//! Batch deletion (`POST /v3/sessions/delete/`): sessions matched by number (or all of an
//! application's), erased as one deletion each erases, a few at once in one transaction, or
//! as a leased job (`batch_jobs`) that erases a chunk per run and keeps its progress with it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vouch_core::{AppId, SessionId};

use super::queue::in_list;
use crate::sql::{Db, Param, Row, Stmt};
use crate::{sql_once, stmt, StoreResult};

/// Sessions a job erases per run (one transaction).
pub const CHUNK: usize = 200;

/// Up to this many matched sessions are erased at once, in the request's transaction; more
/// make a job.
pub const INLINE: usize = 20;

/// A batch deletion asked for: these numbers, or (`None`) every user session of the
/// application.
#[derive(Debug, Clone)]
pub struct DeletionRequest {
    pub numbers: Option<Vec<i64>>,
    pub now: DateTime<Utc>,
    /// The id of the job, if one is needed.
    pub job_id: Uuid,
}

/// What became of a batch deletion.
#[derive(Debug, Clone, PartialEq)]
pub enum DeletionAnswer {
    /// Erased at once: the sessions deleted (number, id) and the numbers that matched none.
    Done {
        deleted: Vec<(i64, SessionId)>,
        not_found: Vec<i64>,
    },
    /// Too many for one request: the job that erases them.
    Queued(BatchJob),
}

/// What a deletion job erases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletionInput {
    /// These sessions (matched when the job was created).
    Sessions(Vec<SessionId>),
    /// Every user session of the application created up to this time.
    AllBefore(DateTime<Utc>),
}

/// Where a deletion job stands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeletionProgress {
    /// Sessions matched when the job was created.
    pub total: i64,
    pub deleted: i64,
    /// Numbers asked for that matched no live session of the application.
    pub not_found: Vec<i64>,
    /// How many of `DeletionInput::Sessions` were handled.
    pub next: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BatchJob {
    pub id: Uuid,
    pub app_id: AppId,
    pub input: DeletionInput,
    pub progress: DeletionProgress,
    /// `pending`, `done` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
}

fn job(r: &Row) -> StoreResult<BatchJob> {
    Ok(BatchJob {
        id: r.uuid("id")?,
        app_id: r.uuid("app_id")?,
        input: r.decode("input")?,
        progress: r.decode("progress")?,
        state: r.text("state")?,
        attempts: r.int("attempts")?,
        last_error: r.opt_text("last_error")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
        done_at: r.opt_time("done_at")?,
    })
}

fn numbered(r: &Row) -> StoreResult<(i64, SessionId)> {
    Ok((r.int("number")?, r.uuid("id")?))
}

/// The application's live user sessions with these numbers.
pub async fn match_numbers(
    db: &impl Db,
    app_id: AppId,
    numbers: &[i64],
) -> StoreResult<Vec<(i64, SessionId)>> {
    let sql = sql_once!(
        db,
        "SELECT number, id FROM sessions
         WHERE app_id = $1 AND kind = 'user' AND deleted_at IS NULL AND {}
         ORDER BY number",
        in_list(db, "number", 2)
    );
    db.query(
        Stmt::new(sql, vec![app_id.into(), Param::Ints(numbers.to_vec())]),
        numbered,
    )
    .await
}

/// Up to `limit` of the application's live user sessions created up to `before`, and how many
/// there are.
pub async fn match_all(
    db: &impl Db,
    app_id: AppId,
    before: DateTime<Utc>,
    limit: i64,
) -> StoreResult<(Vec<(i64, SessionId)>, i64)> {
    let count = db
        .query_one(
            stmt!(
                "SELECT COUNT(*) AS n FROM sessions
                 WHERE app_id = $1 AND kind = 'user' AND deleted_at IS NULL AND created_at <= $2",
                app_id,
                before
            ),
            crate::rows::count,
        )
        .await?;
    let some = db
        .query(
            stmt!(
                "SELECT number, id FROM sessions
                 WHERE app_id = $1 AND kind = 'user' AND deleted_at IS NULL AND created_at <= $2
                 ORDER BY number LIMIT $3",
                app_id,
                before,
                limit
            ),
            numbered,
        )
        .await?;
    Ok((some, count))
}

/// Erases each session as a single deletion does; answers how many were live.
pub async fn delete_many(
    db: &impl Db,
    app_id: AppId,
    ids: &[SessionId],
    now: DateTime<Utc>,
) -> StoreResult<i64> {
    let mut n = 0;
    for id in ids {
        if super::sessions::delete(db, app_id, *id, now).await? {
            n += 1;
        }
    }
    Ok(n)
}

/// Matches the request's sessions and erases them, or queues the job that will, in the
/// caller's transaction.
pub async fn request(
    db: &impl Db,
    app_id: AppId,
    req: DeletionRequest,
) -> StoreResult<DeletionAnswer> {
    let (matched, total, not_found, input) = match &req.numbers {
        Some(numbers) => {
            let mut asked = numbers.clone();
            asked.sort_unstable();
            asked.dedup();
            let matched = match_numbers(db, app_id, &asked).await?;
            let not_found: Vec<i64> = asked
                .into_iter()
                .filter(|n| !matched.iter().any(|(m, _)| m == n))
                .collect();
            let ids = matched.iter().map(|(_, id)| *id).collect();
            let total = matched.len() as i64;
            (matched, total, not_found, DeletionInput::Sessions(ids))
        }
        None => {
            let (some, total) = match_all(db, app_id, req.now, INLINE as i64 + 1).await?;
            (some, total, Vec::new(), DeletionInput::AllBefore(req.now))
        }
    };
    if total <= INLINE as i64 {
        let ids: Vec<SessionId> = matched.iter().map(|(_, id)| *id).collect();
        delete_many(db, app_id, &ids, req.now).await?;
        return Ok(DeletionAnswer::Done {
            deleted: matched,
            not_found,
        });
    }
    let job = BatchJob {
        id: req.job_id,
        app_id,
        input,
        progress: DeletionProgress {
            total,
            not_found,
            ..DeletionProgress::default()
        },
        state: "pending".into(),
        attempts: 0,
        last_error: None,
        created_at: req.now,
        updated_at: req.now,
        done_at: None,
    };
    insert(db, &job).await?;
    Ok(DeletionAnswer::Queued(job))
}

pub async fn insert(db: &impl Db, j: &BatchJob) -> StoreResult<()> {
    db.execute(stmt!(
        "INSERT INTO batch_jobs (id, app_id, kind, input, progress, state, next_attempt_at,
            created_at, updated_at)
         VALUES ($1, $2, 'delete_sessions', $3, $4, $5, $6, $6, $6)",
        j.id,
        j.app_id,
        Param::json(&j.input),
        Param::json(&j.progress),
        &j.state,
        j.created_at
    ))
    .await
    .map(|_| ())
}

pub async fn get(db: &impl Db, app_id: AppId, id: Uuid) -> StoreResult<Option<BatchJob>> {
    db.query_opt(
        stmt!(
            "SELECT * FROM batch_jobs WHERE id = $1 AND app_id = $2",
            id,
            app_id
        ),
        job,
    )
    .await
}

pub async fn claim(
    db: &impl Db,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> StoreResult<Vec<BatchJob>> {
    super::queue::claim(db, &super::queue::BATCH_JOBS, now, lease_until, limit, job).await
}

/// One run of a claimed job: the next chunk erased and the progress kept, in the caller's
/// transaction; the job is done once nothing is left, and released for its next run otherwise.
pub async fn run_chunk(
    db: &impl Db,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Option<BatchJob>> {
    let Some(mut j) = db
        .query_opt(
            stmt!(
                super::locked!(db, "SELECT * FROM batch_jobs WHERE id = $1"),
                id
            ),
            job,
        )
        .await?
    else {
        return Ok(None);
    };
    if j.state != "pending" {
        return Ok(Some(j));
    }
    let chunk: Vec<SessionId> = match &j.input {
        DeletionInput::Sessions(ids) => {
            let end = (j.progress.next + CHUNK).min(ids.len());
            let chunk = ids[j.progress.next..end].to_vec();
            j.progress.next = end;
            chunk
        }
        DeletionInput::AllBefore(before) => match_all(db, j.app_id, *before, CHUNK as i64)
            .await?
            .0
            .into_iter()
            .map(|(_, id)| id)
            .collect(),
    };
    j.progress.deleted += delete_many(db, j.app_id, &chunk, now).await?;
    let finished = chunk.is_empty()
        || matches!(&j.input, DeletionInput::Sessions(ids) if j.progress.next >= ids.len());
    if finished {
        j.state = "done".into();
        j.done_at = Some(now);
    }
    j.updated_at = now;
    db.execute(stmt!(
        "UPDATE batch_jobs SET progress = $1, state = $2, done_at = $3, updated_at = $4,
            locked_until = NULL, next_attempt_at = $4
         WHERE id = $5",
        Param::json(&j.progress),
        &j.state,
        j.done_at,
        now,
        id
    ))
    .await?;
    Ok(Some(j))
}

/// A run that failed: tried again at `at`, or failed for good with its error.
pub async fn failed(
    db: &impl Db,
    id: Uuid,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    db.execute(stmt!(
        "UPDATE batch_jobs SET last_error = $1, locked_until = NULL, updated_at = $2,
            state = CASE WHEN CAST($3 AS TIMESTAMPTZ) IS NULL THEN 'failed' ELSE state END,
            next_attempt_at = COALESCE($3, next_attempt_at)
         WHERE id = $4",
        error,
        now,
        retry_at,
        id
    ))
    .await
    .map(|_| ())
}
