//! Single sign-on to the console through a real OpenID Connect exchange with a provider the test
//! runs on loopback (discovery, the authorization redirect, the token endpoint with PKCE and the
//! client's secret, a JWKS, an RS256 ID token): a user made at its first login with the role its
//! claim says, the role following the claim afterwards, and tokens or flows that are not this
//! login's refused.

use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Digest;

use crate::common::TestServer;
use crate::console_support::{browser, get as console_get};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const KEY: &[u8] = include_bytes!("../fixtures/oidc-test-rsa.pk8");
const MODULUS: &str = include_str!("../fixtures/oidc-test-rsa.modulus.hex");

/// What the provider was asked, and what its next ID token says.
#[derive(Default)]
struct Provider {
    base: String,
    /// (code, nonce, code_challenge) of the last authorization.
    grant: Option<(String, String, String)>,
    role: String,
    email: String,
    /// Sign the next token with its nonce replaced.
    wrong_nonce: bool,
}

type Shared = Arc<Mutex<Provider>>;

fn jwt(claims: &Value) -> String {
    let key = ring::signature::RsaKeyPair::from_pkcs8(KEY).unwrap();
    let head = B64.encode(json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}).to_string());
    let body = B64.encode(claims.to_string());
    let signed = format!("{head}.{body}");
    let mut sig = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signed.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{signed}.{}", B64.encode(sig))
}

async fn discovery(State(p): State<Shared>) -> Json<Value> {
    let base = p.lock().unwrap().base.clone();
    Json(
        json!({"issuer": base, "authorization_endpoint": format!("{base}/authorize"),
                "token_endpoint": format!("{base}/token"), "jwks_uri": format!("{base}/jwks")}),
    )
}

async fn authorize(
    State(p): State<Shared>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> impl IntoResponse {
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "vouch-console");
    assert_eq!(q["code_challenge_method"], "S256");
    let code = format!("code-{}", q["state"]);
    p.lock().unwrap().grant = Some((
        code.clone(),
        q["nonce"].clone(),
        q["code_challenge"].clone(),
    ));
    Redirect::to(&format!(
        "{}?code={code}&state={}",
        q["redirect_uri"], q["state"]
    ))
}

async fn token(
    State(p): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<std::collections::HashMap<String, String>>,
) -> impl IntoResponse {
    let p = p.lock().unwrap();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("vouch-console:s3cret")
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(basic.as_str()) {
        return (
            AxumStatus::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        );
    }
    let Some((code, nonce, challenge)) = p.grant.clone() else {
        return (
            AxumStatus::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        );
    };
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    let pkce = B64.encode(sha2::Sha256::digest(verifier.as_bytes()));
    if f.get("code") != Some(&code) || pkce != challenge || f["grant_type"] != "authorization_code"
    {
        return (
            AxumStatus::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        );
    }
    let now = chrono::Utc::now().timestamp();
    let nonce = if p.wrong_nonce {
        "another".to_string()
    } else {
        nonce
    };
    let claims = json!({"iss": p.base, "aud": "vouch-console", "sub": "u-1", "iat": now,
        "exp": now + 300, "nonce": nonce, "email": p.email, "email_verified": true,
        "vouch_role": p.role});
    (
        AxumStatus::OK,
        Json(json!({"access_token": "x", "token_type": "Bearer", "id_token": jwt(&claims)})),
    )
}

async fn jwks() -> Json<Value> {
    let n = hex::decode(MODULUS.trim()).unwrap();
    Json(
        json!({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
                          "n": B64.encode(n), "e": "AQAB"}]}),
    )
}

