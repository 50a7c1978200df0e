//! `/v3/webhook/destinations/` (§5): where webhooks go, and their secrets.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use rand::distr::{Alphanumeric, SampleString};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vouch_core::session::Environment;
use vouch_core::time::WireTime;
use vouch_core::DestinationId;
use vouch_core::FieldErrors;
use vouch_store::{Destination, DestinationUpdate};

use super::auth::*;
use super::error::{ApiError, ApiResult};
use super::json::{create_and_update_bodies, parse, Body};
use super::openapi::{ErrorAnswer, ErrorBody};
use super::pagination::{page_links, PageQuery};
use crate::state::AppState;
use crate::webhooks::ssrf::check_url;

/// The events a destination can subscribe to.
/// How long a rotated-out secret still signs deliveries.
const PREVIOUS_SECRET_HOURS: i64 = 24;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(retrieve, update, remove))
        .routes(routes!(rotate))
}

create_and_update_bodies! {
    /// Body of destination create: a label and a URL.
    create NewDestinationBody;
    /// Body of destination update: the fields to change.
    update DestinationBody;
    {
        #[schema(min_length = 1, max_length = 255, pattern = "\\S")]
        label: Option<String> = required(true),
        /// http(s) URL; non-public addresses are refused unless the server allows them.
        #[schema(format = "uri", max_length = 2048)]
        url: Option<String> = required(true),
        enabled: Option<bool>,
        /// Exact event names; omitted or `null` means every session event; `[]` is refused.
        /// `user.*` and `business.*` names receive only that kind's sessions' events;
        /// `activity.created` is accepted and never sent.
        #[schema(value_type = Option<Vec<vouch_core::change::Subscription>>, min_items = 1)]
        subscribed_events: Option<Value>,
        /// `v1`, `v2` or `v3` (default): stored and echoed; every version receives the same payload.
        #[schema(pattern = "^v[123]$")]
        webhook_version: Option<String>,
    }
}

/// A destination. `secret_shared_key` signs every delivery.
#[derive(Serialize, ToSchema)]
pub struct DestinationResponse {
    uuid: DestinationId,
    label: String,
    url: String,
    enabled: bool,
    /// `active`, or `disabled` (by a person, or after failing continuously).
    #[schema(example = "active")]
    status: &'static str,
    subscribed_events: Option<Vec<String>>,
    #[schema(example = "v3")]
    webhook_version: String,
    secret_shared_key: String,
    secret_last4: String,
    /// While the previous secret still signs (after a rotation).
    previous_secret_expires_at: Option<WireTime>,
    failing_since: Option<WireTime>,
    disabled_reason: Option<String>,
    created_at: WireTime,
    updated_at: WireTime,
}

fn ts(t: DateTime<Utc>) -> WireTime {
    WireTime(t)
}

impl DestinationResponse {
    fn of(d: &Destination, now: DateTime<Utc>) -> Self {
        DestinationResponse {
            uuid: d.id,
            label: d.label.clone(),
            url: d.url.clone(),
            enabled: d.enabled,
            status: if d.enabled { "active" } else { "disabled" },
            subscribed_events: d.subscribed_events.clone(),
            webhook_version: d.webhook_version.clone(),
            secret_shared_key: d.secret.clone(),
            secret_last4: d.secret[d.secret.len().saturating_sub(4)..].to_string(),
            previous_secret_expires_at: d
                .live_previous_secret(now)
                .and(d.previous_secret_expires_at)
                .map(ts),
            failing_since: d.failing_since.map(ts),
            disabled_reason: d.disabled_reason.clone(),
            created_at: ts(d.created_at),
            updated_at: ts(d.updated_at),
        }
    }
}

pub fn destination_json(d: &Destination, now: DateTime<Utc>) -> Value {
    super::json::to_json(DestinationResponse::of(d, now))
}

