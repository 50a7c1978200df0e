//! Snapshots of representative answers, byte for byte once ids, tokens and times are masked:
//! a change of shape or key order shows up as a reviewed diff (`cargo insta review`).

use insta::assert_json_snapshot;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::TestServer;

/// Values that differ on every run, by key, masked wherever they appear.
fn masked(mut v: Value) -> Value {
    const VARYING: &[&str] = &[
        "uuid",
        "session_id",
        "session_token",
        "session_url",
        "session_number",
        "workflow_id",
        "url",
        "attempt_id",
        "review_uuid",
        "created_at",
        "updated_at",
        "expires_at",
        "timestamp",
        "secret_shared_key",
        "secret_last4",
        "preview_token",
        "hash",
        "prev_hash",
        "personal_digest",
        "actor_display",
        "next",
        "previous",
        "message_id",
        "sent_at",
    ];
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if VARYING.contains(&k.as_str()) && !x.is_null() {
                        *x = Value::String(format!("[{k}]"));
                    } else {
                        walk(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

/// `v` with the session's link token masked inside texts too (emails carry the link).
fn masked_link(v: Value, token: &str) -> Value {
    let text = masked(v).to_string().replace(token, "[session_token]");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn representative_answers_keep_their_shape() {
    let t = TestServer::start().await;
    let wf = t.workflow(&["OCR", "LIVENESS"]).await;
    assert_json_snapshot!("workflow", masked(wf.clone()));

    let (s, created) = t
        .post(
            "/v3/session/",
            json!({"workflow_id": wf["uuid"], "vendor_data": "user-42",
                   "metadata": {"plan": "gold"}, "language": "es",
                   "contact_details": {"email": "ana@example.com"}}),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    assert_json_snapshot!("session_created", masked(created.clone()));
    let sid = created["session_id"].as_str().unwrap().to_string();
    let token = created["session_token"].as_str().unwrap().to_string();

    let (s, attempt) = t
        .post(
            &format!("/v3/session/{sid}/attempts/"),
            json!({"node_id": "feature_ocr_1", "status": "In Review",
                   "data": {"issuing_state": "ESP", "first_name": "Ana", "last_name": "Gil"},
                   "warnings": [{"risk": "LOW_QUALITY", "short_description": "blurred"}]}),
        )
        .await;
    assert_eq!(s, 201, "{attempt}");
    assert_json_snapshot!("attempt_recorded", masked(attempt));
    t.attempt(&sid, "feature_liveness_1", "Approved").await;

    let (s, preview) = t
        .post(
            &format!("/v3/session/{sid}/resubmission-preview/"),
            json!({"nodes_to_resubmit": [{"node_id": "feature_ocr_1", "feature": "OCR"}],
                   "email_address": "ana@example.com", "email_language": "es"}),
        )
        .await;
    assert_eq!(s, 200, "{preview}");
    assert_json_snapshot!("resubmission_preview", masked_link(preview, &token));

    let (s, decided) = t
        .call(
            Method::PATCH,
            &format!("/v3/session/{sid}/update-status/"),
            Some(
                json!({"new_status": "Declined", "comment": "document blurred",
                        "send_email": true, "email_address": "ana@example.com"}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{decided}");
    assert_json_snapshot!("status_updated", masked(decided));

    let (s, note) = t
        .post(
            &format!("/v3/sessions/{sid}/reviews/"),
            json!({"comment": "called the customer"}),
        )
        .await;
    assert_eq!(s, 201, "{note}");
    assert_json_snapshot!("note_added", masked(note));

    let (_, reviews) = t.get(&format!("/v3/sessions/{sid}/reviews/")).await;
    assert_json_snapshot!("reviews", masked(reviews));
    let (_, decision) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_json_snapshot!("decision", masked(decision));
    let (_, list) = t.get("/v3/sessions/?vendor_data=user-42").await;
    assert_json_snapshot!("session_list", masked(list));
    let (_, emails) = t.get(&format!("/v3/session/{sid}/emails/")).await;
    let mut emails = masked(emails);
    // Whether the mailer has tried it yet depends on timing; its shape does not.
    for e in emails["results"].as_array_mut().unwrap() {
        e["state"] = json!("[state]");
        e["attempts"] = json!("[attempts]");
        e["not_sent_reason"] = json!("[not_sent_reason]");
    }
    assert_json_snapshot!("emails", emails);

    let (s, dest) = t
        .post(
            "/v3/webhook/destinations/",
            json!({"label": "crm", "url": "https://hooks.example.com/vouch",
                   "subscribed_events": ["status.updated"]}),
        )
        .await;
    assert_eq!(s, 201, "{dest}");
    assert_json_snapshot!("destination", masked(dest));
}

#[tokio::test]
async fn the_openapi_document_is_reviewed_when_it_changes() {
    let t = TestServer::start().await;
    let (s, doc) = t.get("/openapi.json").await;
    assert_eq!(s, 200);
    let mut doc = doc;
    doc["info"]["version"] = json!("[version]");
    assert_json_snapshot!("openapi", doc);
}
