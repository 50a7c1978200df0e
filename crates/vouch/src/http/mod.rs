//! The HTTP API: one module per resource, errors mapped in `error`, shared plumbing here.

pub mod attempts;
pub mod auth;
pub mod batch_delete;
pub mod corrections;
pub mod deliveries;
pub mod destinations;
pub mod emails;
pub mod error;
pub mod idempotency;
pub mod imports;
pub mod json;
pub mod limits;
pub mod openapi;
pub mod pagination;
pub mod report;
pub mod review;
pub mod sandbox;
pub mod serve;
pub mod sessions;
pub mod sharing;
pub mod system;
pub mod workflows;

use std::time::Instant;

use std::sync::{Arc, LazyLock};

use axum::extract::{FromRequestParts, MatchedPath, Path, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::Value;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::metrics::Metrics;
use crate::state::AppState;
use error::ApiError;

/// Every operation, declared once by its handler's `#[utoipa::path]`: the router and the
/// OpenAPI document are both made from this.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(workflows::router())
        .merge(sessions::router())
        .merge(batch_delete::router())
        .merge(imports::router())
        .merge(report::router())
        .merge(corrections::router())
        .merge(sharing::router())
        .merge(attempts::router())
        .merge(review::router())
        .merge(destinations::router())
        .merge(deliveries::router())
        .merge(emails::router())
        .merge(sandbox::router())
        .merge(system::router())
}

/// Paths Didit's clients send without the trailing slash: served in that form as well as in the
/// slashed one the document lists (every other path without its slash is redirected).
pub const SLASHLESS: &[&str] = &[
    "/v3/session/{id}/webhook/{uuid}",
    "/v3/session/{id}/webhook/{uuid}/resend",
    "/v3/session/{id}/generate-pdf",
];

/// The `SLASHLESS` forms, routed to the same handlers as the documented ones.
fn slashless() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route(SLASHLESS[0], get(deliveries::session_webhook))
        .route(SLASHLESS[1], post(deliveries::resend_session_webhook))
        .route(SLASHLESS[2], get(report::generate_pdf))
}

/// The path templates of the document, for the trailing-slash redirect (a `{…}` segment
/// matches any one segment).
fn routes() -> &'static [String] {
    static ROUTES: LazyLock<Vec<String>> = LazyLock::new(|| {
        openapi::document_model()
            .paths
            .paths
            .keys()
            .cloned()
            .collect()
    });
    &ROUTES
}

fn matches_route(path: &str) -> bool {
    let segs: Vec<&str> = path.split('/').collect();
    routes().iter().any(|r| {
        let pat: Vec<&str> = r.split('/').collect();
        pat.len() == segs.len()
            && pat
                .iter()
                .zip(&segs)
                .all(|(p, s)| (p.starts_with('{') && !s.is_empty()) || p == s)
    })
}

/// The API and the person's page.
pub fn router(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    let max_file = state.config.media.max_bytes;
    let (api, _) = api().split_for_parts();
    let person = crate::hosted::router(max_file).route_layer(middleware::from_fn_with_state(
        state.clone(),
        limits::person_pages,
    ));
    let http = state.config.http.clone();
    let in_flight = Arc::new(tokio::sync::Semaphore::new(http.max_in_flight.max(1)));
    with_stack(
        api.merge(slashless())
            .merge(person)
            .merge(
                crate::console::router().route_layer(middleware::from_fn_with_state(
                    state.clone(),
                    limits::console_pages,
                )),
            )
            .fallback(api_fallback)
            .with_state(state)
            .layer(middleware::from_fn(limits::headers))
            .layer(middleware::from_fn_with_state(
                http.request_timeout,
                answer_within,
            ))
            .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
                http.body_read_timeout,
            ))
            .layer(middleware::from_fn_with_state(in_flight, admit)),
        metrics,
    )
}

/// At most `http.max_in_flight` requests are worked on at once; past it a request is answered
/// `503 overloaded` before anything else is done for it (no key lookup, no body read), so that
/// a flood costs little and the requests let in are answered in time.
async fn admit(
    State(in_flight): State<Arc<tokio::sync::Semaphore>>,
    req: Request,
    next: Next,
) -> Response {
    let Ok(_permit) = in_flight.try_acquire() else {
        return ApiError::Store(vouch_store::StoreError::Overloaded(
            "too many requests in flight".into(),
        ))
        .into_response();
    };
    next.run(req).await
}

/// A request still without an answer after `http.request_timeout` is answered `503`
/// (`request_timeout`, `Retry-After: 1`). What it was doing stops at its next wait; a change it
/// had handed to the database may still commit, as with any answer lost on the way, which is
/// what `Idempotency-Key` is for.
async fn answer_within(
    State(limit): State<std::time::Duration>,
    req: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => {
            let mut r = ApiError::detail(
                StatusCode::SERVICE_UNAVAILABLE,
                "request_timeout",
                format!(
                    "The request was not answered within {} seconds; retry it.",
                    limit.as_secs()
                ),
            )
            .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
    }
}

