//! Previews and their tokens: what is previewed is what is sent, or the change is refused.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::TestServer;
use crate::sending::{emails, reviewable, server, settled};
use crate::sink::{decoded, Sink};

async fn patch(t: &TestServer, sid: &str, body: Value) -> (u16, Value) {
    t.call(
        Method::PATCH,
        &format!("/v3/session/{sid}/update-status/"),
        Some(body),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_email_sent_is_the_email_previewed() {
    let smtp = Sink::start();
    let t = server(Some(&smtp)).await;
    let sid = reviewable(&t).await;
    let nodes = json!([{"node_id": "feature_ocr_1", "feature": "OCR", "reason": "Glare <b>on</b> the photo"}]);
    let (s, p) = t
        .post(&format!("/v3/session/{sid}/resubmission-preview/"),
            json!({"nodes_to_resubmit": nodes, "email_address": "p@example.com", "email_language": "it"}))
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["recipient"], "p@example.com");
    assert_eq!(p["language"], "it");
    assert_eq!(
        (p["will_be_sent"].as_bool(), &p["not_sent_reason"]),
        (Some(true), &Value::Null)
    );
    assert_eq!(p["requires_user_action"], true);
    assert!(p["html"]
        .as_str()
        .unwrap()
        .contains("Glare &lt;b&gt;on&lt;/b&gt; the photo"));
    // Nothing changed or was queued by the preview.
    assert_eq!(t.status_of(&sid).await, "In Review");
    assert_eq!(emails(&t, &sid).await["count"], 0);

    let (s, b) = patch(&t, &sid, json!({"new_status": "Resubmitted", "nodes_to_resubmit": nodes, "send_email": true,
        "email_address": "p@example.com", "email_language": "it", "email_preview_token": p["preview_token"]})).await;
    assert_eq!(s, 200, "{b}");
    let m = smtp.wait_for(1).await.remove(0);
    let body = decoded(&m);
    assert!(
        body.contains(p["text"].as_str().unwrap().trim_end()),
        "text part differs from the preview"
    );
    assert!(
        body.contains(p["html"].as_str().unwrap().trim_end()),
        "html part differs from the preview"
    );
    assert_eq!(settled(&t, &sid).await["subject"], p["subject"]);
}

#[tokio::test]
async fn a_stale_or_altered_token_is_409_and_changes_nothing() {
    let t = server(None).await;
    let sid = reviewable(&t).await;
    let (_, p) = t
        .post(&format!("/v3/session/{sid}/decision-email-preview/"),
            json!({"new_status": "Declined", "email_address": "p@example.com", "email_language": "es"}))
        .await;
    let token = p["preview_token"].as_str().unwrap().to_string();
    let base = json!({"new_status": "Declined", "send_email": true, "email_address": "p@example.com", "email_language": "es"});
    let with = |changes: Value, token: &str| {
        let mut b = base.clone();
        for (k, v) in changes.as_object().unwrap() {
            b[k] = v.clone();
        }
        b["email_preview_token"] = json!(token);
        b
    };
    let mut altered = token.clone();
    altered.insert(
        3,
        if altered.as_bytes()[3] == b'A' {
            'B'
        } else {
            'A'
        },
    );
    for (body, code) in [
        (with(json!({}), &altered), "preview_invalid"),
        (with(json!({}), "not-a-token"), "preview_invalid"),
        (
            with(json!({"email_address": "q@example.com"}), &token),
            "preview_mismatch",
        ),
        (
            with(json!({"email_language": "fr"}), &token),
            "preview_mismatch",
        ),
        (
            with(json!({"new_status": "Approved"}), &token),
            "preview_mismatch",
        ),
        (
            with(json!({"send_email": false}), &token),
            "preview_mismatch",
        ),
    ] {
        let (s, b) = patch(&t, &sid, body.clone()).await;
        assert_eq!((s, b["code"].as_str()), (409, Some(code)), "{body}");
    }
    // An expired token, signed with the server's own key.
    // The server's own key (the store answers the stored one, never the "fresh" candidate).
    let key: String = t
        .store
        .secret("email_preview_key", "not-the-key".into())
        .await
        .unwrap();
    let claims = vouch_core::preview::PreviewClaims {
        session_id: sid.parse().unwrap(),
        status: "Declined".into(),
        steps: vec![],
        recipient: Some("p@example.com".into()),
        language: "es".into(),
        issued_at: chrono::Utc::now().timestamp() - 16 * 60,
    };
    let old = vouch_core::preview::issue(key.as_bytes(), &claims);
    let (s, b) = patch(&t, &sid, with(json!({}), &old)).await;
    assert_eq!((s, b["code"].as_str()), (409, Some("preview_expired")));
    assert_eq!(t.status_of(&sid).await, "In Review", "nothing changed");
    assert_eq!(emails(&t, &sid).await["count"], 0, "nothing queued");
    // The genuine token works.
    let (s, _) = patch(&t, &sid, with(json!({}), &token)).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn previews_say_when_nothing_would_be_sent() {
    let t = server(None).await;
    let (sid, _) = t.session(&["OCR", "AML"]).await;
    t.attempt(&sid, "feature_ocr_1", "Approved").await;
    t.attempt(&sid, "feature_aml_1", "In Review").await;
    let (s, p) = t
        .post(&format!("/v3/session/{sid}/resubmission-preview/"),
            json!({"nodes_to_resubmit": [{"node_id": "feature_aml_1", "feature": "AML"}], "email_address": "p@example.com"}))
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(
        (p["will_be_sent"].as_bool(), p["not_sent_reason"].as_str()),
        (Some(false), Some("no_user_action"))
    );
    assert_eq!(p["requires_user_action"], false);
    let (_, p) = t
        .post(
            &format!("/v3/session/{sid}/decision-email-preview/"),
            json!({"new_status": "Approved"}),
        )
        .await;
    assert_eq!(
        (p["recipient"].clone(), p["not_sent_reason"].as_str()),
        (Value::Null, Some("no_recipient"))
    );
    assert!(!p["subject"].as_str().unwrap().is_empty());
    // The preview answers as update-status would.
    let (s, b) = t
        .post(
            &format!("/v3/session/{sid}/decision-email-preview/"),
            json!({"new_status": "In Review"}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    let (fresh, _) = t.session(&["OCR"]).await;
    let (s, b) = t
        .post(
            &format!("/v3/session/{fresh}/resubmission-preview/"),
            json!({}),
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (400, Some("wrong_current_status")));
    let (s, _) = t
        .post(
            &format!("/v3/session/{}/resubmission-preview/", uuid::Uuid::new_v4()),
            json!({}),
        )
        .await;
    assert_eq!(s, 404);
}

/// With `email_preview_key_file`, tokens are signed with the file's key (so nodes that share the
/// file share their previews), not with the key kept in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_tokens_are_signed_with_the_configured_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("preview.key");
    let key = "k".repeat(48);
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    let t = TestServer::start_with(|c| c.email_preview_key_file = Some(key_file.clone())).await;
    let sid = reviewable(&t).await;
    let (s, p) = t
        .post(
            &format!("/v3/session/{sid}/decision-email-preview/"),
            json!({"new_status": "Approved", "email_address": "p@example.com"}),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    let token = p["preview_token"].as_str().unwrap();
    let other = vouch_core::preview::PreviewClaims {
        session_id: vouch_core::SessionId::nil(),
        status: "Approved".into(),
        steps: vec![],
        recipient: None,
        language: "en".into(),
        issued_at: chrono::Utc::now().timestamp(),
    };
    let now = chrono::Utc::now();
    // The file's key authenticates the token (the claims then differ); any other key does not.
    assert_eq!(
        vouch_core::preview::verify(key.as_bytes(), token, &other, now),
        Err(vouch_core::preview::PreviewError::Mismatch)
    );
    assert_eq!(
        vouch_core::preview::verify(&[7u8; 48], token, &other, now),
        Err(vouch_core::preview::PreviewError::BadSignature)
    );
}
