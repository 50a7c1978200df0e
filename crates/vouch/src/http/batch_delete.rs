//! `POST /v3/sessions/delete/`: several user sessions erased at once, by number or all of them;
//! up to 20 in the request, more as a job whose progress `GET /v3/sessions/delete/{id}/` reads.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use vouch_core::FieldErrors;
use vouch_store::{BatchJob, DeletionAnswer, DeletionInput, DeletionRequest, Idem, Written};

use super::auth::*;
use super::error::{ApiError, ApiResult};
use super::json::{parse, Body};
use super::openapi::{ErrorAnswer, ErrorBody};
use super::{idempotency, replay};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(delete_batch))
        .routes(routes!(deletion_job))
}

/// Numbers one request may name.
const MAX_NUMBERS: usize = 100_000;

/// Body of `POST /v3/sessions/delete/`: `session_numbers`, or `delete_all: true`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct BatchDeleteBody {
    /// Session numbers (as numbers or numeric strings); unknown ones are reported, not fatal.
    #[schema(value_type = Option<Vec<i64>>, max_items = 100000)]
    session_numbers: Option<Value>,
    /// Every user session of the application (created before this request).
    delete_all: Option<bool>,
}

fn numbers(v: &Value, errors: &mut FieldErrors) -> Vec<i64> {
    let Some(items) = v.as_array() else {
        errors.add("session_numbers", "Expected a list of session numbers.");
        return Vec::new();
    };
    if items.len() > MAX_NUMBERS {
        errors.add(
            "session_numbers",
            format!("Ensure this field has no more than {MAX_NUMBERS} elements."),
        );
        return Vec::new();
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let n = match item {
            // 7 and 7.0 are the same JSON integer.
            Value::Number(n) => n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && (1.0..9.0e18).contains(f))
                    .map(|f| f as i64)
            }),
            Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse().ok()
            }
            _ => None,
        };
        match n {
            Some(n) if n >= 1 => out.push(n),
            _ => errors.add(
                format!("session_numbers[{i}]"),
                "A valid session number is required.",
            ),
        }
    }
    out
}

fn status_of(job: &BatchJob) -> &'static str {
    match job.state.as_str() {
        "done" => "COMPLETED",
        "failed" => "FAILED",
        _ if job.progress.deleted > 0 => "PROCESSING",
        _ => "PENDING",
    }
}

fn job_json(job: &BatchJob, public_url: &str) -> Value {
    let p = &job.progress;
    json!({
        "job_id": job.id,
        "status": status_of(job),
        "delete_all": matches!(job.input, DeletionInput::AllBefore(_)),
        "total": p.total,
        "deleted": p.deleted,
        "remaining": (p.total - p.deleted).max(0),
        "not_found": p.not_found,
        "last_error": job.last_error,
        "progress_url": format!("{public_url}/v3/sessions/delete/{}/", job.id),
        "created_at": vouch_core::time::wire(job.created_at),
        "updated_at": vouch_core::time::wire(job.updated_at),
        "completed_at": job.done_at.map(vouch_core::time::wire),
    })
}

fn answer_json(a: &DeletionAnswer, public_url: &str) -> Value {
    match a {
        DeletionAnswer::Done { deleted, not_found } => {
            let mut results: Vec<Value> = deleted
                .iter()
                .map(|(n, id)| json!({"session_number": n, "session_id": id, "status": "deleted"}))
                .collect();
            results.extend(
                not_found.iter().map(
                    |n| json!({"session_number": n, "session_id": null, "status": "not_found"}),
                ),
            );
            json!({
                "deleted_count": deleted.len(),
                "not_found": not_found,
                "results": results,
            })
        }
        DeletionAnswer::Queued(job) => job_json(job, public_url),
    }
}

fn status_code(a: &DeletionAnswer) -> StatusCode {
    match a {
        DeletionAnswer::Done { .. } => StatusCode::OK,
        DeletionAnswer::Queued(_) => StatusCode::ACCEPTED,
    }
}

#[utoipa::path(post, path = "/v3/sessions/delete/", operation_id = "delete_sessions", tag = "sessions", request_body = BatchDeleteBody,
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[\\x21-\\x7e]+$", description = "Replays the stored response for 24 h")),
    responses((status = 200, description = "Up to 20 matched user sessions erased now (as single deletion erases): `{deleted_count, not_found, results: [{session_number, session_id, status: deleted|not_found}]}`"),
        (status = 202, description = "More: a job erases them; `{job_id, status, total, deleted, remaining, not_found, progress_url, …}`",
            links(("get_deletion_job" = (operation_id = "get_deletion_job", parameters(("id" = "$response.body#/job_id")))))),
        (status = 400, body = ErrorAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("api_key" = ["sessions:write"])))]
async fn delete_batch(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    headers: HeaderMap,
    Body(bytes): Body,
) -> ApiResult<Response> {
    let idem = idempotency::key(&headers, caller.app.id, "POST /v3/sessions/delete/", &bytes)?;
    let body: BatchDeleteBody = parse(&bytes)?;
    let mut errors = FieldErrors::new();
    let listed = match &body.session_numbers {
        None | Some(Value::Null) => None,
        Some(v) => Some(numbers(v, &mut errors)),
    };
    let all = body.delete_all.unwrap_or(false);
    match (&listed, all) {
        (Some(n), true) if !n.is_empty() => errors.add(
            "delete_all",
            "Give session_numbers or delete_all: true, not both.",
        ),
        (None, false) => errors.add(
            "session_numbers",
            "Give the session numbers to delete, or delete_all: true.",
        ),
        (Some(n), false) if n.is_empty() && errors.is_empty() => errors.add(
            "session_numbers",
            "Give at least one session number, or delete_all: true.",
        ),
        _ => {}
    }
    errors.into_result()?;
    let request = DeletionRequest {
        numbers: if all { None } else { listed },
        now: crate::clock::now(),
        job_id: Uuid::new_v4(),
    };
    let public_url = state.config.public_url.clone();
    let idem = idem.map(|key| Idem {
        key,
        // The stored status is not used: a replay's status follows from its body (below).
        status_code: 200,
        render: Box::new(move |a: &DeletionAnswer| answer_json(a, &public_url)),
    });
    match state
        .store
        .request_deletion(caller.app.id, request, idem)
        .await?
    {
        Written::Fresh(a) => {
            let body = answer_json(&a, &state.config.public_url);
            Ok((status_code(&a), Json(body)).into_response())
        }
        // A queued deletion's answer names its job (its progress is read with GET).
        Written::Replayed { body, .. } => {
            let code = if body.get("job_id").is_some() {
                202
            } else {
                200
            };
            Ok(replay(code, body))
        }
    }
}

#[utoipa::path(get, path = "/v3/sessions/delete/{id}/", operation_id = "get_deletion_job", tag = "sessions",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "A batch deletion job's progress: `{job_id, status: PENDING|PROCESSING|COMPLETED|FAILED, total, deleted, remaining, not_found, …}`"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["sessions:read"])))]
async fn deletion_job(
    State(state): State<AppState>,
    caller: Can<ReadSessions>,
    Id(id): Id<Uuid>,
) -> ApiResult<Json<Value>> {
    let job = state
        .store
        .batch_job(caller.app.id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(job_json(&job, &state.config.public_url)))
}
