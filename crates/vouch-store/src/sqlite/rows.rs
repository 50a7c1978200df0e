//! Conversions between SQLite values and domain types.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::Row;
use serde_json::Value;
use uuid::Uuid;
use vouch_core::attempt::{ActorType, Attempt};
use vouch_core::feature::Feature;
use vouch_core::review::Review;
use vouch_core::scopes::{Access, Scopes};
use vouch_core::session::{CallbackMethod, Environment, Session};
use vouch_core::{AttemptStatus, SessionStatus, WorkflowKind};

use crate::model::{ApiKey, App, EmailJob, EmailKind, OutboxEvent, WorkflowRecord, WorkflowStatus};
use crate::StoreError;

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `t` truncated to the microsecond, the precision times are stored with.
pub fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Timelike;
    t.with_nanosecond(t.nanosecond() / 1000 * 1000).unwrap_or(t)
}

pub fn db_err(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        if matches!(
            f.code,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
        ) {
            return StoreError::Unavailable(e.to_string());
        }
    }
    StoreError::Internal(e.to_string())
}

fn bad(col: &str, v: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("bad value {v:?} in column {col}").into(),
    )
}

pub fn get_uuid(row: &Row, col: &str) -> rusqlite::Result<Uuid> {
    let s: String = row.get(col)?;
    Uuid::parse_str(&s).map_err(|_| bad(col, &s))
}

pub fn get_time(row: &Row, col: &str) -> rusqlite::Result<DateTime<Utc>> {
    let s: String = row.get(col)?;
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| bad(col, &s))
}

pub fn get_opt_time(row: &Row, col: &str) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let s: Option<String> = row.get(col)?;
    s.map(|s| {
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| bad(col, &s))
    })
    .transpose()
}

pub fn get_json(row: &Row, col: &str) -> rusqlite::Result<Value> {
    let s: String = row.get(col)?;
    serde_json::from_str(&s).map_err(|_| bad(col, &s))
}

fn parse_with<T>(row: &Row, col: &str, f: impl Fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let s: String = row.get(col)?;
    f(&s).ok_or_else(|| bad(col, &s))
}

fn parse_opt_with<T>(
    row: &Row,
    col: &str,
    f: impl Fn(&str) -> Option<T>,
) -> rusqlite::Result<Option<T>> {
    let s: Option<String> = row.get(col)?;
    s.map(|s| f(&s).ok_or_else(|| bad(col, &s))).transpose()
}

pub fn app(row: &Row) -> rusqlite::Result<App> {
    Ok(App {
        id: get_uuid(row, "id")?,
        name: row.get("name")?,
        mode: parse_with(row, "mode", Environment::parse)?,
        created_at: get_time(row, "created_at")?,
    })
}

pub fn api_key(row: &Row) -> rusqlite::Result<ApiKey> {
    let hash: Vec<u8> = row.get("key_hash")?;
    let key_hash: [u8; 32] = hash.try_into().map_err(|_| bad("key_hash", "?"))?;
    Ok(ApiKey {
        id: get_uuid(row, "id")?,
        app_id: get_uuid(row, "app_id")?,
        name: row.get("name")?,
        key_hash,
        prefix: row.get("prefix")?,
        last4: row.get("last4")?,
        scopes: Scopes {
            sessions: parse_with(row, "sessions", Access::parse)?,
            decisions: parse_with(row, "decisions", Access::parse)?,
            webhooks: parse_with(row, "webhooks", Access::parse)?,
            workflows: parse_with(row, "workflows", Access::parse)?,
        },
        expires_at: get_opt_time(row, "expires_at")?,
        revoked_at: get_opt_time(row, "revoked_at")?,
        created_at: get_time(row, "created_at")?,
    })
}

pub fn workflow(row: &Row) -> rusqlite::Result<WorkflowRecord> {
    let spec: String = row.get("spec")?;
    Ok(WorkflowRecord {
        id: get_uuid(row, "id")?,
        version: row.get("version")?,
        app_id: get_uuid(row, "app_id")?,
        label: row.get("label")?,
        status: parse_with(row, "status", WorkflowStatus::parse)?,
        is_default: row.get("is_default")?,
        spec: serde_json::from_str(&spec).map_err(|_| bad("spec", &spec))?,
        created_at: get_time(row, "created_at")?,
    })
}

/// The columns `session` reads, in the order of both session tables.
pub const SESSION_COLUMNS: &str = "id, app_id, number, token, status, workflow_id, \
    workflow_version, vendor_data, metadata, callback, callback_method, language, \
    contact_details, expected_details, resubmit_info, version, created_at, updated_at, expires_at";

