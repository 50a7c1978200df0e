//! The destinations API and the SSRF guard at the edge.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::TestServer;
use crate::delivery::{destination, server};

#[tokio::test]
async fn create_get_list_patch_delete() {
    let t = server().await;
    let d = destination(&t, "http://127.0.0.1:9/hook", None).await;
    let id = d["uuid"].as_str().unwrap();
    assert_eq!(d["label"], "test");
    assert_eq!(d["enabled"], true);
    assert_eq!(d["status"], "active");
    assert_eq!(d["subscribed_events"], Value::Null);
    let secret = d["secret_shared_key"].as_str().unwrap();
    assert!(secret.starts_with("whk_live_") && secret.len() > 30);
    assert_eq!(d["secret_last4"], &secret[secret.len() - 4..]);
    let (s, got) = t.get(&format!("/v3/webhook/destinations/{id}/")).await;
    assert_eq!(
        (s, &got["secret_shared_key"]),
        (200, &d["secret_shared_key"])
    );
    let (_, list) = t.get("/v3/webhook/destinations/").await;
    assert_eq!(list["count"], 1);
    let (s, p) = t
        .call(Method::PATCH, &format!("/v3/webhook/destinations/{id}/"),
            Some(json!({"subscribed_events": ["data.updated", "data.updated"], "enabled": false, "label": "renamed"})))
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["subscribed_events"], json!(["data.updated"]));
    assert_eq!(
        (
            p["enabled"].as_bool(),
            p["status"].as_str(),
            p["label"].as_str()
        ),
        (Some(false), Some("disabled"), Some("renamed"))
    );
    let (s, b) = t
        .call(
            Method::PATCH,
            &format!("/v3/webhook/destinations/{id}/"),
            Some(json!({"subscribed_events": []})),
        )
        .await;
    assert_eq!(s, 400);
    assert!(b["subscribed_events"].is_array());
    let (s, b) = t
        .call(
            Method::PATCH,
            &format!("/v3/webhook/destinations/{id}/"),
            Some(json!({"subscribed_events": ["session.created"]})),
        )
        .await;
    assert_eq!(s, 400);
    assert!(b["subscribed_events[0]"].is_array(), "{b}");
    let (s, _) = t
        .call(
            Method::DELETE,
            &format!("/v3/webhook/destinations/{id}/"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        t.get(&format!("/v3/webhook/destinations/{id}/")).await.0,
        404
    );
    assert_eq!(
        t.call(
            Method::DELETE,
            &format!("/v3/webhook/destinations/{id}/"),
            None
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn bad_destinations_are_400_and_privileges_apply() {
    let t = server().await;
    for (body, field) in [
        (json!({"url": "https://example.com/h"}), "label"),
        (json!({"label": "x"}), "url"),
        (json!({"label": "x", "url": "ftp://example.com/"}), "url"),
        (json!({"label": "x", "url": "not a url"}), "url"),
        (
            json!({"label": "x", "url": "https://user:pw@example.com/"}),
            "url",
        ),
        (
            json!({"label": "x", "url": "https://example.com/", "subscribed_events": "status.updated"}),
            "subscribed_events",
        ),
    ] {
        let (s, b) = t.post("/v3/webhook/destinations/", body.clone()).await;
        assert_eq!(s, 400, "{body}");
        assert!(b[field].is_array(), "{body}: {b}");
    }
    let sessions_only = t
        .key_with(vouch_core::scopes::Scopes {
            sessions: vouch_core::scopes::Access::Write,
            ..vouch_core::scopes::Scopes::all(vouch_core::scopes::Access::None)
        })
        .await;
    let r = t
        .request(
            Method::GET,
            "/v3/webhook/destinations/",
            Some(&sessions_only),
            None,
        )
        .await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let t = TestServer::start().await; // the switch is off by default
    for url in [
        "http://127.0.0.1/h",
        "http://[::1]/h",
        "http://[::ffff:127.0.0.1]/h",
        "http://169.254.169.254/latest",
        "http://10.0.0.8/h",
        "http://0.0.0.0/h",
        "http://2130706433/h",
        "http://0177.0.0.1/h",
        "http://example.com@127.0.0.1/h",
        "http://192.168.1.1/h",
    ] {
        let (s, b) = t
            .post(
                "/v3/webhook/destinations/",
                json!({"label": "x", "url": url}),
            )
            .await;
        assert_eq!(s, 400, "{url}: {b}");
        assert!(b["url"].is_array(), "{url}: {b}");
    }
    // A name is accepted at creation, but refused at connect time when it resolves privately.
    let (s, d) = t
        .post(
            "/v3/webhook/destinations/",
            json!({"label": "x", "url": "http://localhost./hook"}),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    t.attempt(&sid, "feature_ocr_1", "Approved").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, log) = t.get(&format!("/v3/session/{sid}/webhooks/")).await;
        if let Some(a) = log.as_array().and_then(|r| r.first()) {
            assert_eq!(a["response_status"], Value::Null);
            assert!(
                a["error"]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
                    .contains("public"),
                "{a}"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no attempt logged");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, list) = t
        .get(&format!(
            "/v3/webhook/destinations/{}/deliveries/",
            d["uuid"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        list["results"][0]["state"], "failed",
        "a refused destination is not retried"
    );
}

#[tokio::test]
async fn the_webhook_version_a_client_asks_for_is_stored_and_echoed() {
    let t = server().await;
    let d = destination(&t, "http://127.0.0.1:9/hook", None).await;
    assert_eq!(d["webhook_version"], "v3");
    let id = d["uuid"].as_str().unwrap();
    let path = format!("/v3/webhook/destinations/{id}/");
    let (s, p) = t
        .call(Method::PATCH, &path, Some(json!({"webhook_version": "v2"})))
        .await;
    assert_eq!((s, &p["webhook_version"]), (200, &json!("v2")), "{p}");
    assert_eq!(t.get(&path).await.1["webhook_version"], "v2");
    let (s, e) = t
        .call(Method::PATCH, &path, Some(json!({"webhook_version": "v9"})))
        .await;
    assert_eq!(s, 400);
    assert!(e["webhook_version"].is_array(), "{e}");
    let (s, c) = t
        .post(
            "/v3/webhook/destinations/",
            json!({"label": "v1", "url": "http://127.0.0.1:9/v1", "webhook_version": "v1"}),
        )
        .await;
    assert_eq!((s, &c["webhook_version"]), (201, &json!("v1")), "{c}");
}
