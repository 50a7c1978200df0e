//! Session create, retrieve, list and delete (§4.1–§4.4).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{Duration, NaiveDate, Utc};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vouch_core::contact::is_valid_email;
use vouch_core::decision_view::{decision_json, DecisionInputs};
use vouch_core::scopes::{Access, Resource};
use vouch_core::session::{CallbackMethod, Session};
use vouch_core::{FieldErrors, SessionStatus};
use vouch_core::{SessionId, WorkflowId};
use vouch_store::{Entity, Idem, KindFilter, NewSession, SessionFilter, StoreError, Written};

use super::auth::*;
use super::error::{ApiError, ApiResult};
use super::json::{parse, Body};
use super::openapi::{ErrorAnswer, ErrorBody};
use super::pagination::{page_links, PageQuery};
use super::{idempotency, replay};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(decision))
        .routes(routes!(get_one))
        .routes(routes!(remove))
        .routes(routes!(list))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ContactDetails {
    #[schema(format = Email, max_length = 254)]
    email: Option<String>,
    #[schema(max_length = 32)]
    phone: Option<String>,
    #[schema(max_length = 16)]
    email_lang: Option<String>,
    send_notification_emails: Option<bool>,
}

/// Body of `POST /v3/session/`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateSessionBody {
    /// Required unless the application has a default workflow; a published workflow of the
    /// application.
    #[schema(format = Uuid)]
    workflow_id: Option<String>,
    /// Your reference for the person; an unfinished session with the same value is reused.
    #[schema(max_length = 1000)]
    vendor_data: Option<String>,
    /// http(s) URL the person returns to.
    #[schema(format = "uri", max_length = 2048)]
    callback: Option<String>,
    #[schema(pattern = "^(initiator|completer|both)$")]
    callback_method: Option<String>,
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
    #[schema(max_length = 16)]
    language: Option<String>,
    contact_details: Option<ContactDetails>,
    #[schema(value_type = Option<Object>)]
    expected_details: Option<Value>,
    /// Sandbox applications only: the scenario whose outcomes the session's steps get (see
    /// `GET /v1/sandbox/scenarios/`).
    #[schema(max_length = 64)]
    sandbox_scenario: Option<String>,
}

/// `201` answer of `POST /v3/session/`.
#[derive(Serialize, ToSchema)]
pub struct CreatedSession {
    session_id: SessionId,
    session_number: i64,
    /// Null in `GET /v3/session/{id}/` for a key without write:sessions.
    #[schema(value_type = Option<String>)]
    session_token: String,
    /// The link to send the person to (null as `session_token` is).
    #[schema(value_type = Option<String>)]
    url: String,
    vendor_data: Option<String>,
    #[schema(value_type = Object)]
    metadata: Value,
    #[schema(value_type = String, example = "Not Started")]
    status: SessionStatus,
    callback: Option<String>,
    workflow_id: WorkflowId,
    workflow_version: i64,
    /// `user` or `business`.
    #[schema(value_type = String, example = "user")]
    session_kind: vouch_core::WorkflowKind,
}

pub(super) fn created_json(s: &Session, public_url: &str) -> Value {
    super::json::to_json(CreatedSession {
        session_id: s.id,
        session_number: s.number,
        session_token: s.token.clone(),
        url: s.url(public_url),
        vendor_data: s.vendor_data.clone(),
        metadata: s.metadata.clone(),
        status: s.status,
        callback: s.callback.clone(),
        workflow_id: s.workflow_id,
        workflow_version: s.workflow_version,
        session_kind: s.kind,
    })
}

fn object_or_empty(v: Option<Value>, field: &str, errors: &mut FieldErrors) -> Value {
    match v {
        None | Some(Value::Null) => json!({}),
        Some(Value::Object(m)) => Value::Object(m),
        Some(_) => {
            errors.add(field, "Must be a JSON object.");
            json!({})
        }
    }
}

pub fn is_http_url(s: &str) -> bool {
    crate::webhooks::ssrf::uri_text(s).is_ok()
        && url::Url::parse(s).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && match u.host() {
                    Some(url::Host::Domain(d)) => crate::webhooks::ssrf::is_host_name(d),
                    Some(_) => true,
                    None => false,
                }
        })
}

fn max_len(v: &Option<String>, field: &str, max: usize, errors: &mut FieldErrors) {
    if v.as_ref().is_some_and(|s| s.chars().count() > max) {
        errors.add(
            field,
            format!("Ensure this field has no more than {max} characters."),
        );
    }
}

