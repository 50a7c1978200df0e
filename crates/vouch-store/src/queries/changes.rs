//! Applying a decided change (status, attempts, chained review rows, outbox events, email jobs)
//! as one list of statements, and reading the rows it writes.

use vouch_core::review::Review;
use vouch_core::SessionId;
use vouch_core::SessionStatus;

use crate::model::{EmailJob, OutboxEvent, SessionChange};
use crate::rows;
use crate::sql::{Db, Param};
use crate::{stmt, StoreError, StoreResult};

/// The last review row of a session: its seq and hash (0 and the genesis hash when none).
pub type ChainTip = (i64, String);

/// Applies a change decided on the state read under the session's lock, after the chain's last
/// row `tip`: every row goes out in one list (one round trip on PostgreSQL). The UPDATE still
/// names the version it was decided on; a change that does not match it is refused whole.
pub async fn apply(db: &impl Db, ch: SessionChange, tip: ChainTip) -> StoreResult<()> {
    judge(db.execute_all(statements(ch, tip)).await)
}

/// Whether a change's statements (as `statements` lists them) were applied: the UPDATE must
/// have found the version the change was decided on.
pub fn judge(done: StoreResult<Vec<u64>>) -> StoreResult<()> {
    let done = done.map_err(|e| match e {
        // Only an attempt's (session, seq) can collide: written by a concurrent change.
        StoreError::Duplicate(_) => StoreError::VersionConflict,
        e => e,
    })?;
    if done.first() == Some(&0) {
        return Err(StoreError::VersionConflict);
    }
    Ok(())
}

/// A change's statements, in order; the first is the session's UPDATE (one row, or none when
/// the version it was decided on is gone). The session's id and version are all it names:
/// the state was read under the row's lock and belonged to the application, and a deletion
/// moves the version too. (A condition on `deleted_at` would also let a planner without
/// statistics pick the partial lifecycle index and scan it whole for every change.)
pub fn statements(ch: SessionChange, tip: ChainTip) -> Vec<crate::sql::Stmt> {
    let sid = ch.session_id;
    let update = stmt!(
        "UPDATE sessions SET
            status = COALESCE($1, status),
            resubmit_info = CASE WHEN $2 THEN $3 ELSE resubmit_info END,
            expires_at = COALESCE($4, expires_at),
            country = COALESCE($5, country),
            full_name = COALESCE($6, full_name),
            updated_at = $7,
            kyc_expires_at = CASE WHEN $10 THEN $11 ELSE kyc_expires_at END,
            backend_resubmitted_at = CASE WHEN $12 THEN $7 ELSE backend_resubmitted_at END,
            version = version + 1
         WHERE id = $8 AND version = $9",
        ch.status.map(SessionStatus::as_str),
        ch.resubmit_info.is_some(),
        Param::opt_json(ch.resubmit_info.as_ref().and_then(Option::as_ref)),
        ch.expires_at,
        ch.country.clone(),
        ch.full_name.clone(),
        ch.now,
        sid,
        ch.expected_version,
        ch.kyc_expires_at.is_some(),
        ch.kyc_expires_at.flatten(),
        ch.backend_resubmission
    );
    let mut batch = vec![update];
    let (mut seq, mut prev) = tip;
    for a in &ch.attempts {
        batch.push(stmt!(
            "INSERT INTO attempts (id, session_id, seq, node_id, feature, status, data, warnings,
                actor_type, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            a.id,
            sid,
            a.seq,
            &a.node_id,
            a.feature.name(),
            a.status.as_str(),
            &a.data,
            &a.warnings,
            a.actor_type.as_str(),
            a.created_at
        ));
    }
    for r in ch.reviews {
        seq += 1;
        let row = r.chain(sid, seq, &prev);
        prev = row.hash.clone();
        batch.push(insert_review(row));
    }
    for e in &ch.events {
        let resubmit_info = match &ch.resubmit_info {
            Some(Some(r)) if e.status == SessionStatus::Resubmitted => Some(r.public_json()),
            _ => None,
        };
        batch.push(stmt!(
            "INSERT INTO outbox_events (event_id, app_id, session_id, session_kind, event_type,
                status, previous_status, resubmit_info, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            e.event_id,
            ch.app_id,
            sid,
            ch.kind.as_str(),
            &e.event_type,
            e.status.as_str(),
            e.previous_status.map(SessionStatus::as_str),
            resubmit_info,
            ch.now
        ));
    }
    for e in &ch.emails {
        batch.push(stmt!(
            "INSERT INTO email_jobs (id, app_id, session_id, review_uuid, kind, status, recipient,
                language, payload, message_id, state, not_sent_reason, next_attempt_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                CASE WHEN CAST($11 AS TEXT) IS NULL THEN 'pending' ELSE 'not_sent' END,
                $11, $12, $12)",
            e.id,
            ch.app_id,
            sid,
            e.review_uuid,
            e.kind.as_str(),
            e.status.as_str(),
            &e.recipient,
            &e.language,
            &e.payload,
            &e.message_id,
            e.not_sent_reason,
            ch.now
        ));
    }
    for m in &ch.media {
        batch.push(stmt!(
            "INSERT INTO media (id, session_id, node_id, slot, media_type, bytes, width, height,
                sha256, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            m.id,
            sid,
            &m.node_id,
            m.slot.as_str(),
            m.media_type.mime(),
            m.bytes,
            m.width,
            m.height,
            &m.sha256,
            ch.now
        ));
    }
    for j in &ch.engine_jobs {
        batch.push(stmt!(
            "INSERT INTO engine_jobs (id, app_id, session_id, node_id, feature, engine, input,
                next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            j.id,
            ch.app_id,
            sid,
            &j.node_id,
            j.feature.name(),
            j.engine.as_str(),
            &j.input,
            ch.now
        ));
    }
    batch
}

