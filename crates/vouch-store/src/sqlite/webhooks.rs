//! Webhook deliveries: fan-out of outbox events, claims, results and the attempt log.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use uuid::Uuid;

use super::driver::{ready, Lite};
use super::rows::{self, db_err, ts};
use crate::model::Page;
use crate::queries::destinations;
use crate::rows::{ATTEMPT_SELECT, DELIVERY_COLUMNS};
use crate::webhooks::*;
use crate::{StoreError, StoreResult};

/// One delivery per subscribed, enabled destination for each not yet fanned-out event.
pub fn fan_out(conn: &Connection, now: DateTime<Utc>, limit: i64) -> StoreResult<usize> {
    let mut st = conn
        .prepare_cached(
            "SELECT * FROM outbox_events WHERE fanned_out_at IS NULL AND dropped_at IS NULL
             ORDER BY seq LIMIT ?1",
        )
        .map_err(db_err)?;
    let events = st
        .query_map([limit], rows::via(crate::rows::outbox_event))
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    let mut by_app: HashMap<Uuid, Vec<Destination>> = HashMap::new();
    let now_s = ts(now);
    for e in &events {
        let dests = match by_app.entry(e.app_id) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(ready(destinations::enabled(&Lite(conn), e.app_id))?)
            }
        };
        for d in dests.iter().filter(|d| d.subscribes(&e.event_type)) {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO webhook_deliveries (id, app_id, destination_id, event_seq, event_id,
                    session_id, event_type, state, next_attempt_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?8, ?8)",
            )
            .map_err(db_err)?
            .execute(params![
                Uuid::now_v7().to_string(),
                e.app_id.to_string(),
                d.id.to_string(),
                e.seq,
                e.event_id.to_string(),
                e.session_id.to_string(),
                e.event_type,
                now_s
            ])
            .map_err(db_err)?;
        }
        conn.prepare_cached("UPDATE outbox_events SET fanned_out_at = ?1 WHERE seq = ?2")
            .map_err(db_err)?
            .execute(params![now_s, e.seq])
            .map_err(db_err)?;
    }
    Ok(events.len())
}

pub fn claim(conn: &Connection, q: &ClaimQuery) -> StoreResult<Vec<ClaimedDelivery>> {
    let now = ts(q.now);
    let ids: Vec<String> = {
        let mut st = conn
            .prepare_cached(
                "WITH due AS (
                    SELECT id, destination_id, next_attempt_at FROM webhook_deliveries
                    WHERE state = 'pending' AND next_attempt_at <= ?1
                      AND (locked_until IS NULL OR locked_until <= ?1)
                      AND destination_id NOT IN (SELECT value FROM json_each(?4))
                    ORDER BY next_attempt_at LIMIT ?3 * 4),
                 ranked AS (
                    SELECT id, next_attempt_at, ROW_NUMBER() OVER (
                        PARTITION BY destination_id ORDER BY next_attempt_at, id) AS rn
                    FROM due)
                 SELECT id FROM ranked WHERE rn <= ?2 ORDER BY next_attempt_at LIMIT ?3",
            )
            .map_err(db_err)?;
        let skip = Value::from(
            q.skip_destinations
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>(),
        )
        .to_string();
        let rows = st
            .query_map(params![now, q.per_destination, q.limit, skip], |r| r.get(0))
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)?
    };
    let mut out = Vec::with_capacity(ids.len());
    let mut destinations: HashMap<String, Destination> = HashMap::new();
    #[allow(clippy::map_entry)] // the lookup needs `conn` and may fail
    for id in ids {
        conn.prepare_cached("UPDATE webhook_deliveries SET locked_until = ?1 WHERE id = ?2")
            .map_err(db_err)?
            .execute(params![ts(q.lease_until), id])
            .map_err(db_err)?;
        let (dest_id, event_seq, attempts, payload): (String, i64, i64, Option<String>) = conn
            .prepare_cached(
                "SELECT destination_id, event_seq, attempts, payload FROM webhook_deliveries WHERE id = ?1",
            )
            .map_err(db_err)?
            .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(db_err)?;
        if !destinations.contains_key(&dest_id) {
            let d = conn
                .prepare_cached("SELECT * FROM webhook_destinations WHERE id = ?1")
                .map_err(db_err)?
                .query_row([&dest_id], rows::via(crate::rows::destination))
                .map_err(db_err)?;
            destinations.insert(dest_id.clone(), d);
        }
        let event = conn
            .prepare_cached("SELECT * FROM outbox_events WHERE seq = ?1")
            .map_err(db_err)?
            .query_row([event_seq], rows::via(crate::rows::outbox_event))
            .map_err(db_err)?;
        out.push(ClaimedDelivery {
            id: Uuid::parse_str(&id).map_err(|e| StoreError::Internal(e.to_string()))?,
            destination: destinations[&dest_id].clone(),
            event,
            attempts,
            payload: payload.and_then(|p| serde_json::from_str(&p).ok()),
        });
    }
    Ok(out)
}

