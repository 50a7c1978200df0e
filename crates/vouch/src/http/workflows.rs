//! `/v3/workflows/` (§3).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vouch_core::time::WireTime;
use vouch_core::workflow::{validate_features, validate_settings, FeatureInput, WorkflowSettings};
use vouch_core::WorkflowId;
use vouch_core::{FieldErrors, WorkflowKind};
use vouch_store::{Idem, WorkflowRecord, WorkflowStatus, WorkflowUpdate, Written};

use super::auth::*;
use super::error::{ApiError, ApiResult};
use super::json::{create_and_update_bodies, parse, Body};
use super::pagination::{page_links, PageQuery};
use super::{idempotency, replay};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(retrieve, update, archive))
}

create_and_update_bodies! {
    /// Body of `POST /v3/workflows/`: a label and at least one feature.
    create NewWorkflowBody;
    /// Body of `PATCH /v3/workflows/{uuid}/`: the fields to change (new features make a new
    /// version).
    update WorkflowBody;
    {
        #[schema(min_length = 1, max_length = 255, pattern = "\\S")]
        workflow_label: Option<String> = required(true),
        is_default: Option<bool>,
        /// `draft` or `published` (default).
        #[schema(pattern = "^(draft|published)$")]
        status: Option<String>,
        /// Ordered steps, each feature at most once.
        #[schema(min_items = 1)]
        features: Option<Vec<FeatureInput>> = required(true),
        /// Link lifetime of this workflow's new sessions, in seconds (60 to 31,536,000); the
        /// server's `sessions.link_ttl` when absent.
        #[schema(value_type = Option<i64>, minimum = 60, maximum = 31536000)]
        session_expiration_time: Option<Value>,
        /// Stored and echoed.
        #[schema(value_type = Option<i64>, minimum = 0, maximum = 100)]
        max_retry_attempts: Option<Value>,
        /// Stored and echoed.
        #[schema(value_type = Option<i64>, minimum = 0, maximum = 3650)]
        retry_window_days: Option<Value>,
        /// Stored and echoed.
        #[schema(value_type = Option<bool>)]
        is_white_label_enabled: Option<Value>,
        /// Stored and echoed.
        #[schema(value_type = Option<bool>)]
        is_desktop_allowed: Option<Value>,
    }
}

impl WorkflowBody {
    fn settings(&self) -> Result<WorkflowSettings, FieldErrors> {
        validate_settings(
            self.session_expiration_time.as_ref(),
            self.max_retry_attempts.as_ref(),
            self.retry_window_days.as_ref(),
            self.is_white_label_enabled.as_ref(),
            self.is_desktop_allowed.as_ref(),
        )
    }
}

/// A workflow version as answered by every workflow endpoint.
#[derive(Serialize, ToSchema)]
pub struct WorkflowResponse {
    uuid: WorkflowId,
    workflow_label: String,
    /// `user` or `business`.
    #[schema(value_type = String, example = "user")]
    workflow_kind: WorkflowKind,
    version: i64,
    #[schema(value_type = String, example = "published")]
    status: WorkflowStatus,
    is_default: bool,
    features: Vec<FeatureStep>,
    nodes: Vec<NodeRef>,
    /// Archived (`DELETE`): its sessions go on, new sessions on it are refused.
    is_archived: bool,
    session_expiration_time: Option<i64>,
    max_retry_attempts: Option<i64>,
    retry_window_days: Option<i64>,
    is_white_label_enabled: Option<bool>,
    is_desktop_allowed: Option<bool>,
    created_at: WireTime,
}

/// One step of the workflow as it was given.
#[derive(Serialize, ToSchema)]
pub struct FeatureStep {
    feature: &'static str,
    #[schema(value_type = Object)]
    config: Value,
    /// The step's display name, when one was given.
    label: Option<String>,
}

/// The node id a step got, for results and resubmission.
#[derive(Serialize, ToSchema)]
pub struct NodeRef {
    node_id: String,
    feature: &'static str,
}

