//! Every row mapper, written once against `sql::Row`: each backend's driver supplies the column
//! values in its own types.

use vouch_core::attempt::{ActorType, Attempt};
use vouch_core::feature::Feature;
use vouch_core::review::{ActivityType, Review};
use vouch_core::scopes::{Access, Scopes};
use vouch_core::session::{CallbackMethod, Environment, Session};
use vouch_core::{AttemptStatus, SessionStatus, WorkflowKind};

use crate::model::{
    ApiKey, App, EmailJob, EmailKind, EventType, NotSentReason, OutboxEvent, WorkflowRecord,
    WorkflowStatus,
};
use crate::sql::Row;
use crate::webhooks::{AttemptLog, DeliveryRecord, DeliveryState, Destination};
use crate::{StoreError, StoreResult};

pub fn app(r: &Row) -> StoreResult<App> {
    Ok(App {
        id: r.uuid("id")?,
        name: r.text("name")?,
        mode: r.parse("mode", Environment::parse)?,
        created_at: r.time("created_at")?,
    })
}

/// An application read through a join, its columns prefixed `a_`.
pub fn joined_app(r: &Row) -> StoreResult<App> {
    Ok(App {
        id: r.uuid("a_id")?,
        name: r.text("a_name")?,
        mode: Environment::parse(&r.text("a_mode")?).unwrap_or(Environment::Live),
        created_at: r.time("a_created")?,
    })
}

pub fn api_key(r: &Row) -> StoreResult<ApiKey> {
    let key_hash: [u8; 32] = r
        .bytes("key_hash")?
        .try_into()
        .map_err(|_| StoreError::Internal("key_hash is not 32 bytes".into()))?;
    Ok(ApiKey {
        id: r.uuid("id")?,
        app_id: r.uuid("app_id")?,
        name: r.opt_text("name")?,
        key_hash,
        prefix: r.text("prefix")?,
        last4: r.text("last4")?,
        scopes: Scopes {
            sessions: r.parse("sessions", Access::parse)?,
            decisions: r.parse("decisions", Access::parse)?,
            webhooks: r.parse("webhooks", Access::parse)?,
            workflows: r.parse("workflows", Access::parse)?,
            media: r.parse("media", Access::parse)?,
        },
        expires_at: r.opt_time("expires_at")?,
        revoked_at: r.opt_time("revoked_at")?,
        created_at: r.time("created_at")?,
        rate_limit: r
            .opt_int("rate_limit")?
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
    })
}

pub fn workflow(r: &Row) -> StoreResult<WorkflowRecord> {
    Ok(WorkflowRecord {
        id: r.uuid("id")?,
        version: r.int("version")?,
        app_id: r.uuid("app_id")?,
        label: r.text("label")?,
        status: r.parse("status", WorkflowStatus::parse)?,
        is_default: r.boolean("is_default")?,
        spec: r.decode("spec")?,
        settings: r.decode("settings")?,
        archived_at: r.opt_time("archived_at")?,
        created_at: r.time("created_at")?,
    })
}

/// The columns `session` reads, as text to splice into a statement.
macro_rules! session_columns {
    () => {
        "id, kind, app_id, number, token, status, workflow_id, workflow_version, vendor_data, \
         metadata, callback, callback_method, language, contact_details, expected_details, \
         resubmit_info, version, created_at, updated_at, expires_at"
    };
}
pub(crate) use session_columns;

/// The columns `session` reads.
pub const SESSION_COLUMNS: &str = session_columns!();

pub fn session(r: &Row) -> StoreResult<Session> {
    Ok(Session {
        id: r.uuid("id")?,
        app_id: r.uuid("app_id")?,
        number: r.int("number")?,
        kind: r.parse("kind", WorkflowKind::parse)?,
        token: r.text("token")?,
        status: r.parse("status", SessionStatus::parse)?,
        workflow_id: r.uuid("workflow_id")?,
        workflow_version: r.int("workflow_version")?,
        vendor_data: r.opt_text("vendor_data")?,
        metadata: r.json("metadata")?,
        callback: r.opt_text("callback")?,
        callback_method: r.opt_parse("callback_method", CallbackMethod::parse)?,
        language: r.opt_text("language")?,
        contact_details: r.json("contact_details")?,
        expected_details: r.json("expected_details")?,
        resubmit_info: r
            .opt_json("resubmit_info")?
            .map(|v| {
                serde_json::from_value(v)
                    .map_err(|e| StoreError::Internal(format!("column resubmit_info: {e}")))
            })
            .transpose()?,
        version: r.int("version")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
        expires_at: r.time("expires_at")?,
    })
}

pub fn attempt(r: &Row) -> StoreResult<Attempt> {
    Ok(Attempt {
        id: r.uuid("id")?,
        session_id: r.uuid("session_id")?,
        seq: r.int("seq")?,
        node_id: r.text("node_id")?,
        feature: r.parse("feature", Feature::from_workflow_name)?,
        status: r.parse("status", AttemptStatus::parse)?,
        data: r.json("data")?,
        warnings: r.json("warnings")?,
        actor_type: r.parse("actor_type", ActorType::parse)?,
        created_at: r.time("created_at")?,
    })
}

