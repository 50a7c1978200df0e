//! Rate limits at the edge (§7): which counters a request is charged to, and the headers that
//! tell the client where it stands. Keys are charged once authenticated (`auth::Caller`), so a
//! key's every route counts against it, and three routes against their own stricter limits as
//! well; a request without a valid key counts against its client address, and so does every
//! request to the person's pages.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use vouch_core::ratelimit::{Limit, Verdict};

use super::error::ApiError;
use crate::ratelimit::Charge;
use crate::state::AppState;

/// Where the verdict of a request's charge is left for [`headers`] to answer with.
#[derive(Clone, Default)]
struct Slot(Arc<Mutex<Option<Verdict>>>);

/// Answers every charged request with `X-RateLimit-Limit`, `-Remaining` and `-Reset`.
pub async fn headers(mut req: Request, next: Next) -> Response {
    let slot = Slot::default();
    req.extensions_mut().insert(slot.clone());
    let mut resp = next.run(req).await;
    let verdict = *slot.0.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(v) = verdict {
        write_headers(resp.headers_mut(), &v);
    }
    resp
}

fn write_headers(h: &mut HeaderMap, v: &Verdict) {
    for (name, value) in [
        ("x-ratelimit-limit", v.limit.to_string()),
        ("x-ratelimit-remaining", v.remaining.to_string()),
        ("x-ratelimit-reset", v.reset_at.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            h.insert(name, value);
        }
    }
}

fn limit(state: &AppState, n: u32) -> Limit {
    Limit {
        limit: n,
        window_ms: state.config.rate_limit.window.as_millis().max(1) as u64,
    }
}

/// The stricter counter of a route, by its template and method, as Didit's API has them.
fn group(parts: &Parts, state: &AppState) -> Option<(&'static str, u32)> {
    let route = parts.extensions.get::<MatchedPath>()?.as_str();
    let cfg = &state.config.rate_limit;
    match (&parts.method, route) {
        (&Method::POST, "/v3/session/") => Some(("session-create", cfg.session_create)),
        (&Method::GET, "/v3/session/{id}/decision/") => Some(("session-decision", cfg.decision)),
        (&Method::GET, "/v3/session/{id}/generate-pdf/" | "/v3/session/{id}/generate-pdf") => {
            Some(("session-generate-pdf", cfg.pdf))
        }
        _ => None,
    }
}

/// Charges an authenticated key's request: `429` once any of its counters is spent.
pub async fn charge_key(
    parts: &Parts,
    state: &AppState,
    key: vouch_core::KeyId,
    own_limit: Option<u32>,
) -> Result<(), ApiError> {
    let mut charges = vec![Charge {
        name: format!("key:{key}"),
        limit: limit(state, own_limit.unwrap_or(state.config.rate_limit.per_key)),
    }];
    if let Some((name, n)) = group(parts, state) {
        charges.push(Charge {
            name: format!("key:{key}:{name}"),
            limit: limit(state, n),
        });
    }
    charge(parts, state, &charges).await
}

/// Charges a request that brought no valid key to its client address.
pub async fn charge_unauthenticated(parts: &Parts, state: &AppState) -> Result<(), ApiError> {
    let address = client_address(&parts.headers, parts.extensions.get(), state);
    let charges = [Charge {
        name: format!("addr:{address}:api"),
        limit: limit(state, state.config.rate_limit.unauthenticated),
    }];
    charge(parts, state, &charges).await
}

async fn charge(parts: &Parts, state: &AppState, charges: &[Charge]) -> Result<(), ApiError> {
    let Some(v) = state
        .limiter
        .charge(charges, crate::clock::now().timestamp_millis())
        .await
    else {
        return Ok(());
    };
    if let Some(slot) = parts.extensions.get::<Slot>() {
        *slot.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(v);
    }
    if v.allowed {
        Ok(())
    } else {
        Err(refused(&v))
    }
}

fn refused(v: &Verdict) -> ApiError {
    ApiError::TooSoon {
        code: "rate_limited",
        detail: format!(
            "Request was throttled. Expected available in {} second{}.",
            v.retry_after,
            if v.retry_after == 1 { "" } else { "s" }
        ),
        retry_after_secs: v.retry_after as i64,
    }
}

/// The client's address: the configured proxy header's first address, else the peer's.
pub(crate) fn client_address(
    headers: &HeaderMap,
    peer: Option<&ConnectInfo<SocketAddr>>,
    state: &AppState,
) -> String {
    let from_header = state
        .config
        .rate_limit
        .client_address_header
        .as_deref()
        .and_then(|h| headers.get(h))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    from_header
        .or_else(|| peer.map(|p| p.0.ip().to_string()))
        .unwrap_or_else(|| "unknown".into())
}

/// The person's pages and forms, per client address: `429` as a plain page, the person's
/// browser reading it, with `Retry-After`.
pub async fn person_pages(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.config.rate_limit.person_pages;
    per_address(&state, "person", limit, req, next, |req, secs| {
        crate::hosted::too_many_requests(req.uri().query(), secs)
    })
    .await
}

/// The reviewer console's pages and forms, per client address, counted apart from the
/// person's pages and the API.
pub async fn console_pages(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.config.rate_limit.console_pages;
    per_address(
        &state,
        "console",
        limit,
        req,
        next,
        crate::console::too_many_requests,
    )
    .await
}

async fn per_address(
    state: &AppState,
    bucket: &str,
    per_window: u32,
    req: Request,
    next: Next,
    refusal: impl FnOnce(&Request, u64) -> Response,
) -> Response {
    let address = client_address(req.headers(), req.extensions().get(), state);
    let charges = [Charge {
        name: format!("addr:{address}:{bucket}"),
        limit: limit(state, per_window),
    }];
    match state
        .limiter
        .charge(&charges, crate::clock::now().timestamp_millis())
        .await
    {
        Some(v) if !v.allowed => {
            let mut r = refusal(&req, v.retry_after);
            write_headers(r.headers_mut(), &v);
            r
        }
        _ => next.run(req).await,
    }
}