fn new_secret(mode: Environment) -> String {
    let tag = match mode {
        Environment::Live => "whk_live_",
        Environment::Sandbox => "whk_test_",
    };
    format!("{tag}{}", Alphanumeric.sample_string(&mut rand::rng(), 32))
}

/// Validates the fields present; `create` makes label and url required.
fn validate(
    b: &DestinationBody,
    create: bool,
    allow_private: bool,
) -> Result<DestinationUpdate, ApiError> {
    let mut errors = FieldErrors::new();
    let mut u = DestinationUpdate::default();
    match &b.label {
        None if create => errors.add("label", "This field is required."),
        Some(l) if l.trim().is_empty() => errors.add("label", "This field may not be blank."),
        Some(l) if l.chars().count() > 255 => errors.add(
            "label",
            "Ensure this field has no more than 255 characters.",
        ),
        Some(l) => u.label = Some(l.trim().to_string()),
        None => {}
    }
    match &b.url {
        None if create => errors.add("url", "This field is required."),
        Some(url) if url.len() > 2048 => {
            errors.add("url", "Ensure this field has no more than 2048 characters.")
        }
        Some(url) => match check_url(url, allow_private) {
            Ok(parsed) => u.url = Some(parsed.to_string()),
            Err(e) => errors.add("url", format!("{e}")),
        },
        None => {}
    }
    u.enabled = b.enabled;
    match b.webhook_version.as_deref() {
        None => {}
        Some(v @ ("v1" | "v2" | "v3")) => u.webhook_version = Some(v.to_string()),
        Some(v) => errors.add("webhook_version", format!("\"{v}\" is not a valid choice.")),
    }
    match &b.subscribed_events {
        None => {}
        Some(Value::Null) => u.subscribed_events = Some(None),
        Some(Value::Array(items)) if items.is_empty() => errors.add(
            "subscribed_events",
            "Subscribe to at least one event, or omit the field for every event.",
        ),
        Some(Value::Array(items)) => {
            let mut events: Vec<String> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item
                    .as_str()
                    .filter(|e| vouch_core::change::Subscription::parse(e).is_some())
                {
                    Some(e) if !events.iter().any(|x| x == e) => events.push(e.to_string()),
                    Some(_) => {}
                    None => errors.add(
                        format!("subscribed_events[{i}]"),
                        format!("{item} is not a valid choice."),
                    ),
                }
            }
            u.subscribed_events = Some(Some(events));
        }
        Some(_) => errors.add("subscribed_events", "Expected a list of event names."),
    }
    errors.into_result()?;
    Ok(u)
}

