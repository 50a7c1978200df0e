//! The sandbox's own API (`/v1/sandbox/…`): the catalog of scenarios, arming one step's next
//! outcome, and completing a session headlessly with its plan. Only sandbox applications may
//! arm or complete; the rules are `vouch_core::sandbox`, results enter through the attempts
//! path (`steps::record_attempt`).

use axum::extract::{RawQuery, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use vouch_core::engine::Engine;
use vouch_core::person::{capture_of, StepState};
use vouch_core::progress::latest_counting;
use vouch_core::sandbox;
use vouch_core::scopes::{Access, Resource};
use vouch_core::session::Environment;
use vouch_core::steps::record_attempt;
use vouch_core::{AttemptStatus, FieldErrors, SessionId, SessionStatus};

use super::auth::*;
use super::error::{ApiError, ApiResult};
use super::json::{parse, Body};
use super::openapi::{ErrorAnswer, ErrorBody};
use crate::service::modify;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(scenarios))
        .routes(routes!(arm))
        .routes(routes!(complete))
        .routes(routes!(phone_number))
        .routes(routes!(clock))
}

/// Body of `POST /v1/sandbox/sessions/{id}/clock/`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ClockBody {
    /// How much time goes by: a duration such as `"8d"`, `"3d12h"`, `"90m"` (at most 3650 days).
    #[schema(value_type = String, required = true, example = "8d", max_length = 32, pattern = "^([1-9][0-9]{0,2}[dhms]){1,3}$")]
    advance: Option<String>,
}

#[utoipa::path(post, path = "/v1/sandbox/sessions/{id}/clock/", operation_id = "advance_sandbox_clock", tag = "sandbox", request_body = ClockBody,
    params(("id" = String, Path)),
    responses((status = 200, description = "The session's timers moved and every transition come due applied; the status after them"),
        (status = 400, body = ErrorAnswer), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["sessions:write"])))]
async fn clock(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    Id(id): Id<SessionId>,
    Body(bytes): Body,
) -> ApiResult<Json<Value>> {
    if state.store.get_session(caller.app.id, id).await?.is_none() {
        return Err(ApiError::not_found());
    }
    sandbox_only(&caller)?;
    let body: ClockBody = parse(&bytes)?;
    let by = match body.advance.as_deref().map(crate::config::human::parse) {
        None => return Err(FieldErrors::single("advance", "This field is required.").into()),
        Some(Err(e)) => return Err(FieldErrors::single("advance", e).into()),
        Some(Ok(d)) if d.is_zero() || d > std::time::Duration::from_secs(3650 * 86_400) => {
            return Err(FieldErrors::single("advance", "Between 1 second and 3650 days.").into())
        }
        Some(Ok(d)) => chrono::Duration::from_std(d).unwrap_or_default(),
    };
    if !state
        .store
        .shift_sandbox_clock(caller.app.id, id, by)
        .await?
    {
        return Err(ApiError::not_found());
    }
    // The timers come due now, not at the scheduler's next scan.
    crate::service::lifecycle::run_once(&*state.store, &state.config.lifecycle).await?;
    let status = state
        .store
        .get_session(caller.app.id, id)
        .await?
        .map(|s| s.status)
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(
        json!({"session_id": id, "advanced_by_seconds": by.num_seconds(), "status": status}),
    ))
}

/// Body of `POST /v3/phone/sandbox/numbers/`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PhoneNumberBody {
    /// In E.164, e.g. `+34600000099`.
    #[schema(value_type = String, required = true, example = "+34600000099", max_length = 32)]
    phone_number: Option<String>,
    #[schema(
        value_type = String,
        required = true,
        pattern = "^(verified|silent_fallback|silent_match|silent_mismatch|not_delivered|blocked|expired)$"
    )]
    outcome: Option<String>,
    /// 4 to 8 digits; without it, any well-formed code verifies.
    #[schema(pattern = "^[0-9]{4,8}$")]
    code: Option<String>,
}

#[utoipa::path(post, path = "/v3/phone/sandbox/numbers/", operation_id = "register_sandbox_phone_number", tag = "sandbox", request_body = PhoneNumberBody,
    responses((status = 201, description = "The test number, its outcome and code"), (status = 400, body = ErrorAnswer),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["sessions:write"])))]
