//! Bulk imports (`POST /v3/session/imports/`): the leased jobs of `import_jobs`, their files, the
//! rows each run turns into decided sessions (with the job's counters and position, in one
//! transaction), the errors of the rows that failed, and the references that make a re-run of
//! a file skip what it imported.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;
use vouch_core::change::SessionChange;
use vouch_core::errors::FieldErrors;
use vouch_core::imports::{ImportRow, Origin};
use vouch_core::review::GENESIS_HASH;
use vouch_core::session::Session;
use vouch_core::workflow::WorkflowSpec;
use vouch_core::{AppId, SessionId, WorkflowId};

use std::collections::HashSet;

use super::{changes, sessions};
use crate::model::NewSession;
use crate::sql::{Db, Dialect, Param, Row, Stmt};
use crate::{sql_once, stmt, StoreError, StoreResult};

/// An import job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportJob {
    pub id: Uuid,
    pub app_id: AppId,
    pub workflow_id: WorkflowId,
    pub import_type: String,
    /// `csv` or `ndjson`.
    pub source_format: String,
    pub source_filename: String,
    /// Fetched by the first run when the file was not uploaded.
    pub source_url: Option<String>,
    /// The provider of rows that name none.
    pub provider: String,
    /// The CSV header once the file is here and passed its check (NDJSON: empty).
    pub columns: Option<Vec<String>>,
    pub file_bytes: i64,
    pub total_rows: i64,
    pub processed_rows: i64,
    pub created_count: i64,
    pub skipped_count: i64,
    pub failed_count: i64,
    pub next_offset: i64,
    pub next_line: i64,
    /// `pending`, `done` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub done_at: Option<DateTime<Utc>>,
}

impl ImportJob {
    /// A job as created: nothing read yet.
    pub fn new(
        id: Uuid,
        app_id: AppId,
        workflow_id: WorkflowId,
        source_format: &str,
        source_filename: String,
        source_url: Option<String>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            app_id,
            workflow_id,
            import_type: "user_verification".into(),
            source_format: source_format.into(),
            source_filename,
            source_url,
            provider: "generic".into(),
            columns: None,
            file_bytes: 0,
            total_rows: 0,
            processed_rows: 0,
            created_count: 0,
            skipped_count: 0,
            failed_count: 0,
            next_offset: 0,
            next_line: 1,
            state: "pending".into(),
            attempts: 0,
            last_error: None,
            created_at: now,
            updated_at: now,
            started_at: None,
            done_at: None,
        }
    }
}

/// A file that passed its structural check, for `create` or `attach`.
#[derive(Debug, Clone)]
pub struct ImportFile {
    pub content: Vec<u8>,
    pub layout: vouch_core::imports::Layout,
}

/// One row error as `GET /v3/session/imports/{id}/errors/` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRowError {
    pub id: Uuid,
    pub row_number: i64,
    pub line: i64,
    pub field: String,
    pub message: String,
    pub external_id: Option<String>,
    pub raw_row: Value,
    pub created_at: DateTime<Utc>,
}

/// A row of a run: where it is in the file, its fields as given, and what validation made of
/// it (with the ids its session takes).
#[derive(Debug, Clone)]
pub struct BatchRow {
    pub row_number: i64,
    pub line: i64,
    pub raw: Map<String, Value>,
    pub parsed: Result<(ImportRow, SessionId, String), FieldErrors>,
}

/// The rows read from `from_offset` up to `to_offset` (and the line there); `at_end` when
/// they are the file's last.
#[derive(Debug, Clone)]
pub struct ImportBatch {
    pub job_id: Uuid,
    pub from_offset: i64,
    pub to_offset: i64,
    pub next_line: i64,
    pub rows: Vec<BatchRow>,
    pub at_end: bool,
    pub now: DateTime<Utc>,
}