impl From<&WorkflowRecord> for WorkflowResponse {
    fn from(w: &WorkflowRecord) -> Self {
        WorkflowResponse {
            uuid: w.id,
            workflow_label: w.label.clone(),
            workflow_kind: w.spec.kind,
            version: w.version,
            status: w.status,
            is_default: w.is_default,
            features: w
                .spec
                .nodes
                .iter()
                .map(|n| FeatureStep {
                    feature: n.feature.name(),
                    config: Value::Object(n.config.clone()),
                    label: n.label.clone(),
                })
                .collect(),
            nodes: w
                .spec
                .nodes
                .iter()
                .map(|n| NodeRef {
                    node_id: n.node_id.clone(),
                    feature: n.feature.name(),
                })
                .collect(),
            is_archived: w.archived_at.is_some(),
            session_expiration_time: w.settings.session_expiration_time,
            max_retry_attempts: w.settings.max_retry_attempts,
            retry_window_days: w.settings.retry_window_days,
            is_white_label_enabled: w.settings.is_white_label_enabled,
            is_desktop_allowed: w.settings.is_desktop_allowed,
            created_at: WireTime(w.created_at),
        }
    }
}

pub fn workflow_json(w: &WorkflowRecord) -> Value {
    super::json::to_json(WorkflowResponse::from(w))
}

fn check_label(label: &Option<String>, required: bool, errors: &mut FieldErrors) {
    match label {
        None if required => errors.add("workflow_label", "This field is required."),
        Some(l) if l.trim().is_empty() => {
            errors.add("workflow_label", "This field may not be blank.")
        }
        Some(l) if l.chars().count() > 255 => errors.add(
            "workflow_label",
            "Ensure this field has no more than 255 characters.",
        ),
        _ => {}
    }
}

fn check_status(status: &Option<String>, errors: &mut FieldErrors) -> Option<WorkflowStatus> {
    let s = status.as_deref()?;
    let parsed = WorkflowStatus::parse(s);
    if parsed.is_none() {
        errors.add("status", format!("\"{s}\" is not a valid choice."));
    }
    parsed
}

#[utoipa::path(post, path = "/v3/workflows/", operation_id = "create_workflow", tag = "workflows", request_body = NewWorkflowBody,
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[\\x21-\\x7e]+$", description = "Replays the stored response for 24 h")),
    responses((status = 201, body = WorkflowResponse, links(("get_workflow" = (operation_id = "get_workflow", parameters(("id" = "$response.body#/uuid")))), ("update_workflow" = (operation_id = "update_workflow", parameters(("id" = "$response.body#/uuid")))),
            ("create_session" = (operation_id = "create_session", request_body = json!({"workflow_id": "$response.body#/uuid"}))))),
        (status = 400, body = super::openapi::ErrorAnswer),
        (status = 401, body = super::openapi::ErrorBody), (status = 403, body = super::openapi::ErrorBody),
        (status = 409, body = super::openapi::ErrorBody), (status = 413, body = super::openapi::ErrorBody)),
    security(("api_key" = ["workflows:write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Can<WriteWorkflows>,
    headers: HeaderMap,
    Body(bytes): Body,
) -> ApiResult<Response> {
    let idem = idempotency::key(&headers, caller.app.id, "POST /v3/workflows/", &bytes)?;
    let body: WorkflowBody = parse::<NewWorkflowBody>(&bytes)?.into();
    let mut errors = FieldErrors::new();
    check_label(&body.workflow_label, true, &mut errors);
    let status = check_status(&body.status, &mut errors);
    let settings = body.settings().unwrap_or_else(|e| {
        errors.merge(e);
        WorkflowSettings::default()
    });
    let spec = match &body.features {
        None => {
            errors.add("features", "This field is required.");
            None
        }
        Some(f) => match validate_features(f) {
            Ok(spec) => Some(spec),
            Err(fe) => {
                errors.merge(fe);
                None
            }
        },
    };
    errors.into_result()?;
    let (Some(spec), Some(label)) = (spec, body.workflow_label) else {
        return Err(ApiError::field("features", "This field is required."));
    };
    let record = WorkflowRecord {
        id: WorkflowId::random(),
        version: 1,
        app_id: caller.app.id,
        label: label.trim().to_string(),
        status: status.unwrap_or(WorkflowStatus::Published),
        is_default: body.is_default.unwrap_or(false),
        spec,
        settings,
        archived_at: None,
        created_at: crate::clock::now(),
    };
    let idem = idem.map(|key| Idem {
        key,
        status_code: 201,
        render: Box::new(|w: &WorkflowRecord| workflow_json(w)),
    });
    Ok(match state.store.create_workflow(record, idem).await? {
        Written::Fresh(w) => (StatusCode::CREATED, Json(workflow_json(&w))).into_response(),
        Written::Replayed { status_code, body } => replay(status_code, body),
    })
}

#[utoipa::path(get, path = "/v3/workflows/", operation_id = "list_workflows", tag = "workflows",
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 100), ("offset" = Option<i64>, Query, minimum = 0)),
    responses((status = 200, description = "`{count, next, previous, results: [workflow]}`, newest first"),
        (status = 400, body = super::openapi::ErrorAnswer), (status = 401, body = super::openapi::ErrorBody),
        (status = 403, body = super::openapi::ErrorBody)),
    security(("api_key" = ["workflows:read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Can<ReadWorkflows>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = PageQuery::parse(query.as_deref())?;
    let (rows, count) = state.store.list_workflows(caller.app.id, q.page).await?;
    let (next, previous) = page_links(&state.config.public_url, "/v3/workflows/", &q, count);
    Ok(Json(json!({
        "count": count,
        "next": next,
        "previous": previous,
        "results": rows.iter().map(workflow_json).collect::<Vec<_>>(),
    })))
}

#[utoipa::path(get, path = "/v3/workflows/{id}/", operation_id = "get_workflow", tag = "workflows",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = WorkflowResponse), (status = 404, body = super::openapi::ErrorBody),
        (status = 401, body = super::openapi::ErrorBody), (status = 403, body = super::openapi::ErrorBody)),
    security(("api_key" = ["workflows:read"])))]
