//! Sessions: lookup, creation (with the vendor_data reuse rule), decision state, deletion.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;
use vouch_core::attempt::Attempt;
use vouch_core::session::{CallbackMethod, Environment, Session};
use vouch_core::WorkflowKind;

use super::catalog;
use super::rows::{self, all, execute, get, query, query_one, query_opt, table, SESSION_COLUMNS};
use super::session_changes::{reviews, ChainTip};
use crate::model::{NewSession, SessionBundle, SessionState, WorkflowRecord};
use crate::workflow_cache::WorkflowCache;
use crate::{micros, StoreError, StoreResult};

/// A live session of the application; the user table is searched first. `lock` takes its row
/// lock, so the caller's transaction is the only writer of that session until it ends.
pub async fn find(
    c: &impl GenericClient,
    app_id: Uuid,
    id: Uuid,
    lock: bool,
) -> StoreResult<Option<Session>> {
    for kind in [WorkflowKind::User, WorkflowKind::Business] {
        // By primary key only, the application and deletion checked here: with more conditions
        // the planner may pick another index (seen: a generic plan scanning every session of the
        // application through (app_id, number) to find one id).
        let sql = format!(
            "SELECT {SESSION_COLUMNS}, deleted_at FROM {} WHERE id = $1{}",
            table(kind),
            if lock { " FOR UPDATE" } else { "" }
        );
        if let Some(row) = query_opt(c, &sql, &[&id]).await? {
            let deleted: Option<DateTime<Utc>> = get(&row, "deleted_at")?;
            let session = rows::session(&row, kind)?;
            if session.app_id != app_id || deleted.is_some() {
                return Ok(None);
            }
            return Ok(Some(session));
        }
    }
    Ok(None)
}

/// Creates the session, or reuses the unfinished one with the same vendor_data.
pub async fn create(c: &impl GenericClient, mut new: NewSession) -> StoreResult<Session> {
    // Stored with microsecond precision: answer what a later read will see.
    new.now = micros(new.now);
    new.expires_at = micros(new.expires_at);
    // The named workflow, or the application's default, at its latest published version: one
    // round trip.
    let wf = query_opt(
        c,
        "SELECT * FROM workflows
         WHERE app_id = $1 AND status = 'published'
           AND id = COALESCE($2, (
               SELECT w.id FROM workflows w
               WHERE w.app_id = $1 AND w.is_default
                 AND w.version = (SELECT MAX(version) FROM workflows v WHERE v.id = w.id)
               ORDER BY w.created_at DESC LIMIT 1))
         ORDER BY version DESC LIMIT 1",
        &[&new.app_id, &new.workflow_id],
    )
    .await?
    .as_ref()
    .map(rows::workflow)
    .transpose()?
    .ok_or_else(|| StoreError::NotFound("published workflow".into()))?;
    let tbl = table(wf.kind());

    if let Some(vd) = &new.vendor_data {
        // Creations with one vendor_data serialize (on every node), so two of them cannot both
        // miss an unfinished session and create a second; others do not wait.
        // The sessions with this vendor_data (deleted ones have none), found through the
        // (vendor_data, app_id) index; the rest is filtered on them. Written so because with
        // the application, status and deletion conditions in one WHERE, a generic plan may walk
        // every unfinished session of the application instead (seen: 700 creations/s).
        let sql = format!(
            "WITH same AS MATERIALIZED (
                SELECT {SESSION_COLUMNS} FROM {tbl} WHERE vendor_data = $2)
             SELECT * FROM same
             WHERE app_id = $1 AND workflow_id = $3 AND workflow_version = $4
               AND status IN ('Not Started', 'In Progress', 'Resubmitted', 'Awaiting User')
             ORDER BY number DESC LIMIT 1"
        );
        // Prepared first, then sent together: the lookup runs once the lock is held.
        let (lock, lookup) = tokio::try_join!(
            c.prepare_cached(
                "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/vendor_data/' || $2, 0))"
            ),
            c.prepare_cached(&sql),
        )
        .map_err(rows::db_err)?;
        let app = new.app_id.to_string();
        let lock_args: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&app, vd];
        let lookup_args: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
            [&new.app_id, vd, &wf.id, &wf.version];
        let (_, found) = tokio::try_join!(
            c.execute(&lock, &lock_args),
            c.query_opt(&lookup, &lookup_args),
        )
        .map_err(rows::db_err)?;
        if let Some(row) = found {
            let id: Uuid = get(&row, "id")?;
            // Taken under its row lock, and only while it is still unfinished: a decision that
            // landed meanwhile means a new session after all.
            let updated = query_opt(
                c,
                &format!(
                    "UPDATE {tbl} SET callback = $1, metadata = $2, updated_at = $3,
                        version = version + 1
                     WHERE id = $4 AND deleted_at IS NULL
                       AND status IN ('Not Started', 'In Progress', 'Resubmitted', 'Awaiting User')
                     RETURNING {SESSION_COLUMNS}"
                ),
                &[&new.callback, &new.metadata, &new.now, &id],
            )
            .await?;
            if let Some(row) = updated {
                return rows::session(&row, wf.kind());
            }
        }
    }
    // The number is taken by the INSERT itself (`nextval`), so the row goes in one round trip.
    let mut s = new.into_session(0, &wf);
    let row = query_one(
        c,
        &format!(
            "INSERT INTO {tbl} (id, app_id, number, token, status, workflow_id, workflow_version,
                vendor_data, metadata, callback, callback_method, language, contact_details,
                expected_details, version, created_at, updated_at, expires_at)
             VALUES ($1, $2, nextval($3::text::regclass), $4, $5, $6, $7, $8, $9, $10, $11, $12,
                $13, $14, $15, $16, $17, $18)
             RETURNING number"
        ),
        &[
            &s.id,
            &s.app_id,
            &number_sequence(s.app_id),
            &s.token,
            &s.status.as_str(),
            &s.workflow_id,
            &s.workflow_version,
            &s.vendor_data,
            &s.metadata,
            &s.callback,
            &s.callback_method.map(CallbackMethod::as_str),
            &s.language,
            &s.contact_details,
            &s.expected_details,
            &s.version,
            &s.created_at,
            &s.updated_at,
            &s.expires_at,
        ],
    )
    .await?;
    s.number = get(&row, "number")?;
    Ok(s)
}

