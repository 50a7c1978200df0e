//! Delivery: signatures, subscriptions, retries, timeouts, resend, rotation, deletion.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::common::TestServer;
use crate::receiver::{Receiver, Reply};

fn hmac(secret: &str, msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

pub async fn server() -> TestServer {
    TestServer::start_with(|c| {
        c.allow_private_destinations = true;
        c.webhooks.retry_schedule = [0, 1, 1].map(std::time::Duration::from_secs).to_vec();
        c.webhooks.jitter = 0.0;
        c.webhooks.timeout = std::time::Duration::from_secs(1);
        c.webhooks.poll_interval = std::time::Duration::from_millis(100);
    })
    .await
}

/// Polls `path` until `done` holds: the receiver sees a delivery before its result is recorded.
pub async fn recorded(t: &TestServer, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (s, v) = t.get(path).await;
        assert_eq!(s, 200, "{v}");
        if done(&v) {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "{path}: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn destination(t: &TestServer, url: &str, events: Option<Value>) -> Value {
    let mut body = json!({"label": "test", "url": url});
    if let Some(e) = events {
        body["subscribed_events"] = e;
    }
    let (s, d) = t.post("/v3/webhook/destinations/", body).await;
    assert_eq!(s, 201, "{d}");
    d
}

/// A session that is decided (`In Progress` then `Declined`): two status events.
pub async fn decided_session(t: &TestServer) -> String {
    let (sid, _) = t.session(&["OCR"]).await;
    t.attempt(&sid, "feature_ocr_1", "Declined").await;
    sid
}

#[tokio::test]
async fn a_status_change_is_delivered_once_with_valid_signatures() {
    let t = server().await;
    let rx = Receiver::start().await;
    let d = destination(&t, &rx.url, None).await;
    let secret = d["secret_shared_key"].as_str().unwrap().to_string();
    let sid = decided_session(&t).await;
    let got = rx.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.received().len(), 2, "exactly one delivery per event");
    let statuses: Vec<&str> = got
        .iter()
        .map(|r| r.json["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"In Progress") && statuses.contains(&"Declined"),
        "{statuses:?}"
    );
    let r = got.iter().find(|r| r.json["status"] == "Declined").unwrap();
    let body = &r.body[..];
    let p = &r.json;
    // Flat payload with the decision for a decided status.
    for f in [
        "event_id",
        "webhook_type",
        "session_id",
        "session_kind",
        "status",
        "previous_status",
        "vendor_data",
        "workflow_id",
        "metadata",
        "environment",
        "timestamp",
        "created_at",
        "resubmit_info",
        "decision",
    ] {
        assert!(p.get(f).is_some(), "payload lacks {f}: {p}");
    }
    assert_eq!(p["session_id"], sid.as_str());
    assert_eq!(p["webhook_type"], "status.updated");
    assert_eq!(p["previous_status"], "In Progress");
    assert_eq!(p["decision"]["status"], "Declined");
    assert_eq!(p["decision"]["session_id"], sid.as_str());
    // The body is the canonical form.
    assert_eq!(
        std::str::from_utf8(body).unwrap(),
        vouch_core::webhook::canonical_json(p)
    );
    let ts = r.header("x-timestamp");
    assert_eq!(ts, p["timestamp"].to_string());
    assert_eq!(r.header("content-type"), "application/json");
    assert!(r.header("user-agent").starts_with("vouch-webhook/"));
    assert_eq!(r.header("x-signature"), hex::encode(hmac(&secret, body)));
    assert_eq!(r.header("x-signature-v2"), hex::encode(hmac(&secret, body)));
    let simple = format!("{ts}:{sid}:Declined:status.updated");
    assert_eq!(
        r.header("x-signature-simple"),
        hex::encode(hmac(&secret, simple.as_bytes()))
    );
    // Standard Webhooks, verified the way such libraries do: key = base64-decoded whsec_ secret.
    let whsec = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(&secret)
    );
    let key = base64::engine::general_purpose::STANDARD
        .decode(whsec.trim_start_matches("whsec_"))
        .unwrap();
    let id = r.header("webhook-id");
    assert_eq!(id, p["event_id"].as_str().unwrap());
    assert_eq!(r.header("webhook-timestamp"), ts);
    let mut m = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    m.update(format!("{id}.{ts}.").as_bytes());
    m.update(body);
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
    );
    assert_eq!(r.header("webhook-signature"), expected);
    assert!(r.headers.get("x-signature-previous").is_none());
    // The log shows the attempt.
    let (s, log) = t.get(&format!("/v3/session/{sid}/webhooks/")).await;
    assert_eq!(s, 200);
    assert_eq!(log.as_array().map(Vec::len), Some(2));
    assert_eq!(log[0]["response_status"], 200);
}

