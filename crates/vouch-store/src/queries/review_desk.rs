//! Assignment (claims) and four-eyes (staged decisions, per-application setting).

use chrono::{DateTime, Utc};
use vouch_core::{AppId, SessionId};

use super::queue::in_list;
use crate::console::{Claim, DeskState, Staged};
use crate::sql::{Db, Param, Row, Stmt};
use crate::{stmt, StoreResult};

fn claim(r: &Row) -> StoreResult<Claim> {
    Ok(Claim {
        session_id: r.uuid("session_id")?,
        user_id: r.uuid("user_id")?,
        email: r.text("email")?,
        claimed_at: r.time("claimed_at")?,
        expires_at: r.time("expires_at")?,
    })
}

fn staged(r: &Row) -> StoreResult<Staged> {
    Ok(Staged {
        session_id: r.uuid("session_id")?,
        user_id: r.uuid("user_id")?,
        email: r.text("email")?,
        body: r.json("body")?,
        version: r.int("version")?,
        staged_at: r.time("staged_at")?,
        rejected_by: r.opt_text("rejected_by")?,
        note: r.opt_text("note")?,
    })
}

pub async fn claim_session(db: &impl Db, c: &Claim, take_over: bool) -> StoreResult<Claim> {
    db.lock(format!("claim:{}", c.session_id)).await?;
    let held = db
        .query_opt(
            stmt!(
                "SELECT * FROM console_claims WHERE session_id = $1",
                c.session_id
            ),
            claim,
        )
        .await?;
    if let Some(h) = held {
        if h.user_id != c.user_id && h.expires_at > c.claimed_at && !take_over {
            return Ok(h);
        }
    }
    db.execute(stmt!(
        "INSERT INTO console_claims (session_id, user_id, email, claimed_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (session_id) DO UPDATE SET user_id = excluded.user_id,
            email = excluded.email, claimed_at = excluded.claimed_at,
            expires_at = excluded.expires_at",
        c.session_id,
        c.user_id,
        &c.email,
        c.claimed_at,
        c.expires_at
    ))
    .await?;
    Ok(c.clone())
}

pub async fn release(
    db: &impl Db,
    session_id: SessionId,
    user: Option<uuid::Uuid>,
) -> StoreResult<()> {
    let st = match user {
        Some(u) => stmt!(
            "DELETE FROM console_claims WHERE session_id = $1 AND user_id = $2",
            session_id,
            u
        ),
        None => stmt!(
            "DELETE FROM console_claims WHERE session_id = $1",
            session_id
        ),
    };
    db.execute(st).await.map(|_| ())
}

pub async fn claims(
    db: &impl Db,
    ids: &[SessionId],
    now: DateTime<Utc>,
) -> StoreResult<Vec<Claim>> {
    let sql = format!(
        "SELECT * FROM console_claims WHERE {} AND expires_at > $2",
        in_list(db, "session_id", 1)
    );
    db.query(Stmt::new(sql, vec![Param::ids(ids), now.into()]), claim)
        .await
}

pub async fn next_unclaimed(
    db: &impl Db,
    apps: &[AppId],
    now: DateTime<Utc>,
) -> StoreResult<Option<SessionId>> {
    let mut best: Option<(DateTime<Utc>, SessionId)> = None;
    for app in apps {
        let found = db
            .query_opt(
                stmt!(
                    "SELECT id, created_at FROM sessions
                     WHERE app_id = $1 AND status = 'In Review' AND deleted_at IS NULL
                       AND NOT EXISTS (SELECT 1 FROM console_claims c
                                       WHERE c.session_id = sessions.id AND c.expires_at > $2)
                     ORDER BY number LIMIT 1",
                    *app,
                    now
                ),
                |r| Ok((r.time("created_at")?, r.uuid::<SessionId>("id")?)),
            )
            .await?;
        if let Some(f) = found {
            if best.is_none_or(|b| f.0 < b.0) {
                best = Some(f);
            }
        }
    }
    Ok(best.map(|(_, id)| id))
}

