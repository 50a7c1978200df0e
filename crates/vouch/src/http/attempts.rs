//! `POST /v3/session/{id}/attempts/` (§4.5).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use vouch_core::attempt::ActorType;
use vouch_core::steps::NewResult;
use vouch_core::SessionId;
use vouch_core::{AttemptStatus, FieldErrors};
use vouch_store::{Idem, Written};

use super::auth::*;
use super::error::ApiResult;
use super::json::{parse, Body};
use super::openapi::{ErrorAnswer, ErrorBody};
use super::{idempotency, replay};
use crate::service::attempts::{record, RecordAttempt};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Warning {
    risk: Option<String>,
    short_description: Option<String>,
    long_description: Option<String>,
    log_type: Option<String>,
}

/// Body of `POST /v3/session/{id}/attempts/`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AttemptBody {
    /// A node of the session's workflow (`nodes[].node_id` of the workflow).
    #[schema(value_type = String, required = true, min_length = 1, example = "feature_ocr_1")]
    node_id: Option<String>,
    #[schema(
        value_type = String,
        required = true,
        pattern = "^(Approved|Declined|In Review|Not Finished|Expired)$"
    )]
    status: Option<String>,
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
    warnings: Option<Vec<Warning>>,
}

/// `201` answer; known before the write, so an idempotent retry replays it exactly.
#[derive(Serialize, ToSchema)]
pub struct AttemptCreated {
    attempt_id: Uuid,
    session_id: SessionId,
    node_id: String,
    #[schema(value_type = String, example = "Approved")]
    status: AttemptStatus,
}

#[utoipa::path(post, path = "/v3/session/{id}/attempts/", operation_id = "record_attempt", tag = "sessions", request_body = AttemptBody,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[\\x21-\\x7e]+$", description = "A retried result with the same key and body is not recorded twice")),
    responses((status = 201, body = AttemptCreated), (status = 400, body = ErrorAnswer),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("api_key" = ["decisions:write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Can<WriteDecisions>,
    Id(session_id): Id<SessionId>,
    headers: HeaderMap,
    Body(bytes): Body,
) -> ApiResult<Response> {
    let route = format!("POST /v3/session/{session_id}/attempts/");
    let idem = idempotency::key(&headers, caller.app.id, &route, &bytes)?;
    if let Some(key) = &idem {
        if let Some(Written::Replayed { status_code, body }) =
            state.store.idempotent_response(key, key.now).await?
        {
            return Ok(replay(status_code, body));
        }
    }
    let body: AttemptBody = parse(&bytes)?;
    let mut errors = FieldErrors::new();
    let node_id = match body.node_id {
        Some(n) if !n.is_empty() => Some(n),
        _ => {
            errors.add("node_id", "This field is required.");
            None
        }
    };
    let status = match body.status.as_deref() {
        None => {
            errors.add("status", "This field is required.");
            None
        }
        Some(s) => {
            let parsed = AttemptStatus::parse(s);
            if parsed.is_none() {
                errors.add("status", format!("\"{s}\" is not a valid choice."));
            }
            parsed
        }
    };
    let data = match body.data {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v,
        Some(_) => {
            errors.add("data", "Must be a JSON object.");
            Value::Null
        }
    };
    let warnings: Vec<Value> = body
        .warnings
        .unwrap_or_default()
        .into_iter()
        .map(|w| {
            json!({
                "risk": w.risk,
                "short_description": w.short_description,
                "long_description": w.long_description,
                "log_type": w.log_type,
            })
        })
        .collect();
    errors.into_result()?;
    let (Some(node_id), Some(status)) = (node_id, status) else {
        return Err(FieldErrors::single("node_id", "This field is required.").into());
    };
    let attempt_id = Uuid::now_v7();
    let answer = super::json::to_json(AttemptCreated {
        attempt_id,
        session_id,
        node_id: node_id.clone(),
        status,
    });
    let stored = answer.clone();
    let idem = idem.map(|key| Idem {
        key,
        status_code: 201,
        render: Box::new(move |_: &()| stored),
    });
    let written = record(
        state.store.as_ref(),
        RecordAttempt {
            app_id: caller.app.id,
            session_id,
            attempt_id,
            result: NewResult {
                node_id,
                status,
                data,
                warnings: Value::Array(warnings),
                actor: ActorType::ApiKey,
            },
        },
        idem,
    )
    .await?;
    Ok(match written {
        Written::Fresh(()) => (StatusCode::CREATED, Json(answer)).into_response(),
        Written::Replayed { status_code, body } => replay(status_code, body),
    })
}