pub fn review(r: &Row) -> StoreResult<Review> {
    Ok(Review {
        uuid: r.uuid("uuid")?,
        session_id: r.uuid("session_id")?,
        seq: r.int("seq")?,
        activity_type: r.parse("activity_type", ActivityType::parse)?,
        actor_type: r.parse("actor_type", ActorType::parse)?,
        actor_display: r.text("actor_display")?,
        previous_status: r.opt_parse("previous_status", SessionStatus::parse)?,
        new_status: r.opt_parse("new_status", SessionStatus::parse)?,
        comment: r.opt_text("comment")?,
        metadata: r.json("metadata")?,
        created_at: r.time("created_at")?,
        personal_digest: r.text("personal_digest")?,
        redacted: r.boolean("redacted")?,
        prev_hash: r.text("prev_hash")?,
        hash: r.text("hash")?,
    })
}

pub fn outbox_event(r: &Row) -> StoreResult<OutboxEvent> {
    Ok(OutboxEvent {
        seq: r.int("seq")?,
        event_id: r.uuid("event_id")?,
        app_id: r.uuid("app_id")?,
        session_id: r.uuid("session_id")?,
        session_kind: r.parse("session_kind", WorkflowKind::parse)?,
        event_type: r.parse("event_type", EventType::parse)?,
        status: r.parse("status", SessionStatus::parse)?,
        previous_status: r.opt_parse("previous_status", SessionStatus::parse)?,
        resubmit_info: r.opt_json("resubmit_info")?,
        created_at: r.time("created_at")?,
        dropped: r.opt_time("dropped_at")?.is_some(),
    })
}

pub fn email_job(r: &Row) -> StoreResult<EmailJob> {
    Ok(EmailJob {
        id: r.uuid("id")?,
        app_id: r.uuid("app_id")?,
        session_id: r.uuid("session_id")?,
        review_uuid: r.uuid("review_uuid")?,
        kind: r.parse("kind", EmailKind::parse)?,
        status: r.parse("status", SessionStatus::parse)?,
        recipient: r.opt_text("recipient")?,
        language: r.text("language")?,
        payload: r.json("payload")?,
        state: r.parse("state", vouch_core::delivery::EmailState::parse)?,
        not_sent_reason: r.opt_parse("not_sent_reason", NotSentReason::parse)?,
        message_id: r.text("message_id")?,
        attempts: r.int("attempts")?,
        last_error: r.opt_text("last_error")?,
        created_at: r.time("created_at")?,
        sent_at: r.opt_time("sent_at")?,
    })
}

pub fn destination(r: &Row) -> StoreResult<Destination> {
    Ok(Destination {
        id: r.uuid("id")?,
        app_id: r.uuid("app_id")?,
        label: r.text("label")?,
        url: r.text("url")?,
        enabled: r.boolean("enabled")?,
        subscribed_events: r
            .opt_json("subscribed_events")?
            .and_then(|e| serde_json::from_value(e).ok()),
        webhook_version: r.text("webhook_version")?,
        secret: r.text("secret")?,
        previous_secret: r.opt_text("previous_secret")?,
        previous_secret_expires_at: r.opt_time("previous_secret_expires_at")?,
        failing_since: r.opt_time("failing_since")?,
        disabled_reason: r.opt_text("disabled_reason")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}

/// The columns `delivery` reads (`d` the delivery, `e` its event).
pub const DELIVERY_COLUMNS: &str =
    "d.id, d.destination_id, d.event_id, d.event_type, d.session_id, d.state,
    d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.updated_at,
    e.created_at AS event_created_at";

pub fn delivery(r: &Row) -> StoreResult<DeliveryRecord> {
    let state = r.parse("state", DeliveryState::parse)?;
    Ok(DeliveryRecord {
        id: r.uuid("id")?,
        destination_id: r.uuid("destination_id")?,
        event_id: r.uuid("event_id")?,
        event_type: r.parse("event_type", EventType::parse)?,
        session_id: r.uuid("session_id")?,
        next_attempt_at: if state == DeliveryState::Pending {
            r.opt_time("next_attempt_at")?
        } else {
            None
        },
        state,
        attempts: r.int("attempts")?,
        last_status: r.opt_int("last_status")?,
        last_error: r.opt_text("last_error")?,
        event_created_at: r.time("event_created_at")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}

/// The query `attempt_log` reads from.
pub const ATTEMPT_SELECT: &str =
    "SELECT a.*, d.destination_id, d.event_id, d.event_type, e.created_at AS event_created_at
    FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
    JOIN outbox_events e ON e.seq = d.event_seq";

pub fn attempt_log(r: &Row) -> StoreResult<AttemptLog> {
    Ok(AttemptLog {
        id: r.uuid("uuid")?,
        delivery_id: r.uuid("delivery_id")?,
        destination_id: r.uuid("destination_id")?,
        event_id: r.uuid("event_id")?,
        event_type: r.parse("event_type", EventType::parse)?,
        attempt: r.int("attempt")?,
        url: r.text("url")?,
        request_headers: r.opt_json("request_headers")?.unwrap_or_default(),
        request_body: r.text("request_body")?,
        response_status: r.opt_int("response_status")?,
        response_body: r.opt_text("response_body")?,
        error: r.opt_text("error")?,
        duration_ms: r.int("duration_ms")?,
        event_created_at: r.time("event_created_at")?,
        started_at: r.time("started_at")?,
    })
}

/// A single integer column (counts, sequence numbers).
pub fn count(r: &Row) -> StoreResult<i64> {
    r.int("n")
}