#[utoipa::path(post, path = "/v3/session/", operation_id = "create_session", tag = "sessions", request_body = CreateSessionBody,
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[\\x21-\\x7e]+$", description = "Replays the stored response for 24 h")),
    responses((status = 201, body = CreatedSession, description = "Created, or the unfinished session with the same vendor_data",
        links(("get_session_decision" = (operation_id = "get_session_decision", parameters(("id" = "$response.body#/session_id")))), ("update_session_status" = (operation_id = "update_session_status", parameters(("id" = "$response.body#/session_id")))), ("record_attempt" = (operation_id = "record_attempt", parameters(("id" = "$response.body#/session_id")))), ("list_reviews" = (operation_id = "list_reviews", parameters(("id" = "$response.body#/session_id")))), ("add_review_note" = (operation_id = "add_review_note", parameters(("id" = "$response.body#/session_id")))), ("list_session_emails" = (operation_id = "list_session_emails", parameters(("id" = "$response.body#/session_id")))), ("list_session_webhooks" = (operation_id = "list_session_webhooks", parameters(("id" = "$response.body#/session_id")))), ("preview_resubmission_email" = (operation_id = "preview_resubmission_email", parameters(("id" = "$response.body#/session_id")))), ("preview_decision_email" = (operation_id = "preview_decision_email", parameters(("id" = "$response.body#/session_id")))), ("delete_session" = (operation_id = "delete_session", parameters(("id" = "$response.body#/session_id")))))),
        (status = 400, body = ErrorAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("api_key" = ["sessions:write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    headers: HeaderMap,
    Body(bytes): Body,
) -> ApiResult<Response> {
    let idem = idempotency::key(&headers, caller.app.id, "POST /v3/session/", &bytes)?;
    let body: CreateSessionBody = parse(&bytes)?;
    let mut errors = FieldErrors::new();
    let workflow_id = match body.workflow_id.as_deref() {
        None | Some("") => None,
        Some(s) => match s.parse::<WorkflowId>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.add("workflow_id", "Must be a valid UUID.");
                None
            }
        },
    };
    max_len(&body.vendor_data, "vendor_data", 1000, &mut errors);
    max_len(&body.language, "language", 16, &mut errors);
    if let Some(cb) = &body.callback {
        if !is_http_url(cb) || cb.len() > 2048 {
            errors.add("callback", "Enter a valid http or https URL.");
        }
    }
    let callback_method = body.callback_method.as_deref().and_then(|m| {
        let parsed = CallbackMethod::parse(m);
        if parsed.is_none() {
            errors.add("callback_method", format!("\"{m}\" is not a valid choice."));
        }
        parsed
    });
    let metadata = object_or_empty(body.metadata, "metadata", &mut errors);
    let expected_details = object_or_empty(body.expected_details, "expected_details", &mut errors);
    let contact = body.contact_details.unwrap_or_default();
    if let Some(email) = &contact.email {
        if !is_valid_email(email) {
            errors.add("contact_details.email", "Enter a valid email address.");
        }
    }
    max_len(&contact.phone, "contact_details.phone", 32, &mut errors);
    max_len(
        &contact.email_lang,
        "contact_details.email_lang",
        16,
        &mut errors,
    );
    if let Some(sc) = &body.sandbox_scenario {
        if caller.app.mode != vouch_core::session::Environment::Sandbox {
            errors.add(
                "sandbox_scenario",
                "Only sessions of sandbox applications have a scenario.",
            );
        } else if vouch_core::sandbox::find(sc).is_none() {
            errors.add(
                "sandbox_scenario",
                format!("\"{sc}\" is not a scenario (GET /v1/sandbox/scenarios/)."),
            );
        }
    }
    errors.into_result()?;

    let now = crate::clock::now();
    let new = NewSession {
        id: SessionId::random(),
        app_id: caller.app.id,
        token: Alphanumeric.sample_string(&mut rand::rng(), 32),
        workflow_id,
        vendor_data: body.vendor_data,
        metadata,
        callback: body.callback,
        callback_method,
        language: body.language,
        contact_details: json!({
            "email": contact.email,
            "phone": contact.phone,
            "email_lang": contact.email_lang,
            "send_notification_emails": contact.send_notification_emails.unwrap_or(false),
        }),
        expected_details,
        now,
        expires_at: now
            + Duration::from_std(state.config.sessions.link_ttl).unwrap_or(Duration::MAX),
        sandbox_scenario: body.sandbox_scenario,
    };
    let public_url = state.config.public_url.clone();
    let idem = idem.map(|key| Idem {
        key,
        status_code: 201,
        render: Box::new(move |s: &Session| created_json(s, &public_url)),
    });
    match state.store.create_session(new, idem).await {
        Ok(Written::Fresh(s)) => Ok((
            StatusCode::CREATED,
            Json(created_json(&s, &state.config.public_url)),
        )
            .into_response()),
        Ok(Written::Replayed { status_code, body }) => Ok(replay(status_code, body)),
        Err(StoreError::NotFound(what)) => Err(ApiError::field(
            "workflow_id",
            match (workflow_id, what) {
                (None, _) => "This field is required (the application has no default workflow).",
                (Some(_), Entity::PublishedWorkflow) => {
                    "The workflow does not exist or has no published version."
                }
                (Some(_), Entity::Workflow) => "Workflow not found.",
                (_, Entity::ActiveWorkflow) => {
                    "The workflow is archived: it takes no new sessions."
                }
            },
        )),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(get, path = "/v3/session/{id}/decision/", operation_id = "get_session_decision", tag = "sessions",
    params(("id" = String, Path, description = "Session id (user or business)")),
    responses((status = 200, description = "The decision object of §4.2"), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["sessions:read"])))]
async fn decision(
    State(state): State<AppState>,
    caller: Can<ReadSessions>,
    Id(id): Id<SessionId>,
) -> ApiResult<Json<Value>> {
    let b = state
        .store
        .session_bundle(caller.app.id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut d = decision_json(&DecisionInputs {
        session: &b.session,
        environment: b.environment,
        workflow: &b.workflow.spec,
        attempts: &b.attempts,
        reviews: &b.reviews,
        public_base_url: &state.config.public_url,
    });
    if !b.media.is_empty() {
        crate::media::urls::attach(
            &mut d,
            &b.workflow.spec,
            &b.media,
            caller.scopes.allows(Resource::Media, Access::Read),
            &state.media,
            &state.config.public_url,
            crate::clock::now(),
        );
    }
    Ok(Json(d))
}

#[utoipa::path(get, path = "/v3/session/{id}/", operation_id = "get_session", tag = "sessions",
    params(("id" = String, Path, description = "Session id (user or business)")),
    responses((status = 200, body = CreatedSession, description = "The session in the create answer's shape, with its current status; `session_token` and `url` are null for a key without write:sessions"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["sessions:read"])))]