pub fn record(
    conn: &Connection,
    results: &[AttemptResult],
    disable_before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let now_s = ts(now);
    for r in results {
        conn.prepare_cached(
            "INSERT INTO webhook_attempts (delivery_id, session_id, attempt, url, request_headers,
                request_body, response_status, response_body, error, duration_ms, started_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .map_err(db_err)?
        .execute(params![
            r.delivery_id.to_string(),
            r.session_id.to_string(),
            r.attempt,
            r.url,
            r.request_headers.to_string(),
            r.request_body,
            r.response_status,
            r.response_body,
            r.error,
            r.duration_ms,
            ts(r.started_at)
        ])
        .map_err(db_err)?;
        let (state, next) = match r.outcome {
            DeliveryOutcome::Succeeded => ("succeeded", now_s.clone()),
            DeliveryOutcome::Retry { at } => ("pending", ts(at)),
            DeliveryOutcome::Failed => ("failed", now_s.clone()),
        };
        // A delivery dropped meanwhile (session or destination deleted) stays dropped.
        conn.prepare_cached(
            "UPDATE webhook_deliveries SET state = CASE WHEN state = 'dropped' THEN 'dropped' ELSE ?1 END,
                attempts = ?2, next_attempt_at = ?3, locked_until = NULL, last_status = ?4,
                last_error = ?5, payload = COALESCE(payload, ?6), updated_at = ?7
             WHERE id = ?8",
        )
        .map_err(db_err)?
        .execute(params![
            state,
            r.attempt,
            next,
            r.response_status,
            r.error,
            r.payload.as_ref().map(Value::to_string),
            now_s,
            r.delivery_id.to_string()
        ])
        .map_err(db_err)?;
        let dest = r.destination_id.to_string();
        if r.outcome == DeliveryOutcome::Succeeded {
            conn.prepare_cached("UPDATE webhook_destinations SET failing_since = NULL WHERE id = ?1 AND failing_since IS NOT NULL")
                .map_err(db_err)?
                .execute([&dest])
                .map_err(db_err)?;
        } else {
            conn.prepare_cached("UPDATE webhook_destinations SET failing_since = ?1 WHERE id = ?2 AND failing_since IS NULL")
                .map_err(db_err)?
                .execute(params![ts(r.started_at), dest])
                .map_err(db_err)?;
        }
    }
    // Destinations failing continuously for too long stop receiving; their queue is dropped.
    let disabled: Vec<String> = {
        let mut st = conn
            .prepare_cached(
                "UPDATE webhook_destinations SET enabled = 0, updated_at = ?1,
                    disabled_reason = 'failing continuously since ' || failing_since
                 WHERE enabled = 1 AND failing_since IS NOT NULL AND failing_since < ?2
                 RETURNING id",
            )
            .map_err(db_err)?;
        let rows = st
            .query_map(params![now_s, ts(disable_before)], |r| r.get(0))
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)?
    };
    for id in disabled {
        conn.execute(
            "UPDATE webhook_deliveries SET state = 'failed', last_error = COALESCE(last_error, 'destination disabled'),
                updated_at = ?1 WHERE destination_id = ?2 AND state = 'pending'",
            params![now_s, id],
        )
        .map_err(db_err)?;
    }
    Ok(())
}

pub fn next_due(conn: &Connection) -> StoreResult<Option<DateTime<Utc>>> {
    let t: Option<String> = conn
        .query_row(
            // A leased delivery is not due before its lease ends.
            "SELECT MIN(MAX(next_attempt_at, COALESCE(locked_until, ''))) FROM webhook_deliveries
             WHERE state = 'pending'",
            [],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    Ok(t.and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc)))
}

