//! Webhook deliveries: fan-out of outbox events, claims with a lease, results (with the
//! destination-disable rule) and the delivery log.

use std::collections::hash_map::{Entry, HashMap};
use vouch_core::{AppId, SessionId};
use vouch_core::{DeliveryId, DestinationId};

use chrono::{DateTime, Utc};
use vouch_core::delivery::{destination_health, disable_reason, Health};

use super::destinations;
use super::queue::{in_list, not_in_list, skip_locked};
use crate::model::{OutboxEvent, Page};
use crate::rows::{self, ATTEMPT_SELECT, DELIVERY_COLUMNS};
use crate::sql::{Db, Param, Stmt};
use crate::webhooks::*;
use crate::{sql_once, stmt, StoreError, StoreResult};

/// One delivery per subscribed, enabled destination for each not yet fanned-out event. On
/// PostgreSQL, events another node is fanning out are skipped.
pub async fn fan_out(db: &impl Db, now: DateTime<Utc>, limit: i64) -> StoreResult<usize> {
    let events = db
        .query(
            Stmt::new(
                sql_once!(
                    db,
                    "SELECT * FROM outbox_events WHERE fanned_out_at IS NULL AND dropped_at IS NULL
                     ORDER BY seq LIMIT $1{}",
                    skip_locked(db)
                ),
                vec![limit.into()],
            ),
            rows::outbox_event,
        )
        .await?;
    if events.is_empty() {
        return Ok(0);
    }
    let mut by_app: HashMap<AppId, Vec<Destination>> = HashMap::new();
    let mut batch = Vec::new();
    for e in &events {
        let dests = match by_app.entry(e.app_id) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => v.insert(destinations::enabled(db, e.app_id).await?),
        };
        for d in dests
            .iter()
            .filter(|d| d.subscribes(e.event_type, e.session_kind))
        {
            batch.push(stmt!(
                "INSERT INTO webhook_deliveries (id, app_id, destination_id, event_seq, event_id,
                    session_id, event_type, state, next_attempt_at, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8, $8)
                 ON CONFLICT (event_seq, destination_id) DO NOTHING",
                DeliveryId::generate(),
                e.app_id,
                d.id,
                e.seq,
                e.event_id,
                e.session_id,
                &e.event_type,
                now
            ));
        }
    }
    batch.push(Stmt::new(
        sql_once!(
            db,
            "UPDATE outbox_events SET fanned_out_at = $1 WHERE {}",
            in_list(db, "seq", 2)
        ),
        vec![
            now.into(),
            Param::Ints(events.iter().map(|e| e.seq).collect()),
        ],
    ));
    db.execute_all(batch).await?;
    Ok(events.len())
}

/// Takes due deliveries with a lease: at most `per_destination` per destination, none of the
/// destinations to skip, the oldest first.
pub async fn claim(db: &impl Db, q: &ClaimQuery) -> StoreResult<Vec<ClaimedDelivery>> {
    let sql = sql_once!(
        db,
        "WITH due AS (
            SELECT id, destination_id, next_attempt_at FROM webhook_deliveries
            WHERE state = 'pending' AND next_attempt_at <= $1
              AND (locked_until IS NULL OR locked_until <= $1) AND {}
            ORDER BY next_attempt_at LIMIT $4{}),
         ranked AS (
            SELECT id, next_attempt_at, ROW_NUMBER() OVER (
                PARTITION BY destination_id ORDER BY next_attempt_at, id) AS rn
            FROM due),
         picked AS (
            SELECT id FROM ranked WHERE rn <= $2 ORDER BY next_attempt_at LIMIT $3)
         UPDATE webhook_deliveries SET locked_until = $5
         WHERE id IN (SELECT id FROM picked)
         RETURNING id, destination_id, event_seq, attempts, payload, next_attempt_at",
        not_in_list(db, "destination_id", 6),
        skip_locked(db)
    );
    let params = vec![
        Param::from(q.now),
        q.per_destination.into(),
        q.limit.into(),
        (q.limit * 4).into(),
        q.lease_until.into(),
        Param::ids(&q.skip_destinations),
    ];
    let mut claimed = db
        .query(Stmt::new(sql, params), |r| {
            Ok((
                r.uuid("id")?,
                r.uuid("destination_id")?,
                r.int("event_seq")?,
                r.int("attempts")?,
                r.opt_json("payload")?,
                r.time("next_attempt_at")?,
            ))
        })
        .await?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    claimed.sort_by_key(|c| c.5);
    let mut dest_ids: Vec<DestinationId> = claimed.iter().map(|c| c.1).collect();
    dest_ids.sort();
    dest_ids.dedup();
    let seqs: Vec<i64> = claimed.iter().map(|c| c.2).collect();
    let (dests, events) = tokio::try_join!(
        db.query(
            Stmt::new(
                sql_once!(
                    db,
                    "SELECT * FROM webhook_destinations WHERE {}",
                    in_list(db, "id", 1)
                ),
                vec![Param::ids(&dest_ids)],
            ),
            rows::destination,
        ),
        db.query(
            Stmt::new(
                sql_once!(
                    db,
                    "SELECT * FROM outbox_events WHERE {}",
                    in_list(db, "seq", 1)
                ),
                vec![Param::Ints(seqs)],
            ),
            rows::outbox_event,
        ),
    )?;
    let dests: HashMap<DestinationId, Destination> = dests.into_iter().map(|d| (d.id, d)).collect();
    let events: HashMap<i64, OutboxEvent> = events.into_iter().map(|e| (e.seq, e)).collect();
    let missing = || StoreError::Internal("a claimed delivery's rows are missing".into());
    claimed
        .into_iter()
        .map(|(id, dest, seq, attempts, payload, _)| {
            Ok(ClaimedDelivery {
                id,
                destination: dests.get(&dest).cloned().ok_or_else(missing)?,
                event: events.get(&seq).cloned().ok_or_else(missing)?,
                attempts,
                payload,
            })
        })
        .collect()
}

