//! §4.6: every rule of update-status over HTTP, with exact status codes and bodies.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{status_json, TestServer};

pub async fn patch(t: &TestServer, sid: &str, body: Value) -> (u16, Value) {
    t.call(
        Method::PATCH,
        &format!("/v3/session/{sid}/update-status/"),
        Some(body),
    )
    .await
}

/// A session on a workflow of `features`, with `results` recorded in order.
pub async fn with_results(t: &TestServer, features: &[&str], results: &[(&str, &str)]) -> String {
    let (sid, _) = t.session(features).await;
    for (node, status) in results {
        let (s, b) = t.attempt(&sid, node, status).await;
        assert_eq!(s, 201, "{b}");
    }
    sid
}

pub async fn counts(t: &TestServer, sid: &str) -> (usize, usize, usize) {
    let id: vouch_core::SessionId = sid.parse().unwrap();
    (
        t.store.reviews(id).await.unwrap().len(),
        t.store.outbox_events(id).await.unwrap().len(),
        t.store.email_jobs(id).await.unwrap().len(),
    )
}

fn wrong_status() -> Value {
    json!({"detail": "Wrong Current Status", "code": "wrong_current_status"})
}

#[tokio::test]
async fn current_status_is_checked_before_the_body() {
    let t = TestServer::start().await;
    let (not_started, _) = t.session(&["OCR", "LIVENESS"]).await;
    for body in [
        json!({"new_status": "Pending"}),
        json!({}),
        json!({"new_status": "Approved"}),
        json!([1]),
    ] {
        assert_eq!(patch(&t, &not_started, body).await, (400, wrong_status()));
    }
    let r = t
        .client
        .patch(format!(
            "{}/v3/session/{not_started}/update-status/",
            t.base
        ))
        .header("x-api-key", &t.key)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(status_json(r).await, (400, wrong_status()));
    let in_progress =
        with_results(&t, &["OCR", "LIVENESS"], &[("feature_ocr_1", "Approved")]).await;
    assert_eq!(
        patch(&t, &in_progress, json!({"new_status": "Approved"})).await,
        (400, wrong_status())
    );
    assert_eq!(
        counts(&t, &in_progress).await,
        (1, 1, 0),
        "only the automatic change was written"
    );
    // Once under review, the same malformed body is a parse error.
    let reviewable = with_results(&t, &["OCR"], &[("feature_ocr_1", "In Review")]).await;
    let r = t
        .client
        .patch(format!("{}/v3/session/{reviewable}/update-status/", t.base))
        .header("x-api-key", &t.key)
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (s, b) = status_json(r).await;
    assert_eq!((s, b["code"].as_str()), (400, Some("parse_error")));
}

#[tokio::test]
async fn only_approved_declined_and_resubmitted_are_targets() {
    let t = TestServer::start().await;
    let sid = with_results(&t, &["OCR"], &[("feature_ocr_1", "In Review")]).await;
    assert_eq!(
        patch(&t, &sid, json!({"new_status": "Pending"})).await,
        (
            400,
            json!({"new_status": ["\"Pending\" is not a valid choice."]})
        )
    );
    assert_eq!(
        patch(&t, &sid, json!({"new_status": "In Review"})).await,
        (
            400,
            json!({"new_status": ["\"In Review\" is not a valid choice."]})
        )
    );
    assert_eq!(
        patch(&t, &sid, json!({"comment": "x"})).await,
        (400, json!({"new_status": ["This field is required."]}))
    );
    assert_eq!(t.status_of(&sid).await, "In Review");
}

#[tokio::test]
async fn nodes_to_resubmit_are_schema_checked_for_every_target() {
    let t = TestServer::start().await;
    let sid = with_results(&t, &["OCR"], &[("feature_ocr_1", "In Review")]).await;
    for target in ["Approved", "Declined", "Resubmitted"] {
        let (s, b) = patch(&t, &sid, json!({"new_status": target, "nodes_to_resubmit": [{"node_id": "feature_ocr_1", "feature": "SELFIE"}]})).await;
        assert_eq!(
            (s, b),
            (
                400,
                json!({"nodes_to_resubmit[0].feature": ["\"SELFIE\" is not a valid choice."]})
            ),
            "{target}"
        );
        let (s, b) = patch(
            &t,
            &sid,
            json!({"new_status": target, "nodes_to_resubmit": [{"node_id": "", "feature": "OCR"}]}),
        )
        .await;
        assert_eq!(
            (s, b),
            (
                400,
                json!({"nodes_to_resubmit[0].node_id": ["This field may not be blank."]})
            ),
            "{target}"
        );
    }
    // Schema-valid entries are ignored for a decision.
    let (s, b) = patch(&t, &sid, json!({"new_status": "Approved", "nodes_to_resubmit": [{"node_id": "feature_nfc_1", "feature": "NFC"}]})).await;
    assert_eq!((s, b), (200, json!({"session_id": sid})));
    let (_, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_eq!(
        (d["status"].as_str(), &d["resubmit_info"]),
        (Some("Approved"), &Value::Null)
    );
}

#[tokio::test]
async fn email_rules() {
    let t = TestServer::start().await;
    let sid = with_results(&t, &["OCR"], &[("feature_ocr_1", "In Review")]).await;
    assert_eq!(
        patch(
            &t,
            &sid,
            json!({"new_status": "Approved", "send_email": true})
        )
        .await,
        (
            400,
            json!({"email_address": ["This field is required when send_email is true."]})
        )
    );
    assert_eq!(
        patch(
            &t,
            &sid,
            json!({"new_status": "Approved", "send_email": true, "email_address": "not-an-address"})
        )
        .await,
        (
            400,
            json!({"email_address": ["Enter a valid email address."]})
        )
    );
    for hostile in [
        "a@b.co\r\nBcc: evil@x.com",
        "a@b.co, c@d.co",
        "\"x\" <a@b.co>",
    ] {
        let (s, b) = patch(
            &t,
            &sid,
            json!({"new_status": "Approved", "send_email": true, "email_address": hostile}),
        )
        .await;
        assert_eq!(
            (s, b),
            (
                400,
                json!({"email_address": ["Enter a valid email address."]})
            ),
            "{hostile:?}"
        );
    }
    assert_eq!(
        counts(&t, &sid).await,
        (2, 2, 0),
        "nothing written by refused requests"
    );
    let (s, _) = patch(&t, &sid, json!({"new_status": "Declined", "send_email": true, "email_address": "p@example.com", "email_language": "fr"})).await;
    assert_eq!(s, 200);
    let jobs = t.store.email_jobs(sid.parse().unwrap()).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].recipient.as_deref(), Some("p@example.com"));
    assert_eq!(jobs[0].language, "fr");
    assert_eq!(jobs[0].status.as_str(), "Declined");
    assert_eq!(jobs[0].state.as_str(), "pending");
    let reviews = t.store.reviews(sid.parse().unwrap()).await.unwrap();
    assert_eq!(jobs[0].review_uuid, reviews.last().unwrap().uuid);
}

