//! Sessions and the rows that hang off them: attempts, reviews, outbox events.

use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use uuid::Uuid;
use vouch_core::attempt::Attempt;
use vouch_core::review::{Review, GENESIS_HASH};
use vouch_core::session::{CallbackMethod, Session};
use vouch_core::{SessionStatus, WorkflowKind};

use super::cache::WorkflowCache;
use super::catalog;
use super::rows::{self, db_err, table, ts, SESSION_COLUMNS};
use crate::model::{
    DueTransition, EmailJob, KindFilter, LifecycleQuery, NewSession, OutboxEvent, Page,
    SessionBundle, SessionChange, SessionFilter, SessionState,
};
use crate::{StoreError, StoreResult};

fn json_text(v: &impl serde::Serialize) -> StoreResult<String> {
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
    let s = Session {
        id: new.id,
        app_id: new.app_id,
        number,
        kind: wf.kind(),
        token: new.token,
        status: SessionStatus::NotStarted,
        workflow_id: wf.id,
        workflow_version: wf.version,
        vendor_data: new.vendor_data,
        metadata: new.metadata,
        callback: new.callback,
        callback_method: new.callback_method,
        language: new.language,
        contact_details: new.contact_details,
        expected_details: new.expected_details,
        resubmit_info: None,
        version: 1,
        created_at: new.now,
        updated_at: new.now,
        expires_at: new.expires_at,
    };
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

pub fn reviews(conn: &Connection, session_id: Uuid) -> StoreResult<Vec<Review>> {
    let mut st = conn
        .prepare_cached("SELECT * FROM reviews WHERE session_id = ?1 ORDER BY seq")
        .map_err(db_err)?;
    let rows = st
        .query_map([session_id.to_string()], rows::review)
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

pub fn outbox(conn: &Connection, session_id: Uuid) -> StoreResult<Vec<OutboxEvent>> {
    let mut st = conn
        .prepare_cached("SELECT * FROM outbox_events WHERE session_id = ?1 ORDER BY seq")
        .map_err(db_err)?;
    let rows = st
        .query_map([session_id.to_string()], rows::outbox_event)
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
    let workflow = workflows.get(conn, session.workflow_id, session.workflow_version)?;
    let (environment, last_backend): (String, Option<String>) = conn
        .prepare_cached(&format!(
            "SELECT a.mode, s.backend_resubmitted_at FROM apps a, {} s WHERE a.id = ?1 AND s.id = ?2",
            table(session.kind)
        ))
        .map_err(db_err)?
        .query_row([app_id.to_string(), id.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(db_err)?;
    Ok(Some(SessionState {
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
    let workflow = workflows.get(conn, session.workflow_id, session.workflow_version)?;
    let mode: String = conn
        .prepare_cached("SELECT mode FROM apps WHERE id = ?1")
        .map_err(db_err)?
        .query_row([app_id.to_string()], |r| r.get(0))
        .map_err(db_err)?;
    Ok(Some(SessionBundle {
        attempts: attempts(conn, id)?,
        reviews: reviews(conn, id)?,
        environment: vouch_core::session::Environment::parse(&mode)
            .unwrap_or(vouch_core::session::Environment::Live),
        workflow,
        session,
    }))
}

fn filter_sql(filter: &SessionFilter, args: &mut Vec<String>) -> String {
    let mut sql = String::from("app_id = ?1 AND deleted_at IS NULL");
    let mut push = |clause: &str, vals: Vec<String>| {
        let mut c = clause.to_string();
        let start = args.len() + 1;
        for (i, v) in vals.into_iter().enumerate() {
            c = c.replacen('#', &format!("?{}", start + i), 1);
            args.push(v);
        }
        sql.push_str(" AND ");
        sql.push_str(&c);
    };
    if !filter.statuses.is_empty() {
        let marks = vec!["#"; filter.statuses.len()].join(", ");
        push(
            &format!("status IN ({marks})"),
            filter
                .statuses
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
        );
    }
    if let Some(vd) = &filter.vendor_data {
        push("vendor_data = #", vec![vd.clone()]);
    }
    if !filter.workflow_ids.is_empty() {
        let marks = vec!["#"; filter.workflow_ids.len()].join(", ");
        push(
            &format!("workflow_id IN ({marks})"),
            filter.workflow_ids.iter().map(Uuid::to_string).collect(),
        );
    }
    if let Some(c) = &filter.country {
        push("country = #", vec![c.clone()]);
    }
    if let Some(d) = filter.date_from {
        push("created_at >= #", vec![d.format("%Y-%m-%d").to_string()]);
    }
    if let Some(d) = filter.date_to {
        let next = d.succ_opt().unwrap_or(d);
        push("created_at < #", vec![next.format("%Y-%m-%d").to_string()]);
    }
    if let Some(s) = &filter.search {
        let escaped = s
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("{escaped}%");
        push(
            "(vendor_data LIKE # ESCAPE '\\' OR full_name LIKE # ESCAPE '\\')",
            vec![pattern.clone(), pattern],
        );
    }
    sql
}

pub fn list(
    conn: &Connection,
    app_id: Uuid,
    filter: &SessionFilter,
    page: Page,
) -> StoreResult<(Vec<Session>, i64)> {
    let kinds: &[WorkflowKind] = match filter.kind.unwrap_or(KindFilter::User) {
        KindFilter::User => &[WorkflowKind::User],
        KindFilter::Business => &[WorkflowKind::Business],
        KindFilter::All => &[WorkflowKind::User, WorkflowKind::Business],
    };
    let mut args = vec![app_id.to_string()];
    let wher = filter_sql(filter, &mut args);
    let selects: Vec<String> = kinds
        .iter()
        .map(|k| {
            format!(
                "SELECT {SESSION_COLUMNS}, '{}' AS kind FROM {} WHERE {wher}",
                k.as_str(),
                table(*k)
            )
        })
        .collect();
    let union = selects.join(" UNION ALL ");
    let count: i64 = conn
        .query_row(
            &format!("SELECT COUNT(*) FROM ({union})"),
            params_from_iter(args.iter()),
            |r| r.get(0),
        )
        .map_err(db_err)?;
    let n = args.len();
    args.push(page.limit.to_string());
    args.push(page.offset.to_string());
    let sql = format!(
        "SELECT * FROM ({union}) ORDER BY number DESC LIMIT CAST(?{} AS INTEGER) OFFSET CAST(?{} AS INTEGER)",
        n + 1,
        n + 2
    );
    let mut st = conn.prepare(&sql).map_err(db_err)?;
    let rows = st
        .query_map(params_from_iter(args.iter()), |r| {
            let kind: String = r.get("kind")?;
            rows::session(r, WorkflowKind::parse(&kind).unwrap_or(WorkflowKind::User))
        })
        .map_err(db_err)?;
    Ok((rows.collect::<Result<_, _>>().map_err(db_err)?, count))
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

fn last_review(conn: &Connection, session_id: &str) -> StoreResult<(i64, String)> {
    let row: Option<(i64, String)> = conn
        .prepare_cached(
            "SELECT seq, hash FROM reviews WHERE session_id = ?1 ORDER BY seq DESC LIMIT 1",
        )
        .map_err(db_err)?
        .query_row([session_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(db_err)?;
    Ok(row.unwrap_or((0, GENESIS_HASH.to_string())))
}

pub fn apply(conn: &Connection, c: SessionChange) -> StoreResult<()> {
    let sid = c.session_id.to_string();
    let tbl = table(c.kind);
    let resubmit = match &c.resubmit_info {
        Some(Some(r)) => Some(Some(json_text(r)?)),
        Some(None) => Some(None),
        None => None,
    };
    let kyc_expiry = c.kyc_expires_at.map(|t| t.map(ts));
    let updated = conn
        .prepare_cached(&format!(
            "UPDATE {tbl} SET
                status = COALESCE(?1, status),
                resubmit_info = CASE WHEN ?2 THEN ?3 ELSE resubmit_info END,
                expires_at = COALESCE(?4, expires_at),
                country = COALESCE(?5, country),
                full_name = COALESCE(?6, full_name),
                updated_at = ?7,
                kyc_expires_at = CASE WHEN ?11 THEN ?12 ELSE kyc_expires_at END,
                backend_resubmitted_at = CASE WHEN ?13 THEN ?7 ELSE backend_resubmitted_at END,
                version = version + 1
             WHERE id = ?8 AND app_id = ?9 AND version = ?10 AND deleted_at IS NULL"
        ))
        .map_err(db_err)?
        .execute(params![
            c.status.map(SessionStatus::as_str),
            resubmit.is_some(),
            resubmit.flatten(),
            c.expires_at.map(ts),
            c.country,
            c.full_name,
            ts(c.now),
            sid,
            c.app_id.to_string(),
            c.expected_version,
            kyc_expiry.is_some(),
            kyc_expiry.flatten(),
            c.backend_resubmission,
        ])
        .map_err(db_err)?;
    if updated == 0 {
        return Err(StoreError::VersionConflict);
    }
    for a in &c.attempts {
        conn.prepare_cached(
            "INSERT INTO attempts (id, session_id, seq, node_id, feature, status, data, warnings,
                actor_type, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .map_err(db_err)?
        .execute(params![
            a.id.to_string(),
            sid,
            a.seq,
            a.node_id,
            a.feature.name(),
            a.status.as_str(),
            json_text(&a.data)?,
            json_text(&a.warnings)?,
            a.actor_type.as_str(),
            ts(a.created_at),
        ])
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::VersionConflict
            }
            e => db_err(e),
        })?;
    }
    let (mut seq, mut prev) = last_review(conn, &sid)?;
    for r in c.reviews {
        seq += 1;
        let row = r.chain(c.session_id, seq, &prev);
        insert_review(conn, &row)?;
        prev = row.hash;
    }
    for e in &c.events {
        conn.prepare_cached(
            "INSERT INTO outbox_events (event_id, app_id, session_id, session_kind, event_type,
                status, previous_status, resubmit_info, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(db_err)?
        .execute(params![
            e.event_id.to_string(),
            c.app_id.to_string(),
            sid,
            c.kind.as_str(),
            e.event_type,
            e.status.as_str(),
            e.previous_status.map(SessionStatus::as_str),
            match &c.resubmit_info {
                Some(Some(r)) if e.status == SessionStatus::Resubmitted => {
                    Some(r.public_json().to_string())
                }
                _ => None,
            },
            ts(c.now),
        ])
        .map_err(db_err)?;
    }
    for e in &c.emails {
        conn.prepare_cached(
            "INSERT INTO email_jobs (id, app_id, session_id, review_uuid, kind, status, recipient,
                language, payload, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
        )
        .map_err(db_err)?
        .execute(params![
            e.id.to_string(),
            c.app_id.to_string(),
            sid,
            e.review_uuid.to_string(),
            e.kind.as_str(),
            e.status.as_str(),
            e.recipient,
            e.language,
            json_text(&e.payload)?,
            ts(c.now),
        ])
        .map_err(db_err)?;
    }
    Ok(())
}

fn insert_review(conn: &Connection, r: &Review) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO reviews (uuid, session_id, seq, activity_type, actor_type, actor_display,
            previous_status, new_status, comment, metadata, personal_digest, redacted, created_at,
            prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )
    .map_err(db_err)?
    .execute(params![
        r.uuid.to_string(),
        r.session_id.to_string(),
        r.seq,
        r.activity_type,
        r.actor_type.as_str(),
        r.actor_display,
        r.previous_status.map(SessionStatus::as_str),
        r.new_status.map(SessionStatus::as_str),
        r.comment,
        json_text(&r.metadata)?,
        r.personal_digest,
        r.redacted,
        ts(r.created_at),
        r.prev_hash,
        r.hash,
    ])
    .map_err(db_err)?;
    Ok(())
}

/// Session ids that have review rows (or just the one asked for).
pub fn reviewed_sessions(conn: &Connection, only: Option<Uuid>) -> StoreResult<Vec<Uuid>> {
    if let Some(id) = only {
        return Ok(vec![id]);
    }
    let mut st = conn
        .prepare("SELECT DISTINCT session_id FROM reviews ORDER BY session_id")
        .map_err(db_err)?;
    let rows = st
        .query_map([], |r| rows::get_uuid(r, "session_id"))
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

pub fn email_jobs(conn: &Connection, session_id: Uuid) -> StoreResult<Vec<EmailJob>> {
    let mut st = conn
        .prepare_cached("SELECT * FROM email_jobs WHERE session_id = ?1 ORDER BY created_at, id")
        .map_err(db_err)?;
    let rows = st
        .query_map([session_id.to_string()], rows::email_job)
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

/// Sessions whose lifecycle timers have come due, oldest first, both kinds.
pub fn due_transitions(conn: &Connection, q: &LifecycleQuery) -> StoreResult<Vec<DueTransition>> {
    let mut out = Vec::new();
    for kind in [WorkflowKind::User, WorkflowKind::Business] {
        let tbl = table(kind);
        let scans: [(&str, String, SessionStatus); 3] = [
            (
                "status = 'Not Started' AND created_at < ?1",
                ts(q.not_started_before),
                SessionStatus::Expired,
            ),
            (
                "status IN ('In Progress', 'Resubmitted') AND updated_at < ?1",
                ts(q.idle_before),
                SessionStatus::Abandoned,
            ),
            (
                "status = 'Approved' AND kyc_expires_at <= ?1",
                ts(q.now),
                SessionStatus::KycExpired,
            ),
        ];
        for (cond, bound, to) in scans {
            let sql = format!(
                "SELECT {SESSION_COLUMNS} FROM {tbl} WHERE {cond} AND deleted_at IS NULL
                 ORDER BY updated_at LIMIT ?2"
            );
            let mut st = conn.prepare_cached(&sql).map_err(db_err)?;
            let rows = st
                .query_map(params![bound, q.limit], |r| rows::session(r, kind))
                .map_err(db_err)?;
            for s in rows {
                out.push(DueTransition {
                    session: s.map_err(db_err)?,
                    to,
                });
            }
        }
    }
    Ok(out)
}
