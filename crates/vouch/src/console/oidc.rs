//! Logging in to the console through an OpenID Connect provider (`[console.oidc]`): the
//! authorization code flow with PKCE, the ID token's signature (RS256 or ES256, from the
//! provider's JWKS), issuer, audience, expiry and nonce checked, and a claim mapped to the role.
//! A user the console does not know yet is created at its first login; one it knows gets the
//! role its claim says (the change recorded).

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use vouch_core::console::Role;
use vouch_store::{ConsoleEvent, ConsoleLogin, ConsoleUser, UserChange};

pub use super::id_token::verify_id_token;
use super::{message, token_hash, ClientAddress, Lang, COOKIE};
use crate::state::AppState;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
/// The cookie that carries the flow's state, nonce and PKCE verifier to the callback.
const FLOW_COOKIE: &str = "vouch_oidc";
/// How long a started login may take at the provider.
const FLOW_SECONDS: i64 = 600;

#[derive(Debug, Clone, Deserialize)]
pub struct OidcConfig {
    /// The provider's issuer URL (its `/.well-known/openid-configuration` is read).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub client_secret_file: Option<std::path::PathBuf>,
    /// The ID token claim whose value (`admin`, `reviewer` or `viewer`) is the user's role.
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    /// The words of the login page's button.
    #[serde(default = "default_label")]
    pub label: String,
}

fn default_role_claim() -> String {
    "vouch_role".into()
}

fn default_label() -> String {
    "Log in with single sign-on".into()
}

impl OidcConfig {
    fn secret(&self) -> anyhow::Result<String> {
        match (&self.client_secret, &self.client_secret_file) {
            (Some(s), _) => Ok(s.clone()),
            (None, Some(f)) => Ok(std::fs::read_to_string(f)?.trim().to_string()),
            (None, None) => anyhow::bail!("console.oidc needs client_secret or client_secret_file"),
        }
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

async fn discover(cfg: &OidcConfig) -> anyhow::Result<Discovery> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        cfg.issuer.trim_end_matches('/')
    );
    let d: Discovery = client()?
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    anyhow::ensure!(
        d.issuer.trim_end_matches('/') == cfg.issuer.trim_end_matches('/'),
        "the provider names itself {:?}, not {:?}",
        d.issuer,
        cfg.issuer
    );
    Ok(d)
}

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

fn redirect_uri(state: &AppState) -> String {
    format!(
        "{}/console/oidc/callback",
        state.config.public_url.trim_end_matches('/')
    )
}

/// The key that signs the flow cookie, shared by every node through the database.
async fn flow_key(state: &AppState) -> Result<Vec<u8>, vouch_store::StoreError> {
    let fresh = hex::encode(rand::random::<[u8; 32]>());
    let k = state.store.secret("console_oidc_flow_key", fresh).await?;
    Ok(k.into_bytes())
}

