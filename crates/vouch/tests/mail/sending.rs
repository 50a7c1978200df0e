//! What the person receives, and what vouch records when it cannot send.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use vouch_core::email::{render, Branding, EmailModel, StepLine};
use vouch_core::feature::Feature;
use vouch_core::SessionStatus;

use crate::common::TestServer;
use crate::sink::{decoded, header, header_names, Sink};

pub async fn server(smtp: Option<&Sink>) -> TestServer {
    let url = smtp.map(Sink::url).unwrap_or_default();
    TestServer::start_with(move |c| {
        c.smtp_url = Some(url);
        c.smtp_from = "Acme Verification <verify@acme.example>".into();
        c.mailer.retry_schedule = [0, 1, 1, 1, 1, 1, 1, 1]
            .map(std::time::Duration::from_secs)
            .to_vec();
        c.mailer.poll_interval = std::time::Duration::from_millis(100);
        c.mailer.timeout = std::time::Duration::from_secs(5);
    })
    .await
}

/// A session under review (OCR in review, liveness approved).
pub async fn reviewable(t: &TestServer) -> String {
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    t.attempt(&sid, "feature_ocr_1", "In Review").await;
    t.attempt(&sid, "feature_liveness_1", "Approved").await;
    sid
}

pub async fn update(t: &TestServer, sid: &str, body: Value) {
    let (s, b) = t
        .call(
            Method::PATCH,
            &format!("/v3/session/{sid}/update-status/"),
            Some(body),
        )
        .await;
    assert_eq!(s, 200, "{b}");
}

pub async fn emails(t: &TestServer, sid: &str) -> Value {
    let (s, b) = t.get(&format!("/v3/session/{sid}/emails/")).await;
    assert_eq!(s, 200, "{b}");
    b
}

