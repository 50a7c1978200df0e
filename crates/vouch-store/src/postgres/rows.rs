//! Query helpers and conversions between PostgreSQL rows and domain types.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::Row;
use vouch_core::attempt::{ActorType, Attempt};
use vouch_core::feature::Feature;
use vouch_core::review::Review;
use vouch_core::scopes::{Access, Scopes};
use vouch_core::session::{CallbackMethod, Environment, Session};
use vouch_core::{AttemptStatus, SessionStatus, WorkflowKind};

use crate::model::{ApiKey, App, EmailJob, EmailKind, OutboxEvent, WorkflowRecord, WorkflowStatus};
use crate::{StoreError, StoreResult};

pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Maps a driver error: lost connections, overload and serialization failures may be retried
/// (503), anything else is internal.
pub fn db_err(e: tokio_postgres::Error) -> StoreError {
    let message = match e.as_db_error() {
        Some(d) => format!("{}: {}", d.code().code(), d.message()),
        None => e.to_string(),
    };
    match e.code() {
        Some(c)
            if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::TOO_MANY_CONNECTIONS
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
                || *c == SqlState::QUERY_CANCELED =>
        {
            StoreError::Unavailable(message)
        }
        Some(_) => StoreError::Internal(message),
        // No SQL state: the connection broke or could not be made, or (a defect of ours) a
        // value did not convert.
        None if connection_trouble(&e) => StoreError::Unavailable(e.to_string()),
        None => StoreError::Internal(e.to_string()),
    }
}

fn connection_trouble(e: &tokio_postgres::Error) -> bool {
    use std::error::Error;
    e.is_closed()
        || e.source().is_some_and(|s| s.is::<std::io::Error>())
        || e.to_string().contains("timeout")
}

pub fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

pub async fn query(c: &impl GenericClient, sql: &str, params: Params<'_>) -> StoreResult<Vec<Row>> {
    let st = c.prepare_cached(sql).await.map_err(db_err)?;
    c.query(&st, params).await.map_err(db_err)
}