async fn phone_number(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    Body(bytes): Body,
) -> ApiResult<(axum::http::StatusCode, Json<Value>)> {
    sandbox_only(&caller)?;
    let body: PhoneNumberBody = parse(&bytes)?;
    let mut errors = FieldErrors::new();
    let number = match body.phone_number.as_deref() {
        None => {
            errors.add("phone_number", "This field is required.");
            None
        }
        Some(n) => {
            let e164 = crate::hosted::codes::phone_e164(n);
            if e164.is_none() {
                errors.add(
                    "phone_number",
                    "Enter a valid phone number with its country code (E.164).",
                );
            }
            e164
        }
    };
    let outcome = match body.outcome.as_deref() {
        None => {
            errors.add("outcome", "This field is required.");
            None
        }
        Some(o) => {
            let parsed = sandbox::PhoneOutcome::parse(o);
            if parsed.is_none() {
                errors.add("outcome", format!("\"{o}\" is not a valid choice."));
            }
            parsed
        }
    };
    if let Some(c) = &body.code {
        if vouch_core::otp::normalize_in(c, vouch_core::otp::SANDBOX_LENGTHS).as_deref()
            != Some(c.as_str())
        {
            errors.add("code", "A code is 4 to 8 digits.");
        }
    }
    errors.into_result()?;
    let (Some(number), Some(outcome)) = (number, outcome) else {
        return Err(FieldErrors::single("phone_number", "This field is required.").into());
    };
    state
        .store
        .put_sandbox_phone(
            caller.app.id,
            number.clone(),
            outcome.as_str().to_string(),
            body.code.clone(),
            crate::clock::now(),
        )
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({"phone_number": number, "outcome": outcome.as_str(), "code": body.code})),
    ))
}

fn sandbox_only(caller: &Caller) -> ApiResult<()> {
    if caller.app.mode == Environment::Sandbox {
        Ok(())
    } else {
        Err(ApiError::detail(
            axum::http::StatusCode::FORBIDDEN,
            "sandbox_only",
            "Only sandbox applications can arm or complete sessions.",
        ))
    }
}

#[utoipa::path(get, path = "/v1/sandbox/scenarios/", operation_id = "list_sandbox_scenarios", tag = "sandbox",
    params(("session_token" = Option<String>, Query, description = "Instead of a key, from inside the person's page: the token of a sandbox session")),
    responses((status = 200, description = "Each scenario with its per-feature outcomes, warnings and the specimen data"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = []), ()))]
async fn scenarios(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    caller: Result<Caller, ApiError>,
) -> ApiResult<Json<Value>> {
    match caller {
        Ok(c) => c.require(Resource::Sessions, Access::Read)?,
        Err(refused) => {
            // A sandbox session's token opens the catalog too (the page of such a session may
            // show it); nothing else does.
            let token = query.as_deref().and_then(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "session_token")
                    .map(|(_, v)| v.into_owned())
            });
            let Some(token) = token else {
                return Err(refused);
            };
            let target = state.store.session_by_token(&token).await?;
            let app = match target.filter(|t| !t.deleted) {
                Some(t) => state.store.find_app(&t.app_id.to_string()).await?,
                None => None,
            };
            if !app.is_some_and(|a| a.mode == Environment::Sandbox) {
                return Err(refused);
            }
        }
    }
    Ok(Json(sandbox::catalog_json()))
}

/// Body of `POST /v1/sandbox/sessions/{id}/arm/`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ArmBody {
    /// A node of the session's workflow.
    #[schema(value_type = String, required = true, min_length = 1, example = "feature_ocr_1")]
    node_id: Option<String>,
    #[schema(value_type = String, required = true, pattern = "^(Approved|Declined|In Review)$")]
    status: Option<String>,
    /// Fields merged over the specimen data of the step's result.
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    warnings: Option<Value>,
}

#[utoipa::path(post, path = "/v1/sandbox/sessions/{id}/arm/", operation_id = "arm_sandbox_step", tag = "sandbox", request_body = ArmBody,
    params(("id" = String, Path)),
    responses((status = 200, description = "The step's next sandbox result is armed"), (status = 400, body = ErrorAnswer),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["sessions:write"])))]
