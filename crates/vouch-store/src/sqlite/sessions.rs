//! Sessions: lookup, creation (with the vendor_data reuse rule), decision state, deletion.

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;
use vouch_core::attempt::Attempt;
use vouch_core::session::{CallbackMethod, Session};
use vouch_core::WorkflowKind;

use super::cache::WorkflowCache;
use super::catalog;
use super::rows::{self, db_err, table, ts, SESSION_COLUMNS};
use super::session_changes::reviews;
use crate::model::{NewSession, SessionBundle, SessionState};
use crate::{StoreError, StoreResult};

pub(super) fn json_text(v: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(e.to_string()))
}

/// A live session of the application; the user table is searched first.
pub fn find(conn: &Connection, app_id: Uuid, id: Uuid) -> StoreResult<Option<Session>> {
    for kind in [WorkflowKind::User, WorkflowKind::Business] {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM {} WHERE id = ?1 AND app_id = ?2 AND deleted_at IS NULL",
            table(kind)
        );
        let found = conn
            .prepare_cached(&sql)
            .map_err(db_err)?
            .query_row(params![id.to_string(), app_id.to_string()], |r| {
                rows::session(r, kind)
            })
            .optional()
            .map_err(db_err)?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

pub fn create(conn: &Connection, mut new: NewSession) -> StoreResult<Session> {
    // Stored with microsecond precision: answer what a later read will see.
    new.now = rows::micros(new.now);
    new.expires_at = rows::micros(new.expires_at);
    let workflow_id = match new.workflow_id {
        Some(id) => id,
        None => catalog::default_workflow_id(conn, new.app_id)?
            .ok_or_else(|| StoreError::NotFound("default workflow".into()))?,
    };
    let wf = catalog::latest_published(conn, new.app_id, workflow_id)?
        .ok_or_else(|| StoreError::NotFound("published workflow".into()))?;
    let tbl = table(wf.kind());

    if let Some(vd) = &new.vendor_data {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM {tbl} INDEXED BY {tbl}_vendor
             WHERE app_id = ?1 AND vendor_data = ?2
               AND workflow_id = ?3 AND workflow_version = ?4 AND deleted_at IS NULL
               AND status IN ('Not Started', 'In Progress', 'Resubmitted', 'Awaiting User')
             ORDER BY number DESC LIMIT 1"
        );
        let existing = conn
            .prepare_cached(&sql)
            .map_err(db_err)?
            .query_row(
                params![new.app_id.to_string(), vd, wf.id.to_string(), wf.version],
                |r| rows::session(r, wf.kind()),
            )
            .optional()
            .map_err(db_err)?;
        if let Some(mut s) = existing {
            s.callback = new.callback;
            s.metadata = new.metadata;
            s.updated_at = new.now;
            s.version += 1;
            conn.execute(
                &format!(
                    "UPDATE {tbl} SET callback = ?1, metadata = ?2, updated_at = ?3, version = ?4 WHERE id = ?5"
                ),
                params![
                    s.callback,
                    json_text(&s.metadata)?,
                    ts(s.updated_at),
                    s.version,
                    s.id.to_string()
                ],
            )
            .map_err(db_err)?;
            return Ok(s);
        }
    }

    let number: i64 = conn
        .query_row(
            "UPDATE apps SET next_session_number = next_session_number + 1 WHERE id = ?1
             RETURNING next_session_number - 1",
            [new.app_id.to_string()],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    let s = new.into_session(number, &wf);
    conn.execute(
        &format!(
            "INSERT INTO {tbl} (id, app_id, number, token, status, workflow_id, workflow_version,
                vendor_data, metadata, callback, callback_method, language, contact_details,
                expected_details, version, created_at, updated_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
        ),
        params![
            s.id.to_string(),
            s.app_id.to_string(),
            s.number,
            s.token,
            s.status.as_str(),
            s.workflow_id.to_string(),
            s.workflow_version,
            s.vendor_data,
            json_text(&s.metadata)?,
            s.callback,
            s.callback_method.map(CallbackMethod::as_str),
            s.language,
            json_text(&s.contact_details)?,
            json_text(&s.expected_details)?,
            s.version,
            ts(s.created_at),
            ts(s.updated_at),
            ts(s.expires_at),
        ],
    )
    .map_err(db_err)?;
    Ok(s)
}

pub fn attempts(conn: &Connection, session_id: Uuid) -> StoreResult<Vec<Attempt>> {
    let mut st = conn
        .prepare_cached("SELECT * FROM attempts WHERE session_id = ?1 ORDER BY seq")
        .map_err(db_err)?;
    let rows = st
        .query_map([session_id.to_string()], rows::attempt)
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

/// The state a decision needs, read inside the write transaction.
pub fn state(
    conn: &Connection,
    workflows: &WorkflowCache,
    app_id: Uuid,
    id: Uuid,
) -> StoreResult<Option<SessionState>> {
    let Some(session) = find(conn, app_id, id)? else {
        return Ok(None);
    };
    let workflow = super::cache::get(
        workflows,
        conn,
        session.workflow_id,
        session.workflow_version,
    )?;
    let (environment, app_name, email_sender_name, last_backend): (String, String, Option<String>, Option<String>) = conn
        .prepare_cached(&format!(
            "SELECT a.mode, COALESCE(a.email_brand, a.name), a.email_sender_name, s.backend_resubmitted_at
             FROM apps a, {} s WHERE a.id = ?1 AND s.id = ?2",
            table(session.kind)
        ))
        .map_err(db_err)?
        .query_row([app_id.to_string(), id.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .map_err(db_err)?;
    Ok(Some(SessionState {
        app_name,
        email_sender_name,
        environment: vouch_core::session::Environment::parse(&environment)
            .unwrap_or(vouch_core::session::Environment::Live),
        workflow,
        attempts: attempts(conn, id)?,
        last_backend_resubmission: last_backend
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&chrono::Utc)),
        session,
    }))
}

pub fn bundle(
    conn: &Connection,
    workflows: &WorkflowCache,
    app_id: Uuid,
    id: Uuid,
) -> StoreResult<Option<SessionBundle>> {
    let Some(session) = find(conn, app_id, id)? else {
        return Ok(None);
    };
    let workflow = super::cache::get(
        workflows,
        conn,
        session.workflow_id,
        session.workflow_version,
    )?;
    let (mode, app_name, email_sender_name): (String, String, Option<String>) = conn
        .prepare_cached(
            "SELECT mode, COALESCE(email_brand, name), email_sender_name FROM apps WHERE id = ?1",
        )
        .map_err(db_err)?
        .query_row([app_id.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map_err(db_err)?;
    Ok(Some(SessionBundle {
        app_name,
        email_sender_name,
        attempts: attempts(conn, id)?,
        reviews: reviews(conn, id)?,
        environment: vouch_core::session::Environment::parse(&mode)
            .unwrap_or(vouch_core::session::Environment::Live),
        workflow,
        session,
    }))
}

/// Soft delete plus erasure: personal data in the session, its attempts and its review rows is
/// removed, and its undelivered events are dropped.
pub fn delete(conn: &Connection, app_id: Uuid, id: Uuid, now: &str) -> StoreResult<bool> {
    let Some(s) = find(conn, app_id, id)? else {
        return Ok(false);
    };
    let sid = id.to_string();
    conn.execute(
        &format!(
            "UPDATE {} SET deleted_at = ?1, updated_at = ?1, vendor_data = NULL, metadata = '{{}}',
                callback = NULL, contact_details = '{{}}', expected_details = '{{}}',
                full_name = NULL, version = version + 1
             WHERE id = ?2",
            table(s.kind)
        ),
        params![now, sid],
    )
    .map_err(db_err)?;
    conn.execute(
        "UPDATE attempts SET data = '{}', warnings = '[]' WHERE session_id = ?1",
        [&sid],
    )
    .map_err(db_err)?;
    conn.execute(
        "UPDATE reviews SET comment = NULL, metadata = '{}', redacted = 1
         WHERE session_id = ?1 AND redacted = 0",
        [&sid],
    )
    .map_err(db_err)?;
    conn.execute(
        "UPDATE outbox_events SET dropped_at = ?1 WHERE session_id = ?2 AND dropped_at IS NULL",
        params![now, sid],
    )
    .map_err(db_err)?;
    conn.execute(
        "UPDATE webhook_deliveries SET state = 'dropped', updated_at = ?1
         WHERE session_id = ?2 AND state = 'pending'",
        params![now, sid],
    )
    .map_err(db_err)?;
    conn.execute(
        "UPDATE email_jobs SET recipient = NULL, payload = '{}',
            state = CASE WHEN state = 'pending' THEN 'dropped' ELSE state END
         WHERE session_id = ?1",
        [&sid],
    )
    .map_err(db_err)?;
    Ok(true)
}
