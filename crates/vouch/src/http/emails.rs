//! `GET /v3/session/{id}/emails/`: the emails asked for a session and what became of them.

use axum::extract::State;
use axum::Json;
use chrono::SecondsFormat;
use serde_json::{json, Value};
use uuid::Uuid;
use vouch_store::EmailJob;

use super::auth::*;
use super::error::{ApiError, ApiResult};
use super::json::Body;
use super::openapi::ErrorBody;
use crate::service::preview::{preview, PreviewRequest};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(resubmission_preview))
        .routes(routes!(decision_preview))
}

/// Body of the resubmission preview: the update-status fields of a resubmission.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ResubmissionPreviewBody {
    #[schema(value_type = Option<Vec<Object>>)]
    nodes_to_resubmit: Option<Value>,
    email_address: Option<String>,
    email_language: Option<String>,
}

/// Body of the decision email preview.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct DecisionPreviewBody {
    /// `Approved` or `Declined`.
    new_status: String,
    email_address: Option<String>,
    email_language: Option<String>,
}

/// What would be sent.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PreviewResponse {
    recipient: Option<String>,
    subject: String,
    text: String,
    html: String,
    language: String,
    will_be_sent: bool,
    /// `no_user_action`, `no_recipient` or `sandbox`.
    not_sent_reason: Option<String>,
    requires_user_action: bool,
    /// Pass back as `email_preview_token` on update-status (15 minutes).
    preview_token: String,
}

async fn run_preview(
    state: &AppState,
    caller: &Caller,
    session_id: Uuid,
    bytes: &[u8],
    status: Option<&str>,
) -> ApiResult<Json<Value>> {
    let mut body: Value = super::json::parse(bytes)?;
    if let (Some(s), Some(obj)) = (status, body.as_object_mut()) {
        obj.insert("new_status".into(), Value::String(s.into()));
    }
    if status.is_none() {
        match body.get("new_status").and_then(Value::as_str) {
            Some("Approved" | "Declined") => {}
            Some(other) => {
                return Err(ApiError::field(
                    "new_status",
                    format!("\"{other}\" is not a valid choice."),
                ))
            }
            None => return Err(ApiError::field("new_status", "This field is required.")),
        }
    }
    let answer = preview(
        state.store.as_ref(),
        PreviewRequest {
            app_id: caller.app.id,
            session_id,
            body,
            public_url: state.config.public_url.clone(),
            send_in_sandbox: state.config.mailer.send_in_sandbox,
            key: state.preview_key.clone(),
        },
    )
    .await?;
    Ok(Json(answer))
}

#[utoipa::path(post, path = "/v3/session/{id}/resubmission-preview/", tag = "emails", request_body = ResubmissionPreviewBody,
    params(("id" = String, Path)),
    responses((status = 200, body = PreviewResponse), (status = 400, body = ErrorBody, description = "As update-status would answer"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
async fn resubmission_preview(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    Id(id): Id,
    Body(bytes): Body,
) -> ApiResult<Json<Value>> {
    run_preview(&state, &caller, id, &bytes, Some("Resubmitted")).await
}

#[utoipa::path(post, path = "/v3/session/{id}/decision-email-preview/", tag = "emails", request_body = DecisionPreviewBody,
    params(("id" = String, Path)),
    responses((status = 200, body = PreviewResponse), (status = 400, body = ErrorBody, description = "As update-status would answer"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
async fn decision_preview(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    Id(id): Id,
    Body(bytes): Body,
) -> ApiResult<Json<Value>> {
    run_preview(&state, &caller, id, &bytes, None).await
}

pub fn email_json(j: &EmailJob) -> Value {
    let ts = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Micros, true);
    json!({
        "uuid": j.id,
        "review_uuid": j.review_uuid,
        "kind": j.kind,
        "status": j.status,
        "recipient": j.recipient,
        "language": j.payload.get("language").cloned().unwrap_or(Value::String(j.language.clone())),
        "requested_language": j.language,
        "subject": j.payload.get("subject"),
        "state": j.state,
        "not_sent_reason": j.not_sent_reason,
        "attempts": j.attempts,
        "last_error": j.last_error,
        "message_id": j.message_id,
        "created_at": ts(j.created_at),
        "sent_at": j.sent_at.map(ts),
    })
}

#[utoipa::path(get, path = "/v3/session/{id}/emails/", tag = "emails",
    params(("id" = String, Path)),
    responses((status = 200, description = "`{count, results: [email]}`: state `pending`, `sent`, `failed`, `not_sent` (with `not_sent_reason`) or `dropped`, oldest first"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Can<ReadSessions>,
    Id(sid): Id,
) -> ApiResult<Json<Value>> {
    state
        .store
        .get_session(caller.app.id, sid)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let jobs = state.store.email_jobs(sid).await?;
    Ok(Json(
        json!({"count": jobs.len(), "results": jobs.iter().map(email_json).collect::<Vec<_>>()}),
    ))
}
