//! The phone step of the person's page: a one-time code through a real loopback SMS gateway
//! that checks the signature of what vouch sends it.

use serde_json::{json, Value};

use crate::common::TestServer;
use crate::hosted::{fetch, open};

/// A stand-in SMS gateway on loopback: keeps each request's body and whether its signature is
/// right; answers `status`.
struct Gateway {
    url: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<(Value, bool)>>>,
    status: std::sync::Arc<std::sync::atomic::AtomicU16>,
    _task: tokio::task::JoinHandle<()>,
}

const GATEWAY_SECRET: &str = "gateway-secret-for-tests";

async fn gateway() -> Gateway {
    use axum::extract::State;
    use hmac::{Hmac, Mac};
    use std::sync::atomic::{AtomicU16, Ordering};
    use std::sync::{Arc, Mutex};
    type Shared = (Arc<Mutex<Vec<(Value, bool)>>>, Arc<AtomicU16>);
    async fn hook(
        State((received, status)): State<Shared>,
        headers: axum::http::HeaderMap,
        body: axum::body::Bytes,
    ) -> axum::http::StatusCode {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(GATEWAY_SECRET.as_bytes()).unwrap();
        mac.update(&body);
        let want = hex::encode(mac.finalize().into_bytes());
        let signed =
            headers.get("x-signature").and_then(|v| v.to_str().ok()) == Some(want.as_str());
        received
            .lock()
            .unwrap()
            .push((serde_json::from_slice(&body).unwrap_or(Value::Null), signed));
        axum::http::StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap()
    }
    let received = Arc::new(Mutex::new(Vec::new()));
    let status = Arc::new(AtomicU16::new(200));
    let app = axum::Router::new()
        .route("/send", axum::routing::post(hook))
        .with_state((received.clone(), status.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Gateway {
        url,
        received,
        status,
        _task: task,
    }
}

async fn post_page_form(
    t: &TestServer,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, Option<String>) {
    t.post_page_form(path, fields, &[]).await
}

#[tokio::test]
async fn a_phone_code_goes_through_the_signed_sms_gateway() {
    let gw = gateway().await;
    let gw_url = gw.url.clone();
    let t = TestServer::start_with(move |c| {
        c.sms.gateway_url = Some(gw_url);
        c.sms.secret = Some(GATEWAY_SECRET.into());
    })
    .await;
    let created = t
        .session_with(
            &["PHONE_VERIFICATION"],
            json!({"contact_details": {"phone": "+34 612 34 56 78"}, "language": "es"}),
        )
        .await;
    let sid = created["session_id"].as_str().unwrap();
    let node = "feature_phone_verification_1";
    let (_, html, _) = open(&t, &created, "", None).await;
    assert!(
        html.contains(r#"dir="ltr" type="tel" autocomplete="tel""#),
        "{html}"
    );
    assert!(
        html.contains(r#"value="+34 612 34 56 78""#),
        "pre-filled from contact_details"
    );
    let path = url::Url::parse(created["url"].as_str().unwrap())
        .unwrap()
        .path()
        .to_string();

    // Numbers libphonenumber does not accept are refused before anything is sent.
    for bad in ["612345678", "+34 123", "+1 555 0100", "not a number", ""] {
        let (s, notice) =
            post_page_form(&t, &format!("{path}/steps/{node}/code"), &[("phone", bad)]).await;
        assert_eq!(
            (s, notice.as_deref()),
            (303, Some("phone_invalid")),
            "{bad:?}"
        );
    }
    assert!(gw.received.lock().unwrap().is_empty());

    // A gateway that fails: the person is told, and may try again after 30 s.
    gw.status.store(502, std::sync::atomic::Ordering::SeqCst);
    let (_, notice) = post_page_form(
        &t,
        &format!("{path}/steps/{node}/code"),
        &[("phone", "+34 612 34 56 78")],
    )
    .await;
    assert_eq!(notice.as_deref(), Some("code_send_failed"));
    let (body, signed) = gw.received.lock().unwrap().pop().unwrap();
    assert!(signed, "signed like a webhook: {body}");
    assert_eq!(body["to"], "+34612345678", "E.164");
    assert_eq!(body["language"], "es");
    assert_eq!(body["node_id"], node);
    assert_eq!(body["session_id"], sid);
    let first_code = body["code"].as_str().unwrap().to_string();
    assert_eq!(
        body["message"],
        format!("test-app: su código es {first_code}. Es válido durante 5 minutos.")
    );

    // The code that did reach the gateway's log still works: it was sent, the gateway said no.
    let (_, notice) = post_page_form(
        &t,
        &format!("{path}/steps/{node}/verify"),
        &[("code", &first_code)],
    )
    .await;
    assert_eq!(notice, None, "verified");
    let (_, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_eq!(d["phone_verifications"][0]["status"], "Approved", "{d}");
    assert_eq!(d["status"], "Approved", "the only step, approved");
}

#[tokio::test]
async fn without_a_gateway_the_phone_step_says_so() {
    let t = TestServer::start().await;
    let created = t.session_with(&["PHONE_VERIFICATION"], json!({})).await;
    let path = url::Url::parse(created["url"].as_str().unwrap())
        .unwrap()
        .path()
        .to_string();
    let (_, notice) = post_page_form(
        &t,
        &format!("{path}/steps/feature_phone_verification_1/code"),
        &[("phone", "+34 612 34 56 78")],
    )
    .await;
    assert_eq!(notice.as_deref(), Some("sms_unavailable"));
    let (s, html, _) = fetch(&t, &format!("{path}?notice=sms_unavailable"), None).await;
    assert_eq!(s, 200);
    assert!(
        html.contains(
            "Codes by text message are not available right now. Contact <bdi>test-app</bdi>."
        ),
        "{html}"
    );
}
