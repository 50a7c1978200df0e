//! `GET /v3/session/{id}/generate-pdf/` (also without the slash, as Didit's MCP server sends
//! it): the session's report as a PDF rendered by vouch (`crate::report`).

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vouch_core::scopes::{Access, Resource};
use vouch_core::SessionId;
use vouch_store::StoreError;

use super::auth::*;
use super::error::{ApiError, ApiResult};
use super::openapi::ErrorBody;
use crate::media::Variant;
use crate::report::{render, Picture, Pictures};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(generate_pdf))
}

#[utoipa::path(get, path = "/v3/session/{id}/generate-pdf/", operation_id = "generate_session_pdf", tag = "sessions",
    params(("id" = String, Path, description = "Session id (user or business)")),
    responses((status = 200, content_type = "application/pdf", description = "The report: header, each step with its status, data, warnings and captured images (with a `media: read` key), and the review trail with each row's hash and whether the chain verifies (also served without the trailing slash)"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["sessions:read"])))]
pub(super) async fn generate_pdf(
    State(state): State<AppState>,
    caller: Can<ReadSessions>,
    Id(id): Id<SessionId>,
) -> ApiResult<Response> {
    let b = state
        .store
        .session_bundle(caller.app.id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let pictures = if caller.scopes.allows(Resource::Media, Access::Read) {
        Pictures::Shown(pictures(&state, &b.media).await?)
    } else {
        Pictures::Withheld
    };
    // A failure here is vouch's own (logged, answered 500 without internals).
    let failed =
        |e: String| ApiError::Store(StoreError::Internal(format!("rendering a report: {e}")));
    let pdf = tokio::task::spawn_blocking(move || render(&b, &pictures, crate::clock::now()))
        .await
        .map_err(|e| failed(e.to_string()))?
        .map_err(failed)?;
    let mut r = pdf.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"session-{id}.pdf\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// The newest image of each step's slot, opened (display copies, without metadata).
async fn pictures(
    state: &AppState,
    media: &[vouch_store::MediaRecord],
) -> Result<Vec<Picture>, ApiError> {
    let mut newest: Vec<&vouch_store::MediaRecord> = Vec::new();
    for m in media.iter().rev() {
        let image = vouch_core::media::MediaType::IMAGES.contains(&m.media_type);
        if image
            && !newest
                .iter()
                .any(|n| n.node_id == m.node_id && n.slot == m.slot)
        {
            newest.push(m);
        }
    }
    newest.reverse();
    let mut out = Vec::with_capacity(newest.len());
    for m in newest {
        let Some((record, wrapped)) = state.store.media(m.id).await? else {
            continue;
        };
        match state
            .media
            .read(record.session_id, record.id, Variant::Display, &wrapped)
            .await
        {
            Ok(Some(bytes)) => out.push(Picture { record, bytes }),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(media = %m.id, error = %e, "a captured file could not be read for a report")
            }
        }
    }
    Ok(out)
}