pub async fn query_opt(
    c: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> StoreResult<Option<Row>> {
    let st = c.prepare_cached(sql).await.map_err(db_err)?;
    c.query_opt(&st, params).await.map_err(db_err)
}

pub async fn query_one(c: &impl GenericClient, sql: &str, params: Params<'_>) -> StoreResult<Row> {
    let st = c.prepare_cached(sql).await.map_err(db_err)?;
    c.query_one(&st, params).await.map_err(db_err)
}

pub async fn execute(c: &impl GenericClient, sql: &str, params: Params<'_>) -> StoreResult<u64> {
    let st = c.prepare_cached(sql).await.map_err(db_err)?;
    c.execute(&st, params).await.map_err(db_err)
}

/// A column's value; a type mismatch is a defect of ours, reported as internal.
pub fn get<'a, T: FromSql<'a>>(row: &'a Row, col: &str) -> StoreResult<T> {
    row.try_get(col)
        .map_err(|e| StoreError::Internal(format!("column {col}: {e}")))
}

fn parse_with<T>(row: &Row, col: &str, f: impl Fn(&str) -> Option<T>) -> StoreResult<T> {
    let s: &str = get(row, col)?;
    f(s).ok_or_else(|| StoreError::Internal(format!("bad value {s:?} in column {col}")))
}

fn parse_opt_with<T>(
    row: &Row,
    col: &str,
    f: impl Fn(&str) -> Option<T>,
) -> StoreResult<Option<T>> {
    let s: Option<&str> = get(row, col)?;
    s.map(|s| f(s).ok_or_else(|| StoreError::Internal(format!("bad value {s:?} in column {col}"))))
        .transpose()
}

pub fn json<T: serde::Serialize>(v: &T) -> StoreResult<Value> {
    serde_json::to_value(v).map_err(|e| StoreError::Internal(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(row: &Row, col: &str) -> StoreResult<T> {
    let v: Value = get(row, col)?;
    serde_json::from_value(v).map_err(|e| StoreError::Internal(format!("column {col}: {e}")))
}

pub fn table(kind: WorkflowKind) -> &'static str {
    match kind {
        WorkflowKind::User => "user_sessions",
        WorkflowKind::Business => "business_sessions",
    }
}

pub fn app(row: &Row) -> StoreResult<App> {
    Ok(App {
        id: get(row, "id")?,
        name: get(row, "name")?,
        mode: parse_with(row, "mode", Environment::parse)?,
        created_at: get(row, "created_at")?,
    })
}

pub fn api_key(row: &Row) -> StoreResult<ApiKey> {
    let hash: &[u8] = get(row, "key_hash")?;
    let key_hash: [u8; 32] = hash
        .try_into()
        .map_err(|_| StoreError::Internal("key_hash is not 32 bytes".into()))?;
    Ok(ApiKey {
        id: get(row, "id")?,
        app_id: get(row, "app_id")?,
        name: get(row, "name")?,
        key_hash,
        prefix: get(row, "prefix")?,
        last4: get(row, "last4")?,
        scopes: Scopes {
            sessions: parse_with(row, "sessions", Access::parse)?,
            decisions: parse_with(row, "decisions", Access::parse)?,
            webhooks: parse_with(row, "webhooks", Access::parse)?,
            workflows: parse_with(row, "workflows", Access::parse)?,
        },
        expires_at: get(row, "expires_at")?,
        revoked_at: get(row, "revoked_at")?,
        created_at: get(row, "created_at")?,
    })
}

pub fn workflow(row: &Row) -> StoreResult<WorkflowRecord> {
    Ok(WorkflowRecord {
        id: get(row, "id")?,
        version: get(row, "version")?,
        app_id: get(row, "app_id")?,
        label: get(row, "label")?,
        status: parse_with(row, "status", WorkflowStatus::parse)?,
        is_default: get(row, "is_default")?,
        spec: from_json(row, "spec")?,
        created_at: get(row, "created_at")?,
    })
}

/// The columns `session` reads, in the order of both session tables.
pub const SESSION_COLUMNS: &str = "id, app_id, number, token, status, workflow_id, \
    workflow_version, vendor_data, metadata, callback, callback_method, language, \
    contact_details, expected_details, resubmit_info, version, created_at, updated_at, expires_at";

pub fn session(row: &Row, kind: WorkflowKind) -> StoreResult<Session> {
    let resubmit: Option<Value> = get(row, "resubmit_info")?;
    Ok(Session {
        id: get(row, "id")?,
        app_id: get(row, "app_id")?,
        number: get(row, "number")?,
        kind,
        token: get(row, "token")?,
        status: parse_with(row, "status", SessionStatus::parse)?,
        workflow_id: get(row, "workflow_id")?,
        workflow_version: get(row, "workflow_version")?,
        vendor_data: get(row, "vendor_data")?,
        metadata: get(row, "metadata")?,
        callback: get(row, "callback")?,
        callback_method: parse_opt_with(row, "callback_method", CallbackMethod::parse)?,
        language: get(row, "language")?,
        contact_details: get(row, "contact_details")?,
        expected_details: get(row, "expected_details")?,
        resubmit_info: resubmit
            .map(|v| {
                serde_json::from_value(v)
                    .map_err(|e| StoreError::Internal(format!("column resubmit_info: {e}")))
            })
            .transpose()?,
        version: get(row, "version")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        expires_at: get(row, "expires_at")?,
    })
}

pub fn attempt(row: &Row) -> StoreResult<Attempt> {
    Ok(Attempt {
        id: get(row, "id")?,
        session_id: get(row, "session_id")?,
        seq: get(row, "seq")?,
        node_id: get(row, "node_id")?,
        feature: parse_with(row, "feature", Feature::from_workflow_name)?,
        status: parse_with(row, "status", AttemptStatus::parse)?,
        data: get(row, "data")?,
        warnings: get(row, "warnings")?,
        actor_type: parse_with(row, "actor_type", ActorType::parse)?,
        created_at: get(row, "created_at")?,
    })
}

pub fn review(row: &Row) -> StoreResult<Review> {
    Ok(Review {
        uuid: get(row, "uuid")?,
        session_id: get(row, "session_id")?,
        seq: get(row, "seq")?,
        activity_type: get(row, "activity_type")?,
        actor_type: parse_with(row, "actor_type", ActorType::parse)?,
        actor_display: get(row, "actor_display")?,
        previous_status: parse_opt_with(row, "previous_status", SessionStatus::parse)?,
        new_status: parse_opt_with(row, "new_status", SessionStatus::parse)?,
        comment: get(row, "comment")?,
        metadata: get(row, "metadata")?,
        created_at: get(row, "created_at")?,
        personal_digest: get(row, "personal_digest")?,
        redacted: get(row, "redacted")?,
        prev_hash: get(row, "prev_hash")?,
        hash: get(row, "hash")?,
    })
}

pub fn outbox_event(row: &Row) -> StoreResult<OutboxEvent> {
    let dropped: Option<DateTime<Utc>> = get(row, "dropped_at")?;
    Ok(OutboxEvent {
        seq: get(row, "seq")?,
        event_id: get(row, "event_id")?,
        app_id: get(row, "app_id")?,
        session_id: get(row, "session_id")?,
        session_kind: parse_with(row, "session_kind", WorkflowKind::parse)?,
        event_type: get(row, "event_type")?,
        status: parse_with(row, "status", SessionStatus::parse)?,
        previous_status: parse_opt_with(row, "previous_status", SessionStatus::parse)?,
        resubmit_info: get(row, "resubmit_info")?,
        created_at: get(row, "created_at")?,
        dropped: dropped.is_some(),
    })
}

pub fn email_job(row: &Row) -> StoreResult<EmailJob> {
    Ok(EmailJob {
        id: get(row, "id")?,
        app_id: get(row, "app_id")?,
        session_id: get(row, "session_id")?,
        review_uuid: get(row, "review_uuid")?,
        kind: parse_with(row, "kind", |s| match s {
            "decision" => Some(EmailKind::Decision),
            "resubmission" => Some(EmailKind::Resubmission),
            _ => None,
        })?,
        status: parse_with(row, "status", SessionStatus::parse)?,
        recipient: get(row, "recipient")?,
        language: get(row, "language")?,
        payload: get(row, "payload")?,
        state: get(row, "state")?,
        not_sent_reason: get(row, "not_sent_reason")?,
        message_id: get(row, "message_id")?,
        attempts: get(row, "attempts")?,
        last_error: get(row, "last_error")?,
        created_at: get(row, "created_at")?,
        sent_at: get(row, "sent_at")?,
    })
}

pub fn all<T>(rows: &[Row], f: impl Fn(&Row) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(f).collect()
}