/// Records finished attempts and each delivery's new state (the core's state machine), updates
/// each destination's health (the core's fold of the batch), and disables the destinations the
/// core's rule says have failed for longer than `disable_after`, failing their queue.
pub async fn record(
    db: &impl Db,
    results: &[AttemptResult],
    disable_after: chrono::Duration,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let mut batch = Vec::with_capacity(results.len() * 2 + 4);
    for r in results {
        batch.push(stmt!(
            "INSERT INTO webhook_attempts (delivery_id, session_id, attempt, url, request_headers,
                request_body, response_status, response_body, error, duration_ms, started_at, uuid)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            r.delivery_id,
            r.session_id,
            r.attempt,
            &r.url,
            &r.request_headers,
            &r.request_body,
            r.response_status,
            r.response_body.clone(),
            r.error.clone(),
            r.duration_ms,
            r.started_at,
            uuid::Uuid::new_v4()
        ));
        let (state, next) = r.outcome.settle(now);
        // A delivery dropped meanwhile (session or destination deleted) stays dropped.
        batch.push(stmt!(
            "UPDATE webhook_deliveries
             SET state = CASE WHEN state = 'dropped' THEN 'dropped' ELSE $1 END,
                attempts = $2, next_attempt_at = $3, locked_until = NULL, last_status = $4,
                last_error = $5, payload = COALESCE(payload, $6), updated_at = $7
             WHERE id = $8",
            state.as_str(),
            r.attempt,
            next,
            r.response_status,
            r.error.clone(),
            r.payload.clone(),
            now,
            r.delivery_id
        ));
    }
    let attempts = results.iter().map(|r| {
        (
            r.destination_id,
            r.outcome == DeliveryOutcome::Succeeded,
            r.started_at,
        )
    });
    for (dest, health) in destination_health(attempts) {
        batch.push(match health {
            Health::Healthy => stmt!(
                "UPDATE webhook_destinations SET failing_since = NULL
                 WHERE id = $1 AND failing_since IS NOT NULL",
                dest
            ),
            Health::FailingSince(since) => stmt!(
                "UPDATE webhook_destinations SET failing_since = $1 WHERE id = $2",
                since,
                dest
            ),
            Health::Failing(since) => stmt!(
                "UPDATE webhook_destinations SET failing_since = $1
                 WHERE id = $2 AND failing_since IS NULL",
                since,
                dest
            ),
        });
    }
    db.execute_all(batch).await?;
    // The destinations that may have failed for too long, judged by the core's rule.
    let failing = db
        .query(
            stmt!(
                "SELECT id, failing_since FROM webhook_destinations
                 WHERE enabled = TRUE AND failing_since IS NOT NULL AND failing_since < $1",
                now - disable_after
            ),
            |r| Ok((r.uuid::<DestinationId>("id")?, r.time("failing_since")?)),
        )
        .await?;
    let mut batch = Vec::new();
    for (id, since) in failing {
        let Some(reason) = disable_reason(since, disable_after, now) else {
            continue;
        };
        // Still failing since then (no success recorded meanwhile by another node).
        batch.push(stmt!(
            "UPDATE webhook_destinations SET enabled = FALSE, updated_at = $1,
                disabled_reason = $2
             WHERE id = $3 AND enabled = TRUE AND failing_since = $4",
            now,
            reason,
            id,
            since
        ));
        batch.push(stmt!(
            "UPDATE webhook_deliveries
             SET state = 'failed', last_error = COALESCE(last_error, 'destination disabled'),
                updated_at = $1
             WHERE destination_id = $2 AND state = 'pending'",
            now,
            id
        ));
    }
    if !batch.is_empty() {
        db.execute_all(batch).await?;
    }
    Ok(())
}

