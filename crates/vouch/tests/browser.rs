//! The person's page in a real headless Chromium (Debian's `chromium`, driven by playwright-core
//! from `tests/browser/`): found by roles and labels, used by keyboard, with and without
//! JavaScript, checked by axe-core in English and Arabic. Screenshots of every page are kept in
//! `target/screenshots/hosted/`.
//!
//! `scripts/test.sh` installs Chromium and the Node packages. Without them the test is skipped
//! with a message, except under `CI=true`, where that is a failure.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/capture_plan.rs"]
mod capture_plan;
#[path = "common/mod.rs"]
mod common;
#[path = "webhooks/receiver.rs"]
#[allow(dead_code)]
mod receiver;
#[path = "mail/sink.rs"]
#[allow(dead_code)]
mod sink;

use std::path::PathBuf;

use reqwest::Method;
use serde_json::{json, Value};

use browser::{browser_available, browser_dir};
use common::TestServer;

fn page_path(created: &Value) -> String {
    url::Url::parse(created["url"].as_str().unwrap())
        .unwrap()
        .path()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_persons_page_works_by_role_and_keyboard_and_passes_axe_in_english_and_arabic() {
    if !browser_available() {
        return;
    }
    let smtp = sink::Sink::start();
    let smtp_url = smtp.url();
    let t = TestServer::start_with(move |c| {
        c.smtp_url = Some(smtp_url);
        c.smtp_from = "Acme Verification <verify@acme.example>".into();
        c.allow_private_destinations = true;
        c.webhooks.poll_interval = std::time::Duration::from_millis(100);
    })
    .await;
    let kyc = t
        .session_with(
            &["OCR", "LIVENESS", "FACE_MATCH", "EMAIL_VERIFICATION", "AML"],
            json!({}),
        )
        .await;
    let resubmitted = t
        .session_with(&["OCR", "LIVENESS", "PROOF_OF_ADDRESS"], json!({}))
        .await;
    let rsid = resubmitted["session_id"].as_str().unwrap();
    for node in [
        "feature_ocr_1",
        "feature_liveness_1",
        "feature_proof_of_address_1",
    ] {
        assert_eq!(t.attempt(rsid, node, "Approved").await.0, 201);
    }
    let (s, b) = t
        .call(
            Method::PATCH,
            &format!("/v3/session/{rsid}/update-status/"),
            Some(json!({"new_status": "Resubmitted", "nodes_to_resubmit": [
                {"node_id": "feature_proof_of_address_1", "feature": "PROOF_OF_ADDRESS",
                 "reason": "The bill is older than three months."}]})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let approved = t
        .session_with(&["OCR"], json!({"callback": "https://shop.example/done"}))
        .await;
    assert_eq!(
        t.attempt(
            approved["session_id"].as_str().unwrap(),
            "feature_ocr_1",
            "Approved"
        )
        .await
        .0,
        201
    );

    let en = |name: &str, path: String, status: u16, heading: &str, steps: &[&str]| {
        json!({"name": name, "path": path, "status": status, "heading": heading, "steps": steps,
               "skip_link": "Skip to content", "language_label": "Language"})
    };
    let ar = |name: &str, path: String, status: u16, heading: &str, steps: &[&str]| {
        json!({"name": name, "path": format!("{path}?lang=ar"), "status": status, "heading": heading,
               "steps": steps, "skip_link": "انتقل إلى المحتوى", "language_label": "اللغة"})
    };
    let mut start = en(
        "start-en",
        page_path(&kyc),
        200,
        "Verify your identity for test-app",
        &[
            "Identity document",
            "Selfie video",
            "Face match",
            "Email address",
            "Screening",
        ],
    );
    start["switch_to"] = json!({"language": "Español", "button": "Change",
                                "heading": "Verifique su identidad para test-app"});
    let mut no_js = en(
        "start-en-no-javascript",
        page_path(&kyc),
        200,
        "Verify your identity for test-app",
        &["Identity document"],
    );
    no_js["javascript"] = json!(false);
    no_js["switch_to"] = json!({"language": "Deutsch", "button": "Change",
                                "heading": "Bestätigen Sie Ihre Identität für test-app"});
    let pages = vec![
        start,
        no_js,
        ar(
            "start-ar",
            page_path(&kyc),
            200,
            "تحقّق من هويتك لدى test-app",
            &["وثيقة الهوية", "فيديو سيلفي", "التدقيق في القوائم"],
        ),
        en(
            "resubmitted-en",
            page_path(&resubmitted),
            200,
            "Please redo a few steps for test-app",
            &["Proof of address"],
        ),
        ar(
            "resubmitted-ar",
            page_path(&resubmitted),
            200,
            "يرجى إعادة بعض الخطوات لدى test-app",
            &["إثبات العنوان"],
        ),
        en(
            "approved-en",
            page_path(&approved),
            200,
            "Your identity has been verified",
            &[],
        ),
        ar(
            "approved-ar",
            page_path(&approved),
            200,
            "تم التحقق من هويتك",
            &[],
        ),
        en(
            "unknown-en",
            "/session/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
            404,
            "This link does not exist",
            &[],
        ),
        ar(
            "unknown-ar",
            "/session/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
            404,
            "هذا الرابط غير موجود",
            &[],
        ),
    ];
    // An email step completed as a person would, the code read from the real SMTP server.
    let emailed = t
        .session_with(
            &["EMAIL_VERIFICATION", "OCR"],
            json!({"contact_details": {"email": "ann@example.com"}}),
        )
        .await;
    // The service the person returns to: a real server, so that the browser really lands.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shop = format!("http://{}/back", listener.local_addr().unwrap());
    let sdk_js = std::fs::read_to_string(
        browser_dir().join("node_modules/@didit-protocol/sdk-web/dist/didit-sdk.umd.js"),
    )
    .unwrap_or_default();
    let shop_app = axum::Router::new()
        .route(
            "/back",
            axum::routing::get(|| async {
                axum::response::Html("<!doctype html><title>shop</title>")
            }),
        )
        .route(
            "/embed",
            axum::routing::get(|| async { axum::response::Html(capture_plan::EMBED_PAGE) }),
        )
        .route(
            "/sdk.js",
            axum::routing::get(move || {
                let js = sdk_js.clone();
                async move { ([("content-type", "text/javascript")], js) }
            }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, shop_app).await;
    });
    let finishing = t
        .session_with(
            &["EMAIL_VERIFICATION"],
            json!({"contact_details": {"email": "bo@example.com"}, "callback": shop}),
        )
        .await;
    let flows = vec![
        json!({
        "name": "email-flow", "path": page_path(&emailed), "sink_dir": smtp.dir,
        "email_label": "Email address", "prefilled": "ann@example.com", "address": "ann.lee@example.com",
        "send_button": "Send me a code", "sent_text": "We sent you a code",
        "code_label": "Code", "wrong_text": "That code is not right",
        "step_name": "Email address", "done_text": "Done"}),
        json!({
        "name": "email-flow-last-step", "path": page_path(&finishing), "sink_dir": smtp.dir,
        "mail_number": 2,
        "email_label": "Email address", "prefilled": "bo@example.com", "address": "bo@example.com",
        "send_button": "Send me a code", "sent_text": "We sent you a code",
        "code_label": "Code", "wrong_text": "That code is not right",
        "callback_prefix": format!("{shop}?verificationSessionId={}&status=Approved",
                                   finishing["session_id"].as_str().unwrap())}),
    ];
    let phoned = t
        .session_with(
            &["PHONE_VERIFICATION"],
            json!({"contact_details": {"phone": "+34 612 34 56 78"}}),
        )
        .await;
    let mut pages = pages;
    pages.push(en(
        "phone-step-en",
        page_path(&phoned),
        200,
        "Verify your identity for test-app",
        &["Phone number"],
    ));
    pages.push(ar(
        "phone-step-ar",
        page_path(&phoned),
        200,
        "تحقّق من هويتك لدى test-app",
        &["رقم الهاتف"],
    ));
    pages.push(en(
        "email-step-en",
        page_path(&emailed),
        200,
        "Verify your identity for test-app",
        &["Email address", "Identity document"],
    ));
    pages.push(ar(
        "email-step-ar",
        page_path(&emailed),
        200,
        "تحقّق من هويتك لدى test-app",
        &["عنوان البريد الإلكتروني"],
    ));
    // Every other language at phone width, with axe, so that each is looked at as well.
    for (code, heading, skip, label) in [
        (
            "es",
            "Verifique su identidad para test-app",
            "Saltar al contenido",
            "Idioma",
        ),
        (
            "fr",
            "Vérifiez votre identité pour test-app",
            "Aller au contenu",
            "Langue",
        ),
        (
            "de",
            "Bestätigen Sie Ihre Identität für test-app",
            "Zum Inhalt springen",
            "Sprache",
        ),
        (
            "pt",
            "Verifique a sua identidade para test-app",
            "Ir para o conteúdo",
            "Idioma",
        ),
        (
            "it",
            "Verifica la tua identità per test-app",
            "Vai al contenuto",
            "Lingua",
        ),
    ] {
        pages.push(json!({"name": format!("email-step-{code}"),
            "path": format!("{}?lang={code}", page_path(&emailed)), "status": 200,
            "heading": heading, "steps": [], "skip_link": skip, "language_label": label}));
    }
    let screenshots =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots/hosted");
    // Three sandbox KYC sessions completed through the page: the first code emails after the
    // two of the email flows.
    let (captures, camera) = capture_plan::prepare(&t, t.dir.path(), &smtp.dir, &shop, 3).await;
    let plan = json!({"base": t.base, "screenshots": screenshots, "pages": pages, "flows": flows,
                      "captures": captures.flows, "camera_file": camera,
                      "embeds": captures.embeds});
    let plan_file = t.dir.path().join("plan.json");
    std::fs::write(&plan_file, plan.to_string()).unwrap();

    let report = browser::run("hosted.mjs", plan_file).await;
    let mut failures = browser::failures(&report);
    println!(
        "{} pages driven in Chromium; screenshots in {}",
        report["pages"].as_array().unwrap().len(),
        screenshots.display()
    );
    failures.extend(capture_plan::check(&t, &captures).await);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