async fn arm(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    Id(id): Id<SessionId>,
    Body(bytes): Body,
) -> ApiResult<Json<Value>> {
    let bundle = state
        .store
        .session_bundle(caller.app.id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    sandbox_only(&caller)?;
    let body: ArmBody = parse(&bytes)?;
    let mut errors = FieldErrors::new();
    let node = body.node_id.as_deref().filter(|n| !n.is_empty());
    match node {
        None => errors.add("node_id", "This field is required."),
        Some(n) if bundle.workflow.spec.node(n).is_none() => errors.add(
            "node_id",
            format!("\"{n}\" is not a node of this session's workflow."),
        ),
        _ => {}
    }
    let status = match body.status.as_deref().map(AttemptStatus::parse) {
        None => {
            errors.add("status", "This field is required.");
            None
        }
        Some(Some(
            s @ (AttemptStatus::Approved | AttemptStatus::Declined | AttemptStatus::InReview),
        )) => Some(s),
        Some(_) => {
            errors.add("status", "Must be Approved, Declined or In Review.");
            None
        }
    };
    if !matches!(body.data, None | Some(Value::Object(_))) {
        errors.add("data", "Must be a JSON object.");
    }
    match &body.warnings {
        None => {}
        Some(Value::Array(items)) => {
            for (i, w) in items.iter().enumerate() {
                if !w.is_object() {
                    errors.add(format!("warnings[{i}]"), "Must be a JSON object.");
                }
            }
        }
        Some(_) => errors.add("warnings", "Must be a list."),
    }
    errors.into_result()?;
    let (Some(node), Some(status)) = (node, status) else {
        return Err(FieldErrors::single("node_id", "This field is required.").into());
    };
    let armed = sandbox::armed(status, body.data.as_ref(), body.warnings.as_ref());
    state
        .store
        .arm_sandbox(id, node.to_string(), Some(armed.clone()))
        .await?;
    Ok(Json(
        json!({"session_id": id, "node_id": node, "armed": armed}),
    ))
}

#[utoipa::path(post, path = "/v1/sandbox/sessions/{id}/complete/", operation_id = "complete_sandbox_session", tag = "sandbox",
    params(("id" = String, Path)),
    responses((status = 200, description = "Every step without a result got its sandbox result; the session's status after them"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["sessions:write"])))]
async fn complete(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    Id(id): Id<SessionId>,
) -> ApiResult<Json<Value>> {
    // Steps an engine is checking finish by themselves. Read before the session, so that a
    // job finished between the two reads shows as its result, not as a step still open.
    let checking = state.store.checking_steps(id).await?;
    let bundle = state
        .store
        .session_bundle(caller.app.id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    sandbox_only(&caller)?;
    let plan = state.store.sandbox_plan(id).await?;
    let latest = latest_counting(&bundle.attempts, bundle.session.resubmit_info.as_ref());
    let open: Vec<_> = bundle
        .workflow
        .spec
        .nodes
        .iter()
        .filter(|n| {
            !checking.contains(&n.node_id)
                && !latest
                    .get(n.node_id.as_str())
                    .is_some_and(|a| a.status != AttemptStatus::NotFinished)
                && capture_of(n.feature, &bundle.workflow.spec) != StepState::NotAvailable
        })
        .map(|n| (n.node_id.clone(), n.feature))
        .collect();
    let mut recorded = Vec::new();
    for (node_id, feature) in open {
        let armed = plan.arms.get(&node_id).cloned();
        let scenario = plan.scenario.clone();
        let node = node_id.clone();
        let written = modify(&*state.store, caller.app.id, id, None, move |st| {
            if matches!(
                st.session.status,
                SessionStatus::Approved | SessionStatus::Declined | SessionStatus::KycExpired
            ) {
                return Ok((None, ()));
            }
            let scenario =
                sandbox::scenario_for(scenario.as_deref(), st.session.vendor_data.as_deref());
            let result = vouch_core::engine::result(
                Engine::Sandbox,
                &node,
                feature,
                &json!({}),
                armed.as_ref(),
                scenario,
            );
            let change = record_attempt(st, &result, Uuid::now_v7(), crate::clock::now())?;
            Ok((Some(change), ()))
        })
        .await;
        written.map_err(ApiError::from)?;
        if plan.arms.contains_key(&node_id) {
            state.store.arm_sandbox(id, node_id.clone(), None).await?;
        }
        recorded.push(node_id);
    }
    let status = state
        .store
        .get_session(caller.app.id, id)
        .await?
        .map(|s| s.status)
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(
        json!({"session_id": id, "status": status, "completed_nodes": recorded}),
    ))
}