pub async fn stage(db: &impl Db, s: &Staged) -> StoreResult<()> {
    db.execute(stmt!(
        "INSERT INTO console_staged (session_id, user_id, email, body, version, staged_at,
                                     rejected_by, note)
         VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)
         ON CONFLICT (session_id) DO UPDATE SET user_id = excluded.user_id,
            email = excluded.email, body = excluded.body, version = excluded.version,
            staged_at = excluded.staged_at, rejected_by = NULL, note = NULL",
        s.session_id,
        s.user_id,
        &s.email,
        Param::json(&s.body),
        s.version,
        s.staged_at
    ))
    .await
    .map(|_| ())
}

pub async fn staged_list(db: &impl Db, ids: &[SessionId]) -> StoreResult<Vec<Staged>> {
    let sql = format!(
        "SELECT * FROM console_staged WHERE {}",
        in_list(db, "session_id", 1)
    );
    db.query(Stmt::new(sql, vec![Param::ids(ids)]), staged)
        .await
}

pub async fn reject(db: &impl Db, id: SessionId, by: &str, note: &str) -> StoreResult<bool> {
    let n = db
        .execute(stmt!(
            "UPDATE console_staged SET rejected_by = $1, note = $2
             WHERE session_id = $3 AND rejected_by IS NULL",
            by,
            note,
            id
        ))
        .await?;
    Ok(n > 0)
}

pub async fn drop_staged(db: &impl Db, id: SessionId) -> StoreResult<()> {
    db.execute(stmt!(
        "DELETE FROM console_staged WHERE session_id = $1",
        id
    ))
    .await
    .map(|_| ())
}

pub async fn four_eyes(db: &impl Db, app: AppId) -> StoreResult<bool> {
    Ok(db
        .query_opt(
            stmt!(
                "SELECT four_eyes FROM console_app_settings WHERE app_id = $1",
                app
            ),
            |r| r.boolean("four_eyes"),
        )
        .await?
        .unwrap_or(false))
}

pub async fn set_four_eyes(db: &impl Db, app: AppId, on: bool) -> StoreResult<()> {
    db.execute(stmt!(
        "INSERT INTO console_app_settings (app_id, four_eyes) VALUES ($1, $2)
         ON CONFLICT (app_id) DO UPDATE SET four_eyes = excluded.four_eyes",
        app,
        on
    ))
    .await
    .map(|_| ())
}

/// A live session by id (any application) with its desk's state, in one read: the decision
/// path of the console reads nothing else before it writes.
pub async fn session_with_desk(
    db: &impl Db,
    id: SessionId,
    now: DateTime<Utc>,
) -> StoreResult<Option<(vouch_core::session::Session, DeskState)>> {
    let sql = concat!(
        "SELECT ",
        crate::rows::session_columns!(),
        ", deleted_at,
           (SELECT user_id FROM console_claims WHERE session_id = $1 AND expires_at > $2)
               AS claim_user,
           (SELECT email FROM console_claims WHERE session_id = $1 AND expires_at > $2)
               AS claim_email,
           (SELECT claimed_at FROM console_claims WHERE session_id = $1 AND expires_at > $2)
               AS claim_at,
           (SELECT expires_at FROM console_claims WHERE session_id = $1 AND expires_at > $2)
               AS claim_until,
           COALESCE((SELECT a.four_eyes FROM console_app_settings a
                     WHERE a.app_id = sessions.app_id), FALSE) AS four_eyes,
           EXISTS (SELECT 1 FROM console_staged WHERE session_id = $1) AS staged
         FROM sessions WHERE id = $1"
    );
    let found = db
        .query_opt(stmt!(sql, id, now), |r| {
            let claim = match (r.opt_uuid("claim_user")?, r.opt_text("claim_email")?) {
                (Some(user_id), Some(email)) => Some(Claim {
                    session_id: id,
                    user_id,
                    email,
                    claimed_at: r.time("claim_at")?,
                    expires_at: r.time("claim_until")?,
                }),
                _ => None,
            };
            let desk = DeskState {
                claim,
                four_eyes: r.boolean("four_eyes")?,
                staged: r.boolean("staged")?,
            };
            Ok((crate::rows::session(r)?, r.opt_time("deleted_at")?, desk))
        })
        .await?;
    Ok(found.and_then(|(s, deleted, desk)| deleted.is_none().then_some((s, desk))))
}