fn insert_review(r: Review) -> crate::sql::Stmt {
    stmt!(
        "INSERT INTO reviews (uuid, session_id, seq, activity_type, actor_type, actor_display,
            previous_status, new_status, comment, metadata, personal_digest, redacted, created_at,
            prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        r.uuid,
        r.session_id,
        r.seq,
        r.activity_type,
        r.actor_type.as_str(),
        r.actor_display,
        r.previous_status.map(SessionStatus::as_str),
        r.new_status.map(SessionStatus::as_str),
        r.comment,
        r.metadata,
        r.personal_digest,
        r.redacted,
        r.created_at,
        r.prev_hash,
        r.hash
    )
}

pub async fn reviews(db: &impl Db, session_id: SessionId) -> StoreResult<Vec<Review>> {
    db.query(
        stmt!(
            "SELECT * FROM reviews WHERE session_id = $1 ORDER BY seq",
            session_id
        ),
        rows::review,
    )
    .await
}

pub async fn outbox(db: &impl Db, session_id: SessionId) -> StoreResult<Vec<OutboxEvent>> {
    db.query(
        stmt!(
            "SELECT * FROM outbox_events WHERE session_id = $1 ORDER BY seq",
            session_id
        ),
        rows::outbox_event,
    )
    .await
}

/// Session ids that have review rows (or just the one asked for).
pub async fn reviewed_sessions(
    db: &impl Db,
    only: Option<SessionId>,
) -> StoreResult<Vec<SessionId>> {
    if let Some(id) = only {
        return Ok(vec![id]);
    }
    db.query(
        stmt!("SELECT DISTINCT session_id FROM reviews ORDER BY session_id"),
        |r| r.uuid("session_id"),
    )
    .await
}

pub async fn email_jobs(db: &impl Db, session_id: SessionId) -> StoreResult<Vec<EmailJob>> {
    db.query(
        stmt!(
            "SELECT * FROM email_jobs WHERE session_id = $1 ORDER BY created_at, id",
            session_id
        ),
        rows::email_job,
    )
    .await
}

/// Verifies every chain (or one session's); answers the first broken link per session.
pub async fn verify_reviews(
    db: &impl Db,
    only: Option<SessionId>,
) -> StoreResult<(usize, Vec<(SessionId, vouch_core::review::BrokenLink)>)> {
    let ids = reviewed_sessions(db, only).await?;
    let mut broken = Vec::new();
    for id in &ids {
        if let Err(b) = vouch_core::review::verify_chain(&reviews(db, *id).await?) {
            broken.push((*id, b));
        }
    }
    Ok((ids.len(), broken))
}
