//! Health, metrics and the OpenAPI document (§7).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Json;
use chrono::SecondsFormat;
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
        .routes(routes!(readiness))
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
        "timestamp": crate::clock::now().to_rfc3339_opts(SecondsFormat::Secs, true),
    })))
}

/// The longest each check may take before it counts as failed.
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

#[utoipa::path(get, path = "/system/readiness", tag = "system",
    responses((status = 200, description = "Ready: the database answers reads and takes a write, the workers run. `{\"status\": \"ready\", \"checks\": {…}}`"),
        (status = 503, description = "Not ready: `{\"status\": \"not_ready\", \"checks\": {…}}`, each failed check with its `code` (`unavailable`, `overloaded`, `storage_full`, `timeout`)")))]
async fn readiness(State(state): State<AppState>) -> impl IntoResponse {
    let store = state.store.clone();
    let read = tokio::time::timeout(CHECK_TIMEOUT, store.ping()).await;
    let write = tokio::time::timeout(CHECK_TIMEOUT, store.probe_write(crate::clock::now())).await;
    let check = |r: Result<vouch_store::StoreResult<()>, tokio::time::error::Elapsed>| match r {
        Ok(Ok(())) => json!({"status": "ok"}),
        Ok(Err(e)) => {
            let code = match e {
                vouch_store::StoreError::Full(_) => "storage_full",
                vouch_store::StoreError::Overloaded(_) => "overloaded",
                _ => "unavailable",
            };
            json!({"status": "failed", "code": code, "detail": e.to_string()})
        }
        Err(_) => json!({"status": "failed", "code": "timeout",
                         "detail": format!("no answer within {} s", CHECK_TIMEOUT.as_secs())}),
    };
    let (read, write) = (check(read), check(write));
    let workers = if state.workers.running() {
        json!({"status": "ok"})
    } else if state.workers.on_this_node() {
        json!({"status": "failed", "code": "stopping", "detail": "the workers are stopping"})
    } else {
        json!({"status": "ok", "detail": "no workers on this node (serve --api)"})
    };
    let ready = [&read, &write, &workers]
        .iter()
        .all(|c| c["status"] == "ok");
    let status = if ready {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if ready { "ready" } else { "not_ready" },
            "timestamp": crate::clock::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            "checks": {"database_read": read, "database_write": write, "workers": workers},
        })),
    )
}

#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    // The queues are read from the database; a scrape that cannot read them still answers the
    // rest (and says so in the log).
    let queues = match state.store.queue_stats(crate::clock::now()).await {
        Ok(q) => q,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: reading the job queues failed");
            Vec::new()
        }
    };
    let store = crate::metrics::render_store(&state.store.store_stats(), &queues);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render() + &state.limiter.render() + &store,
    )
}

#[utoipa::path(get, path = "/openapi.json", tag = "system",
    responses((status = 200, description = "This document")))]
async fn openapi() -> Json<Value> {
    Json(super::openapi::document())
}