fn sign(key: &[u8], data: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(data.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

fn param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn failed(t: &super::lang::Text, why: impl std::fmt::Display) -> Response {
    tracing::warn!(error = %why, "console: single sign-on failed");
    message(t, StatusCode::UNAUTHORIZED, t.sso_failed)
}

/// `GET /console/oidc/start`: to the provider, with a fresh state, nonce and PKCE challenge.
pub async fn start(
    State(state): State<AppState>,
    Lang(t): Lang,
    RawQuery(q): RawQuery,
) -> Response {
    let Some(cfg) = state.config.console.oidc.clone() else {
        return message(t, StatusCode::NOT_FOUND, t.not_found);
    };
    let d = match discover(&cfg).await {
        Ok(d) => d,
        Err(e) => return failed(t, e),
    };
    let key = match flow_key(&state).await {
        Ok(k) => k,
        Err(e) => return super::unavailable(t, &e),
    };
    let (flow_state, nonce, verifier) = (
        hex::encode(rand::random::<[u8; 16]>()),
        hex::encode(rand::random::<[u8; 16]>()),
        B64.encode(rand::random::<[u8; 32]>()),
    );
    let next = param(q.as_deref(), "next")
        .filter(|n| n.starts_with("/console/") && !n.starts_with("//"))
        .unwrap_or_else(|| "/console/".into());
    let expires = crate::clock::now().timestamp() + FLOW_SECONDS;
    let data = format!("{flow_state}|{nonce}|{verifier}|{expires}|{next}");
    let cookie = format!(
        "{FLOW_COOKIE}={}.{}; Path=/console/oidc; HttpOnly; Secure; SameSite=Lax; Max-Age={FLOW_SECONDS}",
        B64.encode(&data),
        sign(&key, &data)
    );
    let challenge = B64.encode(Sha256::digest(verifier.as_bytes()));
    let mut url = match url::Url::parse(&d.authorization_endpoint) {
        Ok(u) => u,
        Err(e) => return failed(t, e),
    };
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &cfg.client_id)
        .append_pair("redirect_uri", &redirect_uri(&state))
        .append_pair("scope", "openid email profile")
        .append_pair("state", &flow_state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let mut r = Redirect::to(url.as_str()).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// The flow cookie's state, nonce, verifier and next page, if its signature is ours and it has
/// not expired.
fn flow(headers: &HeaderMap, key: &[u8]) -> Option<(String, String, String, String)> {
    let raw = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == FLOW_COOKIE)?
        .1;
    let (data, mac) = raw.split_once('.')?;
    let data = String::from_utf8(B64.decode(data).ok()?).ok()?;
    use subtle::ConstantTimeEq;
    if !bool::from(sign(key, &data).as_bytes().ct_eq(mac.as_bytes())) {
        return None;
    }
    let mut parts = data.splitn(5, '|');
    let (s, n, v, exp, next) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (exp.parse::<i64>().ok()? > crate::clock::now().timestamp())
        .then(|| (s.into(), n.into(), v.into(), next.into()))
}

/// `GET /console/oidc/callback`: the code exchanged, the ID token checked, the user found or
/// created with the role its claim says, and a login begun.
pub async fn callback(
    State(state): State<AppState>,
    Lang(t): Lang,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let Some(cfg) = state.config.console.oidc.clone() else {
        return message(t, StatusCode::NOT_FOUND, t.not_found);
    };
    let key = match flow_key(&state).await {
        Ok(k) => k,
        Err(e) => return super::unavailable(t, &e),
    };
    let Some((flow_state, nonce, verifier, next)) = flow(&headers, &key) else {
        return failed(t, "no flow cookie, or an expired or altered one");
    };
    if param(q.as_deref(), "state").as_deref() != Some(flow_state.as_str()) {
        return failed(t, "the state returned is not this login's");
    }
    let Some(code) = param(q.as_deref(), "code") else {
        return failed(
            t,
            format!("the provider answered {:?}", param(q.as_deref(), "error")),
        );
    };
    let claims = match exchange(&state, &cfg, &code, &verifier, &nonce).await {
        Ok(c) => c,
        Err(e) => return failed(t, e),
    };
    let now = crate::clock::now();
    let email = claims["email"]
        .as_str()
        .map(crate::cli::users::normal_email);
    let role = claims[&cfg.role_claim].as_str().and_then(Role::parse);
    let (Some(email), Some(role)) = (email.filter(|e| e.contains('@')), role) else {
        return failed(
            t,
            format!(
                "the ID token lacks an email or a {} claim naming a role",
                cfg.role_claim
            ),
        );
    };
    if claims["email_verified"] == Value::Bool(false) {
        return failed(t, "the provider has not verified the email");
    }
    let event = |kind: &str| {
        let mut e = ConsoleEvent::new(kind, &email, now);
        e.address = Some(address.clone());
        e.detail = Some("oidc".into());
        e
    };
    let user = match state.store.console_user(email.clone()).await {
        Ok(Some(u)) if u.role != role => {
            let mut e = event("role_changed");
            e.detail = Some(format!("oidc: {} -> {}", u.role.as_str(), role.as_str()));
            let change = UserChange {
                role: Some(role),
                ..UserChange::default()
            };
            match state
                .store
                .update_console_user(email.clone(), change, vec![e])
                .await
            {
                Ok(Some(u)) => u,
                Ok(None) => return failed(t, "the user went away"),
                Err(e) => return super::unavailable(t, &e),
            }
        }
        Ok(Some(u)) => u,
        Ok(None) => {
            let u = ConsoleUser {
                id: uuid::Uuid::now_v7(),
                email: email.clone(),
                // No password logs this user in: only the provider does.
                password_hash: "!oidc".into(),
                role,
                apps: Vec::new(),
                disabled_at: None,
                created_at: now,
                totp_secret: None,
                totp_last_step: None,
            };
            if let Err(e) = state
                .store
                .create_console_user(u.clone(), event("user_created"))
                .await
            {
                return super::unavailable(t, &e);
            }
            u
        }
        Err(e) => return super::unavailable(t, &e),
    };
    if user.disabled_at.is_some() {
        let _ = state
            .store
            .record_console_event(event("login_failed"))
            .await;
        return failed(t, "the user is disabled");
    }
    let token = hex::encode(rand::random::<[u8; 32]>());
    let login = ConsoleLogin {
        token_hash: token_hash(&token),
        user_id: user.id,
        csrf: hex::encode(rand::random::<[u8; 32]>()),
        created_at: now,
        seen_at: now,
    };
    if let Err(e) = state.store.start_console_login(login, event("login")).await {
        return super::unavailable(t, &e);
    }
    let next = escape(&next);
    // The provider's redirect started on another site, so a SameSite=Strict cookie set now
    // would not go with a redirect; a page of this site moves on instead.
    let body = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0;url={next}\"><title>{}</title></head><body><p><a href=\"{next}\">{}</a></p></body></html>",
        t.code, t.title, t.continue_to_console
    );
    let mut r = super::html(StatusCode::OK, Ok(body));
    let h = r.headers_mut();
    let login_cookie =
        format!("{COOKIE}={token}; Path=/console; HttpOnly; Secure; SameSite=Strict");
    let clear =
        format!("{FLOW_COOKIE}=; Path=/console/oidc; Max-Age=0; HttpOnly; Secure; SameSite=Lax");
    for c in [login_cookie, clear] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    r
}

async fn exchange(
    state: &AppState,
    cfg: &OidcConfig,
    code: &str,
    verifier: &str,
    nonce: &str,
) -> anyhow::Result<Value> {
    let d = discover(cfg).await?;
    let http = client()?;
    let answer: Value = http
        .post(&d.token_endpoint)
        .basic_auth(&cfg.client_id, Some(cfg.secret()?))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri(state)),
            ("code_verifier", verifier),
            ("client_id", &cfg.client_id),
        ])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id_token = answer["id_token"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("the token answer has no id_token"))?;
    let jwks: Value = http
        .get(&d.jwks_uri)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    verify_id_token(
        id_token,
        &jwks,
        &cfg.issuer,
        &cfg.client_id,
        nonce,
        crate::clock::now().timestamp(),
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
