//! Webhook destinations, deliveries and their attempt log.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use vouch_core::{AppId, DeliveryId, DestinationId, EventId, SessionId};

use crate::model::{EventType, OutboxEvent, Page};
use crate::StoreResult;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Destination {
    pub id: DestinationId,
    pub app_id: AppId,
    pub label: String,
    pub url: String,
    pub enabled: bool,
    /// `None`: every session event.
    pub subscribed_events: Option<Vec<String>>,
    /// The payload version the destination asked for (`v1`, `v2`, `v3`), echoed back; every
    /// version receives the payload of API.md §5.
    pub webhook_version: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub failing_since: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Destination {
    /// Whether an event of a session of `kind` goes to this destination.
    pub fn subscribes(&self, event_type: EventType, kind: vouch_core::WorkflowKind) -> bool {
        self.subscribed_events.as_ref().is_none_or(|events| {
            events
                .iter()
                .any(|e| vouch_core::change::subscription_matches(e, event_type, kind))
        })
    }

    /// The destination after `u` (every backend stores the result as a whole).
    pub fn apply(&mut self, u: DestinationUpdate, now: DateTime<Utc>) {
        if let Some(l) = u.label {
            self.label = l;
        }
        if let Some(url) = u.url {
            self.url = url;
        }
        if let Some(e) = u.enabled {
            if e && !self.enabled {
                // Re-enabled by a person: the failure streak starts over.
                self.failing_since = None;
                self.disabled_reason = None;
            }
            self.enabled = e;
        }
        if let Some(events) = u.subscribed_events {
            self.subscribed_events = events;
        }
        if let Some(v) = u.webhook_version {
            self.webhook_version = v;
        }
        if let Some((secret, previous_until)) = u.rotate_secret {
            self.previous_secret = Some(std::mem::replace(&mut self.secret, secret));
            self.previous_secret_expires_at = Some(previous_until);
        }
        self.updated_at = now;
    }

    /// The previous secret while it is still honoured.
    pub fn live_previous_secret(&self, now: DateTime<Utc>) -> Option<&str> {
        match (&self.previous_secret, self.previous_secret_expires_at) {
            (Some(s), Some(until)) if until > now => Some(s),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct DestinationUpdate {
    pub label: Option<String>,
    pub url: Option<String>,
    pub enabled: Option<bool>,
    /// `Some(None)`: every event.
    pub subscribed_events: Option<Option<Vec<String>>>,
    pub webhook_version: Option<String>,
    /// A new secret; the current one stays valid until the given time.
    pub rotate_secret: Option<(String, DateTime<Utc>)>,
}

/// A delivery claimed for sending, with what sending needs.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: DeliveryId,
    pub destination: Destination,
    pub event: OutboxEvent,
    /// Attempts already made.
    pub attempts: i64,
    /// The payload as first sent, if it was.
    pub payload: Option<Value>,
}

pub use vouch_core::delivery::{DeliveryOutcome, DeliveryState};

/// One finished attempt, recorded with the delivery's new state.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub delivery_id: DeliveryId,
    pub destination_id: DestinationId,
    pub session_id: SessionId,
    pub attempt: i64,
    pub url: String,
    pub request_headers: Value,
    pub request_body: String,
    pub response_status: Option<u16>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub started_at: DateTime<Utc>,
    pub outcome: DeliveryOutcome,
    /// Stored on the first attempt: the payload to re-sign on retries and resends.
    pub payload: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryRecord {
    pub id: DeliveryId,
    pub destination_id: DestinationId,
    pub event_id: EventId,
    pub event_type: EventType,
    pub session_id: SessionId,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub event_created_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptLog {
    /// This attempt's own id.
    pub id: uuid::Uuid,
    pub delivery_id: DeliveryId,
    pub destination_id: DestinationId,
    pub event_id: EventId,
    pub event_type: EventType,
    pub attempt: i64,
    pub url: String,
    pub request_headers: Value,
    pub request_body: String,
    pub response_status: Option<i64>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub event_created_at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
}

/// Limits of one claim.
#[derive(Debug, Clone)]
pub struct ClaimQuery {
    pub now: DateTime<Utc>,
    pub lease_until: DateTime<Utc>,
    /// Deliveries taken per destination in this claim, at most.
    pub per_destination: i64,
    /// Destinations already at their concurrency cap: none of theirs are taken.
    pub skip_destinations: Vec<DestinationId>,
    pub limit: i64,
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn create_destination(&self, d: Destination) -> StoreResult<Destination>;
    async fn list_destinations(
        &self,
        app_id: AppId,
        page: Page,
    ) -> StoreResult<(Vec<Destination>, i64)>;
    async fn get_destination(
        &self,
        app_id: AppId,
        id: DestinationId,
    ) -> StoreResult<Option<Destination>>;
    async fn update_destination(
        &self,
        app_id: AppId,
        id: DestinationId,
        update: DestinationUpdate,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Destination>>;
    /// Deletes it and drops its pending deliveries.
    async fn delete_destination(
        &self,
        app_id: AppId,
        id: DestinationId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Turns up to `limit` committed events into one delivery per subscribed, enabled
    /// destination; answers how many events were processed.
    async fn fan_out(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<usize>;
    /// Leases due deliveries for sending.
    async fn claim_deliveries(&self, q: ClaimQuery) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Records finished attempts and the deliveries' new states; disables destinations that
    /// have failed continuously for longer than `disable_after` (the core's rule).
    async fn record_attempts(
        &self,
        results: Vec<AttemptResult>,
        disable_after: chrono::Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Called once when this node's dispatcher starts: ends the leases of a previous run when no
    /// other node can hold them (single-node stores); a shared store leaves them to expire.
    async fn release_leases_at_start(&self) -> StoreResult<usize>;
    /// Ends the leases of these deliveries (still running when a node stops), so that any node
    /// sends them at once.
    async fn release_deliveries(&self, ids: Vec<DeliveryId>) -> StoreResult<usize>;
    /// The earliest time a pending delivery comes due, if any.
    async fn next_delivery_due(&self) -> StoreResult<Option<DateTime<Utc>>>;

    async fn list_deliveries(
        &self,
        app_id: AppId,
        destination_id: DestinationId,
        page: Page,
    ) -> StoreResult<(Vec<DeliveryRecord>, i64)>;
    async fn get_delivery(
        &self,
        app_id: AppId,
        destination_id: DestinationId,
        delivery_id: DeliveryId,
    ) -> StoreResult<Option<(DeliveryRecord, Vec<AttemptLog>)>>;
    /// Queues a delivery to be sent again now (same event id, fresh signature).
    async fn resend_delivery(
        &self,
        app_id: AppId,
        destination_id: DestinationId,
        delivery_id: DeliveryId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DeliveryRecord>>;
    /// Every attempt for one session, newest first.
    async fn session_webhook_attempts(
        &self,
        app_id: AppId,
        session_id: SessionId,
        page: Page,
    ) -> StoreResult<(Vec<AttemptLog>, i64)>;
    /// One attempt of one session's log, by its id.
    async fn session_webhook_attempt(
        &self,
        app_id: AppId,
        session_id: SessionId,
        attempt_id: uuid::Uuid,
    ) -> StoreResult<Option<AttemptLog>>;
    /// Notified after every commit that wrote outbox events or queued a resend.
    fn outbox_signal(&self) -> std::sync::Arc<tokio::sync::Notify>;
}
