//! Reusable KYC: `POST /v3/session/{id}/share/` makes a short-lived token bound to another
//! application; `POST /v3/session/import-shared/` redeems it there once, as a fresh session with
//! the same step results (`In Review` unless `trust_review`). Both trails record it.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Duration;
use rand::distr::{Alphanumeric, SampleString};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use vouch_core::attempt::ActorType;
use vouch_core::sharing::{
    import_into, share_recorded, shareable, sign, verify, ShareClaims, Shared, TokenError,
    DEFAULT_TTL_SECONDS, TTL_SECONDS,
};
use vouch_core::steps::Actor;
use vouch_core::{AppId, FieldErrors, SessionId, WorkflowId};
use vouch_store::{Idem, Imported, NewSession, SharedImport, Written};

use super::auth::*;
use super::error::{ApiError, ApiResult};
use super::json::{parse, Body};
use super::openapi::{ErrorAnswer, ErrorBody};
use super::sessions::created_json;
use super::{idempotency, replay};
use crate::service::modify;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(share))
        .routes(routes!(import_shared))
}

/// The server's key for share tokens, made once and shared by every node.
async fn key(state: &AppState) -> ApiResult<Vec<u8>> {
    let fresh = Alphanumeric.sample_string(&mut rand::rng(), 64);
    Ok(state
        .store
        .secret("share_token_key", fresh)
        .await?
        .into_bytes())
}

/// Body of `POST /v3/session/{id}/share/`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ShareBody {
    /// The receiving application's id (`vouch apps list`).
    #[schema(value_type = Option<Uuid>)]
    for_application_id: Option<Value>,
    /// The same, as Didit's MCP server names it.
    #[schema(value_type = Option<Uuid>)]
    partner_client_id: Option<Value>,
    /// The token's lifetime: 60 to 86,400 seconds (default 3,600).
    #[schema(value_type = Option<i64>, minimum = 60, maximum = 86400)]
    ttl_in_seconds: Option<Value>,
}

#[utoipa::path(post, path = "/v3/session/{id}/share/", operation_id = "share_session", tag = "sessions", request_body = ShareBody,
    params(("id" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[\\x21-\\x7e]+$", description = "Replays the stored response for 24 h")),
    responses((status = 200, description = "`{share_token, for_application_id, session_id, expires_at}`: a signed token the receiving application redeems once with import-shared"),
        (status = 400, body = ErrorAnswer, description = "field errors, or a session not Approved, Declined or In Review"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = ["sessions:write"])))]
