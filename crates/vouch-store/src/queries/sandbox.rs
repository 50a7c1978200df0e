//! A sandbox session's plan: the scenario chosen at creation and the outcomes armed for its
//! steps (`vouch_core::sandbox` decides what they mean).

use serde_json::{Map, Value};
use vouch_core::SessionId;

use crate::model::SandboxPlan;
use crate::sql::Db;
use crate::{stmt, StoreResult};

pub async fn set_scenario(
    db: &impl Db,
    session_id: SessionId,
    scenario: Option<String>,
) -> StoreResult<()> {
    db.execute(stmt!(
        "INSERT INTO sandbox_plans (session_id, scenario, arms) VALUES ($1, $2, '{}')
         ON CONFLICT (session_id) DO UPDATE SET scenario = $2",
        session_id,
        scenario
    ))
    .await
    .map(|_| ())
}

pub async fn plan(db: &impl Db, session_id: SessionId) -> StoreResult<SandboxPlan> {
    let found = db
        .query_opt(
            stmt!(
                "SELECT scenario, arms FROM sandbox_plans WHERE session_id = $1",
                session_id
            ),
            |r| Ok((r.opt_text("scenario")?, r.json("arms")?)),
        )
        .await?;
    Ok(
        found.map_or_else(SandboxPlan::default, |(scenario, arms)| SandboxPlan {
            scenario,
            arms: match arms {
                Value::Object(m) => m,
                _ => Map::new(),
            },
        }),
    )
}

/// Arms (`Some`) or disarms (`None`) one step's next outcome.
pub async fn arm(
    db: &impl Db,
    session_id: SessionId,
    node_id: &str,
    outcome: Option<Value>,
) -> StoreResult<()> {
    let mut current = plan(db, session_id).await?;
    match outcome {
        Some(o) => {
            current.arms.insert(node_id.to_string(), o);
        }
        None => {
            current.arms.remove(node_id);
        }
    }
    db.execute(stmt!(
        "INSERT INTO sandbox_plans (session_id, scenario, arms) VALUES ($1, NULL, $2)
         ON CONFLICT (session_id) DO UPDATE SET arms = $2",
        session_id,
        Value::Object(current.arms)
    ))
    .await
    .map(|_| ())
}

/// Makes the plan's row exist and, on PostgreSQL, locks it for the rest of the transaction, so
/// that two arms racing on other nodes rewrite it one after the other.
pub async fn lock(db: &impl Db, session_id: SessionId) -> StoreResult<()> {
    db.execute(stmt!(
        "INSERT INTO sandbox_plans (session_id, scenario, arms) VALUES ($1, NULL, '{}')
         ON CONFLICT (session_id) DO NOTHING",
        session_id
    ))
    .await?;
    if super::is_postgres(db) {
        db.query_opt(
            stmt!(
                "SELECT session_id FROM sandbox_plans WHERE session_id = $1 FOR UPDATE",
                session_id
            ),
            |_| Ok(()),
        )
        .await?;
    }
    Ok(())
}

/// Registers (or replaces) a sandbox application's phone test number.
pub async fn put_phone(
    db: &impl Db,
    app_id: vouch_core::AppId,
    number: &str,
    outcome: &str,
    code: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> StoreResult<()> {
    db.execute(stmt!(
        "INSERT INTO sandbox_phone_numbers (app_id, phone_number, outcome, code, created_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (app_id, phone_number) DO UPDATE SET outcome = $3, code = $4",
        app_id,
        number,
        outcome,
        code,
        now
    ))
    .await
    .map(|_| ())
}

/// A registered test number's outcome and code.
pub async fn phone(
    db: &impl Db,
    app_id: vouch_core::AppId,
    number: &str,
) -> StoreResult<Option<(String, Option<String>)>> {
    db.query_opt(
        stmt!(
            "SELECT outcome, code FROM sandbox_phone_numbers WHERE app_id = $1 AND phone_number = $2",
            app_id,
            number
        ),
        |r| Ok((r.text("outcome")?, r.opt_text("code")?)),
    )
    .await
}

/// Moves a session's timers `by` into the past (its creation, last activity, link expiry and
/// KYC expiry), as if that much time had gone by; answers whether the session was there.
pub async fn shift_clock(
    db: &impl Db,
    app_id: vouch_core::AppId,
    session_id: SessionId,
    by: chrono::Duration,
) -> StoreResult<bool> {
    let found = db
        .query_opt(
            stmt!(
                "SELECT created_at, updated_at, expires_at, kyc_expires_at FROM sessions
                 WHERE id = $1 AND app_id = $2 AND deleted_at IS NULL",
                session_id,
                app_id
            ),
            |r| {
                Ok((
                    r.time("created_at")?,
                    r.time("updated_at")?,
                    r.time("expires_at")?,
                    r.opt_time("kyc_expires_at")?,
                ))
            },
        )
        .await?;
    let Some((created, updated, expires, kyc)) = found else {
        return Ok(false);
    };
    db.execute(stmt!(
        "UPDATE sessions SET created_at = $1, updated_at = $2, expires_at = $3,
            kyc_expires_at = $4, version = version + 1
         WHERE id = $5",
        created - by,
        updated - by,
        expires - by,
        kyc.map(|k| k - by),
        session_id
    ))
    .await?;
    Ok(true)
}
