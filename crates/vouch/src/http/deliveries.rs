//! The delivery log and resends (§5).

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use vouch_core::scopes::{Access, Resource};
use vouch_core::{DestinationId, SessionId};
use vouch_store::{AttemptLog, DeliveryRecord};

use super::auth::*;
use super::error::{ApiError, ApiResult};
use super::openapi::{ErrorAnswer, ErrorBody};
use super::pagination::{page_links, PageQuery};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(retrieve))
        .routes(routes!(resend))
        .routes(routes!(session_log))
        .routes(routes!(session_webhook))
        .routes(routes!(resend_session_webhook))
}

fn ts(t: DateTime<Utc>) -> String {
    vouch_core::time::wire(t)
}

fn delivery_json(d: &DeliveryRecord) -> Value {
    json!({
        "uuid": d.id,
        "destination_id": d.destination_id,
        "event_id": d.event_id,
        "webhook_type": d.event_type,
        "session_id": d.session_id,
        "state": d.state,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at.map(ts),
        "last_response_status": d.last_status,
        "last_error": d.last_error,
        "event_created_at": ts(d.event_created_at),
        "created_at": ts(d.created_at),
        "updated_at": ts(d.updated_at),
    })
}

fn attempt_json(a: &AttemptLog) -> Value {
    json!({
        "delivery_id": a.delivery_id,
        "destination_id": a.destination_id,
        "event_id": a.event_id,
        "webhook_type": a.event_type,
        "attempt": a.attempt,
        "url": a.url,
        "request_headers": a.request_headers,
        "request_body": a.request_body,
        "response_status": a.response_status,
        "response_body": a.response_body,
        "error": a.error,
        "duration_ms": a.duration_ms,
        "event_created_at": ts(a.event_created_at),
        "started_at": ts(a.started_at),
    })
}

async fn destination_id(
    state: &AppState,
    caller: &Caller,
    id: DestinationId,
) -> Result<DestinationId, ApiError> {
    state
        .store
        .get_destination(caller.app.id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(id)
}

#[utoipa::path(get, path = "/v3/webhook/destinations/{id}/deliveries/", operation_id = "list_deliveries", tag = "webhooks",
    params(("id" = uuid::Uuid, Path), ("limit" = Option<i64>, Query, minimum = 1, maximum = 100), ("offset" = Option<i64>, Query, minimum = 0)),
    responses((status = 200, description = "`{count, next, previous, results: [delivery]}`, newest first",
            links(("get_delivery" = (operation_id = "get_delivery", parameters(("id" = "$request.path.id"), ("delivery" = "$response.body#/results/0/uuid")))),
                ("resend_delivery" = (operation_id = "resend_delivery", parameters(("id" = "$request.path.id"), ("delivery" = "$response.body#/results/0/uuid")))))),
        (status = 400, body = ErrorAnswer), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["webhooks:read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Can<ReadWebhooks>,
    Id(id): Id<DestinationId>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = PageQuery::parse(query.as_deref())?;
    let dest = destination_id(&state, &caller, id).await?;
    let (rows, count) = state
        .store
        .list_deliveries(caller.app.id, dest, q.page)
        .await?;
    let path = format!("/v3/webhook/destinations/{dest}/deliveries/");
    let (next, previous) = page_links(&state.config.public_url, &path, &q, count);
    Ok(Json(
        json!({"count": count, "next": next, "previous": previous,
        "results": rows.iter().map(delivery_json).collect::<Vec<_>>()}),
    ))
}

#[utoipa::path(get, path = "/v3/webhook/destinations/{id}/deliveries/{delivery}/", operation_id = "get_delivery", tag = "webhooks",
    params(("id" = uuid::Uuid, Path), ("delivery" = uuid::Uuid, Path)),
    responses((status = 200, description = "The delivery with every attempt: request headers and body, response status and body, duration, error"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["webhooks:read"])))]
async fn retrieve(
    State(state): State<AppState>,
    caller: Can<ReadWebhooks>,
    Id(dest): Id<DestinationId>,
    DeliveryPath(delivery): DeliveryPath,
) -> ApiResult<Json<Value>> {
    let (d, attempts) = state
        .store
        .get_delivery(caller.app.id, dest, delivery)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut body = delivery_json(&d);
    body["attempt_log"] = Value::Array(attempts.iter().map(attempt_json).collect());
    Ok(Json(body))
}

#[utoipa::path(post, path = "/v3/webhook/destinations/{id}/deliveries/{delivery}/resend/", operation_id = "resend_delivery", tag = "webhooks",
    params(("id" = uuid::Uuid, Path), ("delivery" = uuid::Uuid, Path)),
    responses((status = 202, description = "Queued: sent again now, re-signed with a fresh timestamp, same event_id"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["webhooks:write"])))]
async fn resend(
    State(state): State<AppState>,
    caller: Can<WriteWebhooks>,
    Id(dest): Id<DestinationId>,
    DeliveryPath(delivery): DeliveryPath,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let d = state
        .store
        .resend_delivery(caller.app.id, dest, delivery, crate::clock::now())
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok((StatusCode::ACCEPTED, Json(delivery_json(&d))))
}

