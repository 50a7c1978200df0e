//! Logging in and out of the console.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use vouch_store::{ConsoleEvent, ConsoleLogin};

use super::lang::Text;
use super::{
    csrf_ok, forbidden_form, html, token_hash, unavailable, ClientAddress, Lang, Reviewer, COOKIE,
};
use crate::cli::users::normal_email;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage<'a> {
    t: &'a Text,
    next: &'a str,
    email: &'a str,
    error: Option<String>,
    notice: Option<&'a str>,
    /// The single sign-on button's words, and where it leads, when a provider is set.
    sso: Option<(String, String)>,
}

/// The single sign-on button of the login page, if `[console.oidc]` is set.
fn sso(state: &AppState, next: &str) -> Option<(String, String)> {
    let cfg = state.config.console.oidc.as_ref()?;
    let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    Some((
        cfg.label.clone(),
        format!("/console/oidc/start?next={next}"),
    ))
}

fn param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Where to go after logging in: a console path only (no other site, no scheme-relative URL).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/console/") && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/console/",
    }
}

pub async fn form(State(state): State<AppState>, Lang(t): Lang, RawQuery(q): RawQuery) -> Response {
    let next = param(q.as_deref(), "next");
    let notice = param(q.as_deref(), "logged_out").map(|_| t.logged_out);
    let next = safe_next(next.as_deref());
    let page = LoginPage {
        t,
        next,
        email: "",
        error: None,
        notice,
        sso: sso(&state, next),
    };
    html(StatusCode::OK, page.render())
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    /// The second factor's code, for a user that has one.
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: Option<String>,
}

fn random_hex() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

pub async fn submit(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    ClientAddress(address): ClientAddress,
    Form(f): Form<LoginForm>,
) -> Response {
    let now = crate::clock::now();
    let email = normal_email(&f.email);
    let next = safe_next(f.next.as_deref()).to_string();
    let refuse = |status: StatusCode, error: String| {
        let page = LoginPage {
            t,
            next: &next,
            email: &email,
            error: Some(error),
            notice: None,
            sso: sso(&state, &next),
        };
        html(status, page.render())
    };
    let throttle = state.config.console.throttle();
    let failures = match state
        .store
        .console_failures(email.clone(), address.clone(), now - throttle.window)
        .await
    {
        Ok(f) => f,
        Err(e) => return unavailable(t, &e),
    };
    let event = |kind: &str| {
        let mut e = ConsoleEvent::new(kind, &email, now);
        e.address = Some(address.clone());
        e
    };
    if let Some(until) = throttle.locked_until(&failures, now) {
        let minutes = ((until - now).num_seconds() + 59) / 60;
        let _ = state
            .store
            .record_console_event(event("login_locked"))
            .await;
        let mut r = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            t.login_locked
                .replace("{minutes}", &minutes.max(1).to_string()),
        );
        if let Ok(v) = HeaderValue::from_str(&(until - now).num_seconds().max(1).to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let user = match state.store.console_user(email.clone()).await {
        Ok(u) => u,
        Err(e) => return unavailable(t, &e),
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let password = f.password;
    let matches =
        tokio::task::spawn_blocking(move || super::password::verify(stored.as_deref(), &password))
            .await
            .unwrap_or(false);
    // A user with a second factor needs its current code too, each code good once. Every
    // failure answers alike, so the page does not tell which part was wrong.
    let second_factor = |u: &vouch_store::ConsoleUser| match &u.totp_secret {
        None => Some(None),
        Some(secret) => vouch_core::totp::decode_secret(secret)
            .and_then(|s| vouch_core::totp::accept(&s, &f.code, now.timestamp(), u.totp_last_step))
            .map(Some),
    };
    let step = user
        .as_ref()
        .filter(|u| matches && u.disabled_at.is_none())
        .and_then(second_factor);
    let fresh_code = match (&user, step) {
        (Some(u), Some(Some(step))) => match state.store.use_totp_step(u.id, step).await {
            Ok(fresh) => fresh,
            Err(e) => return unavailable(t, &e),
        },
        (_, Some(None)) => true,
        _ => false,
    };
    let user = user.filter(|_| step.is_some() && fresh_code);
    let Some(user) = user else {
        if let Err(e) = state
            .store
            .record_console_event(event("login_failed"))
            .await
        {
            return unavailable(t, &e);
        }
        return refuse(StatusCode::UNAUTHORIZED, t.login_failed.to_string());
    };
    // A fresh token at every login (a cookie planted before it names nothing afterwards), and
    // the browser's previous login, if any, ends.
    if let Some(old) = super::cookie_token(&headers) {
        let _ = state
            .store
            .end_console_login(token_hash(&old), false, event("login_replaced"))
            .await;
    }
    let token = random_hex();
    let login = ConsoleLogin {
        token_hash: token_hash(&token),
        user_id: user.id,
        csrf: random_hex(),
        created_at: now,
        seen_at: now,
    };
    if let Err(e) = state.store.start_console_login(login, event("login")).await {
        return unavailable(t, &e);
    }
    let mut r = Redirect::to(&next).into_response();
    let cookie = format!("{COOKIE}={token}; Path=/console; HttpOnly; Secure; SameSite=Strict");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    everywhere: Option<String>,
}

pub async fn logout(
    State(state): State<AppState>,
    who: Reviewer,
    Form(f): Form<LogoutForm>,
) -> Response {
    if !csrf_ok(&who.login, f.csrf.as_deref()) {
        return forbidden_form(who.t);
    }
    let everywhere = f.everywhere.is_some();
    let kind = if everywhere {
        "logout_everywhere"
    } else {
        "logout"
    };
    let event = ConsoleEvent::new(kind, &who.user.email, crate::clock::now());
    if let Err(e) = state
        .store
        .end_console_login(who.login.token_hash.clone(), everywhere, event)
        .await
    {
        return unavailable(who.t, &e);
    }
    let mut r = Redirect::to("/console/login?logged_out=1").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "vouch_console=; Path=/console; Max-Age=0; HttpOnly; Secure; SameSite=Strict",
        ),
    );
    r
}
