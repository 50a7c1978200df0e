//! Applying a decided change (status, attempts, chained review rows, outbox events, email jobs)
//! and reading the rows it writes.

use std::future::Future;
use std::pin::Pin;

use deadpool_postgres::GenericClient;
use serde_json::Value;
use tokio_postgres::types::ToSql;
use uuid::Uuid;
use vouch_core::review::{Review, GENESIS_HASH};
use vouch_core::SessionStatus;

use super::rows::{self, all, db_err, get, is_unique_violation, query, query_opt, table};
use crate::model::{EmailJob, OutboxEvent, SessionChange};
use crate::{StoreError, StoreResult};

/// The last review row of a session: its seq and hash (0 and the genesis hash when none).
pub type ChainTip = (i64, String);

pub async fn last_review(c: &impl GenericClient, session_id: Uuid) -> StoreResult<ChainTip> {
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

type Pending<'a> = Pin<Box<dyn Future<Output = StoreResult<u64>> + Send + 'a>>;

fn statement<'a>(
    c: &'a impl GenericClient,
    sql: &'a str,
    params: Vec<Box<dyn ToSql + Sync + Send + 'a>>,
) -> Pending<'a> {
    Box::pin(async move {
        let st = c.prepare_cached(sql).await.map_err(db_err)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as _).collect();
        c.execute(&st, &refs).await.map_err(|e| {
            if is_unique_violation(&e) {
                // Only an attempt's (session, seq) can collide: written by a concurrent change.
                StoreError::VersionConflict
            } else {
                db_err(e)
            }
        })
    })
}

/// Applies the change if the session is still at its expected version. The UPDATE takes the
/// session's row lock, so the review chain grows by one transaction at a time. With `tip` (the
/// chain's last row, read by the caller under that lock) every row goes in one pipelined round
/// trip; without, the UPDATE goes first.
pub async fn apply(
    c: &impl GenericClient,
    ch: SessionChange,
    tip: Option<ChainTip>,
) -> StoreResult<()> {
    let sid = ch.session_id;
    let tbl = table(ch.kind);
    let resubmit: Option<Option<Value>> = match &ch.resubmit_info {
        Some(Some(r)) => Some(Some(rows::json(r)?)),
        Some(None) => Some(None),
        None => None,
    };
    let update_sql = format!(
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
    );
    let update = statement(
        c,
        &update_sql,
        vec![
            Box::new(ch.status.map(SessionStatus::as_str)),
            Box::new(resubmit.is_some()),
            Box::new(resubmit.clone().flatten()),
            Box::new(ch.expires_at),
            Box::new(ch.country.clone()),
            Box::new(ch.full_name.clone()),
            Box::new(ch.now),
            Box::new(sid),
            Box::new(ch.app_id),
            Box::new(ch.expected_version),
            Box::new(ch.kyc_expires_at.is_some()),
            Box::new(ch.kyc_expires_at.flatten()),
            Box::new(ch.backend_resubmission),
        ],
    );
    let mut batch: Vec<Pending<'_>> = Vec::new();
    let (mut seq, mut prev) = match tip {
        // The caller holds the row lock and read the chain's tip under it: the UPDATE cannot
        // miss, so it goes out with everything else.
        Some(t) => {
            batch.push(update);
            t
        }
        // Otherwise the UPDATE goes first: a stale change writes nothing, and the tip is read
        // once the lock is ours.
        None => {
            if update.await? == 0 {
                return Err(StoreError::VersionConflict);
            }
            if ch.reviews.is_empty() {
                (0, String::new())
            } else {
                last_review(c, sid).await?
            }
        }
    };
    let locked_first = batch.len();
    for a in &ch.attempts {
        batch.push(statement(
            c,
            "INSERT INTO attempts (id, session_id, seq, node_id, feature, status, data, warnings,
                actor_type, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            vec![
                Box::new(a.id),
                Box::new(sid),
                Box::new(a.seq),
                Box::new(a.node_id.clone()),
                Box::new(a.feature.name()),
                Box::new(a.status.as_str()),
                Box::new(a.data.clone()),
                Box::new(a.warnings.clone()),
                Box::new(a.actor_type.as_str()),
                Box::new(a.created_at),
            ],
        ));
    }
    for r in ch.reviews {
        seq += 1;
        let row = r.chain(sid, seq, &prev);
        prev = row.hash.clone();
        batch.push(statement(c, INSERT_REVIEW, review_params(row)));
    }
    for e in &ch.events {
        let resubmit_info = match &ch.resubmit_info {
            Some(Some(r)) if e.status == SessionStatus::Resubmitted => Some(r.public_json()),
            _ => None,
        };
        batch.push(statement(
            c,
            "INSERT INTO outbox_events (event_id, app_id, session_id, session_kind, event_type,
                status, previous_status, resubmit_info, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            vec![
                Box::new(e.event_id),
                Box::new(ch.app_id),
                Box::new(sid),
                Box::new(ch.kind.as_str()),
                Box::new(e.event_type.clone()),
                Box::new(e.status.as_str()),
                Box::new(e.previous_status.map(SessionStatus::as_str)),
                Box::new(resubmit_info),
                Box::new(ch.now),
            ],
        ));
    }
    for e in &ch.emails {
        batch.push(statement(
            c,
            "INSERT INTO email_jobs (id, app_id, session_id, review_uuid, kind, status, recipient,
                language, payload, message_id, state, not_sent_reason, next_attempt_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                CASE WHEN $11::text IS NULL THEN 'pending' ELSE 'not_sent' END, $11, $12, $12)",
            vec![
                Box::new(e.id),
                Box::new(ch.app_id),
                Box::new(sid),
                Box::new(e.review_uuid),
                Box::new(e.kind.as_str()),
                Box::new(e.status.as_str()),
                Box::new(e.recipient.clone()),
                Box::new(e.language.clone()),
                Box::new(e.payload.clone()),
                Box::new(e.message_id.clone()),
                Box::new(e.not_sent_reason.clone()),
                Box::new(ch.now),
            ],
        ));
    }
    // Sent back to back; the first failure (in order) is the one reported.
    let done = futures_util::future::try_join_all(batch).await?;
    if locked_first == 1 && done[0] == 0 {
        return Err(StoreError::VersionConflict);
    }
    Ok(())
}

const INSERT_REVIEW: &str = "INSERT INTO reviews (uuid, session_id, seq, activity_type, actor_type,
    actor_display, previous_status, new_status, comment, metadata, personal_digest, redacted,
    created_at, prev_hash, hash)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

fn review_params(r: Review) -> Vec<Box<dyn ToSql + Sync + Send>> {
    vec![
        Box::new(r.uuid),
        Box::new(r.session_id),
        Box::new(r.seq),
        Box::new(r.activity_type),
        Box::new(r.actor_type.as_str()),
        Box::new(r.actor_display),
        Box::new(r.previous_status.map(SessionStatus::as_str)),
        Box::new(r.new_status.map(SessionStatus::as_str)),
        Box::new(r.comment),
        Box::new(r.metadata),
        Box::new(r.personal_digest),
        Box::new(r.redacted),
        Box::new(r.created_at),
        Box::new(r.prev_hash),
        Box::new(r.hash),
    ]
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
