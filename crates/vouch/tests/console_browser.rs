//! The reviewer console in a real headless Chromium (playwright-core from `tests/browser/`):
//! a reviewer logs in, finds a session through search, reads it, approves it with a reason and
//! logs out; a viewer reads a session and is offered no decision. axe-core checks the login,
//! queue and session pages. Screenshots are kept in `target/screenshots/console/`.
//!
//! `scripts/test.sh` installs Chromium and the Node packages. Without them the test is skipped
//! with a message, except under `CI=true`, where that is a failure.

#[path = "support/browser.rs"]
mod browser;
#[path = "common/mod.rs"]
mod common;

use std::path::PathBuf;

use serde_json::json;
use vouch_core::console::Role;
use vouch_store::{ConsoleEvent, ConsoleUser};

use common::TestServer;

const PASSWORD: &str = "correct horse battery staple";

async fn user(t: &TestServer, email: &str, role: Role) {
    let now = chrono::Utc::now();
    let user = ConsoleUser {
        id: uuid::Uuid::now_v7(),
        email: email.into(),
        password_hash: vouch::console::password::hash(PASSWORD).unwrap(),
        role,
        apps: vec![],
        disabled_at: None,
        created_at: now,
    };
    let event = ConsoleEvent::new("user_created", email, now);
    t.store.create_console_user(user, event).await.unwrap();
}

async fn in_review(t: &TestServer, vendor_data: &str) -> (String, i64) {
    let created = t
        .session_with(&["OCR", "AML"], json!({"vendor_data": vendor_data}))
        .await;
    let id = created["session_id"].as_str().unwrap().to_string();
    assert_eq!(t.attempt(&id, "feature_ocr_1", "Approved").await.0, 201);
    assert_eq!(t.attempt(&id, "feature_aml_1", "In Review").await.0, 201);
    assert_eq!(t.status_of(&id).await, "In Review");
    let (_, s) = t.get(&format!("/v3/session/{id}/decision/")).await;
    (id, s["session_number"].as_i64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_finds_reads_and_decides_a_session_and_a_viewer_only_reads() {
    if !browser::browser_available() {
        return;
    }
    let t = TestServer::start().await;
    user(&t, "rita@acme.example", Role::Reviewer).await;
    user(&t, "vic@acme.example", Role::Viewer).await;
    in_review(&t, "customer-1001").await;
    let (id, number) = in_review(&t, "customer-2002").await;
    let (viewer_session, _) = in_review(&t, "customer-3003").await;

    let screenshots =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots/console");
    let plan = json!({
        "base": t.base, "screenshots": screenshots,
        "reviewer": {"email": "rita@acme.example", "password": PASSWORD},
        "viewer": {"email": "vic@acme.example", "password": PASSWORD},
        "search": "customer-2002", "number": number, "viewer_session": viewer_session,
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

    // What the reviewer did in the browser is in the API's trail, as an API decision would be.
    assert_eq!(t.status_of(&id).await, "Approved");
    let (_, trail) = t.get(&format!("/v3/sessions/{id}/reviews/")).await;
    let row = trail["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["new_status"] == "Approved")
        .cloned()
        .unwrap_or_else(|| panic!("{trail}"));
    assert_eq!(row["actor_type"], "CONSOLE_USER");
    assert_eq!(row["actor_display"], "rita@acme.example");
    assert_eq!(row["comment"], "Checked the document by hand.");
    assert_eq!(t.status_of(&viewer_session).await, "In Review");
}