pub fn session(row: &Row, kind: WorkflowKind) -> rusqlite::Result<Session> {
    let resubmit: Option<String> = row.get("resubmit_info")?;
    Ok(Session {
        id: get_uuid(row, "id")?,
        app_id: get_uuid(row, "app_id")?,
        number: row.get("number")?,
        kind,
        token: row.get("token")?,
        status: parse_with(row, "status", SessionStatus::parse)?,
        workflow_id: get_uuid(row, "workflow_id")?,
        workflow_version: row.get("workflow_version")?,
        vendor_data: row.get("vendor_data")?,
        metadata: get_json(row, "metadata")?,
        callback: row.get("callback")?,
        callback_method: parse_opt_with(row, "callback_method", CallbackMethod::parse)?,
        language: row.get("language")?,
        contact_details: get_json(row, "contact_details")?,
        expected_details: get_json(row, "expected_details")?,
        resubmit_info: resubmit
            .map(|s| serde_json::from_str(&s).map_err(|_| bad("resubmit_info", &s)))
            .transpose()?,
        version: row.get("version")?,
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
        expires_at: get_time(row, "expires_at")?,
    })
}

pub fn attempt(row: &Row) -> rusqlite::Result<Attempt> {
    Ok(Attempt {
        id: get_uuid(row, "id")?,
        session_id: get_uuid(row, "session_id")?,
        seq: row.get("seq")?,
        node_id: row.get("node_id")?,
        feature: parse_with(row, "feature", Feature::from_workflow_name)?,
        status: parse_with(row, "status", AttemptStatus::parse)?,
        data: get_json(row, "data")?,
        warnings: get_json(row, "warnings")?,
        actor_type: parse_with(row, "actor_type", ActorType::parse)?,
        created_at: get_time(row, "created_at")?,
    })
}

pub fn review(row: &Row) -> rusqlite::Result<Review> {
    Ok(Review {
        uuid: get_uuid(row, "uuid")?,
        session_id: get_uuid(row, "session_id")?,
        seq: row.get("seq")?,
        activity_type: row.get("activity_type")?,
        actor_type: parse_with(row, "actor_type", ActorType::parse)?,
        actor_display: row.get("actor_display")?,
        previous_status: parse_opt_with(row, "previous_status", SessionStatus::parse)?,
        new_status: parse_opt_with(row, "new_status", SessionStatus::parse)?,
        comment: row.get("comment")?,
        metadata: get_json(row, "metadata")?,
        created_at: get_time(row, "created_at")?,
        personal_digest: row.get("personal_digest")?,
        redacted: row.get("redacted")?,
        prev_hash: row.get("prev_hash")?,
        hash: row.get("hash")?,
    })
}

pub fn outbox_event(row: &Row) -> rusqlite::Result<OutboxEvent> {
    let resubmit: Option<String> = row.get("resubmit_info")?;
    let dropped: Option<String> = row.get("dropped_at")?;
    Ok(OutboxEvent {
        seq: row.get("seq")?,
        event_id: get_uuid(row, "event_id")?,
        app_id: get_uuid(row, "app_id")?,
        session_id: get_uuid(row, "session_id")?,
        session_kind: parse_with(row, "session_kind", WorkflowKind::parse)?,
        event_type: row.get("event_type")?,
        status: parse_with(row, "status", SessionStatus::parse)?,
        previous_status: parse_opt_with(row, "previous_status", SessionStatus::parse)?,
        resubmit_info: resubmit.and_then(|s| serde_json::from_str(&s).ok()),
        created_at: get_time(row, "created_at")?,
        dropped: dropped.is_some(),
    })
}

pub fn table(kind: WorkflowKind) -> &'static str {
    match kind {
        WorkflowKind::User => "user_sessions",
        WorkflowKind::Business => "business_sessions",
    }
}

pub fn email_job(row: &Row) -> rusqlite::Result<EmailJob> {
    Ok(EmailJob {
        id: get_uuid(row, "id")?,
        app_id: get_uuid(row, "app_id")?,
        session_id: get_uuid(row, "session_id")?,
        review_uuid: get_uuid(row, "review_uuid")?,
        kind: parse_with(row, "kind", |s| match s {
            "decision" => Some(EmailKind::Decision),
            "resubmission" => Some(EmailKind::Resubmission),
            _ => None,
        })?,
        status: parse_with(row, "status", SessionStatus::parse)?,
        recipient: row.get("recipient")?,
        language: row.get("language")?,
        payload: get_json(row, "payload")?,
        state: row.get("state")?,
        not_sent_reason: row.get("not_sent_reason")?,
        message_id: row.get("message_id")?,
        attempts: row.get("attempts")?,
        last_error: row.get("last_error")?,
        created_at: get_time(row, "created_at")?,
        sent_at: get_opt_time(row, "sent_at")?,
    })
}