/// One entry of a session's webhook log (Didit's shape): one attempt to one destination, with
/// the request's headers and body as JSON-encoded strings.
fn log_entry(a: &AttemptLog) -> Value {
    json!({
        "uuid": a.id,
        "request_url": a.url,
        "request_header": a.request_headers.to_string(),
        "request_body": a.request_body,
        "response_status": a.response_status,
        "response_body": a.response_body,
        "response_time_ms": a.duration_ms,
        "status": if a.response_status.is_some_and(|s| (200..300).contains(&s)) { "success" } else { "failed" },
        "error": a.error,
        "webhook_type": a.event_type,
        "event_id": a.event_id,
        "delivery_id": a.delivery_id,
        "destination_id": a.destination_id,
        "attempt": a.attempt,
        "created_at": ts(a.started_at),
    })
}

/// At most this many entries answer a session's log (newest first).
const SESSION_LOG_LIMIT: i64 = 1000;

/// How long a resend waits for its attempt before answering that it is still queued.
const RESEND_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

async fn session_exists(state: &AppState, caller: &Caller, sid: SessionId) -> Result<(), ApiError> {
    state
        .store
        .get_session(caller.app.id, sid)
        .await?
        .ok_or_else(ApiError::not_found)
        .map(|_| ())
}

#[utoipa::path(get, path = "/v3/session/{id}/webhooks/", operation_id = "list_session_webhooks", tag = "webhooks",
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<SessionWebhook>, description = "Every delivery attempt for the session (each retry and resend its own entry), newest first, not paginated (the newest 1,000)",
            links(("get_session_webhook" = (operation_id = "get_session_webhook", parameters(("id" = "$request.path.id"), ("uuid" = "$response.body#/0/uuid")))),
                ("resend_session_webhook" = (operation_id = "resend_session_webhook", parameters(("id" = "$request.path.id"), ("uuid" = "$response.body#/0/uuid")))))),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["sessions:read", "decisions:read"])))]
async fn session_log(
    State(state): State<AppState>,
    caller: Can<ReadSessions>,
    Id(sid): Id<SessionId>,
) -> ApiResult<Json<Value>> {
    caller.require(Resource::Decisions, Access::Read)?;
    session_exists(&state, &caller, sid).await?;
    let page = vouch_store::Page {
        limit: SESSION_LOG_LIMIT,
        offset: 0,
    };
    let (rows, _) = state
        .store
        .session_webhook_attempts(caller.app.id, sid, page)
        .await?;
    Ok(Json(Value::Array(rows.iter().map(log_entry).collect())))
}

/// An entry of a session's webhook log.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SessionWebhook {
    uuid: uuid::Uuid,
    request_url: String,
    /// The request's headers, JSON-encoded.
    request_header: String,
    /// The exact body sent (JSON).
    request_body: String,
    response_status: Option<i64>,
    response_body: Option<String>,
    response_time_ms: i64,
    /// `success` (a 2xx answer) or `failed`.
    #[schema(example = "success")]
    status: String,
    error: Option<String>,
    #[schema(example = "status.updated")]
    webhook_type: String,
    event_id: uuid::Uuid,
    delivery_id: uuid::Uuid,
    destination_id: uuid::Uuid,
    attempt: i64,
    created_at: String,
}

#[utoipa::path(get, path = "/v3/session/{id}/webhook/{uuid}/", operation_id = "get_session_webhook", tag = "webhooks",
    params(("id" = String, Path), ("uuid" = uuid::Uuid, Path)),
    responses((status = 200, body = SessionWebhook, description = "One entry of the session's log (also served without the trailing slash)"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["sessions:read", "decisions:read"])))]
pub(super) async fn session_webhook(
    State(state): State<AppState>,
    caller: Can<ReadSessions>,
    Id(sid): Id<SessionId>,
    WebhookPath(entry): WebhookPath,
) -> ApiResult<Json<Value>> {
    caller.require(Resource::Decisions, Access::Read)?;
    let a = state
        .store
        .session_webhook_attempt(caller.app.id, sid, entry)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(log_entry(&a)))
}

#[utoipa::path(post, path = "/v3/session/{id}/webhook/{uuid}/resend/", operation_id = "resend_session_webhook", tag = "webhooks",
    params(("id" = String, Path), ("uuid" = uuid::Uuid, Path)),
    responses((status = 200, body = SessionWebhook, description = "Sent again to the same destination, re-signed with a fresh timestamp and the same event_id: the new attempt, with the receiver's answer (also served without the trailing slash)"),
        (status = 202, description = "Queued; the attempt had not finished within 5 s (it appears in the log when it does)"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["webhooks:write", "decisions:read"])))]
pub(super) async fn resend_session_webhook(
    State(state): State<AppState>,
    caller: Can<WriteWebhooks>,
    Id(sid): Id<SessionId>,
    WebhookPath(entry): WebhookPath,
) -> ApiResult<Response> {
    caller.require(Resource::Decisions, Access::Read)?;
    let a = state
        .store
        .session_webhook_attempt(caller.app.id, sid, entry)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let queued = state
        .store
        .resend_delivery(
            caller.app.id,
            a.destination_id,
            a.delivery_id,
            crate::clock::now(),
        )
        .await?
        .ok_or_else(ApiError::not_found)?;
    // The sender (on this node or another) makes the attempt; wait for it to be recorded.
    let deadline = tokio::time::Instant::now() + RESEND_WAIT;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        if let Some((_, attempts)) = state
            .store
            .get_delivery(caller.app.id, a.destination_id, a.delivery_id)
            .await?
        {
            if let Some(newest) = attempts.iter().rev().find(|n| n.attempt > queued.attempts) {
                return Ok(Json(log_entry(newest)).into_response());
            }
        }
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "detail": "Queued for sending again; the attempt appears in the session's webhook log once made.",
            "delivery_id": a.delivery_id,
            "event_id": a.event_id,
        })),
    )
        .into_response())
}
