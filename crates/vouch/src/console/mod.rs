//! The reviewer's side: the console under `/console/`, in the same binary as the API.
//!
//! Server-rendered (askama, `templates/console/`), one stylesheet served here, no script and no
//! request to anyone else: every action is a plain form. A console user logs in with an email
//! and password (`vouch users …`, Argon2id); the login lives in the database (both backends),
//! named by the SHA-256 of a random token the browser holds in an `HttpOnly; Secure;
//! SameSite=Strict` cookie, and every form carries the login's CSRF token. Decisions go through
//! the same use case as `PATCH /v3/session/{id}/update-status/`, attributed `CONSOLE_USER`.

mod decide;
mod desk;
mod id_token;
pub mod lang;
mod login;
pub mod oidc;
pub mod password;
mod queue;
mod session;
pub mod settings;
mod steps;
mod viewer;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use sha2::{Digest, Sha256};
use vouch_store::{ConsoleLogin, ConsoleUser};

use crate::state::AppState;
use lang::Text;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/", get(queue::page))
        .route("/console/login", get(login::form).post(login::submit))
        .route("/console/logout", post(login::logout))
        .route("/console/oidc/start", get(oidc::start))
        .route("/console/oidc/callback", get(oidc::callback))
        .route("/console/sessions/{id}", get(session::page))
        .route("/console/sessions/{id}/decision", post(decide::decide))
        .route("/console/sessions/{id}/claim", post(desk::claim))
        .route("/console/sessions/{id}/staged", post(desk::staged))
        .route("/console/next", post(desk::next))
        .route(
            "/console/sessions/{id}/steps/{node}/status",
            post(steps::step_status),
        )
        .route("/console/sessions/{id}/notes", post(steps::note))
        .route("/console/assets/console.css", get(stylesheet))
        .route("/console/assets/console.js", get(script))
}

const CSS: &str = include_str!("../../assets/console.css");
/// The keyboard shortcuts; every page works without it.
const JS: &str = include_str!("../../assets/console.js");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

/// The name of the login cookie; its path is `/console`.
pub const COOKIE: &str = "vouch_console";

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A logged-in console user, with the language its browser asks for.
pub struct Reviewer {
    pub user: ConsoleUser,
    pub login: ConsoleLogin,
    pub t: &'static Text,
}

/// The language of a request: `?lang=`, else `Accept-Language`.
fn text_of(parts: &Parts) -> &'static Text {
    let query_lang = parts.uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| v.into_owned())
    });
    let accept = parts
        .headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    lang::pick(query_lang.as_deref(), accept)
}

impl FromRequestParts<AppState> for Reviewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        reviewer(parts, state).await
    }
}

/// The logged-in user of a request, or the redirect to the login page.
async fn reviewer(parts: &Parts, state: &AppState) -> Result<Reviewer, Response> {
    let t = text_of(parts);
    let to_login = || {
        let next = parts
            .uri
            .path_and_query()
            .map_or("/console/", |p| p.as_str());
        let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        Redirect::to(&format!("/console/login?next={next}")).into_response()
    };
    let Some(token) = cookie_token(&parts.headers) else {
        return Err(to_login());
    };
    let cfg = &state.config.console;
    let now = crate::clock::now();
    let idle = chrono::Duration::from_std(cfg.idle_timeout).unwrap_or(chrono::Duration::MAX);
    let absolute =
        chrono::Duration::from_std(cfg.absolute_timeout).unwrap_or(chrono::Duration::MAX);
    let found = state
        .store
        .console_login(token_hash(&token), now - idle, now - absolute, now)
        .await
        .map_err(|e| unavailable(t, &e))?;
    match found {
        Some((login, user)) => Ok(Reviewer { user, login, t }),
        None => Err(to_login()),
    }
}

/// A decision's request: the user, and the session of its path with its desk's state, read at
/// the same time (the session is shown to no one before the user is known to see it).
pub struct Deciding {
    pub who: Reviewer,
    pub id: Option<vouch_core::SessionId>,
    pub found: Option<(vouch_core::session::Session, vouch_store::DeskState)>,
}

