//! One-time codes of the person's page (`vouch_core::otp`): one row per step of a session.

use chrono::{DateTime, Utc};
use vouch_core::otp::Challenge;
use vouch_core::SessionId;

use crate::sql::Db;
use crate::{stmt, StoreResult};

pub async fn get(
    db: &impl Db,
    session_id: SessionId,
    node_id: &str,
) -> StoreResult<Option<Challenge>> {
    db.query_opt(
        stmt!(
            "SELECT session_id, node_id, destination, code_hash, sent_at, tries, sends
             FROM person_codes WHERE session_id = $1 AND node_id = $2",
            session_id,
            node_id
        ),
        |r| {
            Ok(Challenge {
                session_id: r.uuid("session_id")?,
                node_id: r.text("node_id")?,
                destination: r.text("destination")?,
                code_hash: r.text("code_hash")?,
                sent_at: r.time("sent_at")?,
                tries: r.int("tries")?,
                sends: r.int("sends")?,
            })
        },
    )
    .await
}

/// Stores a newly sent code, replacing the step's previous one (its tries start again), but only
/// if the step's sends are still `sends_before` — two sends racing cannot both pass the limit.
/// Answers whether it was stored.
pub async fn put(db: &impl Db, c: &Challenge, sends_before: i64) -> StoreResult<bool> {
    let n = if sends_before == 0 {
        db.execute(stmt!(
            "INSERT INTO person_codes (session_id, node_id, destination, code_hash, sent_at, tries, sends)
             VALUES ($1, $2, $3, $4, $5, 0, $6)
             ON CONFLICT (session_id, node_id) DO NOTHING",
            c.session_id,
            c.node_id.as_str(),
            c.destination.as_str(),
            c.code_hash.as_str(),
            c.sent_at,
            c.sends
        ))
        .await?
    } else {
        db.execute(stmt!(
            "UPDATE person_codes SET destination = $3, code_hash = $4, sent_at = $5, tries = 0,
                sends = $6
             WHERE session_id = $1 AND node_id = $2 AND sends = $7",
            c.session_id,
            c.node_id.as_str(),
            c.destination.as_str(),
            c.code_hash.as_str(),
            c.sent_at,
            c.sends,
            sends_before
        ))
        .await?
    };
    Ok(n == 1)
}

/// Counts one try against the step's code, if it has tries left and is still the code sent at
/// `sent_at`; answers the tries after it, or `None` when no try was left to count.
pub async fn take_try(
    db: &impl Db,
    session_id: SessionId,
    node_id: &str,
    sent_at: DateTime<Utc>,
    limit: i64,
) -> StoreResult<Option<i64>> {
    let n = db
        .execute(stmt!(
            "UPDATE person_codes SET tries = tries + 1
             WHERE session_id = $1 AND node_id = $2 AND sent_at = $3 AND tries < $4",
            session_id,
            node_id,
            sent_at,
            limit
        ))
        .await?;
    if n == 0 {
        return Ok(None);
    }
    Ok(get(db, session_id, node_id).await?.map(|c| c.tries))
}