async fn get_one(
    State(state): State<AppState>,
    caller: Can<ReadSessions>,
    Id(id): Id<SessionId>,
) -> ApiResult<Json<Value>> {
    let s = state
        .store
        .get_session(caller.app.id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut body = created_json(&s, &state.config.public_url);
    // The link is the person's credential: only a key that may change sessions sees it.
    if !caller.scopes.allows(Resource::Sessions, Access::Write) {
        body["session_token"] = Value::Null;
        body["url"] = Value::Null;
    }
    Ok(Json(body))
}

#[utoipa::path(delete, path = "/v3/session/{id}/delete/", operation_id = "delete_session", tag = "sessions",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted; personal data erased"), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["sessions:write"])))]
async fn remove(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    Id(id): Id<SessionId>,
) -> ApiResult<StatusCode> {
    if state
        .store
        .delete_session(caller.app.id, id, crate::clock::now())
        .await?
    {
        // The key went with the erasure; the files follow.
        state.media.erase(id).await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

fn list_item(s: &Session, public_url: &str) -> Value {
    let ts = vouch_core::time::wire;
    json!({
        "session_id": s.id,
        "session_number": s.number,
        "session_kind": s.kind,
        "status": s.status,
        "vendor_data": s.vendor_data,
        "workflow_id": s.workflow_id,
        "workflow_version": s.workflow_version,
        "session_url": s.url(public_url),
        "created_at": ts(s.created_at),
        "updated_at": ts(s.updated_at),
        "expires_at": ts(s.expires_at),
    })
}

fn parse_filter(q: &PageQuery) -> Result<SessionFilter, ApiError> {
    let mut errors = FieldErrors::new();
    let kind = match q.get("session_kind") {
        None | Some("user") => Some(KindFilter::User),
        Some("business") => Some(KindFilter::Business),
        Some("all") => Some(KindFilter::All),
        Some(other) => {
            errors.add(
                "session_kind",
                format!("\"{other}\" is not a valid choice."),
            );
            None
        }
    };
    let mut f = SessionFilter {
        kind,
        ..SessionFilter::default()
    };
    for s in q.get("status").into_iter().flat_map(|v| v.split(',')) {
        match SessionStatus::parse(s.trim()) {
            Some(st) => f.statuses.push(st),
            None => errors.add("status", format!("\"{}\" is not a valid choice.", s.trim())),
        }
    }
    for w in q.get("workflow_id").into_iter().flat_map(|v| v.split(',')) {
        match w.trim().parse::<WorkflowId>() {
            Ok(id) => f.workflow_ids.push(id),
            Err(_) => errors.add(
                "workflow_id",
                format!("\"{}\" is not a valid UUID.", w.trim()),
            ),
        }
    }
    f.vendor_data = q.get("vendor_data").map(String::from);
    if let Some(c) = q.get("country") {
        if c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic()) {
            f.country = Some(c.to_ascii_uppercase());
        } else {
            errors.add(
                "country",
                "Enter a three-letter ISO 3166-1 alpha-3 country code.",
            );
        }
    }
    // A date covers its whole day (UTC); an RFC 3339 date-time is an exact bound.
    let mut bound = |key: &str| -> Option<Bound> {
        let d = q.get(key)?.trim();
        if let Ok(day) = NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            return Some(Bound::Day(day));
        }
        match chrono::DateTime::parse_from_rfc3339(d) {
            Ok(t) => Some(Bound::Time(t.with_timezone(&Utc))),
            Err(_) => {
                errors.add(
                    key,
                    "Date has wrong format. Use YYYY-MM-DD or an RFC 3339 date-time.",
                );
                None
            }
        }
    };
    let (from, to) = (bound("date_from"), bound("date_to"));
    match from {
        Some(Bound::Day(d)) => f.date_from = Some(d),
        Some(Bound::Time(t)) => f.time_from = Some(t),
        None => {}
    }
    match to {
        Some(Bound::Day(d)) => f.date_to = Some(d),
        Some(Bound::Time(t)) => f.time_to = Some(t),
        None => {}
    }
    let start = |b: &Bound| match b {
        Bound::Day(d) => d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
        Bound::Time(t) => Some(*t),
    };
    let end = |b: &Bound| match b {
        Bound::Day(d) => d.and_hms_opt(23, 59, 59).map(|t| t.and_utc()),
        Bound::Time(t) => Some(*t),
    };
    if let (Some(a), Some(b)) = (from.as_ref().and_then(start), to.as_ref().and_then(end)) {
        if a > b {
            errors.add("date_to", "Must not be before date_from.");
        }
    }
    f.search = q.get("search").map(String::from);
    errors.into_result()?;
    Ok(f)
}

/// A `date_from`/`date_to` value: a whole day, or an exact instant.
enum Bound {
    Day(NaiveDate),
    Time(chrono::DateTime<Utc>),
}

#[utoipa::path(get, path = "/v3/sessions/", operation_id = "list_sessions", tag = "sessions",
    params(("session_kind" = Option<String>, Query, description = "user (default), business or all", pattern = "^(user|business|all)?$"),
        ("status" = Option<String>, Query, description = "Comma-separated statuses", pattern = "^((Not Started|In Progress|In Review|Approved|Declined|Resubmitted|Expired|Abandoned|Kyc Expired|Awaiting User)(,(Not Started|In Progress|In Review|Approved|Declined|Resubmitted|Expired|Abandoned|Kyc Expired|Awaiting User))*)?$"),
        ("vendor_data" = Option<String>, Query),
        ("workflow_id" = Option<String>, Query, description = "Comma-separated workflow ids",
            pattern = "^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(,[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})*)?$"),
        ("country" = Option<String>, Query, description = "ISO-3, from the OCR result", pattern = "^([A-Za-z]{3})?$"),
        ("date_from" = Option<String>, Query, description = "Inclusive: YYYY-MM-DD (from the day's start, UTC) or an RFC 3339 date-time (exact)"),
        ("date_to" = Option<String>, Query, description = "Inclusive: YYYY-MM-DD (to the day's end, UTC) or an RFC 3339 date-time (exact); not before date_from"),
        ("search" = Option<String>, Query, description = "vendor_data or name prefix"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100), ("offset" = Option<i64>, Query, minimum = 0)),
    responses((status = 200, description = "`{count, next, previous, results}`, newest first"),
        (status = 400, body = ErrorAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["sessions:read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Can<ReadSessions>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = PageQuery::parse(query.as_deref())?;
    let filter = parse_filter(&q)?;
    let (rows, count) = state
        .store
        .list_sessions(caller.app.id, &filter, q.page)
        .await?;
    let (next, previous) = page_links(&state.config.public_url, "/v3/sessions/", &q, count);
    Ok(Json(json!({
        "count": count,
        "next": next,
        "previous": previous,
        "results": rows.iter().map(|s| list_item(s, &state.config.public_url)).collect::<Vec<_>>(),
    })))
}