async fn share(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    Id(id): Id<SessionId>,
    headers: HeaderMap,
    Body(bytes): Body,
) -> ApiResult<Response> {
    let idem = idempotency::key(
        &headers,
        caller.app.id,
        &format!("POST /v3/session/{id}/share/"),
        &bytes,
    )?;
    let body: ShareBody = parse(&bytes)?;
    let mut errors = FieldErrors::new();
    let (field, raw) = match (&body.for_application_id, &body.partner_client_id) {
        (Some(v), _) if !v.is_null() => ("for_application_id", Some(v)),
        (_, Some(v)) if !v.is_null() => ("partner_client_id", Some(v)),
        _ => ("for_application_id", None),
    };
    let receiver = match raw.map(|v| v.as_str().and_then(|s| s.parse::<Uuid>().ok())) {
        None => {
            errors.add(field, "This field is required.");
            None
        }
        Some(None) => {
            errors.add(field, "Must be a valid UUID.");
            None
        }
        Some(Some(u)) => Some(AppId::from(u)),
    };
    let ttl = match &body.ttl_in_seconds {
        None | Some(Value::Null) => DEFAULT_TTL_SECONDS,
        Some(v) => match v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        {
            Some(n) if TTL_SECONDS.contains(&n) => n,
            _ => {
                errors.add(
                    "ttl_in_seconds",
                    "Ensure this value is an integer between 60 and 86400.",
                );
                DEFAULT_TTL_SECONDS
            }
        },
    };
    errors.into_result()?;
    let receiver = receiver.ok_or_else(|| ApiError::field(field, "This field is required."))?;
    if receiver == caller.app.id {
        return Err(ApiError::field(
            field,
            "A session is shared with another application, not its own.",
        ));
    }
    if state.store.find_app(&receiver.to_string()).await?.is_none() {
        return Err(ApiError::field(field, "No application with this id."));
    }
    let key = key(&state).await?;
    let now = crate::clock::now();
    let session = state
        .store
        .get_session(caller.app.id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let claims = ShareClaims {
        jti: Uuid::new_v4(),
        session_id: id,
        session_kind: session.kind,
        from_application_id: caller.app.id,
        for_application_id: receiver,
        iat: now.timestamp(),
        exp: now.timestamp() + ttl,
    };
    let answer = json!({
        "share_token": sign(&claims, &key),
        "for_application_id": receiver,
        "session_id": id,
        "expires_at": vouch_core::time::wire(now + Duration::seconds(ttl)),
    });
    let stored = answer.clone();
    let idem = idem.map(|key| Idem {
        key,
        status_code: 200,
        render: Box::new(move |_: &()| stored),
    });
    let display = caller.key_display.clone();
    let written = modify(state.store.as_ref(), caller.app.id, id, idem, move |b| {
        let who = Actor {
            actor_type: ActorType::ApiKey,
            display: &display,
        };
        Ok((Some(share_recorded(b, &claims, None, who, now)?), ()))
    })
    .await?;
    Ok(match written {
        Written::Fresh(()) => Json(answer).into_response(),
        Written::Replayed { status_code, body } => replay(status_code, body),
    })
}

/// Body of `POST /v3/session/import-shared/`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ImportSharedBody {
    #[schema(value_type = String, required = true, pattern = "\\S")]
    share_token: Option<Value>,
    /// The receiving application's workflow (default: its default workflow).
    #[schema(value_type = Option<Uuid>)]
    workflow_id: Option<Value>,
    /// Default: the shared session's.
    #[schema(value_type = Option<String>, max_length = 1000)]
    vendor_data: Option<Value>,
    /// Keep the shared session's decision instead of `In Review`.
    trust_review: Option<bool>,
}

fn token_error(e: TokenError) -> ApiError {
    match e {
        TokenError::Invalid => ApiError::detail(
            StatusCode::BAD_REQUEST,
            "invalid_share_token",
            "The share token is not valid.",
        ),
        TokenError::Expired => ApiError::detail(
            StatusCode::BAD_REQUEST,
            "share_token_expired",
            "The share token has expired; ask for a new one.",
        ),
        TokenError::WrongApplication => ApiError::detail(
            StatusCode::FORBIDDEN,
            "share_token_wrong_application",
            "The share token was made for another application.",
        ),
    }
}

#[utoipa::path(post, path = "/v3/session/import-shared/", operation_id = "import_shared_session", tag = "sessions", request_body = ImportSharedBody,
    responses((status = 201, body = super::sessions::CreatedSession, description = "The imported session (a fresh id, the shared steps' results; `In Review` unless `trust_review`)"),
        (status = 400, body = ErrorAnswer, description = "field errors, invalid_share_token, share_token_expired, or a session no longer shareable"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "permission_denied, or share_token_wrong_application"),
        (status = 404, body = ErrorBody, description = "the shared session was deleted"),
        (status = 409, body = ErrorBody, description = "share_token_used: the token, or that session for this application, was imported already")),
    security(("api_key" = ["sessions:write"])))]
