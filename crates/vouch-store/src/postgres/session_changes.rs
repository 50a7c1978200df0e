//! Applying a decided change (status, attempts, chained review rows, outbox events, email jobs)
//! and reading the rows it writes.

use deadpool_postgres::GenericClient;
use serde_json::Value;
use uuid::Uuid;
use vouch_core::review::{Review, GENESIS_HASH};
use vouch_core::SessionStatus;

use super::rows::{self, all, db_err, execute, get, is_unique_violation, query, query_opt, table};
use crate::model::{EmailJob, OutboxEvent, SessionChange};
use crate::{StoreError, StoreResult};

async fn last_review(c: &impl GenericClient, session_id: Uuid) -> StoreResult<(i64, String)> {
    let row = query_opt(
        c,
        "SELECT seq, hash FROM reviews WHERE session_id = $1 ORDER BY seq DESC LIMIT 1",
        &[&session_id],
    )
    .await?;
    match row {
        Some(r) => Ok((get(&r, "seq")?, get(&r, "hash")?)),
        None => Ok((0, GENESIS_HASH.to_string())),
    }
}

/// Applies the change if the session is still at its expected version. The UPDATE takes the
/// session's row lock, so the review chain is extended by one transaction at a time.
pub async fn apply(c: &impl GenericClient, ch: SessionChange) -> StoreResult<()> {
    let sid = ch.session_id;
    let tbl = table(ch.kind);
    let resubmit: Option<Option<Value>> = match &ch.resubmit_info {
        Some(Some(r)) => Some(Some(rows::json(r)?)),
        Some(None) => Some(None),
        None => None,
    };
    let kyc_expiry = ch.kyc_expires_at;
    let updated = execute(
        c,
        &format!(
            "UPDATE {tbl} SET
                status = COALESCE($1, status),
                resubmit_info = CASE WHEN $2 THEN $3 ELSE resubmit_info END,
                expires_at = COALESCE($4, expires_at),
                country = COALESCE($5, country),
                full_name = COALESCE($6, full_name),
                updated_at = $7,
                kyc_expires_at = CASE WHEN $11 THEN $12 ELSE kyc_expires_at END,
                backend_resubmitted_at = CASE WHEN $13 THEN $7 ELSE backend_resubmitted_at END,
                version = version + 1
             WHERE id = $8 AND app_id = $9 AND version = $10 AND deleted_at IS NULL"
        ),
        &[
            &ch.status.map(SessionStatus::as_str),
            &resubmit.is_some(),
            &resubmit.clone().flatten(),
            &ch.expires_at,
            &ch.country,
            &ch.full_name,
            &ch.now,
            &sid,
            &ch.app_id,
            &ch.expected_version,
            &kyc_expiry.is_some(),
            &kyc_expiry.flatten(),
            &ch.backend_resubmission,
        ],
    )
    .await?;
    if updated == 0 {
        return Err(StoreError::VersionConflict);
    }
    if !ch.attempts.is_empty() {
        let st = c
            .prepare_cached(
                "INSERT INTO attempts (id, session_id, seq, node_id, feature, status, data, warnings,
                    actor_type, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .await
            .map_err(db_err)?;
        for a in &ch.attempts {
            c.execute(
                &st,
                &[
                    &a.id,
                    &sid,
                    &a.seq,
                    &a.node_id,
                    &a.feature.name(),
                    &a.status.as_str(),
                    &a.data,
                    &a.warnings,
                    &a.actor_type.as_str(),
                    &a.created_at,
                ],
            )
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::VersionConflict
                } else {
                    db_err(e)
                }
            })?;
        }
    }
    if !ch.reviews.is_empty() {
        let (mut seq, mut prev) = last_review(c, sid).await?;
        for r in ch.reviews {
            seq += 1;
            let row = r.chain(sid, seq, &prev);
            insert_review(c, &row).await?;
            prev = row.hash;
        }
    }
    for e in &ch.events {
        let resubmit_info = match &ch.resubmit_info {
            Some(Some(r)) if e.status == SessionStatus::Resubmitted => Some(r.public_json()),
            _ => None,
        };
        execute(
            c,
            "INSERT INTO outbox_events (event_id, app_id, session_id, session_kind, event_type,
                status, previous_status, resubmit_info, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &e.event_id,
                &ch.app_id,
                &sid,
                &ch.kind.as_str(),
                &e.event_type,
                &e.status.as_str(),
                &e.previous_status.map(SessionStatus::as_str),
                &resubmit_info,
                &ch.now,
            ],
        )
        .await?;
    }
    for e in &ch.emails {
        execute(
            c,
            "INSERT INTO email_jobs (id, app_id, session_id, review_uuid, kind, status, recipient,
                language, payload, message_id, state, not_sent_reason, next_attempt_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                CASE WHEN $11::text IS NULL THEN 'pending' ELSE 'not_sent' END, $11, $12, $12)",
            &[
                &e.id,
                &ch.app_id,
                &sid,
                &e.review_uuid,
                &e.kind.as_str(),
                &e.status.as_str(),
                &e.recipient,
                &e.language,
                &e.payload,
                &e.message_id,
                &e.not_sent_reason,
                &ch.now,
            ],
        )
        .await?;
    }
    Ok(())
}

pub async fn insert_review(c: &impl GenericClient, r: &Review) -> StoreResult<()> {
    execute(
        c,
        "INSERT INTO reviews (uuid, session_id, seq, activity_type, actor_type, actor_display,
            previous_status, new_status, comment, metadata, personal_digest, redacted, created_at,
            prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        &[
            &r.uuid,
            &r.session_id,
            &r.seq,
            &r.activity_type,
            &r.actor_type.as_str(),
            &r.actor_display,
            &r.previous_status.map(SessionStatus::as_str),
            &r.new_status.map(SessionStatus::as_str),
            &r.comment,
            &r.metadata,
            &r.personal_digest,
            &r.redacted,
            &r.created_at,
            &r.prev_hash,
            &r.hash,
        ],
    )
    .await
    .map(|_| ())
}

pub async fn reviews(c: &impl GenericClient, session_id: Uuid) -> StoreResult<Vec<Review>> {
    let r = query(
        c,
        "SELECT * FROM reviews WHERE session_id = $1 ORDER BY seq",
        &[&session_id],
    )
    .await?;
    all(&r, rows::review)
}

pub async fn outbox(c: &impl GenericClient, session_id: Uuid) -> StoreResult<Vec<OutboxEvent>> {
    let r = query(
        c,
        "SELECT * FROM outbox_events WHERE session_id = $1 ORDER BY seq",
        &[&session_id],
    )
    .await?;
    all(&r, rows::outbox_event)
}

/// Session ids that have review rows (or just the one asked for).
pub async fn reviewed_sessions(
    c: &impl GenericClient,
    only: Option<Uuid>,
) -> StoreResult<Vec<Uuid>> {
    if let Some(id) = only {
        return Ok(vec![id]);
    }
    let r = query(
        c,
        "SELECT DISTINCT session_id FROM reviews ORDER BY session_id",
        &[],
    )
    .await?;
    all(&r, |row| get(row, "session_id"))
}

pub async fn email_jobs(c: &impl GenericClient, session_id: Uuid) -> StoreResult<Vec<EmailJob>> {
    let r = query(
        c,
        "SELECT * FROM email_jobs WHERE session_id = $1 ORDER BY created_at, id",
        &[&session_id],
    )
    .await?;
    all(&r, rows::email_job)
}