async fn retrieve(
    State(state): State<AppState>,
    caller: Can<ReadWorkflows>,
    Id(id): Id<WorkflowId>,
) -> ApiResult<Json<Value>> {
    let w = state
        .store
        .get_workflow(caller.app.id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(workflow_json(&w)))
}

#[utoipa::path(patch, path = "/v3/workflows/{id}/", operation_id = "update_workflow", tag = "workflows", request_body = WorkflowBody,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = WorkflowResponse, description = "A `features` array creates a new version"),
        (status = 400, body = super::openapi::ErrorAnswer), (status = 404, body = super::openapi::ErrorBody),
        (status = 401, body = super::openapi::ErrorBody), (status = 403, body = super::openapi::ErrorBody)),
    security(("api_key" = ["workflows:write"])))]
async fn update(
    State(state): State<AppState>,
    caller: Can<WriteWorkflows>,
    Id(id): Id<WorkflowId>,
    Body(bytes): Body,
) -> ApiResult<Json<Value>> {
    let body: WorkflowBody = parse(&bytes)?;
    let mut errors = FieldErrors::new();
    check_label(&body.workflow_label, false, &mut errors);
    let status = check_status(&body.status, &mut errors);
    let settings = body.settings().unwrap_or_else(|e| {
        errors.merge(e);
        WorkflowSettings::default()
    });
    errors.into_result()?;
    let current = state
        .store
        .get_workflow(caller.app.id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let spec = match &body.features {
        Some(f) => {
            let spec = validate_features(f)?;
            if spec.kind != current.spec.kind {
                return Err(ApiError::field(
                    "features",
                    format!(
                        "A {} workflow cannot become a {} workflow.",
                        current.spec.kind.as_str(),
                        spec.kind.as_str()
                    ),
                ));
            }
            Some(spec)
        }
        None => None,
    };
    let updated = state
        .store
        .update_workflow(WorkflowUpdate {
            app_id: caller.app.id,
            id,
            label: body.workflow_label.map(|l| l.trim().to_string()),
            status,
            is_default: body.is_default,
            settings,
            spec,
            now: crate::clock::now(),
        })
        .await?;
    Ok(Json(workflow_json(&updated)))
}

#[utoipa::path(delete, path = "/v3/workflows/{id}/", operation_id = "archive_workflow", tag = "workflows",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = WorkflowResponse, description = "Archived (`is_archived: true`): its sessions go on, new sessions on it are refused; archiving again changes nothing"),
        (status = 404, body = super::openapi::ErrorBody),
        (status = 401, body = super::openapi::ErrorBody), (status = 403, body = super::openapi::ErrorBody)),
    security(("api_key" = ["workflows:write"])))]
async fn archive(
    State(state): State<AppState>,
    caller: Can<WriteWorkflows>,
    Id(id): Id<WorkflowId>,
) -> ApiResult<Json<Value>> {
    let w = state
        .store
        .archive_workflow(caller.app.id, id, crate::clock::now())
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(workflow_json(&w)))
}