pub fn list_deliveries(
    conn: &Connection,
    app_id: Uuid,
    dest: Uuid,
    page: Page,
) -> StoreResult<(Vec<DeliveryRecord>, i64)> {
    let count: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE destination_id = ?1 AND app_id = ?2",
            [dest.to_string(), app_id.to_string()],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN outbox_events e ON e.seq = d.event_seq
         WHERE d.destination_id = ?1 AND d.app_id = ?2 ORDER BY d.created_at DESC, d.id DESC LIMIT ?3 OFFSET ?4"
    );
    let mut st = conn.prepare_cached(&sql).map_err(db_err)?;
    let rows = st
        .query_map(
            params![
                dest.to_string(),
                app_id.to_string(),
                page.limit,
                page.offset
            ],
            rows::via(crate::rows::delivery),
        )
        .map_err(db_err)?;
    Ok((rows.collect::<Result<_, _>>().map_err(db_err)?, count))
}

pub fn get_delivery(
    conn: &Connection,
    app_id: Uuid,
    dest: Uuid,
    id: Uuid,
) -> StoreResult<Option<(DeliveryRecord, Vec<AttemptLog>)>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN outbox_events e ON e.seq = d.event_seq
         WHERE d.id = ?1 AND d.destination_id = ?2 AND d.app_id = ?3"
    );
    let Some(d) = conn
        .prepare_cached(&sql)
        .map_err(db_err)?
        .query_row(
            [id.to_string(), dest.to_string(), app_id.to_string()],
            rows::via(crate::rows::delivery),
        )
        .optional()
        .map_err(db_err)?
    else {
        return Ok(None);
    };
    let mut st = conn
        .prepare_cached(&format!(
            "{ATTEMPT_SELECT} WHERE a.delivery_id = ?1 ORDER BY a.attempt"
        ))
        .map_err(db_err)?;
    let attempts = st
        .query_map([id.to_string()], rows::via(crate::rows::attempt_log))
        .map_err(db_err)?
        .collect::<Result<_, _>>()
        .map_err(db_err)?;
    Ok(Some((d, attempts)))
}

pub fn resend(
    conn: &Connection,
    app_id: Uuid,
    dest: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Option<DeliveryRecord>> {
    let n = conn
        .execute(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = ?1, locked_until = NULL,
                updated_at = ?1
             WHERE id = ?2 AND destination_id = ?3 AND app_id = ?4 AND state <> 'dropped'",
            params![ts(now), id.to_string(), dest.to_string(), app_id.to_string()],
        )
        .map_err(db_err)?;
    if n == 0 {
        return Ok(None);
    }
    Ok(get_delivery(conn, app_id, dest, id)?.map(|(d, _)| d))
}

pub fn session_attempts(
    conn: &Connection,
    app_id: Uuid,
    session_id: Uuid,
    page: Page,
) -> StoreResult<(Vec<AttemptLog>, i64)> {
    let count: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
             WHERE a.session_id = ?1 AND d.app_id = ?2",
            [session_id.to_string(), app_id.to_string()],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    let mut st = conn
        .prepare_cached(&format!(
            "{ATTEMPT_SELECT} WHERE a.session_id = ?1 AND d.app_id = ?2 ORDER BY a.id DESC LIMIT ?3 OFFSET ?4"
        ))
        .map_err(db_err)?;
    let rows = st
        .query_map(
            params![
                session_id.to_string(),
                app_id.to_string(),
                page.limit,
                page.offset
            ],
            rows::via(crate::rows::attempt_log),
        )
        .map_err(db_err)?;
    Ok((rows.collect::<Result<_, _>>().map_err(db_err)?, count))
}

/// Ends every lease: only for a store no other process sends from (a single SQLite node
/// starting up), so deliveries claimed by a crashed run go out at once.
pub fn release_leases(conn: &Connection) -> StoreResult<usize> {
    conn.execute(
        "UPDATE webhook_deliveries SET locked_until = NULL WHERE state = 'pending' AND locked_until IS NOT NULL",
        [],
    )
    .map_err(db_err)
}
