//! The reviewer console in a real headless Chromium (playwright-core from `tests/browser/`): a
//! reviewer logs in, finds a session through search, claims it, compares the document and the
//! selfie (zoomed and turned), sends one step back with a reason and an email it previewed first
//! (read from the real SMTP server of the tests), and approves another; under four-eyes its
//! decision waits, it is not offered its approval, and a second reviewer approves it; a viewer
//! reads and is offered no decision. axe-core checks the login, queue and session pages.
//! Screenshots are kept in `target/screenshots/console/`.
//!
//! `scripts/test.sh` installs Chromium and the Node packages. Without them the test is skipped
//! with a message, except under `CI=true`, where that is a failure.

#[path = "support/browser.rs"]
mod browser;
#[path = "common/mod.rs"]
mod common;
#[path = "support/console.rs"]
#[allow(dead_code)]
mod console_support;
#[path = "mail/sink.rs"]
#[allow(dead_code)]
mod sink;

use std::path::PathBuf;

use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};
use vouch_core::console::Role;
use vouch_core::scopes::{Access, Scopes};

use common::{new_app, new_key, status_json, TestServer};
use console_support::{user, PASSWORD};

/// A picture with something to see in it: a face-coloured disc on a gradient.
fn picture(w: u32, h: u32, tint: u8) -> Vec<u8> {
    let (cx, cy, r) = (w as i64 / 2, h as i64 / 2, (w.min(h) / 3) as i64);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as i64 - cx, y as i64 - cy);
        if dx * dx + dy * dy < r * r {
            image::Rgb([224, 172, 105])
        } else {
            image::Rgb([(x * 255 / w) as u8, tint, (y * 255 / h) as u8])
        }
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode_image(&img)
        .unwrap();
    jpeg
}

async fn call(t: &TestServer, key: &str, m: Method, path: &str, body: Option<Value>) -> Value {
    let (s, b) = status_json(t.request(m, path, Some(key), body).await).await;
    assert!((200..300).contains(&s), "{path}: {s} {b}");
    b
}

/// A live session whose person sent a document and a selfie through the page, now in review.
async fn captured(t: &TestServer, key: &str, vendor_data: &str) -> (String, i64) {
    let wf = call(
        t,
        key,
        Method::POST,
        "/v3/workflows/",
        Some(json!({"workflow_label": "kyc", "features": [{"feature": "OCR"}, {"feature": "LIVENESS"}]})),
    )
    .await;
    let created = call(
        t,
        key,
        Method::POST,
        "/v3/session/",
        Some(json!({"workflow_id": wf["uuid"], "vendor_data": vendor_data})),
    )
    .await;
    let id = created["session_id"].as_str().unwrap().to_string();
    let path = url::Url::parse(created["url"].as_str().unwrap())
        .unwrap()
        .path()
        .to_string();
    for (node, files) in [
        (
            "feature_ocr_1",
            vec![
                ("front", picture(1200, 760, 40)),
                ("back", picture(1200, 760, 90)),
            ],
        ),
        (
            "feature_liveness_1",
            vec![("selfie", picture(720, 900, 150))],
        ),
    ] {
        let html = t
            .client
            .get(format!("{}{path}", t.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let version = html
            .split("name=\"submission\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap()
            .to_string();
        let mut form = Form::new().text("submission", version);
        if node == "feature_ocr_1" {
            form = form.text("document_type", "ID");
        }
        for (name, bytes) in files {
            let part = Part::bytes(bytes)
                .file_name(format!("{name}.jpg"))
                .mime_str("image/jpeg")
                .unwrap();
            form = form.part(name, part);
        }
        let r = t
            .client
            .post(format!("{}{path}/steps/{node}/capture", t.base))
            .header("sec-fetch-site", "same-origin")
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{node}");
    }
    for _ in 0..200 {
        let d = call(
            t,
            key,
            Method::GET,
            &format!("/v3/session/{id}/decision/"),
            None,
        )
        .await;
        if d["status"] == "In Review" {
            return (id, d["session_number"].as_i64().unwrap());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the session never reached In Review");
}

async fn last_row(t: &TestServer, key: &str, id: &str) -> Value {
    let trail = call(
        t,
        key,
        Method::GET,
        &format!("/v3/sessions/{id}/reviews/"),
        None,
    )
    .await;
    trail["results"]
        .as_array()
        .unwrap()
        .last()
        .cloned()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewers_find_claim_compare_resubmit_decide_and_second_in_chromium() {
    if !browser::browser_available() {
        return;
    }
    let smtp = sink::Sink::start();
    let smtp_url = smtp.url();
    let t = TestServer::start_with(move |c| {
        c.smtp_url = Some(smtp_url);
        c.smtp_from = "Acme Verification <verify@acme.example>".into();
        c.mailer.poll_interval = std::time::Duration::from_millis(100);
    })
    .await;
    user(&t, "rita@acme.example", Role::Reviewer, vec![]).await;
    user(&t, "sam@acme.example", Role::Reviewer, vec![]).await;
    user(&t, "vic@acme.example", Role::Viewer, vec![]).await;
    let (approved, approved_number) = captured(&t, &t.key, "customer-1001").await;
    let (resubmitted, number) = captured(&t, &t.key, "customer-2002").await;
    let (viewer_session, _) = captured(&t, &t.key, "customer-3003").await;
    let audit = new_app(t.store.as_ref(), "audit").await;
    t.store.set_four_eyes(audit.id, true).await.unwrap();
    let audit_key = new_key(t.store.as_ref(), &audit, Scopes::all(Access::Write), None).await;
    let (staged, _) = captured(&t, &audit_key, "customer-4004").await;

    let screenshots =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots/console");
    let plan = json!({
        "base": t.base, "screenshots": screenshots,
        "reviewer": {"email": "rita@acme.example", "password": PASSWORD},
        "second": {"email": "sam@acme.example", "password": PASSWORD},
        "viewer": {"email": "vic@acme.example", "password": PASSWORD},
        "search": "customer-2002", "number": number,
        "approve_number": approved_number, "approve_search": "customer-1001",
        "person_email": "person@example.com",
        "viewer_session": viewer_session, "staged_session": staged,
    });
    let plan_file = t.dir.path().join("console-plan.json");
    std::fs::write(&plan_file, plan.to_string()).unwrap();
    let report = browser::run("console.mjs", plan_file).await;
    let failures = browser::failures(&report);
    println!(
        "console pages driven in Chromium; screenshots in {}",
        screenshots.display()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // What the reviewers did in the browser is in the API's trail, as API decisions would be.
    let row = last_row(&t, &t.key, &resubmitted).await;
    assert_eq!(row["new_status"], "Resubmitted", "{row}");
    assert_eq!(row["actor_type"], "CONSOLE_USER");
    assert_eq!(row["actor_display"], "rita@acme.example");
    let row = last_row(&t, &t.key, &approved).await;
    assert_eq!(row["new_status"], "Approved", "{row}");
    let row = last_row(&t, &audit_key, &staged).await;
    assert_eq!(row["new_status"], "Approved", "{row}");
    assert_eq!(
        row["actor_display"],
        "rita@acme.example, approved by sam@acme.example"
    );
    assert_eq!(t.status_of(&viewer_session).await, "In Review");

    // The email the reviewer previewed reached the real SMTP server, with the step's reason.
    let mail = smtp.wait_for(1).await.remove(0);
    let text = sink::decoded(&mail);
    assert!(
        text.contains("The photo of the document is blurred."),
        "{text}"
    );
    assert!(mail.contains("person@example.com"));
}
