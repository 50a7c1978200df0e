//! Webhook deliveries: fan-out of outbox events, claims, results and the attempt log. Claims
//! lock with `FOR UPDATE SKIP LOCKED` and then lease, so nodes never take the same delivery
//! while its lease runs.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::driver::Pg;
use super::rows::{self, all, execute, get, query, query_one, query_opt};
use crate::model::Page;
use crate::queries::destinations;
use crate::rows::{ATTEMPT_SELECT, DELIVERY_COLUMNS};
use crate::webhooks::*;
use crate::{StoreError, StoreResult};

/// One delivery per subscribed, enabled destination for each not yet fanned-out event. Events
/// another node is fanning out are skipped.
pub async fn fan_out(c: &impl GenericClient, now: DateTime<Utc>, limit: i64) -> StoreResult<usize> {
    let r = query(
        c,
        "SELECT * FROM outbox_events WHERE fanned_out_at IS NULL AND dropped_at IS NULL
         ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
        &[&limit],
    )
    .await?;
    let events = all(&r, crate::rows::outbox_event)?;
    let mut by_app: HashMap<Uuid, Vec<Destination>> = HashMap::new();
    for e in &events {
        let dests = match by_app.entry(e.app_id) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(destinations::enabled(&Pg(c), e.app_id).await?)
            }
        };
        for d in dests.iter().filter(|d| d.subscribes(&e.event_type)) {
            execute(
                c,
                "INSERT INTO webhook_deliveries (id, app_id, destination_id, event_seq, event_id,
                    session_id, event_type, state, next_attempt_at, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8, $8)
                 ON CONFLICT (event_seq, destination_id) DO NOTHING",
                &[
                    &Uuid::now_v7(),
                    &e.app_id,
                    &d.id,
                    &e.seq,
                    &e.event_id,
                    &e.session_id,
                    &e.event_type,
                    &now,
                ],
            )
            .await?;
        }
    }
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    if !seqs.is_empty() {
        execute(
            c,
            "UPDATE outbox_events SET fanned_out_at = $1 WHERE seq = ANY($2)",
            &[&now, &seqs],
        )
        .await?;
    }
    Ok(events.len())
}

pub async fn claim(c: &impl GenericClient, q: &ClaimQuery) -> StoreResult<Vec<ClaimedDelivery>> {
    let claimed = query(
        c,
        "WITH due AS (
            SELECT id, destination_id, next_attempt_at FROM webhook_deliveries
            WHERE state = 'pending' AND next_attempt_at <= $1
              AND (locked_until IS NULL OR locked_until <= $1)
              AND destination_id <> ALL($4)
            ORDER BY next_attempt_at LIMIT $3::bigint * 4
            FOR UPDATE SKIP LOCKED),
         ranked AS (
            SELECT id, next_attempt_at, ROW_NUMBER() OVER (
                PARTITION BY destination_id ORDER BY next_attempt_at, id) AS rn
            FROM due),
         picked AS (
            SELECT id FROM ranked WHERE rn <= $2 ORDER BY next_attempt_at LIMIT $3)
         UPDATE webhook_deliveries d SET locked_until = $5
         FROM picked WHERE d.id = picked.id
         RETURNING d.id, d.destination_id, d.event_seq, d.attempts, d.payload, d.next_attempt_at",
        &[
            &q.now,
            &q.per_destination,
            &q.limit,
            &q.skip_destinations,
            &q.lease_until,
        ],
    )
    .await?;
    let mut claimed = claimed;
    claimed.sort_by_key(|r| r.get::<_, DateTime<Utc>>("next_attempt_at"));
    let dest_ids: Vec<Uuid> = all(&claimed, |r| r.uuid("destination_id"))?;
    let seqs: Vec<i64> = all(&claimed, |r| r.int("event_seq"))?;
    let destinations: HashMap<Uuid, Destination> = all(
        &query(
            c,
            "SELECT * FROM webhook_destinations WHERE id = ANY($1)",
            &[&dest_ids],
        )
        .await?,
        crate::rows::destination,
    )?
    .into_iter()
    .map(|d| (d.id, d))
    .collect();
    let events: HashMap<i64, crate::model::OutboxEvent> = all(
        &query(
            c,
            "SELECT * FROM outbox_events WHERE seq = ANY($1)",
            &[&seqs],
        )
        .await?,
        crate::rows::outbox_event,
    )?
    .into_iter()
    .map(|e| (e.seq, e))
    .collect();
    let missing = || StoreError::Internal("a claimed delivery's rows are missing".into());
    claimed
        .iter()
        .map(|r| {
            let dest: Uuid = get(r, "destination_id")?;
            let seq: i64 = get(r, "event_seq")?;
            Ok(ClaimedDelivery {
                id: get(r, "id")?,
                destination: destinations.get(&dest).cloned().ok_or_else(missing)?,
                event: events.get(&seq).cloned().ok_or_else(missing)?,
                attempts: get(r, "attempts")?,
                payload: get(r, "payload")?,
            })
        })
        .collect()
}

