//! Manual review: update-status (§4.6), step status and the review trail (§4.7).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Duration;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use vouch_core::review::review_json;

use super::auth::*;
use super::error::{ApiError, ApiResult};
use super::json::{json_value, Body};
use super::openapi::{ErrorBody, FieldErrorsBody};
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

/// One step to send back: `{"node_id", "feature", "reason"}` (a bare node id string also works).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct NodeToResubmit {
    node_id: String,
    /// A feature of the vocabulary, or one of its aliases.
    feature: String,
    reason: Option<String>,
}

/// Body of `PATCH /v3/session/{id}/update-status/`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct UpdateStatusBody {
    /// `Approved`, `Declined` or `Resubmitted`.
    new_status: String,
    /// At most 10,000 characters.
    comment: Option<String>,
    /// Steps to redo (Resubmitted only; schema-validated for every target). Omitted, `null` or
    /// `[]`: selected automatically.
    nodes_to_resubmit: Option<Vec<NodeToResubmit>>,
    send_email: Option<bool>,
    /// Required when `send_email` is true.
    email_address: Option<String>,
    /// Default `en`; unsupported languages fall back to `en`.
    email_language: Option<String>,
    /// From a preview: refused with `409` unless this change sends exactly that email.
    email_preview_token: Option<String>,
}

/// `200` answer of update-status.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SessionIdBody {
    session_id: Uuid,
}

/// Body of the step update.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct StepStatusBody {
    /// `Approved`, `Declined` or `In Review`.
    new_status: String,
    comment: Option<String>,
}

/// Body of a review note.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct NoteBody {
    comment: String,
    /// Recorded on the row; the session's status does not change.
    new_status: Option<String>,
}

/// A review row.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReviewRow {
    uuid: Uuid,
    activity_type: String,
    /// `API_KEY`, `CONSOLE_USER` or `SYSTEM`.
    actor_type: String,
    actor_display: String,
    previous_status: Option<String>,
    new_status: Option<String>,
    comment: Option<String>,
    #[schema(value_type = Object)]
    metadata: Value,
    created_at: String,
}

#[utoipa::path(patch, path = "/v3/session/{id}/update-status/", tag = "review",
    request_body = UpdateStatusBody, params(("id" = String, Path, description = "User or business session id")),
    responses((status = 200, body = SessionIdBody),
        (status = 400, body = ErrorBody, description = "wrong_current_status, same_status, nothing_to_resubmit, or field-keyed errors"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody, description = "Backend-only resubmission repeated within 30 s; see Retry-After")),
    security(("api_key" = [])))]
async fn session_status(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    Id(session_id): Id,
    Body(bytes): Body,
) -> ApiResult<Json<Value>> {
    // Malformed JSON is judged by the core after the current status (§4.6's order).
    let body = json_value(&bytes);
    let token = body
        .as_ref()
        .ok()
        .and_then(|b| b.get("email_preview_token"));
    if token.is_some_and(|t| !t.is_string() && !t.is_null()) {
        return Err(ApiError::field(
            "email_preview_token",
            "Not a valid string.",
        ));
    }
    let preview_token = token.and_then(Value::as_str).map(String::from);
    update_status(
        state.store.as_ref(),
        UpdateStatus {
            app_id: caller.app.id,
            session_id,
            body,
            actor_display: caller.key_display.clone(),
            public_url: state.config.public_url.clone(),
            link_ttl: Duration::from_std(state.config.sessions.link_ttl).unwrap_or(Duration::MAX),
            send_in_sandbox: state.config.mailer.send_in_sandbox,
            preview_token,
            preview_key: state.preview_key.clone(),
        },
    )
    .await?;
    Ok(Json(json!({"session_id": session_id})))
}

#[utoipa::path(patch, path = "/v3/session/{id}/features/{node_id}/update-status/", tag = "review",
    request_body = StepStatusBody, params(("id" = String, Path), ("node_id" = String, Path)),
    responses((status = 200, description = "`{session_id, node_id, feature_type, new_status}`"),
        (status = 400, body = ErrorBody, description = "same_status or field-keyed errors"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
async fn step_status(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    Id(session_id): Id,
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
            actor_display: caller.key_display.clone(),
        },
    )
    .await?;
    Ok(Json(answer))
}

#[utoipa::path(get, path = "/v3/sessions/{id}/reviews/", tag = "review",
    params(("id" = String, Path), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, description = "`{count, next, previous, results: [review row]}`, oldest first"),
        (status = 400, body = FieldErrorsBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
async fn list_reviews(
    State(state): State<AppState>,
    caller: Can<ReadSessions>,
    Id(session_id): Id,
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

#[utoipa::path(post, path = "/v3/sessions/{id}/reviews/", tag = "review", request_body = NoteBody,
    params(("id" = String, Path)),
    responses((status = 201, body = ReviewRow), (status = 400, body = FieldErrorsBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
async fn create_note(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    Id(session_id): Id,
    Body(bytes): Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body = json_value(&bytes)?;
    let row = add_note(
        state.store.as_ref(),
        caller.app.id,
        session_id,
        &body,
        &caller.key_display,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(review_json(&row))))
}
