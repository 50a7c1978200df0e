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
pub(crate) async fn open(
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

pub(crate) async fn fetch(
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
    for outside in ["http://", "https://", "//cdn"] {
        assert!(!html.contains(outside), "{outside} in the page");
    }
    // One script, vouch's own, allowed by this answer's nonce alone; none inline.
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    let nonce = csp
        .split("script-src 'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("a script nonce in the CSP");
    assert!(nonce.len() >= 32, "{nonce}");
    let tag = format!("nonce=\"{nonce}\" defer></script>");
    assert!(html.contains(&tag), "{html}");
    assert!(
        html.contains("<script src=\"/assets/hosted.js?v="),
        "{html}"
    );
    let (_, _, again) = open(&t, &created, "", None).await;
    assert!(
        !header(&again, "content-security-policy").contains(nonce),
        "a fresh nonce per answer"
    );
    assert_eq!(
        header(&head, "permissions-policy"),
        "camera=(self), microphone=(), geolocation=()"
    );
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

/// The asset the page links under `prefix`, checked to be served with its type, cacheable.
async fn asset(t: &TestServer, html: &str, prefix: &str, content_type: &str) -> String {
    let start = html
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix} in the page"));
    let href = &html[start..html[start..].find('"').unwrap() + start];
    let r = t
        .client
        .get(format!("{}{href}", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(r.headers(), "content-type"), content_type);
    assert!(header(r.headers(), "cache-control").contains("immutable"));
    r.text().await.unwrap()
}

#[tokio::test]
async fn the_stylesheet_and_the_script_are_served_by_vouch_small_and_cacheable() {
    let t = TestServer::start().await;
    let created = session_with(&t, &["OCR"], json!({})).await;
    let (_, html, _) = open(&t, &created, "", None).await;
    let css = asset(
        &t,
        &html,
        "/assets/hosted.css?v=",
        "text/css; charset=utf-8",
    )
    .await;
    let js = asset(
        &t,
        &html,
        "/assets/hosted.js?v=",
        "text/javascript; charset=utf-8",
    )
    .await;
    assert!(
        js.len() + css.len() < 150 * 1024,
        "JS + CSS under 150 KB: {} bytes",
        js.len() + css.len()
    );
    assert!(
        !js.contains("http://") && !js.contains("https://") && !js.contains("fetch("),
        "the script asks nothing of anyone"
    );
    assert!(
        !css.contains("url(") && !css.contains("@import"),
        "nothing fetched from elsewhere"
    );
}

#[tokio::test]
async fn framing_is_refused_unless_the_application_allows_the_embedding_origin() {
    let t = TestServer::start().await;
    let created = session_with(&t, &["EMAIL_VERIFICATION"], json!({})).await;
    let (_, _, head) = open(&t, &created, "", None).await;
    assert!(header(&head, "content-security-policy").contains("frame-ancestors 'none'"));
    assert_eq!(header(&head, "x-frame-options"), "DENY");
    t.store
        .set_app_allowed_domains(
            t.app.id,
            vec![
                "https://shop.example".into(),
                "https://app.shop.example:8443".into(),
            ],
        )
        .await
        .unwrap();
    let (status, html, head) = open(&t, &created, "", None).await;
    assert_eq!(status, 200);
    assert!(
        header(&head, "content-security-policy")
            .contains("frame-ancestors https://shop.example https://app.shop.example:8443"),
        "{}",
        header(&head, "content-security-policy")
    );
    assert_eq!(
        header(&head, "x-frame-options"),
        "",
        "XFO cannot name origins"
    );
    let id = created["session_id"].as_str().unwrap();
    assert!(
        html.contains(&format!("data-session-id=\"{id}\"")),
        "{html}"
    );
    assert!(html.contains("data-status=\"Not Started\""));
    assert!(html.contains("data-step=\"feature_email_verification_1\""));
}

#[tokio::test]
async fn inside_a_frame_the_last_step_announces_the_end_instead_of_leaving_for_the_callback() {
    let t = TestServer::start().await;
    let created = session_with(
        &t,
        &["OCR"],
        json!({"callback": "https://shop.example/done"}),
    )
    .await;
    let sid = created["session_id"].as_str().unwrap();
    assert_eq!(t.attempt(sid, "feature_ocr_1", "Approved").await.0, 201);
    let url = url::Url::parse(created["url"].as_str().unwrap()).unwrap();
    let path = format!("{}?done=1", url.path());
    let (_, html, head) = fetch(&t, &path, None).await;
    assert!(header(&head, "refresh").starts_with("0; url=https://shop.example/done?"));
    let r = t
        .client
        .get(format!("{}{path}", t.base))
        .header("sec-fetch-dest", "iframe")
        .send()
        .await
        .unwrap();
    assert!(
        r.headers().get("refresh").is_none(),
        "framed: no navigation away"
    );
    let framed = r.text().await.unwrap();
    assert!(framed.contains("data-outcome=\"1\"") && framed.contains("data-status=\"Approved\""));
    assert!(html.contains("Return to"), "the link stays on the page");
}
