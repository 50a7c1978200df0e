//! The person's page over HTTP: what a session's `url` answers, in which language, with which
//! headers, for every state the session can be in. (The browser tests drive the same page in
//! Chromium; these check the contract of each answer.)

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::TestServer;

async fn session_with(t: &TestServer, features: &[&str], extra: Value) -> Value {
    t.session_with(features, extra).await
}

/// The page of a session's `url` (its path on this server), with optional request headers.
async fn open(
    t: &TestServer,
    created: &Value,
    query: &str,
    accept_language: Option<&str>,
) -> (u16, String, HeaderMap) {
    let url = url::Url::parse(created["url"].as_str().unwrap()).unwrap();
    assert_eq!(
        url.path(),
        format!("/session/{}", created["session_token"].as_str().unwrap())
    );
    fetch(t, &format!("{}{query}", url.path()), accept_language).await
}

async fn fetch(
    t: &TestServer,
    path: &str,
    accept_language: Option<&str>,
) -> (u16, String, HeaderMap) {
    let mut req = t.client.get(format!("{}{path}", t.base));
    if let Some(l) = accept_language {
        req = req.header("accept-language", l);
    }
    let r = req.send().await.unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, r.text().await.unwrap(), headers)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Positions of the needles in the page, which must all be there.
fn positions(html: &str, needles: &[&str]) -> Vec<usize> {
    needles
        .iter()
        .map(|n| {
            html.find(n)
                .unwrap_or_else(|| panic!("{n:?} not in the page:\n{html}"))
        })
        .collect()
}