#[tokio::test]
async fn unsubscribed_events_are_not_delivered() {
    let t = server().await;
    let only_data = Receiver::start().await;
    let all = Receiver::start().await;
    destination(&t, &only_data.url, Some(json!(["data.updated"]))).await;
    destination(&t, &all.url, Some(json!(["status.updated"]))).await;
    let sid = decided_session(&t).await;
    all.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(only_data.received().is_empty());
    // A result on the decided session changes its data, not its status: data.updated only.
    t.attempt(&sid, "feature_ocr_1", "Approved").await;
    let got = only_data.wait_for(1).await;
    assert_eq!(got[0].json["webhook_type"], "data.updated");
    assert_eq!(got[0].json["status"], "Declined");
    assert_eq!(
        got[0].json["decision"]["id_verifications"][0]["status"],
        "Approved"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        all.received().len(),
        2,
        "status.updated subscribers get nothing new"
    );
    assert_eq!(only_data.received().len(), 1);
}

#[tokio::test]
async fn a_500_is_retried_with_the_same_event_id_and_a_400_is_not() {
    let t = server().await;
    let flaky = Receiver::start().await;
    flaky.script(vec![Reply::Status(500), Reply::Status(500)]);
    destination(&t, &flaky.url, None).await;
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    t.attempt(&sid, "feature_ocr_1", "Approved").await; // one event: In Progress
    let got = flaky.wait_for(3).await;
    assert!(
        got.iter()
            .all(|r| r.json["event_id"] == got[0].json["event_id"]),
        "same event id on retries"
    );
    assert!(got.windows(2).all(|w| w[1].at >= w[0].at));
    let log = recorded(&t, &format!("/v3/session/{sid}/webhooks/"), |l| {
        l.as_array().is_some_and(|a| a.len() == 3)
    })
    .await;
    let codes: Vec<i64> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["response_status"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [200, 500, 500], "newest first");

    let strict = Receiver::start().await;
    strict.script(vec![Reply::Status(400)]);
    let t2 = server().await;
    let d = destination(&t2, &strict.url, None).await;
    let (sid2, _) = t2.session(&["OCR", "LIVENESS"]).await;
    t2.attempt(&sid2, "feature_ocr_1", "Approved").await;
    strict.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(strict.received().len(), 1, "400 is not retried");
    let (_, list) = t2
        .get(&format!(
            "/v3/webhook/destinations/{}/deliveries/",
            d["uuid"].as_str().unwrap()
        ))
        .await;
    assert_eq!(list["results"][0]["state"], "failed");
    assert_eq!(list["results"][0]["last_response_status"], 400);
}