pub async fn record(
    c: &impl GenericClient,
    results: &[AttemptResult],
    disable_before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    for r in results {
        execute(
            c,
            "INSERT INTO webhook_attempts (delivery_id, session_id, attempt, url, request_headers,
                request_body, response_status, response_body, error, duration_ms, started_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                &r.delivery_id,
                &r.session_id,
                &r.attempt,
                &r.url,
                &r.request_headers,
                &r.request_body,
                &r.response_status.map(i64::from),
                &r.response_body,
                &r.error,
                &r.duration_ms,
                &r.started_at,
            ],
        )
        .await?;
        let (state, next) = match r.outcome {
            DeliveryOutcome::Succeeded => ("succeeded", now),
            DeliveryOutcome::Retry { at } => ("pending", at),
            DeliveryOutcome::Failed => ("failed", now),
        };
        // A delivery dropped meanwhile (session or destination deleted) stays dropped.
        execute(
            c,
            "UPDATE webhook_deliveries SET state = CASE WHEN state = 'dropped' THEN 'dropped' ELSE $1 END,
                attempts = $2, next_attempt_at = $3, locked_until = NULL, last_status = $4,
                last_error = $5, payload = COALESCE(payload, $6), updated_at = $7
             WHERE id = $8",
            &[
                &state,
                &r.attempt,
                &next,
                &r.response_status.map(i64::from),
                &r.error,
                &r.payload,
                &now,
                &r.delivery_id,
            ],
        )
        .await?;
        if r.outcome == DeliveryOutcome::Succeeded {
            execute(
                c,
                "UPDATE webhook_destinations SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL",
                &[&r.destination_id],
            )
            .await?;
        } else {
            execute(
                c,
                "UPDATE webhook_destinations SET failing_since = $1 WHERE id = $2 AND failing_since IS NULL",
                &[&r.started_at, &r.destination_id],
            )
            .await?;
        }
    }
    // Destinations failing continuously for too long stop receiving; their queue is dropped.
    let disabled = query(
        c,
        "UPDATE webhook_destinations SET enabled = false, updated_at = $1,
            disabled_reason = 'failing continuously since '
                || to_char(failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')
         WHERE enabled AND failing_since IS NOT NULL AND failing_since < $2
         RETURNING id",
        &[&now, &disable_before],
    )
    .await?;
    for row in disabled {
        let id: Uuid = get(&row, "id")?;
        execute(
            c,
            "UPDATE webhook_deliveries SET state = 'failed', last_error = COALESCE(last_error, 'destination disabled'),
                updated_at = $1 WHERE destination_id = $2 AND state = 'pending'",
            &[&now, &id],
        )
        .await?;
    }
    Ok(())
}

pub async fn next_due(c: &impl GenericClient) -> StoreResult<Option<DateTime<Utc>>> {
    // A leased delivery is not due before its lease ends.
    let row = query_one(
        c,
        "SELECT MIN(GREATEST(next_attempt_at, COALESCE(locked_until, next_attempt_at))) AS t
         FROM webhook_deliveries WHERE state = 'pending'",
        &[],
    )
    .await?;
    get(&row, "t")
}

pub async fn list_deliveries(
    c: &impl GenericClient,
    app_id: Uuid,
    dest: Uuid,
    page: Page,
) -> StoreResult<(Vec<DeliveryRecord>, i64)> {
    let count: i64 = get(
        &query_one(
            c,
            "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE destination_id = $1 AND app_id = $2",
            &[&dest, &app_id],
        )
        .await?,
        "n",
    )?;
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN outbox_events e ON e.seq = d.event_seq
         WHERE d.destination_id = $1 AND d.app_id = $2 ORDER BY d.created_at DESC, d.id DESC LIMIT $3 OFFSET $4"
    );
    let r = query(c, &sql, &[&dest, &app_id, &page.limit, &page.offset]).await?;
    Ok((all(&r, crate::rows::delivery)?, count))
}

pub async fn get_delivery(
    c: &impl GenericClient,
    app_id: Uuid,
    dest: Uuid,
    id: Uuid,
) -> StoreResult<Option<(DeliveryRecord, Vec<AttemptLog>)>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN outbox_events e ON e.seq = d.event_seq
         WHERE d.id = $1 AND d.destination_id = $2 AND d.app_id = $3"
    );
    let Some(row) = query_opt(c, &sql, &[&id, &dest, &app_id]).await? else {
        return Ok(None);
    };
    let d = rows::one(&row, crate::rows::delivery)?;
    let r = query(
        c,
        &format!("{ATTEMPT_SELECT} WHERE a.delivery_id = $1 ORDER BY a.attempt"),
        &[&id],
    )
    .await?;
    Ok(Some((d, all(&r, crate::rows::attempt_log)?)))
}

pub async fn resend(
    c: &impl GenericClient,
    app_id: Uuid,
    dest: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Option<DeliveryRecord>> {
    let n = execute(
        c,
        "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $1, locked_until = NULL,
            updated_at = $1
         WHERE id = $2 AND destination_id = $3 AND app_id = $4 AND state <> 'dropped'",
        &[&now, &id, &dest, &app_id],
    )
    .await?;
    if n == 0 {
        return Ok(None);
    }
    Ok(get_delivery(c, app_id, dest, id).await?.map(|(d, _)| d))
}

pub async fn session_attempts(
    c: &impl GenericClient,
    app_id: Uuid,
    session_id: Uuid,
    page: Page,
) -> StoreResult<(Vec<AttemptLog>, i64)> {
    let count: i64 = get(
        &query_one(
            c,
            "SELECT COUNT(*) AS n FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
             WHERE a.session_id = $1 AND d.app_id = $2",
            &[&session_id, &app_id],
        )
        .await?,
        "n",
    )?;
    let r = query(
        c,
        &format!(
            "{ATTEMPT_SELECT} WHERE a.session_id = $1 AND d.app_id = $2 ORDER BY a.id DESC LIMIT $3 OFFSET $4"
        ),
        &[&session_id, &app_id, &page.limit, &page.offset],
    )
    .await?;
    Ok((all(&r, crate::rows::attempt_log)?, count))
}
