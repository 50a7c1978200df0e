//! `GET /v3/session/{id}/emails/`: the emails asked for a session and what became of them.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use vouch_core::SessionId;
use vouch_store::{EmailJob, NotSentReason};

use super::auth::*;
use super::error::{ApiError, ApiResult};
use super::json::{parse, Body};
use super::openapi::{ErrorAnswer, ErrorBody};
use crate::service::preview::{preview, Preview, PreviewRequest};
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
#[derive(Deserialize, ToSchema)]
pub struct ResubmissionPreviewBody {
    /// As on update-status: omitted, `null` or `[]` chooses the failed steps.
    #[schema(value_type = Option<Vec<vouch_core::update_status::NodeToResubmit>>)]
    nodes_to_resubmit: Option<Value>,
    /// Without one, the preview shows the email and says it would not be sent.
    #[schema(value_type = Option<String>, format = "email")]
    email_address: Option<Value>,
    #[schema(value_type = Option<String>, max_length = 16)]
    email_language: Option<Value>,
}

/// Body of the decision email preview.
#[derive(Deserialize, ToSchema)]
pub struct DecisionPreviewBody {
    #[schema(value_type = String, required = true, pattern = "^(Approved|Declined)$", example = "Approved")]
    new_status: Option<Value>,
    #[schema(value_type = Option<String>, format = "email")]
    email_address: Option<Value>,
    #[schema(value_type = Option<String>, max_length = 16)]
    email_language: Option<Value>,
}

/// The update-status body a preview stands for.
fn update_body(fields: [(&str, Option<Value>); 4]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
            .collect(),
    )
}

/// What would be sent.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct PreviewResponse {
    recipient: Option<String>,
    subject: String,
    text: String,
    html: String,
    #[schema(example = "en")]
    language: &'static str,
    will_be_sent: bool,
    /// `no_user_action`, `no_recipient` or `sandbox`.
    #[schema(value_type = Option<String>)]
    not_sent_reason: Option<NotSentReason>,
    requires_user_action: bool,
    /// Pass back as `email_preview_token` on update-status (15 minutes).
    preview_token: String,
}

impl From<Preview> for PreviewResponse {
    fn from(p: Preview) -> Self {
        let Preview { plan, token } = p;
        PreviewResponse {
            recipient: plan.recipient,
            subject: plan.content.subject,
            text: plan.content.text,
            html: plan.content.html,
            language: plan.content.language,
            will_be_sent: plan.not_sent_reason.is_none(),
            not_sent_reason: plan.not_sent_reason,
            requires_user_action: plan.requires_user_action,
            preview_token: token,
        }
    }
}

async fn run_preview(
    state: &AppState,
    caller: &Caller,
    session_id: SessionId,
    body: Value,
) -> ApiResult<Json<PreviewResponse>> {
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
    Ok(Json(answer.into()))
}

#[utoipa::path(post, path = "/v3/session/{id}/resubmission-preview/", operation_id = "preview_resubmission_email", tag = "emails", request_body = ResubmissionPreviewBody,
    params(("id" = String, Path)),
    responses((status = 200, body = PreviewResponse), (status = 400, body = ErrorAnswer, description = "As update-status would answer"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["sessions:write"])))]
async fn resubmission_preview(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    Id(id): Id<SessionId>,
    Body(bytes): Body,
) -> ApiResult<Json<PreviewResponse>> {
    let b: ResubmissionPreviewBody = parse(&bytes)?;
    let body = update_body([
        ("new_status", Some(Value::from("Resubmitted"))),
        ("nodes_to_resubmit", b.nodes_to_resubmit),
        ("email_address", b.email_address),
        ("email_language", b.email_language),
    ]);
    run_preview(&state, &caller, id, body).await
}

#[utoipa::path(post, path = "/v3/session/{id}/decision-email-preview/", operation_id = "preview_decision_email", tag = "emails", request_body = DecisionPreviewBody,
    params(("id" = String, Path)),
    responses((status = 200, body = PreviewResponse), (status = 400, body = ErrorAnswer, description = "As update-status would answer"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["sessions:write"])))]
async fn decision_preview(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    Id(id): Id<SessionId>,
    Body(bytes): Body,
) -> ApiResult<Json<PreviewResponse>> {
    let b: DecisionPreviewBody = parse(&bytes)?;
    match b.new_status.as_ref().and_then(Value::as_str) {
        Some("Approved" | "Declined") => {}
        Some(other) => {
            return Err(ApiError::field(
                "new_status",
                format!("\"{other}\" is not a valid choice."),
            ))
        }
        None => return Err(ApiError::field("new_status", "This field is required.")),
    }
    let body = update_body([
        ("new_status", b.new_status),
        ("nodes_to_resubmit", None),
        ("email_address", b.email_address),
        ("email_language", b.email_language),
    ]);
    run_preview(&state, &caller, id, body).await
}

pub fn email_json(j: &EmailJob) -> Value {
    let ts = vouch_core::time::wire;
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

#[utoipa::path(get, path = "/v3/session/{id}/emails/", operation_id = "list_session_emails", tag = "emails",
    params(("id" = String, Path)),
    responses((status = 200, description = "`{count, results: [email]}`: state `pending`, `sent`, `failed`, `not_sent` (with `not_sent_reason`) or `dropped`, oldest first"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["sessions:read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Can<ReadSessions>,
    Id(sid): Id<SessionId>,
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
