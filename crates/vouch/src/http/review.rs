//! Manual review: update-status (§4.6), step status and the review trail (§4.7).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Duration;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vouch_core::review::{review_json, ReviewRow};
use vouch_core::SessionId;

use super::auth::*;
use super::error::{ApiError, ApiResult};
use super::json::{json_value, Body};
use super::openapi::{ErrorAnswer, ErrorBody};
use super::pagination::{page_links, PageQuery};
use crate::service::reviews::{add_note, update_step, StepUpdate};
use crate::service::update_status::{update_status, UpdateStatus};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(session_status))
        .routes(routes!(step_status))
        .routes(routes!(list_reviews, create_note))
}

/// `200` answer of update-status.
#[derive(Serialize, ToSchema)]
pub struct SessionIdBody {
    session_id: SessionId,
}

#[utoipa::path(patch, path = "/v3/session/{id}/update-status/", operation_id = "update_session_status", tag = "review",
    request_body = vouch_core::update_status::UpdateStatusBody, params(("id" = String, Path, description = "User or business session id")),
    responses((status = 200, body = SessionIdBody),
        (status = 400, body = ErrorAnswer, description = "wrong_current_status, same_status, nothing_to_resubmit, or field-keyed errors"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody, description = "Backend-only resubmission repeated within 30 s; see Retry-After")),
    security(("api_key" = ["sessions:write"])))]
async fn session_status(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    Id(session_id): Id<SessionId>,
    Body(bytes): Body,
) -> ApiResult<Json<SessionIdBody>> {
    // Malformed JSON is judged by the core after the current status (§4.6's order).
    let body = json_value(&bytes);
    update_status(
        state.store.as_ref(),
        UpdateStatus {
            app_id: caller.app.id,
            session_id,
            body,
            actor_type: vouch_core::attempt::ActorType::ApiKey,
            actor_display: caller.key_display.clone(),
            expected_version: None,
            public_url: state.config.public_url.clone(),
            link_ttl: Duration::from_std(state.config.sessions.link_ttl).unwrap_or(Duration::MAX),
            send_in_sandbox: state.config.mailer.send_in_sandbox,
            preview_key: state.preview_key.clone(),
        },
    )
    .await?;
    Ok(Json(SessionIdBody { session_id }))
}

#[utoipa::path(patch, path = "/v3/session/{id}/features/{node_id}/update-status/", operation_id = "update_step_status", tag = "review",
    request_body = vouch_core::steps::StepStatusBody, params(("id" = String, Path), ("node_id" = String, Path)),
    responses((status = 200, description = "`{session_id, node_id, feature_type, new_status}`"),
        (status = 400, body = ErrorAnswer, description = "same_status or field-keyed errors"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = ["sessions:write"])))]
async fn step_status(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    Id(session_id): Id<SessionId>,
    Path((_, node_id)): Path<(String, String)>,
    Body(bytes): Body,
) -> ApiResult<Json<Value>> {
    let body = json_value(&bytes)?;
    let answer = update_step(
        state.store.as_ref(),
        StepUpdate {
            app_id: caller.app.id,
            session_id,
            node_id,
            body,
            actor_type: vouch_core::attempt::ActorType::ApiKey,
            actor_display: caller.key_display.clone(),
        },
    )
    .await?;
    Ok(Json(answer))
}

#[utoipa::path(get, path = "/v3/sessions/{id}/reviews/", operation_id = "list_reviews", tag = "review",
    params(("id" = String, Path), ("limit" = Option<i64>, Query, minimum = 1, maximum = 100), ("offset" = Option<i64>, Query, minimum = 0)),
    responses((status = 200, description = "`{count, next, previous, results: [review row]}`, oldest first"),
        (status = 400, body = ErrorAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("api_key" = ["sessions:read"])))]
async fn list_reviews(
    State(state): State<AppState>,
    caller: Can<ReadSessions>,
    Id(session_id): Id<SessionId>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = PageQuery::parse(query.as_deref())?;
    state
        .store
        .get_session(caller.app.id, session_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let rows = state.store.reviews(session_id).await?;
    let count = rows.len() as i64;
    let page: Vec<Value> = rows
        .iter()
        .skip(q.page.offset as usize)
        .take(q.page.limit as usize)
        .map(review_json)
        .collect();
    let path = format!("/v3/sessions/{session_id}/reviews/");
    let (next, previous) = page_links(&state.config.public_url, &path, &q, count);
    Ok(Json(
        json!({"count": count, "next": next, "previous": previous, "results": page}),
    ))
}

#[utoipa::path(post, path = "/v3/sessions/{id}/reviews/", operation_id = "add_review_note", tag = "review", request_body = vouch_core::steps::NoteBody,
    params(("id" = String, Path)),
    responses((status = 201, body = ReviewRow), (status = 400, body = ErrorAnswer),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = ["sessions:write"])))]
async fn create_note(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    Id(session_id): Id<SessionId>,
    Body(bytes): Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body = json_value(&bytes)?;
    let row = add_note(
        state.store.as_ref(),
        caller.app.id,
        session_id,
        &body,
        vouch_core::attempt::ActorType::ApiKey,
        &caller.key_display,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(review_json(&row))))
}