#[tokio::test]
async fn same_status_is_a_no_op_but_resubmitted_twice_is_400() {
    let t = TestServer::start().await;
    let sid = with_results(&t, &["OCR"], &[("feature_ocr_1", "Approved")]).await;
    let before = counts(&t, &sid).await;
    let (s, b) = patch(&t, &sid, json!({"new_status": "Approved", "comment": "again", "send_email": true, "email_address": "p@example.com"})).await;
    assert_eq!((s, b), (200, json!({"session_id": sid})));
    assert_eq!(
        counts(&t, &sid).await,
        before,
        "no review row, no event, no email"
    );
    let declined = with_results(&t, &["OCR"], &[("feature_ocr_1", "Declined")]).await;
    let before = counts(&t, &declined).await;
    assert_eq!(
        patch(&t, &declined, json!({"new_status": "Declined"}))
            .await
            .0,
        200
    );
    assert_eq!(counts(&t, &declined).await, before);
    assert_eq!(
        patch(&t, &declined, json!({"new_status": "Resubmitted"}))
            .await
            .0,
        200
    );
    assert_eq!(
        patch(&t, &declined, json!({"new_status": "Resubmitted"})).await,
        (
            400,
            json!({"detail": "The new status is the same as the current status.", "code": "same_status"})
        )
    );
}

#[tokio::test]
async fn approved_and_declined_overturn_each_other_with_a_full_trail() {
    let t = TestServer::start().await;
    let sid = with_results(&t, &["OCR"], &[("feature_ocr_1", "Approved")]).await;
    let (s, b) = patch(
        &t,
        &sid,
        json!({"new_status": "Declined", "comment": "Duplicated user"}),
    )
    .await;
    assert_eq!((s, b), (200, json!({"session_id": sid})));
    assert_eq!(
        patch(
            &t,
            &sid,
            json!({"new_status": "Approved", "comment": "Cleared"})
        )
        .await
        .0,
        200
    );
    let (_, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_eq!(d["status"], "Approved");
    let reviews = d["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), 4);
    let manual = &reviews[2];
    assert_eq!(manual["actor_type"], "API_KEY");
    assert!(
        manual["actor_display"]
            .as_str()
            .unwrap()
            .starts_with("vk_live_"),
        "{manual}"
    );
    assert_eq!(manual["previous_status"], "Approved");
    assert_eq!(manual["new_status"], "Declined");
    assert_eq!(manual["comment"], "Duplicated user");
    assert_eq!(manual["metadata"]["send_email"], false);
    for f in ["uuid", "activity_type", "created_at"] {
        assert!(manual[f].is_string(), "{f}");
    }
    let events = t.store.outbox_events(sid.parse().unwrap()).await.unwrap();
    let statuses: Vec<&str> = events.iter().map(|e| e.status.as_str()).collect();
    assert_eq!(
        statuses,
        ["In Progress", "Approved", "Declined", "Approved"]
    );
    assert_eq!(events[2].previous_status.unwrap().as_str(), "Approved");
}

#[tokio::test]
async fn every_reviewable_status_can_be_decided() {
    let t = TestServer::start().await;
    let in_review = with_results(&t, &["OCR"], &[("feature_ocr_1", "In Review")]).await;
    assert_eq!(
        patch(&t, &in_review, json!({"new_status": "Declined"}))
            .await
            .0,
        200
    );
    let resubmitted = with_results(&t, &["OCR"], &[("feature_ocr_1", "Declined")]).await;
    patch(&t, &resubmitted, json!({"new_status": "Resubmitted"})).await;
    assert_eq!(
        patch(&t, &resubmitted, json!({"new_status": "Approved"}))
            .await
            .0,
        200
    );
    let (_, d) = t.get(&format!("/v3/session/{resubmitted}/decision/")).await;
    assert_eq!(
        (d["status"].as_str(), &d["resubmit_info"]),
        (Some("Approved"), &Value::Null)
    );
}