async fn provider() -> Shared {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shared: Shared = Arc::new(Mutex::new(Provider {
        base,
        role: "reviewer".into(),
        email: "Olga@Acme.example".into(),
        ..Provider::default()
    }));
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/jwks", get(jwks))
        .with_state(shared.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    shared
}

/// The whole flow as a browser follows it; answers the callback's status and the login cookie.
async fn sso(t: &TestServer, next: &str) -> (StatusCode, Option<String>, String) {
    let b = browser();
    let start = b
        .get(format!("{}/console/oidc/start?next={next}", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let flow = start.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(
        flow.contains("HttpOnly") && flow.contains("SameSite=Lax"),
        "{flow}"
    );
    let flow = flow.split(';').next().unwrap().to_string();
    let at_provider = start.headers()[LOCATION].to_str().unwrap().to_string();
    let back = b.get(&at_provider).send().await.unwrap();
    let callback = back.headers()[LOCATION].to_str().unwrap().to_string();
    let path = callback.split_once("/console/").map(|(_, p)| p).unwrap();
    let done = b
        .get(format!("{}/console/{path}", t.base))
        .header(COOKIE, &flow)
        .send()
        .await
        .unwrap();
    let status = done.status();
    let login = done
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("vouch_console=") && !c.starts_with("vouch_console=;"))
        .map(|c| c.split(';').next().unwrap().to_string());
    (status, login, done.text().await.unwrap())
}

async fn server(p: &Shared) -> TestServer {
    let issuer = p.lock().unwrap().base.clone();
    TestServer::start_with(move |c| {
        c.console.oidc = Some(vouch::console::oidc::OidcConfig {
            issuer,
            client_id: "vouch-console".into(),
            client_secret: Some("s3cret".into()),
            client_secret_file: None,
            role_claim: "vouch_role".into(),
            label: "Log in with Acme SSO".into(),
        });
    })
    .await
}

#[tokio::test]
async fn a_provider_login_makes_the_user_and_its_claim_sets_the_role() {
    let p = provider().await;
    let t = server(&p).await;
    let page = send_text(&t, "/console/login").await;
    assert!(page.contains("Log in with Acme SSO"), "{page}");

    let (status, cookie, body) = sso(&t, "/console/%3Fstatus%3Dany").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("url=/console/?status=any"), "{body}");
    let cookie = cookie.expect("a login cookie");
    let q = console_get(&t, "/console/", &cookie).await;
    assert_eq!(q.status, StatusCode::OK);
    assert!(q.body.contains("olga@acme.example") && q.body.contains("(reviewer)"));
    let user = t
        .store
        .console_user("olga@acme.example".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.role, vouch_core::console::Role::Reviewer);
    // No password logs this user in.
    let a = crate::console_support::log_in(&t, "olga@acme.example", "!oidc", None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);

    // The provider now says admin: the next login makes it so, and says who changed it.
    p.lock().unwrap().role = "admin".into();
    let (status, cookie, _) = sso(&t, "/console/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(cookie.is_some());
    let user = t
        .store
        .console_user("olga@acme.example".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.role, vouch_core::console::Role::Admin);
    let events = t.store.console_events(10).await.unwrap();
    let changed = events.iter().find(|e| e.kind == "role_changed").unwrap();
    assert_eq!(changed.detail.as_deref(), Some("oidc: reviewer -> admin"));
    assert!(events
        .iter()
        .any(|e| e.kind == "user_created" && e.detail.as_deref() == Some("oidc")));
}

#[tokio::test]
async fn a_token_or_a_flow_that_is_not_this_logins_is_refused() {
    let p = provider().await;
    let t = server(&p).await;
    // An ID token whose nonce is another login's.
    p.lock().unwrap().wrong_nonce = true;
    let (status, cookie, body) = sso(&t, "/console/").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(cookie.is_none());
    assert!(body.contains("Single sign-on did not succeed"), "{body}");
    p.lock().unwrap().wrong_nonce = false;
    // A role the console does not have.
    p.lock().unwrap().role = "root".into();
    assert_eq!(sso(&t, "/console/").await.0, StatusCode::UNAUTHORIZED);
    p.lock().unwrap().role = "viewer".into();
    // A callback without the flow's cookie, or with another state.
    let r = browser()
        .get(format!("{}/console/oidc/callback?code=x&state=y", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(t
        .store
        .console_user("olga@acme.example".into())
        .await
        .unwrap()
        .is_none());
}

#[test]
fn an_id_token_is_checked_for_its_signature_issuer_audience_expiry_and_nonce() {
    use vouch::console::oidc::verify_id_token;
    let n = hex::decode(MODULUS.trim()).unwrap();
    let jwks = json!({"keys": [{"kty": "RSA", "kid": "k1", "n": B64.encode(n), "e": "AQAB"}]});
    let now = 1_800_000_000;
    let claims = json!({"iss": "https://idp.example", "aud": ["vouch-console"], "exp": now + 60,
                        "nonce": "n1", "email": "a@b.example"});
    let good = jwt(&claims);
    let ok = verify_id_token(
        &good,
        &jwks,
        "https://idp.example/",
        "vouch-console",
        "n1",
        now,
    );
    assert_eq!(ok.unwrap()["email"], "a@b.example");
    for (token, issuer, aud, nonce, at, why) in [
        (
            good.clone(),
            "https://other.example",
            "vouch-console",
            "n1",
            now,
            "issuer",
        ),
        (
            good.clone(),
            "https://idp.example",
            "someone-else",
            "n1",
            now,
            "client",
        ),
        (
            good.clone(),
            "https://idp.example",
            "vouch-console",
            "n2",
            now,
            "nonce",
        ),
        (
            good.clone(),
            "https://idp.example",
            "vouch-console",
            "n1",
            now + 600,
            "expired",
        ),
    ] {
        let e = verify_id_token(&token, &jwks, issuer, aud, nonce, at).unwrap_err();
        assert!(e.to_string().contains(why), "{why}: {e}");
    }
    // A changed claim breaks the signature; an unsigned token is not accepted.
    let mut parts: Vec<String> = good.split('.').map(String::from).collect();
    parts[1] = B64.encode(json!({"iss": "https://idp.example", "aud": "vouch-console", "exp": now + 60, "nonce": "n1", "email": "admin@b.example"}).to_string());
    let forged = parts.join(".");
    let e = verify_id_token(
        &forged,
        &jwks,
        "https://idp.example",
        "vouch-console",
        "n1",
        now,
    );
    assert!(e.unwrap_err().to_string().contains("signature"));
    let none = format!("{}.{}.", B64.encode(r#"{"alg":"none"}"#), parts[1]);
    let e = verify_id_token(
        &none,
        &jwks,
        "https://idp.example",
        "vouch-console",
        "n1",
        now,
    );
    assert!(e.unwrap_err().to_string().contains("not accepted"));
}

async fn send_text(t: &TestServer, path: &str) -> String {
    browser()
        .get(format!("{}{path}", t.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}
