//! Webhook destination rows.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;
use uuid::Uuid;

use super::rows::{db_err, get_opt_time, get_time, get_uuid, ts};
use crate::model::Page;
use crate::webhooks::*;
use crate::StoreResult;

pub(super) fn destination(row: &Row) -> rusqlite::Result<Destination> {
    let events: Option<String> = row.get("subscribed_events")?;
    Ok(Destination {
        id: get_uuid(row, "id")?,
        app_id: get_uuid(row, "app_id")?,
        label: row.get("label")?,
        url: row.get("url")?,
        enabled: row.get("enabled")?,
        subscribed_events: events.and_then(|e| serde_json::from_str(&e).ok()),
        secret: row.get("secret")?,
        previous_secret: row.get("previous_secret")?,
        previous_secret_expires_at: get_opt_time(row, "previous_secret_expires_at")?,
        failing_since: get_opt_time(row, "failing_since")?,
        disabled_reason: row.get("disabled_reason")?,
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
    })
}

fn events_text(e: &Option<Vec<String>>) -> Option<String> {
    e.as_ref().map(|v| Value::from(v.clone()).to_string())
}

pub fn insert_destination(conn: &Connection, d: &Destination) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO webhook_destinations (id, app_id, label, url, enabled, subscribed_events, secret,
            created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        params![
            d.id.to_string(),
            d.app_id.to_string(),
            d.label,
            d.url,
            d.enabled,
            events_text(&d.subscribed_events),
            d.secret,
            ts(d.created_at)
        ],
    )
    .map_err(db_err)?;
    Ok(())
}

pub fn find_destination(
    conn: &Connection,
    app_id: Uuid,
    id: Uuid,
) -> StoreResult<Option<Destination>> {
    conn.prepare_cached(
        "SELECT * FROM webhook_destinations WHERE id = ?1 AND app_id = ?2 AND deleted_at IS NULL",
    )
    .map_err(db_err)?
    .query_row([id.to_string(), app_id.to_string()], destination)
    .optional()
    .map_err(db_err)
}

pub fn list_destinations(
    conn: &Connection,
    app_id: Uuid,
    page: Page,
) -> StoreResult<(Vec<Destination>, i64)> {
    let count: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM webhook_destinations WHERE app_id = ?1 AND deleted_at IS NULL",
            [app_id.to_string()],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    let mut st = conn
        .prepare_cached(
            "SELECT * FROM webhook_destinations WHERE app_id = ?1 AND deleted_at IS NULL
             ORDER BY created_at DESC, id LIMIT ?2 OFFSET ?3",
        )
        .map_err(db_err)?;
    let rows = st
        .query_map(
            params![app_id.to_string(), page.limit, page.offset],
            destination,
        )
        .map_err(db_err)?;
    Ok((rows.collect::<Result<_, _>>().map_err(db_err)?, count))
}

pub fn update_destination(
    conn: &Connection,
    app_id: Uuid,
    id: Uuid,
    u: DestinationUpdate,
    now: DateTime<Utc>,
) -> StoreResult<Option<Destination>> {
    let Some(mut d) = find_destination(conn, app_id, id)? else {
        return Ok(None);
    };
    d.apply(u, now);
    conn.execute(
        "UPDATE webhook_destinations SET label = ?1, url = ?2, enabled = ?3, subscribed_events = ?4,
            secret = ?5, previous_secret = ?6, previous_secret_expires_at = ?7, failing_since = ?8,
            disabled_reason = ?9, updated_at = ?10 WHERE id = ?11",
        params![
            d.label,
            d.url,
            d.enabled,
            events_text(&d.subscribed_events),
            d.secret,
            d.previous_secret,
            d.previous_secret_expires_at.map(ts),
            d.failing_since.map(ts),
            d.disabled_reason,
            ts(now),
            id.to_string()
        ],
    )
    .map_err(db_err)?;
    Ok(Some(d))
}

pub fn delete_destination(
    conn: &Connection,
    app_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let n = conn
        .execute(
            "UPDATE webhook_destinations SET deleted_at = ?1, enabled = 0
             WHERE id = ?2 AND app_id = ?3 AND deleted_at IS NULL",
            params![ts(now), id.to_string(), app_id.to_string()],
        )
        .map_err(db_err)?;
    conn.execute(
        "UPDATE webhook_deliveries SET state = 'dropped', updated_at = ?1
         WHERE destination_id = ?2 AND state = 'pending'",
        params![ts(now), id.to_string()],
    )
    .map_err(db_err)?;
    Ok(n > 0)
}

pub(super) fn app_destinations(conn: &Connection, app_id: Uuid) -> StoreResult<Vec<Destination>> {
    let mut st = conn
        .prepare_cached(
            "SELECT * FROM webhook_destinations WHERE app_id = ?1 AND enabled = 1 AND deleted_at IS NULL",
        )
        .map_err(db_err)?;
    let rows = st
        .query_map([app_id.to_string()], destination)
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}
