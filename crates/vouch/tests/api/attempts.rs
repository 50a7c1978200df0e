//! §4.5: step results and the automatic status rules; idempotent retries.

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::{status_json, TestServer};

async fn trail(t: &TestServer, sid: &str) -> (Vec<(String, String)>, Vec<(String, String)>) {
    let id: vouch_core::SessionId = sid.parse().unwrap();
    let reviews = t
        .store
        .reviews(id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            assert_eq!(r.actor_type.as_str(), "SYSTEM");
            (
                r.previous_status.unwrap().to_string(),
                r.new_status.unwrap().to_string(),
            )
        })
        .collect();
    let events = t
        .store
        .outbox_events(id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type.as_str() == "status.updated")
        .map(|e| (e.previous_status.unwrap().to_string(), e.status.to_string()))
        .collect();
    (reviews, events)
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn not_started_to_in_progress_to_approved() {
    let t = TestServer::start().await;
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    let (s, b) = t.attempt(&sid, "feature_ocr_1", "Approved").await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["session_id"], sid.as_str());
    assert_eq!(b["node_id"], "feature_ocr_1");
    assert_eq!(b["status"], "Approved");
    assert!(Uuid::parse_str(b["attempt_id"].as_str().unwrap()).is_ok());
    assert_eq!(t.status_of(&sid).await, "In Progress");
    t.attempt(&sid, "feature_liveness_1", "Approved").await;
    assert_eq!(t.status_of(&sid).await, "Approved");
    let (reviews, events) = trail(&t, &sid).await;
    let expected = pairs(&[("Not Started", "In Progress"), ("In Progress", "Approved")]);
    assert_eq!(reviews, expected);
    assert_eq!(events, expected);
    let (_, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_eq!(d["reviews"].as_array().unwrap().len(), 2);
    assert_eq!(d["reviews"][1]["actor_type"], "SYSTEM");
    assert_eq!(d["reviews"][1]["new_status"], "Approved");
}

#[tokio::test]
async fn any_declined_declines_else_any_in_review_reviews() {
    let t = TestServer::start().await;
    for (results, expected) in [
        (["Approved", "In Review", "Declined"], "Declined"),
        (["In Review", "Approved", "Approved"], "In Review"),
        (["Declined", "In Review", "Approved"], "Declined"),
        (["Approved", "Approved", "Approved"], "Approved"),
    ] {
        let (sid, _) = t.session(&["OCR", "LIVENESS", "FACE_MATCH"]).await;
        for (node, r) in [
            "feature_ocr_1",
            "feature_liveness_1",
            "feature_face_match_1",
        ]
        .iter()
        .zip(results)
        {
            t.attempt(&sid, node, r).await;
        }
        assert_eq!(t.status_of(&sid).await, expected, "{results:?}");
    }
}

