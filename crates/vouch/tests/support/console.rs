//! Driving the reviewer console over HTTP as a browser without a cookie jar would: shared by the
//! console tests of several test binaries.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{redirect, Client, StatusCode};
use serde_json::json;
use vouch_core::console::Role;
use vouch_store::{ConsoleEvent, ConsoleUser};

use crate::common::TestServer;

pub const PASSWORD: &str = "a long enough password";

pub async fn user(t: &TestServer, email: &str, role: Role, apps: Vec<vouch_core::AppId>) {
    let now = chrono::Utc::now();
    t.store
        .create_console_user(
            ConsoleUser {
                id: uuid::Uuid::now_v7(),
                email: email.into(),
                password_hash: vouch::console::password::hash(PASSWORD).unwrap(),
                role,
                apps,
                disabled_at: None,
                created_at: now,
                totp_secret: None,
                totp_last_step: None,
            },
            ConsoleEvent::new("user_created", email, now),
        )
        .await
        .unwrap();
}

/// A browser without a cookie jar: each test carries its cookie by hand.
pub fn browser() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

pub struct Answer {
    pub status: StatusCode,
    pub location: String,
    pub set_cookie: String,
    pub body: String,
}

pub async fn send(r: reqwest::RequestBuilder) -> Answer {
    let r = r.send().await.unwrap();
    let header = |name| {
        r.headers()
            .get(name)
            .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let (location, set_cookie) = (header(LOCATION), header(SET_COOKIE));
    Answer {
        status: r.status(),
        location,
        set_cookie,
        body: r.text().await.unwrap(),
    }
}

pub async fn log_in(t: &TestServer, email: &str, password: &str, cookie: Option<&str>) -> Answer {
    let mut r = browser().post(format!("{}/console/login", t.base)).form(&[
        ("email", email),
        ("password", password),
        ("next", "/console/"),
    ]);
    if let Some(c) = cookie {
        r = r.header(COOKIE, c);
    }
    send(r).await
}

/// Logs in; answers the `Cookie` header to send afterwards.
pub async fn cookie(t: &TestServer, email: &str) -> String {
    let a = log_in(t, email, PASSWORD, None).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    a.set_cookie.split(';').next().unwrap().to_string()
}

pub async fn get(t: &TestServer, path: &str, cookie: &str) -> Answer {
    send(
        browser()
            .get(format!("{}{path}", t.base))
            .header(COOKIE, cookie),
    )
    .await
}

pub async fn post(t: &TestServer, path: &str, cookie: &str, form: &[(&str, &str)]) -> Answer {
    send(
        browser()
            .post(format!("{}{path}", t.base))
            .header(COOKIE, cookie)
            .form(form),
    )
    .await
}

/// The login's CSRF token, read from a page's logout form.
pub fn csrf(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    page[at..at + 64].to_string()
}

pub fn version(page: &str) -> String {
    let at = page.find("name=\"version\" value=\"").unwrap() + 22;
    page[at..].split('"').next().unwrap().to_string()
}

/// A session of the test application waiting for review.
pub async fn in_review(t: &TestServer, vendor_data: &str) -> String {
    let created = t
        .session_with(&["OCR"], json!({"vendor_data": vendor_data}))
        .await;
    let id = created["session_id"].as_str().unwrap().to_string();
    assert_eq!(t.attempt(&id, "feature_ocr_1", "In Review").await.0, 201);
    assert_eq!(t.status_of(&id).await, "In Review");
    id
}