#[utoipa::path(post, path = "/v3/webhook/destinations/", operation_id = "create_destination", tag = "webhooks", request_body = NewDestinationBody,
    responses((status = 201, body = DestinationResponse,
        links(("get_destination" = (operation_id = "get_destination", parameters(("id" = "$response.body#/uuid")))), ("update_destination" = (operation_id = "update_destination", parameters(("id" = "$response.body#/uuid")))), ("rotate_destination_secret" = (operation_id = "rotate_destination_secret", parameters(("id" = "$response.body#/uuid")))), ("list_deliveries" = (operation_id = "list_deliveries", parameters(("id" = "$response.body#/uuid")))), ("delete_destination" = (operation_id = "delete_destination", parameters(("id" = "$response.body#/uuid")))))),
        (status = 400, body = ErrorAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["webhooks:write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Can<WriteWebhooks>,
    Body(bytes): Body,
) -> ApiResult<Response> {
    let body: DestinationBody = parse::<NewDestinationBody>(&bytes)?.into();
    let u = validate(&body, true, state.config.allow_private_destinations)?;
    let now = crate::clock::now();
    let d = Destination {
        id: DestinationId::generate(),
        app_id: caller.app.id,
        label: u.label.unwrap_or_default(),
        url: u.url.unwrap_or_default(),
        enabled: u.enabled.unwrap_or(true),
        subscribed_events: u.subscribed_events.flatten(),
        webhook_version: u.webhook_version.unwrap_or_else(|| "v3".to_string()),
        secret: new_secret(caller.app.mode),
        previous_secret: None,
        previous_secret_expires_at: None,
        failing_since: None,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    };
    let d = state.store.create_destination(d).await?;
    Ok((StatusCode::CREATED, Json(destination_json(&d, now))).into_response())
}

#[utoipa::path(get, path = "/v3/webhook/destinations/", operation_id = "list_destinations", tag = "webhooks",
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 100), ("offset" = Option<i64>, Query, minimum = 0)),
    responses((status = 200, description = "`{count, next, previous, results}`, newest first"),
        (status = 400, body = ErrorAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["webhooks:read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Can<ReadWebhooks>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = PageQuery::parse(query.as_deref())?;
    let (rows, count) = state.store.list_destinations(caller.app.id, q.page).await?;
    let (next, previous) = page_links(
        &state.config.public_url,
        "/v3/webhook/destinations/",
        &q,
        count,
    );
    let now = crate::clock::now();
    Ok(Json(
        json!({"count": count, "next": next, "previous": previous,
        "results": rows.iter().map(|d| destination_json(d, now)).collect::<Vec<_>>()}),
    ))
}

async fn find(
    state: &AppState,
    caller: &Caller,
    id: DestinationId,
) -> Result<Destination, ApiError> {
    state
        .store
        .get_destination(caller.app.id, id)
        .await?
        .ok_or_else(ApiError::not_found)
}

#[utoipa::path(get, path = "/v3/webhook/destinations/{id}/", operation_id = "get_destination", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 200, body = DestinationResponse), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["webhooks:read"])))]
async fn retrieve(
    State(state): State<AppState>,
    caller: Can<ReadWebhooks>,
    Id(id): Id<DestinationId>,
) -> ApiResult<Json<Value>> {
    let d = find(&state, &caller, id).await?;
    Ok(Json(destination_json(&d, crate::clock::now())))
}

#[utoipa::path(patch, path = "/v3/webhook/destinations/{id}/", operation_id = "update_destination", tag = "webhooks", request_body = DestinationBody,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = DestinationResponse), (status = 400, body = ErrorAnswer),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["webhooks:write"])))]
async fn update(
    State(state): State<AppState>,
    caller: Can<WriteWebhooks>,
    Id(id): Id<DestinationId>,
    Body(bytes): Body,
) -> ApiResult<Json<Value>> {
    let body: DestinationBody = parse(&bytes)?;
    let u = validate(&body, false, state.config.allow_private_destinations)?;
    let now = crate::clock::now();
    let d = state
        .store
        .update_destination(caller.app.id, id, u, now)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(destination_json(&d, now)))
}

#[utoipa::path(delete, path = "/v3/webhook/destinations/{id}/", operation_id = "delete_destination", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted; pending deliveries dropped"), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["webhooks:write"])))]
async fn remove(
    State(state): State<AppState>,
    caller: Can<WriteWebhooks>,
    Id(id): Id<DestinationId>,
) -> ApiResult<StatusCode> {
    if state
        .store
        .delete_destination(caller.app.id, id, crate::clock::now())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

#[utoipa::path(post, path = "/v3/webhook/destinations/{id}/rotate-secret/", operation_id = "rotate_destination_secret", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 200, body = DestinationResponse, description = "New secret; the previous one keeps signing (as *-Previous headers) for 24 h"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["webhooks:write"])))]
async fn rotate(
    State(state): State<AppState>,
    caller: Can<WriteWebhooks>,
    Id(id): Id<DestinationId>,
) -> ApiResult<Json<Value>> {
    let now = crate::clock::now();
    let u = DestinationUpdate {
        rotate_secret: Some((
            new_secret(caller.app.mode),
            now + Duration::hours(PREVIOUS_SECRET_HOURS),
        )),
        ..DestinationUpdate::default()
    };
    let d = state
        .store
        .update_destination(caller.app.id, id, u, now)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(destination_json(&d, now)))
}