pub async fn attempts(c: &impl GenericClient, session_id: Uuid) -> StoreResult<Vec<Attempt>> {
    let r = query(
        c,
        "SELECT * FROM attempts WHERE session_id = $1 ORDER BY seq",
        &[&session_id],
    )
    .await?;
    all(&r, rows::attempt)
}

pub async fn workflow(
    c: &impl GenericClient,
    cache: &WorkflowCache,
    id: Uuid,
    version: i64,
) -> StoreResult<std::sync::Arc<WorkflowRecord>> {
    if let Some(w) = cache.cached(id, version) {
        return Ok(w);
    }
    let w = catalog::workflow_version(c, id, version)
        .await?
        .ok_or_else(|| StoreError::Internal("session's workflow version is missing".into()))?;
    Ok(cache.remember(w))
}

fn locked_with_app_sql(kind: WorkflowKind) -> String {
    let cols: String = SESSION_COLUMNS
        .split(", ")
        .map(|col| format!("s.{col}"))
        .collect::<Vec<_>>()
        .join(", ");
    // By primary key only (see `find`); the application and deletion are checked by the caller.
    format!(
        "SELECT {cols}, s.deleted_at, s.backend_resubmitted_at, a.mode AS app_mode,
            COALESCE(a.email_brand, a.name) AS app_name, a.email_sender_name
         FROM {} s JOIN apps a ON a.id = s.app_id
         WHERE s.id = $1
         FOR UPDATE OF s",
        table(kind)
    )
}

const ATTEMPTS_SQL: &str = "SELECT * FROM attempts WHERE session_id = $1 ORDER BY seq";
const TIP_SQL: &str =
    "SELECT seq, hash FROM reviews WHERE session_id = $1 ORDER BY seq DESC LIMIT 1";

/// The session row of one kind locked, its attempts and the chain's tip, pipelined: the three
/// statements are prepared first, then sent in this order in one round trip, so PostgreSQL
/// reads the attempts and the tip only once the lock is held.
async fn locked_read(
    c: &impl GenericClient,
    kind: WorkflowKind,
    app_id: Uuid,
    id: Uuid,
) -> StoreResult<Option<(Session, tokio_postgres::Row, Vec<Attempt>, ChainTip)>> {
    let lock_sql = locked_with_app_sql(kind);
    let (lock, att, tip) = tokio::try_join!(
        c.prepare_cached(&lock_sql),
        c.prepare_cached(ATTEMPTS_SQL),
        c.prepare_cached(TIP_SQL),
    )
    .map_err(rows::db_err)?;
    let by_id: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&id];
    let (row, att, tip) = tokio::try_join!(
        c.query_opt(&lock, &by_id),
        c.query(&att, &by_id),
        c.query_opt(&tip, &by_id),
    )
    .map_err(rows::db_err)?;
    let Some(row) = row else { return Ok(None) };
    let deleted: Option<DateTime<Utc>> = get(&row, "deleted_at")?;
    let owner: Uuid = get(&row, "app_id")?;
    if owner != app_id || deleted.is_some() {
        return Ok(None);
    }
    let tip = match tip {
        Some(t) => (get(&t, "seq")?, get(&t, "hash")?),
        None => (0, vouch_core::review::GENESIS_HASH.to_string()),
    };
    Ok(Some((
        rows::session(&row, kind)?,
        row,
        all(&att, rows::attempt)?,
        tip,
    )))
}