/// Unknown paths of the API: the caller is authenticated first (a missing key `403`, a bad one
/// `401`), so only a caller with a valid key learns that a path does not exist.
async fn api_fallback(State(state): State<AppState>, req: Request) -> Response {
    let (mut parts, _) = req.into_parts();
    let path = parts.uri.path();
    if path.starts_with("/v3/") || path.starts_with("/v1/") {
        if let Err(e) = auth::Caller::from_request_parts(&mut parts, &state).await {
            return e.into_response();
        }
    }
    fallback(parts.method, parts.uri).await
}

/// A worker-only node's routes: health and metrics.
pub fn system_router(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    let (routes, _) = system::router().split_for_parts();
    with_stack(routes.fallback(fallback).with_state(state), metrics)
}

/// The middleware every response goes through: metrics, panic catching, tracing, request ids,
/// and the JSON 405 fallback (each router sets its own 404 fallback). Shared with the benchmark's bare router so the ceiling it
/// measures is this stack minus vouch's own work.
pub fn with_stack(routes: Router, metrics: Arc<Metrics>) -> Router {
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    routes
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(metrics, observe))
        .layer(CatchPanicLayer::custom(|_| error::internal_error()))
        .layer(
            TraceLayer::new_for_http()
                // Errors are logged where they are made sense of (`http::error`); a 503 shed
                // under overload is not worth a line each.
                .on_failure(
                    tower_http::trace::DefaultOnFailure::new().level(tracing::Level::DEBUG),
                )
                .make_span_with(|req: &Request| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!("request", method = %req.method(), path = %loggable_path(req), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// The path as logs may show it: a person's page is logged as its route's template, so that a
/// `session_token` (the person's only credential) never reaches a log.
fn loggable_path(req: &Request) -> String {
    let path = req.uri().path();
    if !path.starts_with("/session/") {
        return path.to_string();
    }
    req.extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "/session/…".to_string(), |p| p.as_str().to_string())
}

/// The benchmark's ceiling: update-status's route through the same stack, answering without
/// authentication, storage or decisions (the body is still read and parsed as JSON).
pub fn bare_router(config: Arc<crate::config::Config>) -> Router {
    async fn bare(
        Path(id): Path<String>,
        State(limit): State<usize>,
        req: Request,
    ) -> Result<Json<Value>, ApiError> {
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|e| json::body_error(&e, limit))?;
        let _: Value = json::parse(&bytes)?;
        Ok(Json(serde_json::json!({"session_id": path_uuid(&id)?})))
    }
    let routes = Router::new()
        .route(
            "/v3/session/{id}/update-status/",
            axum::routing::patch(bare),
        )
        .fallback(fallback)
        .with_state(config.body_limit_bytes);
    with_stack(routes, Arc::new(Metrics::default()))
}

/// Records request counts and durations by route template.
async fn observe(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let start = Instant::now();
    let resp = next.run(req).await;
    if let Some(shed) = resp.extensions().get::<crate::metrics::Shed>() {
        metrics.count_shed(shed.0);
    }
    metrics.observe_request(
        method.as_str(),
        &route,
        resp.status().as_u16(),
        start.elapsed(),
    );
    resp
}

/// Unknown paths: a known route missing its trailing slash is redirected (`301` for GET/HEAD,
/// `308` otherwise, query kept); anything else is `404`.
async fn fallback(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if !path.ends_with('/') {
        let slashed = format!("{path}/");
        if matches_route(&slashed) {
            let location = match uri.query() {
                Some(q) => format!("{slashed}?{q}"),
                None => slashed,
            };
            let status = if method == Method::GET || method == Method::HEAD {
                StatusCode::MOVED_PERMANENTLY
            } else {
                StatusCode::PERMANENT_REDIRECT
            };
            let mut r = status.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            return r;
        }
    }
    ApiError::not_found().into_response()
}

async fn method_not_allowed(method: Method) -> Response {
    ApiError::detail(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("Method \"{method}\" not allowed."),
    )
    .into_response()
}

/// A path id that is not a UUID is answered like an unknown one.
pub fn path_uuid(s: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(s).map_err(|_| ApiError::not_found())
}

/// The stored answer of an earlier request with the same `Idempotency-Key`.
pub fn replay(status_code: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status_code).unwrap_or(StatusCode::OK);
    let mut r = (status, Json(body)).into_response();
    r.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_matching_for_redirects() {
        assert!(matches_route("/v3/sessions/"));
        assert!(matches_route("/v3/session/abc/decision/"));
        assert!(!matches_route("/v3/session//decision/"));
        assert!(!matches_route("/v3/nothing/"));
        assert!(matches_route(
            "/v3/webhook/destinations/x/deliveries/y/resend/"
        ));
    }
}
