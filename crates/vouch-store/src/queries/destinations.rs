//! Webhook destination rows.

use chrono::{DateTime, Utc};
use serde_json::Value;
use vouch_core::AppId;
use vouch_core::DestinationId;

use super::locked;
use crate::model::Page;
use crate::rows::{self, destination};
use crate::sql::{Db, Param};
use crate::webhooks::{Destination, DestinationUpdate};
use crate::{stmt, StoreResult};

fn events(e: &Option<Vec<String>>) -> Param {
    e.as_ref()
        .map_or(Param::Null, |v| Param::Json(Value::from(v.clone())))
}

pub async fn insert(db: &impl Db, d: &Destination) -> StoreResult<()> {
    db.execute(stmt!(
        "INSERT INTO webhook_destinations (id, app_id, label, url, enabled, subscribed_events, secret,
            created_at, updated_at, webhook_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
        d.id,
        d.app_id,
        &d.label,
        &d.url,
        d.enabled,
        events(&d.subscribed_events),
        &d.secret,
        d.created_at,
        &d.webhook_version
    ))
    .await
    .map(|_| ())
}

pub async fn find(
    db: &impl Db,
    app_id: AppId,
    id: DestinationId,
) -> StoreResult<Option<Destination>> {
    db.query_opt(
        stmt!(
            "SELECT * FROM webhook_destinations WHERE id = $1 AND app_id = $2 AND deleted_at IS NULL",
            id,
            app_id
        ),
        destination,
    )
    .await
}

pub async fn list(db: &impl Db, app_id: AppId, page: Page) -> StoreResult<(Vec<Destination>, i64)> {
    let count = db
        .query_one(
            stmt!(
                "SELECT COUNT(*) AS n FROM webhook_destinations
                 WHERE app_id = $1 AND deleted_at IS NULL",
                app_id
            ),
            rows::count,
        )
        .await?;
    let list = db
        .query(
            stmt!(
                "SELECT * FROM webhook_destinations WHERE app_id = $1 AND deleted_at IS NULL
                 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
                app_id,
                page.limit,
                page.offset
            ),
            destination,
        )
        .await?;
    Ok((list, count))
}

pub async fn update(
    db: &impl Db,
    app_id: AppId,
    id: DestinationId,
    u: DestinationUpdate,
    now: DateTime<Utc>,
) -> StoreResult<Option<Destination>> {
    let found = db
        .query_opt(
            stmt!(
                locked!(
                    db,
                    "SELECT * FROM webhook_destinations
                     WHERE id = $1 AND app_id = $2 AND deleted_at IS NULL"
                ),
                id,
                app_id
            ),
            destination,
        )
        .await?;
    let Some(mut d) = found else {
        return Ok(None);
    };
    d.apply(u, now);
    db.execute(stmt!(
        "UPDATE webhook_destinations SET label = $1, url = $2, enabled = $3, subscribed_events = $4,
            secret = $5, previous_secret = $6, previous_secret_expires_at = $7, failing_since = $8,
            disabled_reason = $9, updated_at = $10, webhook_version = $12 WHERE id = $11",
        &d.label,
        &d.url,
        d.enabled,
        events(&d.subscribed_events),
        &d.secret,
        d.previous_secret.clone(),
        d.previous_secret_expires_at,
        d.failing_since,
        d.disabled_reason.clone(),
        now,
        id,
        &d.webhook_version
    ))
    .await?;
    Ok(Some(d))
}

/// Deletes the destination and drops its pending deliveries.
pub async fn delete(
    db: &impl Db,
    app_id: AppId,
    id: DestinationId,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let counts = db
        .execute_all(vec![
            stmt!(
                "UPDATE webhook_destinations SET deleted_at = $1, enabled = FALSE
                 WHERE id = $2 AND app_id = $3 AND deleted_at IS NULL",
                now,
                id,
                app_id
            ),
            stmt!(
                "UPDATE webhook_deliveries SET state = 'dropped', updated_at = $1
                 WHERE destination_id = $2 AND state = 'pending'",
                now,
                id
            ),
        ])
        .await?;
    Ok(counts[0] > 0)
}

/// The application's enabled destinations (fan-out's targets).
pub async fn enabled(db: &impl Db, app_id: AppId) -> StoreResult<Vec<Destination>> {
    db.query(
        stmt!(
            "SELECT * FROM webhook_destinations
             WHERE app_id = $1 AND enabled = TRUE AND deleted_at IS NULL",
            app_id
        ),
        destination,
    )
    .await
}
