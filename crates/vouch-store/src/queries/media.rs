//! What the person's page captured: each session's wrapped file key, and one row per stored
//! file. The files themselves live outside the database, encrypted with that key.

use chrono::{DateTime, Utc};
use vouch_core::engine::Slot;
use vouch_core::media::MediaType;
use vouch_core::{MediaId, SessionId};

use crate::model::MediaRecord;
use crate::sql::{Db, Row};
use crate::{stmt, StoreResult};

/// The session's wrapped key, stored first if it has none: two uploads racing agree on one.
pub async fn key(
    db: &impl Db,
    session_id: SessionId,
    fresh: String,
    now: DateTime<Utc>,
) -> StoreResult<String> {
    db.execute(stmt!(
        "INSERT INTO media_keys (session_id, wrapped, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (session_id) DO NOTHING",
        session_id,
        fresh,
        now
    ))
    .await?;
    db.query_one(
        stmt!(
            "SELECT wrapped FROM media_keys WHERE session_id = $1",
            session_id
        ),
        |r| r.text("wrapped"),
    )
    .await
}

fn record(r: &Row) -> StoreResult<MediaRecord> {
    Ok(MediaRecord {
        id: r.uuid("id")?,
        session_id: r.uuid("session_id")?,
        node_id: r.text("node_id")?,
        slot: r.parse("slot", Slot::parse)?,
        media_type: r.parse("media_type", MediaType::from_mime)?,
        bytes: r.int("bytes")?,
        width: r.int("width")?,
        height: r.int("height")?,
        sha256: r.text("sha256")?,
        created_at: r.time("created_at")?,
    })
}

/// A stored file with its session's wrapped key; none once the session is erased.
pub async fn get(db: &impl Db, id: MediaId) -> StoreResult<Option<(MediaRecord, String)>> {
    db.query_opt(
        stmt!(
            "SELECT m.*, k.wrapped FROM media m JOIN media_keys k ON k.session_id = m.session_id
             WHERE m.id = $1",
            id
        ),
        |r| Ok((record(r)?, r.text("wrapped")?)),
    )
    .await
}

/// A session's files, oldest first.
pub async fn of_session(db: &impl Db, session_id: SessionId) -> StoreResult<Vec<MediaRecord>> {
    db.query(
        stmt!(
            "SELECT * FROM media WHERE session_id = $1 ORDER BY created_at, id",
            session_id
        ),
        record,
    )
    .await
}