pub async fn list_deliveries(
    db: &impl Db,
    app_id: AppId,
    dest: DestinationId,
    page: Page,
) -> StoreResult<(Vec<DeliveryRecord>, i64)> {
    let count = stmt!(
        "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE destination_id = $1 AND app_id = $2",
        dest,
        app_id
    );
    let list = Stmt::new(
        sql_once!(
            db,
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d
             JOIN outbox_events e ON e.seq = d.event_seq
             WHERE d.destination_id = $1 AND d.app_id = $2
             ORDER BY d.created_at DESC, d.id DESC LIMIT $3 OFFSET $4"
        ),
        vec![
            dest.into(),
            app_id.into(),
            page.limit.into(),
            page.offset.into(),
        ],
    );
    let (count, list) = tokio::try_join!(
        db.query_one(count, rows::count),
        db.query(list, rows::delivery)
    )?;
    Ok((list, count))
}

pub async fn get_delivery(
    db: &impl Db,
    app_id: AppId,
    dest: DestinationId,
    id: DeliveryId,
) -> StoreResult<Option<(DeliveryRecord, Vec<AttemptLog>)>> {
    let delivery = Stmt::new(
        sql_once!(
            db,
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d
             JOIN outbox_events e ON e.seq = d.event_seq
             WHERE d.id = $1 AND d.destination_id = $2 AND d.app_id = $3"
        ),
        vec![id.into(), dest.into(), app_id.into()],
    );
    let Some(d) = db.query_opt(delivery, rows::delivery).await? else {
        return Ok(None);
    };
    let attempts = db
        .query(
            Stmt::new(
                sql_once!(
                    db,
                    "{ATTEMPT_SELECT} WHERE a.delivery_id = $1 ORDER BY a.attempt"
                ),
                vec![id.into()],
            ),
            rows::attempt_log,
        )
        .await?;
    Ok(Some((d, attempts)))
}

/// Sends a delivery again now (same event, fresh signatures); a dropped one stays dropped.
pub async fn resend(
    db: &impl Db,
    app_id: AppId,
    dest: DestinationId,
    id: DeliveryId,
    now: DateTime<Utc>,
) -> StoreResult<Option<DeliveryRecord>> {
    let n = db
        .execute(stmt!(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $1,
                locked_until = NULL, updated_at = $1
             WHERE id = $2 AND destination_id = $3 AND app_id = $4 AND state <> 'dropped'",
            now,
            id,
            dest,
            app_id
        ))
        .await?;
    if n == 0 {
        return Ok(None);
    }
    Ok(get_delivery(db, app_id, dest, id).await?.map(|(d, _)| d))
}

/// Every delivery attempt for one session, newest first.
pub async fn session_attempts(
    db: &impl Db,
    app_id: AppId,
    session_id: SessionId,
    page: Page,
) -> StoreResult<(Vec<AttemptLog>, i64)> {
    let count = stmt!(
        "SELECT COUNT(*) AS n FROM webhook_attempts a
         JOIN webhook_deliveries d ON d.id = a.delivery_id
         WHERE a.session_id = $1 AND d.app_id = $2",
        session_id,
        app_id
    );
    let list = Stmt::new(
        sql_once!(
            db,
            "{ATTEMPT_SELECT} WHERE a.session_id = $1 AND d.app_id = $2
             ORDER BY a.started_at DESC, a.id DESC LIMIT $3 OFFSET $4"
        ),
        vec![
            session_id.into(),
            app_id.into(),
            page.limit.into(),
            page.offset.into(),
        ],
    );
    let (count, list) = tokio::try_join!(
        db.query_one(count, rows::count),
        db.query(list, rows::attempt_log)
    )?;
    Ok((list, count))
}

/// One attempt of one session's log.
pub async fn session_attempt(
    db: &impl Db,
    app_id: AppId,
    session_id: SessionId,
    attempt_id: uuid::Uuid,
) -> StoreResult<Option<AttemptLog>> {
    db.query_opt(
        Stmt::new(
            sql_once!(
                db,
                "{ATTEMPT_SELECT} WHERE a.uuid = $1 AND a.session_id = $2 AND d.app_id = $3"
            ),
            vec![attempt_id.into(), session_id.into(), app_id.into()],
        ),
        rows::attempt_log,
    )
    .await
}