/// The core's decision for one row: the imported session's first change, or why the row fails
/// on this workflow.
pub type ImportDecide = fn(
    &Session,
    &WorkflowSpec,
    &ImportRow,
    Origin,
    DateTime<Utc>,
) -> Result<SessionChange, FieldErrors>;

fn job(r: &Row) -> StoreResult<ImportJob> {
    let columns: Option<Value> = r.opt_json("columns")?;
    Ok(ImportJob {
        id: r.uuid("id")?,
        app_id: r.uuid("app_id")?,
        workflow_id: r.uuid("workflow_id")?,
        import_type: r.text("import_type")?,
        source_format: r.text("source_format")?,
        source_filename: r.text("source_filename")?,
        source_url: r.opt_text("source_url")?,
        provider: r.text("provider")?,
        columns: columns
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| StoreError::Internal(format!("import columns: {e}")))?,
        file_bytes: r.int("file_bytes")?,
        total_rows: r.int("total_rows")?,
        processed_rows: r.int("processed_rows")?,
        created_count: r.int("created_count")?,
        skipped_count: r.int("skipped_count")?,
        failed_count: r.int("failed_count")?,
        next_offset: r.int("next_offset")?,
        next_line: r.int("next_line")?,
        state: r.text("state")?,
        attempts: r.int("attempts")?,
        last_error: r.opt_text("last_error")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
        started_at: r.opt_time("started_at")?,
        done_at: r.opt_time("done_at")?,
    })
}

/// Creates the job, with its file when it was uploaded.
pub async fn create(db: &impl Db, j: &ImportJob, file: Option<ImportFile>) -> StoreResult<()> {
    db.execute(stmt!(
        "INSERT INTO import_jobs (id, app_id, workflow_id, import_type, source_format,
            source_filename, source_url, provider, state, next_attempt_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $9, 'pending', $8, $8, $8)",
        j.id,
        j.app_id,
        j.workflow_id,
        &j.import_type,
        &j.source_format,
        &j.source_filename,
        j.source_url.clone(),
        j.created_at,
        &j.provider
    ))
    .await?;
    if let Some(f) = file {
        attach(db, j.id, f, j.created_at).await?;
    }
    Ok(())
}

/// Keeps the job's file (checked) and where its rows start.
pub async fn attach(db: &impl Db, id: Uuid, f: ImportFile, now: DateTime<Utc>) -> StoreResult<()> {
    let l = &f.layout;
    let n = db
        .execute(stmt!(
            "UPDATE import_jobs SET columns = $1, file_bytes = $2, total_rows = $3,
                next_offset = $4, next_line = $5, updated_at = $6
             WHERE id = $7 AND columns IS NULL AND state = 'pending'",
            Param::json(&l.columns),
            f.content.len() as i64,
            l.total_rows as i64,
            l.data_offset as i64,
            l.data_line as i64,
            now,
            id
        ))
        .await?;
    if n == 1 {
        db.execute(stmt!(
            "INSERT INTO import_files (job_id, content) VALUES ($1, $2)",
            id,
            f.content
        ))
        .await?;
    }
    Ok(())
}

pub async fn get(db: &impl Db, app_id: AppId, id: Uuid) -> StoreResult<Option<ImportJob>> {
    db.query_opt(
        stmt!(
            "SELECT * FROM import_jobs WHERE id = $1 AND app_id = $2",
            id,
            app_id
        ),
        job,
    )
    .await
}

/// A page of the job's row errors (by row, then field) and how many there are.
pub async fn errors(
    db: &impl Db,
    id: Uuid,
    limit: i64,
    offset: i64,
) -> StoreResult<(Vec<ImportRowError>, i64)> {
    let count = db
        .query_one(
            stmt!(
                "SELECT COUNT(*) AS n FROM import_errors WHERE job_id = $1",
                id
            ),
            crate::rows::count,
        )
        .await?;
    let page = db
        .query(
            stmt!(
                "SELECT * FROM import_errors WHERE job_id = $1
                 ORDER BY row_number, field LIMIT $2 OFFSET $3",
                id,
                limit,
                offset
            ),
            |r| {
                Ok(ImportRowError {
                    id: r.uuid("id")?,
                    row_number: r.int("row_number")?,
                    line: r.int("line")?,
                    field: r.text("field")?,
                    message: r.text("message")?,
                    external_id: r.opt_text("external_id")?,
                    raw_row: r.json("raw_row")?,
                    created_at: r.time("created_at")?,
                })
            },
        )
        .await?;
    Ok((page, count))
}

