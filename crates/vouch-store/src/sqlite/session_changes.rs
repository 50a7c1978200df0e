//! Applying a decided change (status, attempts, chained review rows, outbox events, email jobs)
//! and reading the rows it writes.

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;
use vouch_core::review::{Review, GENESIS_HASH};
use vouch_core::SessionStatus;

use super::rows::{self, db_err, table, ts};
use super::sessions::json_text;
use crate::model::{EmailJob, OutboxEvent, SessionChange};
use crate::{StoreError, StoreResult};

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
                language, payload, message_id, state, not_sent_reason, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,
                CASE WHEN ?11 IS NULL THEN 'pending' ELSE 'not_sent' END, ?11, ?12, ?12)",
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
            e.message_id,
            e.not_sent_reason,
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
