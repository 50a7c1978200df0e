//! §4.7 and the review trail: step overrides, notes, lifecycle timers, concurrency, audit.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;
use vouch_core::review::verify_chain;

use crate::common::TestServer;

async fn step(t: &TestServer, sid: &str, node: &str, body: Value) -> (u16, Value) {
    t.call(
        Method::PATCH,
        &format!("/v3/session/{sid}/features/{node}/update-status/"),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn a_step_override_is_an_attempt_and_a_review_row() {
    let t = TestServer::start().await;
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    t.attempt(&sid, "feature_ocr_1", "Approved").await;
    let (s, b) = step(
        &t,
        &sid,
        "feature_liveness_1",
        json!({"new_status": "In Review", "comment": "Looks odd"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b,
        json!({"session_id": sid, "node_id": "feature_liveness_1", "feature_type": "LIVENESS", "new_status": "In Review"})
    );
    // The session was in progress: it advances as with any result.
    let (_, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_eq!(d["status"], "In Review");
    assert_eq!(d["liveness_checks"][0]["status"], "In Review");
    let reviews = d["reviews"].as_array().unwrap();
    let manual = reviews
        .iter()
        .find(|r| r["activity_type"] == "STEP_STATUS_CHANGE")
        .unwrap();
    assert_eq!(manual["actor_type"], "API_KEY");
    assert_eq!(manual["comment"], "Looks odd");
    assert_eq!(manual["metadata"]["node_id"], "feature_liveness_1");
    assert_eq!(manual["metadata"]["new_step_status"], "In Review");
    let bundle = t
        .store
        .session_bundle(t.app.id, sid.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        bundle.attempts.last().unwrap().actor_type.as_str(),
        "API_KEY"
    );
    // A decided session keeps its decision.
    let (s, _) = step(
        &t,
        &sid,
        "feature_liveness_1",
        json!({"new_status": "Approved"}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(t.status_of(&sid).await, "In Review");
    let (_, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_eq!(d["liveness_checks"][0]["status"], "Approved");
}

#[tokio::test]
async fn step_override_errors() {
    let t = TestServer::start().await;
    let (sid, _) = t.session(&["OCR"]).await;
    t.attempt(&sid, "feature_ocr_1", "Declined").await;
    assert_eq!(
        step(&t, &sid, "feature_ocr_1", json!({"new_status": "Declined"})).await,
        (
            400,
            json!({"detail": "The new status is the same as the current status.", "code": "same_status"})
        )
    );
    for bad in ["Not Finished", "Expired", "Resubmitted", "nope"] {
        assert_eq!(
            step(&t, &sid, "feature_ocr_1", json!({"new_status": bad})).await,
            (
                400,
                json!({"new_status": [format!("\"{bad}\" is not a valid choice.")]})
            )
        );
    }
    assert_eq!(
        step(&t, &sid, "feature_ocr_1", json!({})).await,
        (400, json!({"new_status": ["This field is required."]}))
    );
    assert_eq!(
        step(&t, &sid, "feature_nfc_1", json!({"new_status": "Approved"}))
            .await
            .0,
        404
    );
    assert_eq!(
        step(
            &t,
            &Uuid::new_v4().to_string(),
            "feature_ocr_1",
            json!({"new_status": "Approved"})
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn notes_are_appended_and_never_change_the_status() {
    let t = TestServer::start().await;
    let (sid, _) = t.session(&["OCR"]).await;
    let path = format!("/v3/sessions/{sid}/reviews/");
    let (s, row) = t
        .post(
            &path,
            json!({"comment": "Called the customer", "new_status": "Approved"}),
        )
        .await;
    assert_eq!(s, 201, "{row}");
    let keys: Vec<&String> = row.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "uuid",
            "activity_type",
            "actor_type",
            "actor_display",
            "previous_status",
            "new_status",
            "comment",
            "metadata",
            "created_at"
        ]
    );
    assert_eq!(row["activity_type"], "NOTE");
    assert_eq!(row["comment"], "Called the customer");
    assert_eq!(row["previous_status"], "Not Started");
    assert_eq!(t.status_of(&sid).await, "Not Started");
    assert!(
        t.store
            .outbox_events(sid.parse().unwrap())
            .await
            .unwrap()
            .is_empty(),
        "a note is not a status change"
    );
    assert_eq!(
        t.post(&path, json!({})).await,
        (400, json!({"comment": ["This field is required."]}))
    );
    assert_eq!(
        t.post(&path, json!({"comment": "  "})).await,
        (400, json!({"comment": ["This field may not be blank."]}))
    );
    assert_eq!(
        t.post(&path, json!({"comment": "x", "new_status": "Pending"}))
            .await,
        (
            400,
            json!({"new_status": ["\"Pending\" is not a valid choice."]})
        )
    );
    for i in 0..4 {
        t.post(&path, json!({"comment": format!("note {i}")})).await;
    }
    let (s, page) = t.get(&format!("{path}?limit=2&offset=1")).await;
    assert_eq!(s, 200);
    assert_eq!(page["count"], 5);
    assert_eq!(page["results"][0]["comment"], "note 0", "oldest first");
    assert!(page["next"].as_str().unwrap().contains("offset=3"));
    assert!(page["previous"].is_string());
    assert_eq!(
        t.get(&format!("/v3/sessions/{}/reviews/", Uuid::new_v4()))
            .await
            .0,
        404
    );
    // No endpoint edits or deletes a row.
    let row_path = format!("{path}{}/", row["uuid"].as_str().unwrap());
    for m in [Method::DELETE, Method::PATCH, Method::PUT] {
        let (s, _) = t.call(m.clone(), &row_path, Some(json!({}))).await;
        assert_eq!(s, 404, "{m}");
        let (s, _) = t.call(m.clone(), &path, Some(json!({}))).await;
        assert_eq!(s, 405, "{m}");
    }
}

#[tokio::test]
async fn lifecycle_timers_move_sessions_and_write_the_trail() {
    let t = TestServer::start_with(|c| {
        c.lifecycle.interval = std::time::Duration::from_millis(100);
        c.lifecycle.not_started_expire_after = std::time::Duration::from_secs(1);
        c.lifecycle.abandon_after = std::time::Duration::from_secs(1);
    })
    .await;
    let (not_started, _) = t.session(&["OCR", "LIVENESS"]).await;
    let (in_progress, _) = t.session(&["OCR", "LIVENESS"]).await;
    t.attempt(&in_progress, "feature_ocr_1", "Approved").await;
    let (resubmitted, _) = t.session(&["OCR"]).await;
    t.attempt(&resubmitted, "feature_ocr_1", "Declined").await;
    t.call(
        Method::PATCH,
        &format!("/v3/session/{resubmitted}/update-status/"),
        Some(json!({"new_status": "Resubmitted"})),
    )
    .await;
    let (kyc, _) = t.session(&["OCR"]).await;
    t.post(&format!("/v3/session/{kyc}/attempts/"), json!({"node_id": "feature_ocr_1", "status": "Approved", "data": {"expiration_date": "2020-01-31"}})).await;
    let (valid, _) = t.session(&["OCR"]).await;
    t.post(&format!("/v3/session/{valid}/attempts/"), json!({"node_id": "feature_ocr_1", "status": "Approved", "data": {"expiration_date": "2999-01-31"}})).await;

    let expected = [
        (&not_started, "Expired"),
        (&in_progress, "Abandoned"),
        (&resubmitted, "Abandoned"),
        (&kyc, "Kyc Expired"),
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mut done = true;
        for (sid, status) in &expected {
            done &= t.status_of(sid).await == *status;
        }
        if done {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "timers did not fire");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        t.status_of(&valid).await,
        "Approved",
        "a valid document keeps the approval"
    );
    for (sid, status) in &expected {
        let id: vouch_core::SessionId = sid.parse().unwrap();
        let last_review = t.store.reviews(id).await.unwrap().pop().unwrap();
        assert_eq!(last_review.actor_type.as_str(), "SYSTEM");
        assert_eq!(last_review.new_status.unwrap().as_str(), *status);
        let last_event = t.store.outbox_events(id).await.unwrap().pop().unwrap();
        assert_eq!(last_event.status.as_str(), *status);
    }
    // Abandoned and Kyc Expired sessions can be reviewed.
    for sid in [&in_progress, &kyc] {
        let (s, _) = t
            .call(
                Method::PATCH,
                &format!("/v3/session/{sid}/update-status/"),
                Some(json!({"new_status": "Declined"})),
            )
            .await;
        assert_eq!(s, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reviews_serialize_into_one_gapless_chain() {
    let t = TestServer::start().await;
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    t.attempt(&sid, "feature_ocr_1", "Declined").await;
    t.attempt(&sid, "feature_liveness_1", "Approved").await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let (client, url, key) = (
            t.client.clone(),
            format!("{}/v3/session/{sid}/update-status/", t.base),
            t.key.clone(),
        );
        let body = match i % 3 {
            0 => json!({"new_status": "Approved", "comment": format!("r{i}")}),
            1 => json!({"new_status": "Declined", "comment": format!("r{i}")}),
            _ => json!({"new_status": "Resubmitted", "nodes_to_resubmit": ["feature_ocr_1"]}),
        };
        tasks.push(tokio::spawn(async move {
            client
                .patch(url)
                .header("x-api-key", key)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut codes = Vec::new();
    for task in tasks {
        codes.push(task.await.unwrap());
    }
    assert!(codes.iter().all(|c| *c == 200 || *c == 400), "{codes:?}");
    let id: vouch_core::SessionId = sid.parse().unwrap();
    let reviews = t.store.reviews(id).await.unwrap();
    let events = t.store.outbox_events(id).await.unwrap();
    assert_eq!(verify_chain(&reviews), Ok(()));
    let seqs: Vec<i64> = reviews.iter().map(|r| r.seq).collect();
    assert_eq!(
        seqs,
        (1..=reviews.len() as i64).collect::<Vec<_>>(),
        "gapless"
    );
    assert_eq!(reviews.len(), events.len(), "one event per real change");
    // Each row starts where the previous ended: a serial history.
    for pair in reviews.windows(2) {
        assert_eq!(pair[1].previous_status, pair[0].new_status, "{pair:?}");
    }
    for (r, e) in reviews.iter().zip(&events) {
        assert_eq!(
            (r.previous_status, r.new_status),
            (e.previous_status, Some(e.status))
        );
    }
    let manual = reviews
        .iter()
        .filter(|r| r.actor_type.as_str() == "API_KEY")
        .count();
    assert!(manual >= 2, "several real changes happened: {manual}");
    assert_eq!(
        Some(
            reviews
                .last()
                .unwrap()
                .new_status
                .unwrap()
                .as_str()
                .to_string()
        ),
        Some(t.status_of(&sid).await)
    );
}

#[tokio::test]
async fn audit_verify_finds_a_row_altered_in_the_database() {
    let t = TestServer::start().await;
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    t.attempt(&sid, "feature_ocr_1", "Approved").await;
    t.attempt(&sid, "feature_liveness_1", "Declined").await;
    t.call(
        Method::PATCH,
        &format!("/v3/session/{sid}/update-status/"),
        Some(json!({"new_status": "Approved", "comment": "ok"})),
    )
    .await;
    let url = t.database_url.clone();
    let audit = |session: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vouch"));
        cmd.args(["audit", "verify"])
            .env("VOUCH_DATABASE_URL", &url);
        if let Some(s) = session {
            cmd.args(["--session", s]);
        }
        cmd.output().unwrap()
    };
    let ok = audit(None);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout)
        .contains("review trail intact: 1 session chain(s) verified"));

    use vouch_store::testing::{drop_review_guard, execute};
    let update = execute(
        &url,
        "UPDATE reviews SET comment = 'forged' WHERE session_id = ?1 AND seq = 3",
        Some(&sid),
    )
    .await;
    assert!(update.is_err(), "the database refuses edits");
    assert!(
        execute(
            &url,
            "DELETE FROM reviews WHERE session_id = ?1",
            Some(&sid)
        )
        .await
        .is_err(),
        "and deletes"
    );
    // Someone with database access removes the guard and edits a row.
    drop_review_guard(&url).await.unwrap();
    execute(
        &url,
        "UPDATE reviews SET new_status = 'Declined' WHERE session_id = ?1 AND seq = 3",
        Some(&sid),
    )
    .await
    .unwrap();
    for session in [None, Some(sid.as_str())] {
        let out = audit(session);
        assert!(!out.status.success());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("session {sid}: broken at row 3")),
            "{stdout}"
        );
    }
}
