//! Health, metrics and the OpenAPI document (§7).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Json;
use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};

use super::error::ApiResult;
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthcheck))
        // The same check with a trailing slash, as Didit's clients call it.
        .route("/system/healthcheck/", get(healthcheck))
        .routes(routes!(metrics))
        .routes(routes!(openapi))
}

#[utoipa::path(get, path = "/system/healthcheck", tag = "system",
    responses((status = 200, description = "`{\"status\": \"ok\", \"timestamp\"}`"),
        (status = 503, body = super::openapi::ErrorBody)))]
async fn healthcheck(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    state.store.ping().await?;
    Ok(Json(json!({
        "status": "ok",
        "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
    })))
}

#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render() + &state.limiter.render(),
    )
}

#[utoipa::path(get, path = "/openapi.json", tag = "system",
    responses((status = 200, description = "This document")))]
async fn openapi() -> Json<Value> {
    Json(super::openapi::document())
}