async fn import_shared(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    headers: HeaderMap,
    Body(bytes): Body,
) -> ApiResult<Response> {
    let idem = idempotency::key(
        &headers,
        caller.app.id,
        "POST /v3/session/import-shared/",
        &bytes,
    )?;
    let body: ImportSharedBody = parse(&bytes)?;
    let mut errors = FieldErrors::new();
    let token = match &body.share_token {
        Some(Value::String(t)) if !t.trim().is_empty() => Some(t.clone()),
        Some(Value::String(_)) => {
            errors.add("share_token", "This field may not be blank.");
            None
        }
        None | Some(Value::Null) => {
            errors.add("share_token", "This field is required.");
            None
        }
        Some(_) => {
            errors.add("share_token", "Not a valid string.");
            None
        }
    };
    let workflow_id = match &body.workflow_id {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_str().and_then(|s| s.parse::<WorkflowId>().ok()) {
            Some(w) => Some(w),
            None => {
                errors.add("workflow_id", "Must be a valid UUID.");
                None
            }
        },
    };
    let vendor_data = match &body.vendor_data {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= 1000 => Some(s.clone()),
        Some(_) => {
            errors.add(
                "vendor_data",
                "Must be a string of at most 1000 characters.",
            );
            None
        }
    };
    errors.into_result()?;
    let token = token.unwrap_or_default();
    let now = crate::clock::now();
    let claims = verify(&token, &key(&state).await?, caller.app.id, now).map_err(token_error)?;
    // The shared session as it is now.
    let source = state
        .store
        .session_bundle(claims.from_application_id, claims.session_id)
        .await?
        .ok_or_else(|| {
            ApiError::detail(
                StatusCode::NOT_FOUND,
                "not_found",
                "The shared session no longer exists.",
            )
        })?;
    if !shareable(source.session.status) {
        return Err(ApiError::detail(
            StatusCode::BAD_REQUEST,
            "session_not_shareable",
            format!("The shared session is {} now; only Approved, Declined or In Review sessions are imported.", source.session.status.as_str()),
        ));
    }
    // The receiving workflow: named or the default, published, not archived, of the same kind.
    let workflow = match workflow_id {
        Some(w) => state.store.get_workflow(caller.app.id, w).await?,
        None => state.store.default_workflow(caller.app.id).await?,
    }
    .ok_or_else(|| {
        ApiError::field(
            "workflow_id",
            match workflow_id {
                Some(_) => "Workflow not found.",
                None => "This field is required (the application has no default workflow).",
            },
        )
    })?;
    if workflow.archived_at.is_some() {
        return Err(ApiError::field(
            "workflow_id",
            "The workflow is archived: it takes no new sessions.",
        ));
    }
    if workflow.kind() != claims.session_kind {
        return Err(ApiError::field(
            "workflow_id",
            format!(
                "A {} session cannot be imported on a {} workflow.",
                claims.session_kind.as_str(),
                workflow.kind().as_str()
            ),
        ));
    }
    let new_id = SessionId::random();
    let new = NewSession {
        id: new_id,
        app_id: caller.app.id,
        token: Alphanumeric.sample_string(&mut rand::rng(), 32),
        workflow_id: Some(workflow.id),
        vendor_data: vendor_data.or_else(|| source.session.vendor_data.clone()),
        metadata: json!({}),
        callback: None,
        callback_method: None,
        language: source.session.language.clone(),
        contact_details: json!({}),
        expected_details: json!({}),
        now,
        expires_at: now
            + Duration::from_std(state.config.sessions.link_ttl).unwrap_or(Duration::MAX),
        sandbox_scenario: None,
    };
    let shared = Shared {
        claims: claims.clone(),
        status: source.session.status,
        workflow: source.workflow.spec.clone(),
        attempts: source.attempts.clone(),
        trust_review: body.trust_review.unwrap_or(false),
    };
    let for_source = claims.clone();
    let imported = state
        .store
        .import_shared(
            SharedImport {
                share_id: claims.jti,
                for_app_id: caller.app.id,
                source_app_id: claims.from_application_id,
                source_session_id: claims.session_id,
                new,
                now,
                idem: idem.map(|key| {
                    let public_url = state.config.public_url.clone();
                    Idem {
                        key,
                        status_code: 201,
                        render: Box::new(move |s: &vouch_core::session::Session| {
                            created_json(s, &public_url)
                        }),
                    }
                }),
            },
            Box::new(move |b| import_into(b, &shared, now).map(Some)),
            Box::new(move |b| {
                let who = Actor {
                    actor_type: ActorType::System,
                    display: "vouch",
                };
                share_recorded(b, &for_source, Some(new_id), who, now).map(Some)
            }),
        )
        .await?;
    match imported {
        Imported::Done(s) => Ok((
            StatusCode::CREATED,
            Json(created_json(&s, &state.config.public_url)),
        )
            .into_response()),
        Imported::Replayed { status_code, body } => Ok(replay(status_code, body)),
        Imported::AlreadyRedeemed => Err(ApiError::detail(
            StatusCode::CONFLICT,
            "share_token_used",
            "This share token was redeemed already, or this application imported that session already.",
        )),
        Imported::SourceGone => Err(ApiError::detail(StatusCode::NOT_FOUND, "not_found", "The shared session no longer exists.")),
    }
}