/// Up to `len` bytes of the job's file from `offset`, and the file's length.
pub async fn window(
    db: &impl Db,
    id: Uuid,
    offset: i64,
    len: i64,
) -> StoreResult<Option<(Vec<u8>, i64)>> {
    let sql = sql_once!(
        db,
        "SELECT {} AS w, {} AS n FROM import_files WHERE job_id = $1",
        match db.dialect() {
            Dialect::Postgres =>
                "substring(content from CAST($2 AS bigint)::int for CAST($3 AS bigint)::int)",
            Dialect::Sqlite => "substr(content, $2, $3)",
        },
        match db.dialect() {
            Dialect::Postgres => "octet_length(content)::bigint",
            Dialect::Sqlite => "length(content)",
        }
    );
    db.query_opt(
        Stmt::new(sql, vec![id.into(), (offset + 1).into(), len.into()]),
        |r| Ok((r.bytes("w")?, r.int("n")?)),
    )
    .await
}

pub async fn claim(
    db: &impl Db,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> StoreResult<Vec<ImportJob>> {
    super::queue::claim(db, &super::queue::IMPORT_JOBS, now, lease_until, limit, job).await
}

/// The statements recording a row's errors.
fn error_rows(job_id: Uuid, row: &BatchRow, errors: &FieldErrors, now: DateTime<Utc>) -> Vec<Stmt> {
    let external_id = row
        .raw
        .get("external_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    errors
        .iter()
        .map(|(field, message)| {
            stmt!(
                "INSERT INTO import_errors (job_id, row_number, field, id, line, message,
                    external_id, raw_row, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (job_id, row_number, field) DO NOTHING",
                job_id,
                row.row_number,
                field,
                Uuid::now_v7(),
                row.line,
                message,
                external_id.clone(),
                Value::Object(row.raw.clone()),
                now
            )
        })
        .collect()
}

/// The rows of `rows` the application imported already: (vendor_data, source_ref).
async fn imported(
    db: &impl Db,
    app_id: AppId,
    rows: &[&ImportRow],
) -> StoreResult<HashSet<(String, String)>> {
    if rows.is_empty() {
        return Ok(HashSet::new());
    }
    // Each (vendor_data, source_ref) looked up by the primary key: the keys are the outer loop
    // (on SQLite, CROSS JOIN keeps that order).
    let stmt = match db.dialect() {
        Dialect::Postgres => Stmt::new(
            "SELECT r.vendor_data, r.source_ref
             FROM unnest($2::text[], $3::text[]) AS k(vendor_data, source_ref)
             JOIN import_refs r ON r.app_id = $1 AND r.vendor_data = k.vendor_data
                AND r.source_ref = k.source_ref",
            vec![
                app_id.into(),
                Param::Texts(rows.iter().map(|r| r.vendor_data.clone()).collect()),
                Param::Texts(rows.iter().map(|r| r.source_ref.clone()).collect()),
            ],
        ),
        Dialect::Sqlite => Stmt::new(
            "SELECT r.vendor_data, r.source_ref
             FROM json_each($2) AS k CROSS JOIN import_refs r
             WHERE r.app_id = $1 AND r.vendor_data = json_extract(k.value, '$[0]')
               AND r.source_ref = json_extract(k.value, '$[1]')",
            vec![
                app_id.into(),
                Param::Json(Value::Array(
                    rows.iter()
                        .map(|r| serde_json::json!([r.vendor_data, r.source_ref]))
                        .collect(),
                )),
            ],
        ),
    };
    let found = db
        .query(stmt, |r| {
            Ok((r.text("vendor_data")?, r.text("source_ref")?))
        })
        .await?;
    Ok(found.into_iter().collect())
}

/// What one row became.
enum Outcome {
    Created(Vec<Stmt>),
    Skipped,
    Failed(Vec<Stmt>),
}

/// A valid row not imported before: its session, first change and reference.
fn import_row(
    j: &ImportJob,
    wf: &crate::model::WorkflowRecord,
    row: &BatchRow,
    (parsed, session_id, token): (&ImportRow, SessionId, &str),
    number: i64,
    decide: ImportDecide,
    now: DateTime<Utc>,
) -> Outcome {
    let s = NewSession {
        id: session_id,
        app_id: j.app_id,
        token: token.to_string(),
        workflow_id: Some(wf.id),
        vendor_data: Some(parsed.vendor_data.clone()),
        metadata: Value::Object(Map::new()),
        callback: None,
        callback_method: None,
        language: None,
        contact_details: Value::Object(Map::new()),
        expected_details: Value::Object(Map::new()),
        now,
        expires_at: now,
        sandbox_scenario: None,
    }
    .into_session(number, wf);
    let origin = Origin {
        import_id: j.id,
        row_number: row.row_number as u64,
    };
    let mut change = match decide(&s, &wf.spec, parsed, origin, now) {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(error_rows(j.id, row, &e, now)),
    };
    // Stored as the change leaves it: the session's UPDATE is folded into its INSERT (one row
    // version instead of two, each with an entry in every index).
    let mut s = s;
    s.status = change.status.unwrap_or(s.status);
    let mut batch = vec![sessions::insert_decided(
        &s,
        change.country.take(),
        change.full_name.take(),
        change.kyc_expires_at.flatten(),
    )];
    batch.extend(
        changes::statements(change, (0, GENESIS_HASH.to_string()))
            .into_iter()
            .skip(1),
    );
    batch.push(stmt!(
        "INSERT INTO import_refs (app_id, vendor_data, source_ref, session_id, job_id)
         VALUES ($1, $2, $3, $4, $5)",
        j.app_id,
        &parsed.vendor_data,
        &parsed.source_ref,
        s.id,
        j.id
    ));
    Outcome::Created(batch)
}

/// The workflow's latest published version, unless it is archived.
async fn open_workflow(
    db: &impl Db,
    app_id: AppId,
    id: WorkflowId,
) -> StoreResult<Option<crate::model::WorkflowRecord>> {
    let wf = db
        .query_opt(
            stmt!(
                "SELECT * FROM workflows WHERE app_id = $1 AND id = $2 AND status = 'published'
                 ORDER BY version DESC LIMIT 1",
                app_id,
                id
            ),
            crate::rows::workflow,
        )
        .await?;
    Ok(wf.filter(|w| w.archived_at.is_none()))
}

/// One run's rows, in the caller's transaction: each valid row a decided session (unless a
/// reference says it was imported already), each invalid one its errors, and the job's counters
/// and position; the job is done after its last rows (its file deleted) and due again otherwise.
/// A batch read from another position than the job's (a run that lost its lease) writes nothing.
/// Every row's statements go out in one list (one round trip on PostgreSQL).
pub async fn import_rows(
    db: &impl Db,
    b: ImportBatch,
    decide: ImportDecide,
) -> StoreResult<Option<ImportJob>> {
    let Some(mut j) = db
        .query_opt(
            stmt!(
                super::locked!(db, "SELECT * FROM import_jobs WHERE id = $1"),
                b.job_id
            ),
            job,
        )
        .await?
    else {
        return Ok(None);
    };
    if j.state != "pending" || j.next_offset != b.from_offset {
        return Ok(Some(j));
    }
    let wf = open_workflow(db, j.app_id, j.workflow_id).await?;
    let valid: Vec<&ImportRow> = b
        .rows
        .iter()
        .filter_map(|r| r.parsed.as_ref().ok().map(|(p, _, _)| p))
        .collect();
    let mut seen = imported(db, j.app_id, &valid).await?;
    let fresh = valid
        .iter()
        .filter(|p| !seen.contains(&(p.vendor_data.clone(), p.source_ref.clone())))
        .count();
    let mut numbers = match &wf {
        Some(_) if fresh > 0 => sessions::numbers(db, j.app_id, fresh as i64).await?,
        _ => Vec::new(),
    }
    .into_iter();
    let mut batch = Vec::new();
    for row in &b.rows {
        let outcome = match (&row.parsed, &wf) {
            (Err(e), _) => Outcome::Failed(error_rows(j.id, row, e, b.now)),
            (Ok(_), None) => {
                let e =
                    FieldErrors::single("workflow_id", "The workflow no longer takes sessions.");
                Outcome::Failed(error_rows(j.id, row, &e, b.now))
            }
            // The file's own repeats are skipped as a re-run's rows are.
            (Ok((p, ..)), Some(_))
                if !seen.insert((p.vendor_data.clone(), p.source_ref.clone())) =>
            {
                Outcome::Skipped
            }
            (Ok((p, sid, token)), Some(wf)) => {
                let number = numbers
                    .next()
                    .ok_or_else(|| StoreError::Internal("too few session numbers".into()))?;
                import_row(&j, wf, row, (p, *sid, token), number, decide, b.now)
            }
        };
        match outcome {
            Outcome::Created(stmts) => {
                j.created_count += 1;
                batch.extend(stmts);
            }
            Outcome::Skipped => j.skipped_count += 1,
            Outcome::Failed(stmts) => {
                j.failed_count += 1;
                batch.extend(stmts);
            }
        }
        j.processed_rows += 1;
    }
    j.next_offset = b.to_offset;
    j.next_line = b.next_line;
    j.updated_at = b.now;
    j.started_at = j.started_at.or(Some(b.now));
    if b.at_end {
        j.state = "done".into();
        j.done_at = Some(b.now);
    }
    batch.push(stmt!(
        "UPDATE import_jobs SET processed_rows = $1, created_count = $2, skipped_count = $3,
            failed_count = $4, next_offset = $5, next_line = $6, updated_at = $7,
            started_at = $8, state = $9, done_at = $10, locked_until = NULL, next_attempt_at = $7
         WHERE id = $11",
        j.processed_rows,
        j.created_count,
        j.skipped_count,
        j.failed_count,
        j.next_offset,
        j.next_line,
        b.now,
        j.started_at,
        &j.state,
        j.done_at,
        j.id
    ));
    if b.at_end {
        batch.push(stmt!("DELETE FROM import_files WHERE job_id = $1", j.id));
    }
    db.execute_all(batch).await?;
    Ok(Some(j))
}

/// A run that failed: tried again at `retry_at`, or failed for good with its error (its file
/// deleted).
pub async fn failed(
    db: &impl Db,
    id: Uuid,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    db.execute_all(vec![
        stmt!(
            "UPDATE import_jobs SET last_error = $1, locked_until = NULL, updated_at = $2,
                state = CASE WHEN CAST($3 AS TIMESTAMPTZ) IS NULL THEN 'failed' ELSE state END,
                done_at = CASE WHEN CAST($3 AS TIMESTAMPTZ) IS NULL THEN $2 ELSE done_at END,
                next_attempt_at = COALESCE($3, next_attempt_at)
             WHERE id = $4 AND state = 'pending'",
            error,
            now,
            retry_at,
            id
        ),
        stmt!(
            "DELETE FROM import_files WHERE job_id = $1
               AND (SELECT state FROM import_jobs WHERE id = $1) <> 'pending'",
            id
        ),
    ])
    .await
    .map(|_| ())
}