/// The state a decision needs, read inside the write transaction with the session row locked,
/// and the chain's tip (its last review row), in one round trip for user sessions.
pub async fn state(
    c: &impl GenericClient,
    workflows: &WorkflowCache,
    app_id: Uuid,
    id: Uuid,
) -> StoreResult<Option<(SessionState, ChainTip)>> {
    let found = match locked_read(c, WorkflowKind::User, app_id, id).await? {
        Some(f) => f,
        None => match locked_read(c, WorkflowKind::Business, app_id, id).await? {
            Some(f) => f,
            None => return Ok(None),
        },
    };
    let (session, row, attempts, tip) = found;
    let workflow = workflow(c, workflows, session.workflow_id, session.workflow_version).await?;
    let mode: &str = get(&row, "app_mode")?;
    let state = SessionState {
        app_name: get(&row, "app_name")?,
        email_sender_name: get(&row, "email_sender_name")?,
        environment: Environment::parse(mode).unwrap_or(Environment::Live),
        workflow,
        attempts,
        last_backend_resubmission: get(&row, "backend_resubmitted_at")?,
        session,
    };
    Ok(Some((state, tip)))
}

pub async fn bundle(
    c: &impl GenericClient,
    workflows: &WorkflowCache,
    app_id: Uuid,
    id: Uuid,
) -> StoreResult<Option<SessionBundle>> {
    let Some(session) = find(c, app_id, id, false).await? else {
        return Ok(None);
    };
    let workflow = workflow(c, workflows, session.workflow_id, session.workflow_version).await?;
    let row = query_one(
        c,
        "SELECT mode, COALESCE(email_brand, name) AS app_name, email_sender_name FROM apps WHERE id = $1",
        &[&app_id],
    )
    .await?;
    let mode: &str = get(&row, "mode")?;
    Ok(Some(SessionBundle {
        app_name: get(&row, "app_name")?,
        email_sender_name: get(&row, "email_sender_name")?,
        attempts: attempts(c, id).await?,
        reviews: reviews(c, id).await?,
        environment: Environment::parse(mode).unwrap_or(Environment::Live),
        workflow,
        session,
    }))
}

/// Soft delete plus erasure: personal data in the session, its attempts and its review rows is
/// removed, and its undelivered events are dropped.
pub async fn delete(
    c: &impl GenericClient,
    app_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let Some(s) = find(c, app_id, id, true).await? else {
        return Ok(false);
    };
    execute(
        c,
        &format!(
            "UPDATE {} SET deleted_at = $1, updated_at = $1, vendor_data = NULL, metadata = '{{}}',
                callback = NULL, contact_details = '{{}}', expected_details = '{{}}',
                full_name = NULL, version = version + 1
             WHERE id = $2",
            table(s.kind)
        ),
        &[&now, &id],
    )
    .await?;
    execute(
        c,
        "UPDATE attempts SET data = '{}', warnings = '[]' WHERE session_id = $1",
        &[&id],
    )
    .await?;
    execute(
        c,
        "UPDATE reviews SET comment = NULL, metadata = '{}', redacted = true
         WHERE session_id = $1 AND NOT redacted",
        &[&id],
    )
    .await?;
    execute(
        c,
        "UPDATE outbox_events SET dropped_at = $1 WHERE session_id = $2 AND dropped_at IS NULL",
        &[&now, &id],
    )
    .await?;
    execute(
        c,
        "UPDATE webhook_deliveries SET state = 'dropped', updated_at = $1
         WHERE session_id = $2 AND state = 'pending'",
        &[&now, &id],
    )
    .await?;
    execute(
        c,
        "UPDATE email_jobs SET recipient = NULL, payload = '{}',
            state = CASE WHEN state = 'pending' THEN 'dropped' ELSE state END
         WHERE session_id = $1",
        &[&id],
    )
    .await?;
    Ok(true)
}

/// The name of the sequence that numbers an application's sessions.
pub fn number_sequence(app_id: Uuid) -> String {
    format!("session_numbers_{}", app_id.simple())
}

/// SQL creating the sequence numbering an application's sessions, starting at `next`.
/// Sequences never block and are not rolled back, so concurrent creations in one application
/// do not wait for each other's commits; a creation that fails after taking its number leaves
/// a gap.
pub fn number_sequence_sql(app_id: Uuid, next: i64) -> String {
    let name = number_sequence(app_id);
    format!(
        "CREATE SEQUENCE IF NOT EXISTS {name} AS bigint MINVALUE 1 START WITH 1;
         SELECT setval('{name}', {}, false);",
        next.max(1)
    )
}
