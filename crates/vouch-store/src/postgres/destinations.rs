//! Webhook destination rows.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use super::rows::{all, execute, get, query, query_one, query_opt};
use crate::model::Page;
use crate::webhooks::*;
use crate::StoreResult;

pub(super) fn destination(row: &Row) -> StoreResult<Destination> {
    let events: Option<Value> = get(row, "subscribed_events")?;
    Ok(Destination {
        id: get(row, "id")?,
        app_id: get(row, "app_id")?,
        label: get(row, "label")?,
        url: get(row, "url")?,
        enabled: get(row, "enabled")?,
        subscribed_events: events.and_then(|e| serde_json::from_value(e).ok()),
        secret: get(row, "secret")?,
        previous_secret: get(row, "previous_secret")?,
        previous_secret_expires_at: get(row, "previous_secret_expires_at")?,
        failing_since: get(row, "failing_since")?,
        disabled_reason: get(row, "disabled_reason")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

fn events_json(e: &Option<Vec<String>>) -> Option<Value> {
    e.as_ref().map(|v| Value::from(v.clone()))
}

pub async fn insert(c: &impl GenericClient, d: &Destination) -> StoreResult<()> {
    execute(
        c,
        "INSERT INTO webhook_destinations (id, app_id, label, url, enabled, subscribed_events, secret,
            created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        &[
            &d.id,
            &d.app_id,
            &d.label,
            &d.url,
            &d.enabled,
            &events_json(&d.subscribed_events),
            &d.secret,
            &d.created_at,
        ],
    )
    .await
    .map(|_| ())
}

pub async fn find(
    c: &impl GenericClient,
    app_id: Uuid,
    id: Uuid,
    lock: bool,
) -> StoreResult<Option<Destination>> {
    let sql = if lock {
        "SELECT * FROM webhook_destinations WHERE id = $1 AND app_id = $2 AND deleted_at IS NULL FOR UPDATE"
    } else {
        "SELECT * FROM webhook_destinations WHERE id = $1 AND app_id = $2 AND deleted_at IS NULL"
    };
    query_opt(c, sql, &[&id, &app_id])
        .await?
        .as_ref()
        .map(destination)
        .transpose()
}

pub async fn list(
    c: &impl GenericClient,
    app_id: Uuid,
    page: Page,
) -> StoreResult<(Vec<Destination>, i64)> {
    let count: i64 = get(
        &query_one(
            c,
            "SELECT COUNT(*) AS n FROM webhook_destinations WHERE app_id = $1 AND deleted_at IS NULL",
            &[&app_id],
        )
        .await?,
        "n",
    )?;
    let r = query(
        c,
        "SELECT * FROM webhook_destinations WHERE app_id = $1 AND deleted_at IS NULL
         ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
        &[&app_id, &page.limit, &page.offset],
    )
    .await?;
    Ok((all(&r, destination)?, count))
}

pub async fn update(
    c: &impl GenericClient,
    app_id: Uuid,
    id: Uuid,
    u: DestinationUpdate,
    now: DateTime<Utc>,
) -> StoreResult<Option<Destination>> {
    let Some(mut d) = find(c, app_id, id, true).await? else {
        return Ok(None);
    };
    d.apply(u, now);
    execute(
        c,
        "UPDATE webhook_destinations SET label = $1, url = $2, enabled = $3, subscribed_events = $4,
            secret = $5, previous_secret = $6, previous_secret_expires_at = $7, failing_since = $8,
            disabled_reason = $9, updated_at = $10 WHERE id = $11",
        &[
            &d.label,
            &d.url,
            &d.enabled,
            &events_json(&d.subscribed_events),
            &d.secret,
            &d.previous_secret,
            &d.previous_secret_expires_at,
            &d.failing_since,
            &d.disabled_reason,
            &now,
            &id,
        ],
    )
    .await?;
    Ok(Some(d))
}

pub async fn delete(
    c: &impl GenericClient,
    app_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let n = execute(
        c,
        "UPDATE webhook_destinations SET deleted_at = $1, enabled = false
         WHERE id = $2 AND app_id = $3 AND deleted_at IS NULL",
        &[&now, &id, &app_id],
    )
    .await?;
    execute(
        c,
        "UPDATE webhook_deliveries SET state = 'dropped', updated_at = $1
         WHERE destination_id = $2 AND state = 'pending'",
        &[&now, &id],
    )
    .await?;
    Ok(n > 0)
}

pub(super) async fn app_destinations(
    c: &impl GenericClient,
    app_id: Uuid,
) -> StoreResult<Vec<Destination>> {
    let r = query(
        c,
        "SELECT * FROM webhook_destinations WHERE app_id = $1 AND enabled AND deleted_at IS NULL",
        &[&app_id],
    )
    .await?;
    all(&r, destination)
}
