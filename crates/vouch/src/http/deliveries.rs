//! The delivery log and resends (§5).

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
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
    security(("api_key" = [])))]
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
    security(("api_key" = [])))]
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
    security(("api_key" = [])))]
async fn resend(
    State(state): State<AppState>,
    caller: Can<WriteWebhooks>,
    Id(dest): Id<DestinationId>,
    DeliveryPath(delivery): DeliveryPath,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let d = state
        .store
        .resend_delivery(caller.app.id, dest, delivery, Utc::now())
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok((StatusCode::ACCEPTED, Json(delivery_json(&d))))
}

#[utoipa::path(get, path = "/v3/session/{id}/webhooks/", operation_id = "list_session_webhooks", tag = "webhooks",
    params(("id" = String, Path), ("limit" = Option<i64>, Query, minimum = 1, maximum = 100), ("offset" = Option<i64>, Query, minimum = 0)),
    responses((status = 200, description = "`{count, next, previous, results: [attempt]}`: every delivery attempt for the session, newest first"),
        (status = 400, body = ErrorAnswer), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
async fn session_log(
    State(state): State<AppState>,
    caller: Can<ReadWebhooks>,
    Id(sid): Id<SessionId>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = PageQuery::parse(query.as_deref())?;
    state
        .store
        .get_session(caller.app.id, sid)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let (rows, count) = state
        .store
        .session_webhook_attempts(caller.app.id, sid, q.page)
        .await?;
    let path = format!("/v3/session/{sid}/webhooks/");
    let (next, previous) = page_links(&state.config.public_url, &path, &q, count);
    Ok(Json(
        json!({"count": count, "next": next, "previous": previous,
        "results": rows.iter().map(attempt_json).collect::<Vec<_>>()}),
    ))
}