#[tokio::test]
async fn resend_re_signs_with_a_fresh_timestamp_and_the_same_event_id() {
    let t = server().await;
    let rx = Receiver::start().await;
    let d = destination(&t, &rx.url, None).await;
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    t.attempt(&sid, "feature_ocr_1", "Approved").await;
    let first = rx.wait_for(1).await[0].clone();
    let dest = d["uuid"].as_str().unwrap();
    let list = recorded(
        &t,
        &format!("/v3/webhook/destinations/{dest}/deliveries/"),
        |l| l["results"][0]["state"] == "succeeded",
    )
    .await;
    assert_eq!(list["count"], 1);
    let delivery = list["results"][0]["uuid"].as_str().unwrap().to_string();
    assert_eq!(list["results"][0]["state"], "succeeded");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, body) = t
        .post(
            &format!("/v3/webhook/destinations/{dest}/deliveries/{delivery}/resend/"),
            json!({}),
        )
        .await;
    assert_eq!(s, 202, "{body}");
    let again = rx.wait_for(2).await[1].clone();
    assert_eq!(again.json["event_id"], first.json["event_id"]);
    assert!(again.json["timestamp"].as_i64() > first.json["timestamp"].as_i64());
    assert_ne!(again.header("x-signature"), first.header("x-signature"));
    let secret = d["secret_shared_key"].as_str().unwrap();
    assert_eq!(
        again.header("x-signature"),
        hex::encode(hmac(secret, &again.body))
    );
    // The receiver may see the resend before its result is recorded: wait for the log.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let one = loop {
        let (s, one) = t
            .get(&format!(
                "/v3/webhook/destinations/{dest}/deliveries/{delivery}/"
            ))
            .await;
        assert_eq!(s, 200);
        if one["attempt_log"].as_array().unwrap().len() >= 2 {
            break one;
        }
        assert!(std::time::Instant::now() < deadline, "{one}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let log = one["attempt_log"].as_array().unwrap();
    assert_eq!(log.len(), 2);
    assert!(
        log[0]["request_headers"]["X-Signature"].is_string(),
        "{}",
        log[0]
    );
    assert_eq!(log[1]["response_status"], 200);
    let (s, _) = t
        .post(
            &format!(
                "/v3/webhook/destinations/{dest}/deliveries/{}/resend/",
                uuid::Uuid::new_v4()
            ),
            json!({}),
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn a_rotated_secret_keeps_the_previous_one_for_a_while() {
    let t = server().await;
    let rx = Receiver::start().await;
    let d = destination(&t, &rx.url, None).await;
    let old = d["secret_shared_key"].as_str().unwrap().to_string();
    let dest = d["uuid"].as_str().unwrap();
    let (s, rotated) = t
        .post(
            &format!("/v3/webhook/destinations/{dest}/rotate-secret/"),
            json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let new = rotated["secret_shared_key"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(rotated["secret_last4"], &new[new.len() - 4..]);
    assert!(rotated["previous_secret_expires_at"].is_string());
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    t.attempt(&sid, "feature_ocr_1", "Approved").await;
    let r = rx.wait_for(1).await[0].clone();
    assert_eq!(r.header("x-signature"), hex::encode(hmac(&new, &r.body)));
    assert_eq!(
        r.header("x-signature-previous"),
        hex::encode(hmac(&old, &r.body))
    );
    assert_eq!(
        r.header("x-signature-v2-previous"),
        hex::encode(hmac(&old, &r.body))
    );
    let ts = r.header("x-timestamp");
    let simple = format!("{ts}:{sid}:In Progress:status.updated");
    assert_eq!(
        r.header("x-signature-simple-previous"),
        hex::encode(hmac(&old, simple.as_bytes()))
    );
    assert_eq!(r.header("webhook-signature").split(' ').count(), 2);
}

#[tokio::test]
async fn deleting_a_session_drops_its_pending_deliveries() {
    let t = server().await;
    let rx = Receiver::start().await;
    rx.script(vec![Reply::Status(503); 10]);
    let d = destination(&t, &rx.url, None).await;
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    t.attempt(&sid, "feature_ocr_1", "Approved").await;
    rx.wait_for(1).await;
    let (s, _) = t
        .call(Method::DELETE, &format!("/v3/session/{sid}/delete/"), None)
        .await;
    assert_eq!(s, 204);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(rx.received().len(), 1, "no retry after deletion");
    let (_, list) = t
        .get(&format!(
            "/v3/webhook/destinations/{}/deliveries/",
            d["uuid"].as_str().unwrap()
        ))
        .await;
    assert_eq!(list["results"][0]["state"], "dropped");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let t = server().await;
    let target = Receiver::start().await;
    let redirecting = Receiver::start().await;
    redirecting.script(vec![Reply::Redirect(target.url.clone())]);
    destination(&t, &redirecting.url, None).await;
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    t.attempt(&sid, "feature_ocr_1", "Approved").await;
    redirecting.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(target.received().is_empty(), "the redirect was followed");
    assert_eq!(redirecting.received().len(), 1, "3xx is not retried");
}

#[tokio::test]
async fn kind_specific_subscriptions_get_only_their_kinds_events() {
    let t = server().await;
    let users = Receiver::start().await;
    let businesses = Receiver::start().await;
    let activity = Receiver::start().await;
    destination(&t, &users.url, Some(json!(["user.status.updated"]))).await;
    destination(
        &t,
        &businesses.url,
        Some(json!(["business.status.updated", "business.data.updated"])),
    )
    .await;
    destination(&t, &activity.url, Some(json!(["activity.created"]))).await;
    let user = decided_session(&t).await;
    let (business, _) = t.session(&["KYB_REGISTRY"]).await;
    t.attempt(&business, "feature_kyb_registry_1", "Declined")
        .await;
    let got_users = users.wait_for(2).await;
    let got_businesses = businesses.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        users
            .received()
            .iter()
            .all(|r| r.json["session_id"] == user.as_str()),
        "{got_users:?}"
    );
    assert!(
        businesses
            .received()
            .iter()
            .all(|r| r.json["session_id"] == business.as_str()),
        "{got_businesses:?}"
    );
    assert_eq!(users.received().len(), 2);
    assert!(
        activity.received().is_empty(),
        "activity.created is accepted, never sent"
    );
}