/// Waits until the session's latest email leaves `pending`.
pub async fn settled(t: &TestServer, sid: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let b = emails(t, sid).await;
        let last = b["results"]
            .as_array()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or(Value::Null);
        if last["state"].is_string() && last["state"] != "pending" {
            return last;
        }
        assert!(Instant::now() < deadline, "still pending: {b}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Undoes RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`).
fn decode_words(v: &str) -> String {
    use base64::Engine;
    let mut out = String::new();
    let mut prev_encoded = false;
    for part in v.split_whitespace() {
        let p = part.trim();
        if let Some(inner) = p.strip_prefix("=?").and_then(|x| x.strip_suffix("?=")) {
            // Whitespace between two encoded words is not part of the text (RFC 2047).
            if !out.is_empty() && !prev_encoded {
                out.push(' ');
            }
            prev_encoded = true;
            let mut it = inner.splitn(3, '?');
            let (_, enc, text) = (it.next(), it.next().unwrap_or(""), it.next().unwrap_or(""));
            let bytes = if enc.eq_ignore_ascii_case("b") {
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .unwrap_or_default()
            } else {
                text.replace('_', " ").into_bytes()
            };
            out.push_str(&String::from_utf8_lossy(&bytes));
        } else {
            if !out.is_empty() {
                out.push(' ');
            }
            prev_encoded = false;
            out.push_str(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_and_resubmissions_arrive_as_rendered() {
    let smtp = Sink::start();
    let t = server(Some(&smtp)).await;
    let brand = Branding {
        brand_name: t.app.name.clone(),
    };

    let approved = reviewable(&t).await;
    update(&t, &approved, json!({"new_status": "Approved", "send_email": true, "email_address": "ana@example.com", "email_language": "es"})).await;
    let declined = reviewable(&t).await;
    update(&t, &declined, json!({"new_status": "Declined", "send_email": true, "email_address": "bo@example.com", "email_language": "de"})).await;
    let resub = reviewable(&t).await;
    update(&t, &resub, json!({"new_status": "Resubmitted", "send_email": true, "email_address": "cy@example.com", "email_language": "fr",
        "nodes_to_resubmit": [{"node_id": "feature_ocr_1", "feature": "OCR", "reason": "Photo was blurry"}]})).await;
    let unknown = reviewable(&t).await;
    update(&t, &unknown, json!({"new_status": "Approved", "send_email": true, "email_address": "di@example.com", "email_language": "zz"})).await;

    let got = smtp.wait_for(4).await;
    let find = |to: &str| {
        got.iter()
            .find(|m| header(m, "to").unwrap_or_default().contains(to))
            .unwrap()
            .clone()
    };
    let (_, d) = t.get(&format!("/v3/session/{resub}/decision/")).await;
    let link = d["session_url"].as_str().unwrap().to_string();
    let cases = [
        (
            "ana@example.com",
            EmailModel::Decision {
                status: SessionStatus::Approved,
            },
            "es",
        ),
        (
            "bo@example.com",
            EmailModel::Decision {
                status: SessionStatus::Declined,
            },
            "de",
        ),
        (
            "cy@example.com",
            EmailModel::Resubmission {
                link: link.clone(),
                steps: vec![StepLine {
                    feature: Feature::Ocr,
                    reason: "Photo was blurry".into(),
                }],
            },
            "fr",
        ),
        (
            "di@example.com",
            EmailModel::Decision {
                status: SessionStatus::Approved,
            },
            "en",
        ),
    ];
    for (to, model, lang) in cases {
        let m = find(to);
        let expected = render(&model, lang, &brand);
        assert_eq!(expected.language, lang);
        assert_eq!(
            decode_words(&header(&m, "subject").unwrap()),
            expected.subject,
            "{to}"
        );
        assert_eq!(header(&m, "x-envelope-to").unwrap(), to);
        assert!(header(&m, "from").unwrap().contains("verify@acme.example"));
        let body = decoded(&m);
        assert!(
            body.contains(expected.text.trim_end()),
            "{to}: text part differs\n{body}"
        );
        assert!(
            body.contains(expected.html.trim_end()),
            "{to}: html part differs"
        );
    }
    let resub_mail = decoded(&find("cy@example.com"));
    assert!(resub_mail.contains(&link) && resub_mail.contains("Photo was blurry"));
    for sid in [&approved, &declined, &resub, &unknown] {
        let e = settled(&t, sid).await;
        assert_eq!(e["state"], "sent", "{e}");
        assert!(e["sent_at"].is_string());
        assert_eq!(e["attempts"], 1);
    }
    let e = settled(&t, &unknown).await;
    assert_eq!(
        (e["language"].as_str(), e["requested_language"].as_str()),
        (Some("en"), Some("zz"))
    );
    let text = t
        .request(Method::GET, "/metrics", None, None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("vouch_emails_total{outcome=\"sent\"} 4"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_down_at_first_gets_the_email_once_it_is_back() {
    let mut smtp = Sink::stopped();
    let t = server(Some(&smtp)).await;
    let sid = reviewable(&t).await;
    update(
        &t,
        &sid,
        json!({"new_status": "Declined", "send_email": true, "email_address": "late@example.com"}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let e = emails(&t, &sid).await["results"][0].clone();
        if e["attempts"].as_i64().unwrap_or(0) >= 2 {
            assert_eq!(e["state"], "pending");
            assert!(e["last_error"].is_string(), "{e}");
            break;
        }
        assert!(Instant::now() < deadline, "no retry recorded: {e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    smtp.run();
    let got = smtp.wait_for(1).await;
    assert_eq!(
        header(&got[0], "x-envelope-to").unwrap(),
        "late@example.com"
    );
    let e = settled(&t, &sid).await;
    assert_eq!(e["state"], "sent");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.messages().len(), 1, "sent once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_is_recorded_as_failed() {
    let smtp = Sink::start();
    let t = server(Some(&smtp)).await;
    let sid = reviewable(&t).await;
    update(&t, &sid, json!({"new_status": "Approved", "send_email": true, "email_address": "reject-me@example.com"})).await;
    let e = settled(&t, &sid).await;
    assert_eq!(e["state"], "failed", "{e}");
    assert!(e["last_error"].as_str().unwrap().contains("550"), "{e}");
    assert_eq!(e["attempts"], 1, "a 5xx is not retried");
    assert!(smtp.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_never_add_headers_or_recipients() {
    let smtp = Sink::start();
    let t = server(Some(&smtp)).await;
    let sid = reviewable(&t).await;
    let evil = "x\r\nBcc: evil@attacker.example\r\nSubject: pwned\r\n\r\n<script>alert(1)</script>";
    let (s, _) = t
        .post(
            &format!("/v3/sessions/{sid}/reviews/"),
            json!({"comment": evil}),
        )
        .await;
    assert_eq!(s, 201);
    update(&t, &sid, json!({"new_status": "Resubmitted", "send_email": true, "email_address": "p@example.com", "comment": evil,
        "nodes_to_resubmit": [{"node_id": "feature_ocr_1", "feature": "OCR", "reason": evil}]})).await;
    let m = smtp.wait_for(1).await.remove(0);
    let names = header_names(&m);
    assert_eq!(names.iter().filter(|n| *n == "to").count(), 1, "{m}");
    assert_eq!(names.iter().filter(|n| *n == "subject").count(), 1);
    assert!(!names.iter().any(|n| n == "bcc" || n == "cc"), "{m}");
    assert_eq!(
        header(&m, "x-envelope-to").unwrap(),
        "p@example.com",
        "only one recipient"
    );
    let body = decoded(&m);
    let html_start = body
        .find("<html")
        .or_else(|| body.find("<!DOCTYPE"))
        .expect("an html part");
    assert!(
        !body[html_start..].contains("<script>"),
        "escaped in the html part"
    );
    assert!(body[html_start..].contains("&lt;script&gt;"));
    // A hostile address is refused before anything is queued.
    let (s, _) = t
        .call(Method::PATCH, &format!("/v3/session/{sid}/update-status/"),
            Some(json!({"new_status": "Approved", "send_email": true, "email_address": "p@example.com\r\nBcc: evil@attacker.example"})))
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn without_a_mail_server_or_in_sandbox_nothing_is_pretended_sent() {
    let t = server(None).await;
    let sid = reviewable(&t).await;
    update(
        &t,
        &sid,
        json!({"new_status": "Approved", "send_email": true, "email_address": "p@example.com"}),
    )
    .await;
    let e = settled(&t, &sid).await;
    assert_eq!(
        (e["state"].as_str(), e["not_sent_reason"].as_str()),
        (Some("not_sent"), Some("smtp_not_configured"))
    );
    assert_eq!(e["sent_at"], Value::Null);

    let smtp = Sink::start();
    let t = server(Some(&smtp)).await;
    let app = t
        .store
        .create_app(vouch_store::App {
            id: vouch_core::AppId::random(),
            name: "sbx".into(),
            mode: vouch_core::session::Environment::Sandbox,
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let key = crate::common::new_key(
        t.store.as_ref(),
        &app,
        vouch_core::scopes::Scopes::all(vouch_core::scopes::Access::Write),
        None,
    )
    .await;
    let call = |m: Method, p: String, b: Value| {
        let (client, base, key) = (t.client.clone(), t.base.clone(), key.clone());
        async move {
            let r = client
                .request(m, format!("{base}{p}"))
                .header("x-api-key", key)
                .json(&b)
                .send()
                .await
                .unwrap();
            crate::common::status_json(r).await
        }
    };
    let (_, wf) = call(
        Method::POST,
        "/v3/workflows/".into(),
        json!({"workflow_label": "w", "features": [{"feature": "OCR"}]}),
    )
    .await;
    let (_, s) = call(
        Method::POST,
        "/v3/session/".into(),
        json!({"workflow_id": wf["uuid"]}),
    )
    .await;
    let sid = s["session_id"].as_str().unwrap().to_string();
    call(
        Method::POST,
        format!("/v3/session/{sid}/attempts/"),
        json!({"node_id": "feature_ocr_1", "status": "In Review"}),
    )
    .await;
    let (st, _) = call(
        Method::PATCH,
        format!("/v3/session/{sid}/update-status/"),
        json!({"new_status": "Approved", "send_email": true, "email_address": "p@example.com"}),
    )
    .await;
    assert_eq!(st, 200);
    let (_, list) = call(
        Method::GET,
        format!("/v3/session/{sid}/emails/"),
        Value::Null,
    )
    .await;
    assert_eq!(
        (
            list["results"][0]["state"].as_str(),
            list["results"][0]["not_sent_reason"].as_str()
        ),
        (Some("not_sent"), Some("sandbox"))
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(smtp.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_can_brand_their_emails() {
    let smtp = Sink::start();
    let t = server(Some(&smtp)).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args([
            "apps",
            "update",
            &t.app.name,
            "--email-sender-name",
            "Acme Bank Onboarding",
            "--email-brand",
            "Acme Bank",
        ])
        .env("VOUCH_DATABASE_URL", &t.database_url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sid = reviewable(&t).await;
    update(
        &t,
        &sid,
        json!({"new_status": "Approved", "send_email": true, "email_address": "p@example.com"}),
    )
    .await;
    let m = smtp.wait_for(1).await.remove(0);
    let from = header(&m, "from").unwrap();
    assert!(
        from.contains("Acme Bank Onboarding") && from.contains("verify@acme.example"),
        "{from}"
    );
    let expected = render(
        &EmailModel::Decision {
            status: SessionStatus::Approved,
        },
        "en",
        &Branding {
            brand_name: "Acme Bank".into(),
        },
    );
    assert!(decoded(&m).contains(expected.text.trim_end()));
    // Omitted flags keep their value; an empty one restores the default.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(["apps", "update", &t.app.name, "--email-brand", ""])
        .env("VOUCH_DATABASE_URL", &t.database_url)
        .output()
        .unwrap();
    assert!(out.status.success());
    let sid = reviewable(&t).await;
    update(
        &t,
        &sid,
        json!({"new_status": "Declined", "send_email": true, "email_address": "q@example.com"}),
    )
    .await;
    let got = smtp.wait_for(2).await;
    let m = got
        .iter()
        .find(|m| header(m, "x-envelope-to").as_deref() == Some("q@example.com"))
        .unwrap();
    assert!(header(m, "from").unwrap().contains("Acme Bank Onboarding"));
    let expected = render(
        &EmailModel::Decision {
            status: SessionStatus::Declined,
        },
        "en",
        &Branding {
            brand_name: t.app.name.clone(),
        },
    );
    assert!(decoded(m).contains(expected.text.trim_end()));
}
