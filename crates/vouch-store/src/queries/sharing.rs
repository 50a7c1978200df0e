//! Importing a shared session (`POST /v3/session/import-shared/`), in one transaction: the
//! redemption (each token once, each shared session once per receiving application), the fresh
//! session, its cloned results (decided by the core), and the row on the source's trail.

use chrono::{DateTime, Utc};
use uuid::Uuid;
use vouch_core::change::SessionState;
use vouch_core::{AppId, SessionId};

use super::{changes, sessions};
use vouch_core::session::Session;

use super::idempotency;
use crate::model::{Decide, Idem, NewSession, Written};
use crate::sql::Db;
use crate::workflow_cache::WorkflowCache;
use crate::{stmt, StoreError, StoreResult};

/// A share token being redeemed.
pub struct SharedImport {
    pub share_id: Uuid,
    pub for_app_id: AppId,
    pub source_app_id: AppId,
    pub source_session_id: SessionId,
    /// The session to create in the receiving application.
    pub new: NewSession,
    pub now: DateTime<Utc>,
    /// The request's `Idempotency-Key`: a repeat answers the stored response.
    pub idem: Option<Idem<Session>>,
}

/// What became of an import.
#[derive(Debug, Clone, PartialEq)]
pub enum Imported {
    /// The imported session, as it is after its first change.
    Done(Box<Session>),
    /// The stored answer of an earlier request with the same `Idempotency-Key`.
    Replayed {
        status_code: u16,
        body: serde_json::Value,
    },
    /// The token was redeemed already, or this application imported that session already.
    AlreadyRedeemed,
    /// The shared session was deleted meanwhile.
    SourceGone,
}

fn decided(
    decide: Decide,
    state: &SessionState,
) -> StoreResult<Option<vouch_core::change::SessionChange>> {
    decide(state).map_err(|r| StoreError::Internal(format!("an import was refused late: {r:?}")))
}

pub async fn import(
    db: &impl Db,
    cache: &WorkflowCache,
    req: SharedImport,
    decide_new: Decide,
    decide_source: Decide,
) -> StoreResult<Imported> {
    if let Some(Written::Replayed { status_code, body }) =
        idempotency::begin::<()>(db, req.idem.as_ref().map(|i| &i.key)).await?
    {
        return Ok(Imported::Replayed { status_code, body });
    }
    // Concurrent imports of one session into one application serialize here.
    db.lock(format!(
        "share/{}/{}",
        req.for_app_id, req.source_session_id
    ))
    .await?;
    let taken = db
        .query_opt(
            stmt!(
                "SELECT session_id FROM share_redemptions
                 WHERE share_id = $1 OR (for_app_id = $2 AND source_session_id = $3)",
                req.share_id,
                req.for_app_id,
                req.source_session_id
            ),
            |r| r.uuid::<SessionId>("session_id"),
        )
        .await?;
    if taken.is_some() {
        return Ok(Imported::AlreadyRedeemed);
    }
    let Some((source, source_tip)) =
        sessions::state(db, cache, req.source_app_id, req.source_session_id).await?
    else {
        return Ok(Imported::SourceGone);
    };
    let created = sessions::create_with(db, req.new, false).await?;
    let Some((state, tip)) = sessions::state(db, cache, req.for_app_id, created.id).await? else {
        return Err(StoreError::Internal("the imported session vanished".into()));
    };
    if let Some(change) = decided(decide_new, &state)? {
        changes::apply(db, change, tip).await?;
    }
    if let Some(change) = decided(decide_source, &source)? {
        changes::apply(db, change, source_tip).await?;
    }
    db.execute(stmt!(
        "INSERT INTO share_redemptions (share_id, for_app_id, source_session_id, session_id, redeemed_at)
         VALUES ($1, $2, $3, $4, $5)",
        req.share_id,
        req.for_app_id,
        req.source_session_id,
        created.id,
        req.now
    ))
    .await?;
    let imported = sessions::find(db, req.for_app_id, created.id, false)
        .await?
        .ok_or_else(|| StoreError::Internal("the imported session vanished".into()))?;
    idempotency::finish(db, req.idem, imported.clone()).await?;
    Ok(Imported::Done(Box::new(imported)))
}