#[tokio::test]
async fn unfinished_results_do_not_decide_and_the_latest_counts() {
    let t = TestServer::start().await;
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    t.attempt(&sid, "feature_ocr_1", "Declined").await;
    t.attempt(&sid, "feature_liveness_1", "Not Finished").await;
    assert_eq!(t.status_of(&sid).await, "In Progress");
    t.attempt(&sid, "feature_liveness_1", "Expired").await;
    assert_eq!(t.status_of(&sid).await, "In Progress");
    t.attempt(&sid, "feature_ocr_1", "Approved").await;
    t.attempt(&sid, "feature_liveness_1", "Approved").await;
    assert_eq!(
        t.status_of(&sid).await,
        "Approved",
        "the latest OCR attempt replaced the Declined one"
    );
    let (_, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_eq!(d["id_verifications"][0]["status"], "Approved");
}

#[tokio::test]
async fn attempts_on_decided_sessions_are_stored_but_change_nothing() {
    let t = TestServer::start().await;
    let (sid, _) = t.session(&["OCR"]).await;
    t.attempt(&sid, "feature_ocr_1", "Declined").await;
    assert_eq!(t.status_of(&sid).await, "Declined");
    let (s, _) = t.attempt(&sid, "feature_ocr_1", "Approved").await;
    assert_eq!(s, 201);
    assert_eq!(t.status_of(&sid).await, "Declined");
    let (_, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_eq!(d["id_verifications"][0]["status"], "Approved", "shown");
    let (reviews, events) = trail(&t, &sid).await;
    assert_eq!(reviews.len(), 2);
    assert_eq!(events.len(), 2);
    // The decision object changed outside the flow: one data.updated event, status unchanged.
    let all = t.store.outbox_events(sid.parse().unwrap()).await.unwrap();
    let data: Vec<_> = all
        .iter()
        .filter(|e| e.event_type.as_str() == "data.updated")
        .collect();
    assert_eq!(data.len(), 1);
    assert_eq!(
        (
            data[0].status.as_str(),
            data[0].previous_status.map(|s| s.as_str())
        ),
        ("Declined", Some("Declined"))
    );
}

#[tokio::test]
async fn bad_attempt_bodies_are_400_and_write_nothing() {
    let t = TestServer::start().await;
    let (sid, _) = t.session(&["OCR"]).await;
    let path = format!("/v3/session/{sid}/attempts/");
    for (body, field, message) in [
        (
            json!({"node_id": "feature_liveness_1", "status": "Approved"}),
            "node_id",
            "\"feature_liveness_1\" is not a node of this session's workflow.",
        ),
        (
            json!({"status": "Approved"}),
            "node_id",
            "This field is required.",
        ),
        (
            json!({"node_id": "feature_ocr_1"}),
            "status",
            "This field is required.",
        ),
        (
            json!({"node_id": "feature_ocr_1", "status": "Approve"}),
            "status",
            "\"Approve\" is not a valid choice.",
        ),
        (
            json!({"node_id": "feature_ocr_1", "status": "Approved", "data": [1]}),
            "data",
            "Must be a JSON object.",
        ),
    ] {
        let (s, b) = t.post(&path, body.clone()).await;
        assert_eq!(s, 400, "{body}");
        assert_eq!(b[field], json!([message]), "{body}: {b}");
    }
    let (s, b) = t
        .post(
            &path,
            json!({"node_id": "feature_ocr_1", "status": "Approved", "warnings": [1]}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b.as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .starts_with("warnings[0]"),
        "{b}"
    );
    let (s, _) = t
        .post(
            &format!("/v3/session/{}/attempts/", Uuid::new_v4()),
            json!({"node_id": "feature_ocr_1", "status": "Approved"}),
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(t.status_of(&sid).await, "Not Started");
}

async fn post_with_key(t: &TestServer, path: &str, key: &str, body: &Value) -> (u16, Value, bool) {
    let r = t
        .client
        .post(format!("{}{path}", t.base))
        .header("x-api-key", &t.key)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let replayed = r.headers().get("idempotent-replayed").is_some();
    let (s, b) = status_json(r).await;
    (s, b, replayed)
}

#[tokio::test]
async fn a_retried_attempt_with_the_same_key_is_recorded_once() {
    let t = TestServer::start().await;
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    let path = format!("/v3/session/{sid}/attempts/");
    let body = json!({"node_id": "feature_ocr_1", "status": "Approved"});
    let (s1, b1, r1) = post_with_key(&t, &path, "retry-1", &body).await;
    let (s2, b2, r2) = post_with_key(&t, &path, "retry-1", &body).await;
    assert_eq!((s1, s2), (201, 201));
    assert_eq!(b1, b2);
    assert!(!r1 && r2, "the second answer is a replay");
    // Concurrent retries of one request: still one attempt.
    let body2 = json!({"node_id": "feature_liveness_1", "status": "Declined"});
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (client, base, key, path, body) = (
            t.client.clone(),
            t.base.clone(),
            t.key.clone(),
            path.clone(),
            body2.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(format!("{base}{path}"))
                .header("x-api-key", key)
                .header("Idempotency-Key", "retry-2")
                .json(&body)
                .send()
                .await
                .unwrap();
            status_json(r).await
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    assert!(
        answers.iter().all(|(s, b)| *s == 201 && *b == answers[0].1),
        "{answers:?}"
    );
    let bundle = t
        .store
        .session_bundle(t.app.id, sid.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bundle.attempts.len(), 2, "one attempt per idempotency key");
    assert_eq!(t.status_of(&sid).await, "Declined");
    let (_, events) = trail(&t, &sid).await;
    assert_eq!(events.len(), 2);

    // The same key with another body is a conflict, and writes nothing.
    let (s, b, _) = post_with_key(
        &t,
        &path,
        "retry-1",
        &json!({"node_id": "feature_ocr_1", "status": "Declined"}),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (409, Some("idempotency_conflict")));
    let bundle = t
        .store
        .session_bundle(t.app.id, sid.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bundle.attempts.len(), 2);
}

#[tokio::test]
async fn session_and_workflow_creation_are_idempotent_too() {
    let t = TestServer::start().await;
    let wf_body = json!({"workflow_label": "w", "features": [{"feature": "OCR"}]});
    let (_, w1, _) = post_with_key(&t, "/v3/workflows/", "wf-1", &wf_body).await;
    let (s, w2, replayed) = post_with_key(&t, "/v3/workflows/", "wf-1", &wf_body).await;
    assert_eq!((s, replayed), (201, true));
    assert_eq!(w1, w2);
    let (_, list) = t.get("/v3/workflows/").await;
    assert_eq!(list["count"], 1);
    let body = json!({"workflow_id": w1["uuid"]});
    let (_, s1, _) = post_with_key(&t, "/v3/session/", "s-1", &body).await;
    let (_, s2, _) = post_with_key(&t, "/v3/session/", "s-1", &body).await;
    assert_eq!(s1, s2);
    let (_, list) = t.get("/v3/sessions/").await;
    assert_eq!(list["count"], 1);
    // Keys are per route: the same key on another endpoint is another request.
    let (s, b, _) = post_with_key(&t, "/v3/session/", "wf-1", &body).await;
    assert_eq!((s, b["code"].as_str()), (409, Some("idempotency_conflict")));
    let long = "k".repeat(256);
    let (s, b, _) = post_with_key(&t, "/v3/session/", &long, &body).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (400, Some("invalid_idempotency_key"))
    );
    let (s, b, _) = post_with_key(&t, "/v3/session/", "two words", &body).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (400, Some("invalid_idempotency_key"))
    );
    let ok = "k".repeat(255);
    let (s, _, _) = post_with_key(&t, "/v3/session/", &ok, &body).await;
    assert_eq!(s, 201);
    let _ = Method::GET;
}