impl FromRequestParts<AppState> for Deciding {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let id = parts
            .uri
            .path()
            .split('/')
            .nth(3)
            .and_then(|s| s.parse::<vouch_core::SessionId>().ok());
        let now = crate::clock::now();
        let session = async {
            match id {
                Some(id) => state.store.console_session_desk(id, now).await,
                None => Ok(None),
            }
        };
        let (who, found) = tokio::join!(reviewer(parts, state), session);
        let who = who?;
        let found = found
            .map_err(|e| unavailable(who.t, &e))?
            .filter(|(s, _)| who.user.sees(s.app_id));
        Ok(Deciding { who, id, found })
    }
}

/// The client's address, as the rate limits see it.
pub struct ClientAddress(pub String);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(crate::http::limits::client_address(
            &parts.headers,
            parts.extensions.get(),
            state,
        )))
    }
}

/// The language alone, for the pages shown before login.
pub struct Lang(pub &'static Text);

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Lang(text_of(parts)))
    }
}

/// A console page: no caching, no framing, nothing but this origin's stylesheet and forms.
pub(crate) fn html(status: StatusCode, rendered: askama::Result<String>) -> Response {
    let body = match rendered {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "rendering a console page");
            return (StatusCode::INTERNAL_SERVER_ERROR, "").into_response();
        }
    };
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    r
}

/// The database could not answer: a plain page saying so.
fn unavailable(t: &Text, e: &vouch_store::StoreError) -> Response {
    tracing::warn!(error = %e, "console: the database did not answer");
    let mut r = message(
        t,
        StatusCode::SERVICE_UNAVAILABLE,
        "The database did not answer; try again in a moment.",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

#[derive(askama::Template)]
#[template(path = "console/message.html")]
struct MessagePage<'a> {
    t: &'a Text,
    text: &'a str,
}

/// A page of one sentence (a refusal, an error).
fn message(t: &Text, status: StatusCode, text: &str) -> Response {
    use askama::Template;
    html(status, MessagePage { t, text }.render())
}

/// A console request over its client address's rate limit: a page saying when to try again.
pub(crate) fn too_many_requests(req: &axum::extract::Request, retry_after_secs: u64) -> Response {
    let t = lang::pick(
        None,
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let words = t
        .too_many_requests
        .replace("{seconds}", &retry_after_secs.max(1).to_string());
    let mut r = message(t, StatusCode::TOO_MANY_REQUESTS, &words);
    if let Ok(v) = HeaderValue::from_str(&retry_after_secs.max(1).to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// Whether a posted CSRF token is the login's (compared in constant time).
fn csrf_ok(login: &ConsoleLogin, posted: Option<&str>) -> bool {
    use subtle::ConstantTimeEq;
    posted.is_some_and(|p| bool::from(p.as_bytes().ct_eq(login.csrf.as_bytes())))
}

/// A state-changing form whose CSRF token is missing or wrong.
fn forbidden_form(t: &Text) -> Response {
    message(t, StatusCode::FORBIDDEN, t.form_expired)
}

/// The session of a state-changing form a reviewer may act on (its CSRF token right, its role
/// one that decides, the session one of its applications' and, with `unclaimed_or_mine`, not
/// held by someone else), or the page that says why not.
pub(crate) async fn acting_on(
    state: &AppState,
    who: &Reviewer,
    id: &str,
    csrf: Option<&str>,
    unclaimed_or_mine: bool,
) -> Result<vouch_store::SessionBundle, Response> {
    let t = who.t;
    if !csrf_ok(&who.login, csrf) {
        return Err(forbidden_form(t));
    }
    if !who.user.role.may_decide() {
        return Err(message(t, StatusCode::FORBIDDEN, t.viewer_cannot_decide));
    }
    let Ok(id) = id.parse::<vouch_core::SessionId>() else {
        return Err(message(t, StatusCode::NOT_FOUND, t.not_found));
    };
    let b = match session::find(state, who, id).await? {
        Some(b) => b,
        None => return Err(message(t, StatusCode::NOT_FOUND, t.not_found)),
    };
    if !unclaimed_or_mine {
        return Ok(b);
    }
    if let Some(email) = decide::held_by_other(state, who, id).await? {
        let words = t.claimed_by_other.replace("{email}", &email);
        return Err(message(t, StatusCode::FORBIDDEN, &words));
    }
    Ok(b)
}

/// A duration as people say it: `3 d`, `5 h`, `12 min`.
fn age(d: chrono::Duration) -> String {
    let m = d.num_minutes().max(0);
    match m {
        0..=59 => format!("{m} min"),
        60..=2879 => format!("{} h", m / 60),
        _ => format!("{} d", m / 1440),
    }
}