#[tokio::test]
async fn the_link_opens_the_persons_page_with_every_step_in_order() {
    let t = TestServer::start().await;
    let created = session_with(&t, &["OCR", "LIVENESS", "AML", "QUESTIONNAIRE"], json!({})).await;
    let (status, html, head) = open(&t, &created, "", None).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(header(&head, "content-type"), "text/html; charset=utf-8");
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains(r#"<html lang="en" dir="ltr">"#), "{html}");
    assert!(
        html.contains("<h1>Verify your identity for <bdi>test-app</bdi></h1>"),
        "{html}"
    );
    let at = positions(
        &html,
        &[
            "Identity document",
            "Selfie video",
            "Screening",
            "Questionnaire",
        ],
    );
    assert!(at.windows(2).all(|w| w[0] < w[1]), "workflow order: {at:?}");
    assert!(
        html.contains("Checked automatically once you have finished"),
        "AML has no screen"
    );
    assert!(
        html.contains(
            "Not available on this page: <bdi>test-app</bdi> will tell you how to complete it"
        ),
        "a step the page cannot capture says so"
    );
    assert!(
        html.len() < 30 * 1024,
        "a step's HTML is {} bytes",
        html.len()
    );

    // What protects the token in the URL and the person on the page.
    let csp = header(&head, "content-security-policy");
    for part in [
        "default-src 'none'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(header(&head, "x-content-type-options"), "nosniff");
    assert_eq!(header(&head, "referrer-policy"), "no-referrer");
    assert_eq!(header(&head, "x-frame-options"), "DENY");
    assert_eq!(header(&head, "cache-control"), "no-store");
    // Nothing is loaded from anywhere else.
    for outside in ["http://", "https://", "//cdn", "<script"] {
        assert!(!html.contains(outside), "{outside} in the page");
    }
}

#[tokio::test]
async fn the_language_comes_from_the_query_then_the_session_then_the_browser() {
    let t = TestServer::start().await;
    let plain = session_with(&t, &["OCR"], json!({})).await;
    let german = session_with(&t, &["OCR"], json!({"language": "de"})).await;

    let (_, html, _) = open(&t, &plain, "", Some("fr-CA,fr;q=0.9,en;q=0.5")).await;
    assert!(html.contains(r#"<html lang="fr" dir="ltr">"#), "{html}");
    assert!(html.contains("Vérifiez votre identité pour <bdi>test-app</bdi>"));

    let (_, html, _) = open(&t, &german, "", Some("fr")).await;
    assert!(
        html.contains(r#"lang="de""#) && html.contains("Bestätigen Sie Ihre Identität"),
        "the session's language wins over the browser's"
    );

    let (_, html, _) = open(&t, &german, "?lang=ar", Some("fr")).await;
    assert!(html.contains(r#"<html lang="ar" dir="rtl">"#), "{html}");
    assert!(html.contains("تحقّق من هويتك لدى <bdi>test-app</bdi>"));
    assert!(html.contains("وثيقة الهوية"), "Arabic step names");

    let (_, html, _) = open(&t, &plain, "?lang=xx", Some("ja")).await;
    assert!(
        html.contains(r#"lang="en""#),
        "unknown languages fall back to English"
    );

    // The menu offers every language, each under its own name, the current one selected.
    let (_, html, _) = open(&t, &plain, "?lang=es", None).await;
    for name in [
        "English",
        "Español",
        "Français",
        "Deutsch",
        "Português",
        "Italiano",
        "العربية",
    ] {
        assert!(html.contains(name), "{name}");
    }
    assert!(
        html.contains(r#"<option value="es" lang="es" selected>"#),
        "{html}"
    );
    assert!(html.contains(r#"<label for="lang">Idioma</label>"#));
}

#[tokio::test]
async fn a_resubmitted_session_shows_only_its_reopened_steps_with_their_reasons() {
    let t = TestServer::start().await;
    let created = session_with(&t, &["OCR", "LIVENESS", "PROOF_OF_ADDRESS"], json!({})).await;
    let sid = created["session_id"].as_str().unwrap();
    for node in [
        "feature_ocr_1",
        "feature_liveness_1",
        "feature_proof_of_address_1",
    ] {
        assert_eq!(t.attempt(sid, node, "Approved").await.0, 201);
    }
    let (s, b) = t
        .call(
            Method::PATCH,
            &format!("/v3/session/{sid}/update-status/"),
            Some(json!({"new_status": "Resubmitted", "nodes_to_resubmit": [
                {"node_id": "feature_proof_of_address_1", "feature": "PROOF_OF_ADDRESS", "reason": "The bill is older than three months."}
            ]})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (status, html, _) = open(&t, &created, "", None).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Please redo a few steps for <bdi>test-app</bdi>"),
        "{html}"
    );
    assert!(html.contains("Proof of address"));
    assert!(html.contains("The bill is older than three months."));
    assert!(
        !html.contains("Identity document") && !html.contains("Selfie video"),
        "only the reopened step: {html}"
    );
}

#[tokio::test]
async fn a_decided_session_shows_its_outcome_and_the_way_back() {
    let t = TestServer::start().await;
    let created = session_with(
        &t,
        &["OCR"],
        json!({"callback": "https://shop.example/done?order=7"}),
    )
    .await;
    let sid = created["session_id"].as_str().unwrap();
    assert_eq!(t.attempt(sid, "feature_ocr_1", "Approved").await.0, 201);
    let (status, html, _) = open(&t, &created, "", None).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<h1>Your identity has been verified</h1>"),
        "{html}"
    );
    let back = format!(
        r#"<a class="button" href="https://shop.example/done?order=7&#38;verificationSessionId={sid}&#38;status=Approved">Return to <bdi>test-app</bdi></a>"#
    );
    assert!(html.contains(&back), "{html}");

    // Without a callback there is nowhere to go back to.
    let plain = session_with(&t, &["OCR"], json!({})).await;
    let psid = plain["session_id"].as_str().unwrap();
    assert_eq!(t.attempt(psid, "feature_ocr_1", "Declined").await.0, 201);
    let (_, html, _) = open(&t, &plain, "?lang=es", None).await;
    assert!(
        html.contains("No hemos podido verificar su identidad"),
        "{html}"
    );
    assert!(!html.contains("class=\"button\""));
}

#[tokio::test]
async fn unknown_and_ended_links_get_a_clear_page_never_an_error() {
    let t = TestServer::start().await;
    for path in [
        "/session/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "/session/short",
        "/session/%3Cscript%3E",
        &format!("/session/{}", "a".repeat(300)),
    ] {
        let (status, html, head) = fetch(&t, path, None).await;
        assert_eq!(status, 404, "{path}");
        assert!(
            html.contains("<h1>This link does not exist</h1>"),
            "{path}: {html}"
        );
        assert_eq!(header(&head, "content-type"), "text/html; charset=utf-8");
        assert!(!html.contains("<script"));
    }
    let created = session_with(&t, &["OCR"], json!({})).await;
    let sid = created["session_id"].as_str().unwrap();
    let (s, _) = t
        .call(Method::DELETE, &format!("/v3/session/{sid}/delete/"), None)
        .await;
    assert!(s == 204 || s == 200, "{s}");
    let (status, html, _) = open(&t, &created, "?lang=it", None).await;
    assert_eq!(status, 410);
    assert!(html.contains("Questo link non è più valido"), "{html}");
}

#[tokio::test]
async fn the_stylesheet_is_served_by_vouch_small_and_cacheable() {
    let t = TestServer::start().await;
    let created = session_with(&t, &["OCR"], json!({})).await;
    let (_, html, _) = open(&t, &created, "", None).await;
    let start = html
        .find("/assets/hosted.css?v=")
        .expect("the stylesheet link");
    let href = &html[start..html[start..].find('"').unwrap() + start];
    let r = t
        .client
        .get(format!("{}{href}", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(r.headers(), "content-type"),
        "text/css; charset=utf-8"
    );
    assert!(header(r.headers(), "cache-control").contains("immutable"));
    let css = r.text().await.unwrap();
    assert!(
        css.len() < 150 * 1024,
        "JS + CSS under 150 KB: {} bytes",
        css.len()
    );
    assert!(
        !css.contains("url(") && !css.contains("@import"),
        "nothing fetched from elsewhere"
    );
}

/// A stand-in SMS gateway on loopback: keeps each request's body and whether its signature is
/// right; answers `status`.
struct Gateway {
    url: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<(Value, bool)>>>,
    status: std::sync::Arc<std::sync::atomic::AtomicU16>,
    _task: tokio::task::JoinHandle<()>,
}

const GATEWAY_SECRET: &str = "gateway-secret-for-tests";

async fn gateway() -> Gateway {
    use axum::extract::State;
    use hmac::{Hmac, Mac};
    use std::sync::atomic::{AtomicU16, Ordering};
    use std::sync::{Arc, Mutex};
    type Shared = (Arc<Mutex<Vec<(Value, bool)>>>, Arc<AtomicU16>);
    async fn hook(
        State((received, status)): State<Shared>,
        headers: axum::http::HeaderMap,
        body: axum::body::Bytes,
    ) -> axum::http::StatusCode {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(GATEWAY_SECRET.as_bytes()).unwrap();
        mac.update(&body);
        let want = hex::encode(mac.finalize().into_bytes());
        let signed =
            headers.get("x-signature").and_then(|v| v.to_str().ok()) == Some(want.as_str());
        received
            .lock()
            .unwrap()
            .push((serde_json::from_slice(&body).unwrap_or(Value::Null), signed));
        axum::http::StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap()
    }
    let received = Arc::new(Mutex::new(Vec::new()));
    let status = Arc::new(AtomicU16::new(200));
    let app = axum::Router::new()
        .route("/send", axum::routing::post(hook))
        .with_state((received.clone(), status.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Gateway {
        url,
        received,
        status,
        _task: task,
    }
}

async fn post_page_form(
    t: &TestServer,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, Option<String>) {
    t.post_page_form(path, fields, &[]).await
}

#[tokio::test]
async fn a_phone_code_goes_through_the_signed_sms_gateway() {
    let gw = gateway().await;
    let gw_url = gw.url.clone();
    let t = TestServer::start_with(move |c| {
        c.sms.gateway_url = Some(gw_url);
        c.sms.secret = Some(GATEWAY_SECRET.into());
    })
    .await;
    let created = session_with(
        &t,
        &["PHONE_VERIFICATION"],
        json!({"contact_details": {"phone": "+34 612 34 56 78"}, "language": "es"}),
    )
    .await;
    let sid = created["session_id"].as_str().unwrap();
    let node = "feature_phone_verification_1";
    let (_, html, _) = open(&t, &created, "", None).await;
    assert!(
        html.contains(r#"dir="ltr" type="tel" autocomplete="tel""#),
        "{html}"
    );
    assert!(
        html.contains(r#"value="+34 612 34 56 78""#),
        "pre-filled from contact_details"
    );
    let path = url::Url::parse(created["url"].as_str().unwrap())
        .unwrap()
        .path()
        .to_string();

    // Numbers libphonenumber does not accept are refused before anything is sent.
    for bad in ["612345678", "+34 123", "+1 555 0100", "not a number", ""] {
        let (s, notice) =
            post_page_form(&t, &format!("{path}/steps/{node}/code"), &[("phone", bad)]).await;
        assert_eq!(
            (s, notice.as_deref()),
            (303, Some("phone_invalid")),
            "{bad:?}"
        );
    }
    assert!(gw.received.lock().unwrap().is_empty());

    // A gateway that fails: the person is told, and may try again after 30 s.
    gw.status.store(502, std::sync::atomic::Ordering::SeqCst);
    let (_, notice) = post_page_form(
        &t,
        &format!("{path}/steps/{node}/code"),
        &[("phone", "+34 612 34 56 78")],
    )
    .await;
    assert_eq!(notice.as_deref(), Some("code_send_failed"));
    let (body, signed) = gw.received.lock().unwrap().pop().unwrap();
    assert!(signed, "signed like a webhook: {body}");
    assert_eq!(body["to"], "+34612345678", "E.164");
    assert_eq!(body["language"], "es");
    assert_eq!(body["node_id"], node);
    assert_eq!(body["session_id"], sid);
    let first_code = body["code"].as_str().unwrap().to_string();
    assert_eq!(
        body["message"],
        format!("test-app: su código es {first_code}. Es válido durante 5 minutos.")
    );

    // The code that did reach the gateway's log still works: it was sent, the gateway said no.
    let (_, notice) = post_page_form(
        &t,
        &format!("{path}/steps/{node}/verify"),
        &[("code", &first_code)],
    )
    .await;
    assert_eq!(notice, None, "verified");
    let (_, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_eq!(d["phone_verifications"][0]["status"], "Approved", "{d}");
    assert_eq!(d["status"], "Approved", "the only step, approved");
}

#[tokio::test]
async fn without_a_gateway_the_phone_step_says_so() {
    let t = TestServer::start().await;
    let created = session_with(&t, &["PHONE_VERIFICATION"], json!({})).await;
    let path = url::Url::parse(created["url"].as_str().unwrap())
        .unwrap()
        .path()
        .to_string();
    let (_, notice) = post_page_form(
        &t,
        &format!("{path}/steps/feature_phone_verification_1/code"),
        &[("phone", "+34 612 34 56 78")],
    )
    .await;
    assert_eq!(notice.as_deref(), Some("sms_unavailable"));
    let (s, html, _) = fetch(&t, &format!("{path}?notice=sms_unavailable"), None).await;
    assert_eq!(s, 200);
    assert!(
        html.contains(
            "Codes by text message are not available right now. Contact <bdi>test-app</bdi>."
        ),
        "{html}"
    );
}
