//! Reviewer corrections (`PATCH /v3/session/{id}/update-data/` and `…/update-poa-data/`):
//! validated, applied as a new version of the step's data, a review row naming each changed
//! field before and after, and a `data.updated` event, in one transaction
//! (`vouch_core::corrections`).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vouch_core::corrections::Target;
use vouch_core::SessionId;

use super::auth::*;
use super::error::ApiResult;
use super::json::{json_value, Body};
use super::openapi::{ErrorAnswer, ErrorBody};
use crate::service::reviews::correct_data;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(update_data))
        .routes(routes!(update_poa_data))
}

/// Body of `update-data`: the identity document's fields to correct (at least one; `null`
/// clears one). Dates are `YYYY-MM-DD`, countries ISO 3166-1 alpha-3.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct DocumentCorrection {
    first_name: Option<String>,
    last_name: Option<String>,
    full_name: Option<String>,
    #[schema(pattern = "^(P|DL|ID|RP|SSC|HIC|WP|TC|VISA|PSC|BC|OTHER)$")]
    document_type: Option<String>,
    document_subtype: Option<String>,
    document_number: Option<String>,
    personal_number: Option<String>,
    #[schema(format = Date)]
    date_of_birth: Option<String>,
    #[schema(format = Date)]
    date_of_issue: Option<String>,
    #[schema(format = Date)]
    expiration_date: Option<String>,
    #[schema(pattern = "^[A-Za-z]{3}$")]
    issuing_state: Option<String>,
    #[schema(pattern = "^[A-Za-z]{3}$")]
    nationality: Option<String>,
    #[schema(pattern = "^(M|F|U|X)$")]
    gender: Option<String>,
    #[schema(pattern = "^(SINGLE|MARRIED|DIVORCED|WIDOWED|UNKNOWN)$")]
    marital_status: Option<String>,
    address: Option<String>,
    place_of_birth: Option<String>,
    #[schema(value_type = Object, required = false)]
    parsed_address: Option<Value>,
    /// Further fields, merged into the step's data.
    #[schema(value_type = Object, required = false)]
    extra_fields: Option<Value>,
    /// The OCR step, when the workflow has more than one (default: the first).
    node_id: Option<String>,
    /// Recorded on the review row.
    #[schema(max_length = 10000)]
    comment: Option<String>,
}

/// Body of `update-poa-data`: the proof of address's fields to correct (at least one).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct PoaCorrection {
    #[schema(pattern = "^[A-Za-z]{3}$")]
    issuing_state: Option<String>,
    #[schema(
        pattern = "^(UTILITY_BILL|BANK_STATEMENT|GOVERNMENT_ISSUED_DOCUMENT|OTHER_POA_DOCUMENT|UNKNOWN)$"
    )]
    document_type: Option<String>,
    document_language: Option<String>,
    issuer: Option<String>,
    #[schema(format = Date)]
    issue_date: Option<String>,
    poa_address: Option<String>,
    name_on_document: Option<String>,
    #[schema(value_type = Object, required = false)]
    poa_parsed_address: Option<Value>,
    #[schema(value_type = Object, required = false)]
    extra_fields: Option<Value>,
    node_id: Option<String>,
    #[schema(max_length = 10000)]
    comment: Option<String>,
}

async fn apply(
    state: AppState,
    caller: Caller,
    id: SessionId,
    target: Target,
    bytes: &[u8],
) -> ApiResult<Json<Value>> {
    let body = json_value(bytes)?;
    let answer = correct_data(
        state.store.as_ref(),
        caller.app.id,
        id,
        target,
        body,
        caller.key_display.clone(),
    )
    .await?;
    Ok(Json(answer))
}

#[utoipa::path(patch, path = "/v3/session/{id}/update-data/", operation_id = "update_session_data", tag = "review",
    request_body = DocumentCorrection, params(("id" = String, Path)),
    responses((status = 200, description = "`{session_id, node_id, changed: [{field, before, after}]}` (`changed` empty: nothing differed, nothing written)"),
        (status = 400, body = ErrorAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = ["sessions:write"])))]
async fn update_data(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    Id(id): Id<SessionId>,
    Body(bytes): Body,
) -> ApiResult<Json<Value>> {
    apply(state, caller.0, id, Target::Document, &bytes).await
}

#[utoipa::path(patch, path = "/v3/session/{id}/update-poa-data/", operation_id = "update_session_poa_data", tag = "review",
    request_body = PoaCorrection, params(("id" = String, Path)),
    responses((status = 200, description = "`{session_id, node_id, changed: [{field, before, after}]}`"),
        (status = 400, body = ErrorAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = ["sessions:write"])))]
async fn update_poa_data(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    Id(id): Id<SessionId>,
    Body(bytes): Body,
) -> ApiResult<Json<Value>> {
    apply(state, caller.0, id, Target::ProofOfAddress, &bytes).await
}
