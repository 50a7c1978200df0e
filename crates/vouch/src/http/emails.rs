//! `GET /v3/session/{id}/emails/`: the emails asked for a session and what became of them.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::SecondsFormat;
use serde_json::{json, Value};
use vouch_core::scopes::{Access, Resource};
use vouch_store::EmailJob;

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::openapi::ErrorBody;
use super::path_uuid;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v3/session/{id}/emails/", get(list))
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
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(Resource::Sessions, Access::Read)?;
    let sid = path_uuid(&id)?;
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
