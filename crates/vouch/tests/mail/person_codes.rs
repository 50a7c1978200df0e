//! The email step of the person's page: a one-time code through a real SMTP server, entered on
//! the page, recorded as the step's result.

use serde_json::{json, Value};

use crate::common::TestServer;
use crate::sending::server;
use crate::sink::{decoded, header, Sink};

const NODE: &str = "feature_email_verification_1";

/// A session with an email step (and a document step after it), for `ann@example.com`.
async fn session(t: &TestServer) -> Value {
    let wf = t.workflow(&["EMAIL_VERIFICATION", "OCR"]).await;
    let (s, created) = t
        .post(
            "/v3/session/",
            json!({"workflow_id": wf["uuid"], "contact_details": {"email": "ann@example.com"}}),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    created
}

fn page_path(created: &Value) -> String {
    format!("/session/{}", created["session_token"].as_str().unwrap())
}

async fn page(t: &TestServer, path: &str) -> String {
    let r = t
        .client
        .get(format!("{}{path}", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

/// Asks for a code to `address`; answers the redirect's notice.
async fn ask(t: &TestServer, path: &str, address: &str) -> Option<String> {
    let (s, notice) = t
        .post_page_form(
            &format!("{path}/steps/{NODE}/code"),
            &[("email", address)],
            &[],
        )
        .await;
    assert_eq!(s, 303);
    notice
}

/// Enters `code`; answers the redirect's notice (`None`: verified, or nothing to do).
async fn enter(t: &TestServer, path: &str, code: &str) -> Option<String> {
    let (s, notice) = t
        .post_page_form(
            &format!("{path}/steps/{NODE}/verify"),
            &[("code", code)],
            &[],
        )
        .await;
    assert_eq!(s, 303);
    notice
}

/// The six digits in the message's text.
fn code_in(raw: &str) -> String {
    let text = decoded(raw);
    let at = text.find("Your code is ").expect("the code sentence") + "Your code is ".len();
    let code: String = text[at..].chars().take(6).collect();
    assert!(code.chars().all(|c| c.is_ascii_digit()), "{text}");
    code
}

#[tokio::test]
async fn an_email_code_proves_the_address_and_completes_the_step() {
    let sink = Sink::start();
    let t = server(Some(&sink)).await;
    let created = session(&t).await;
    let sid = created["session_id"].as_str().unwrap();
    let path = page_path(&created);
    let html = page(&t, &path).await;
    assert!(
        html.contains(r#"value="ann@example.com""#),
        "pre-filled: {html}"
    );
    assert!(html.contains(">Send me a code</button>"));
    assert!(
        !html.contains("one-time-code"),
        "no code field before a code is sent"
    );

    // A form posted from another site is refused and sends nothing.
    let code_form = format!("{path}/steps/{NODE}/code");
    let fields = [("email", "ann@example.com")];
    for headers in [
        [
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ],
        [("sec-fetch-site", ""), ("origin", "https://evil.example")],
    ] {
        assert_eq!(
            t.post_page_form(&code_form, &fields, &headers).await.0,
            403,
            "{headers:?}"
        );
    }
    assert!(sink.messages().is_empty());

    // The answer goes back to the step on the page.
    let r = t
        .client
        .post(format!("{}{code_form}", t.base))
        .header("sec-fetch-site", "same-origin")
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(location, format!("{path}?notice=code_sent#step-{NODE}"));
    let mail = sink.wait_for(1).await.remove(0);
    assert_eq!(
        header(&mail, "Subject").as_deref(),
        Some("Your code for test-app")
    );
    assert!(header(&mail, "To").unwrap().contains("ann@example.com"));
    let code = code_in(&mail);

    let html = page(&t, &location).await;
    assert!(
        html.contains(r#"role="status">We sent you a code. It is valid for 5 minutes.</p>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"autocomplete="one-time-code""#) && html.contains(r#"inputmode="numeric""#)
    );

    // A resend comes no sooner than 30 s after the code: refused, nothing sent.
    assert_eq!(
        ask(&t, &path, "ann@example.com").await.as_deref(),
        Some("code_wait")
    );
    assert_eq!(sink.messages().len(), 1);

    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    assert_eq!(
        enter(&t, &path, &wrong).await.as_deref(),
        Some("code_wrong")
    );
    assert_eq!(
        enter(&t, &path, "12").await.as_deref(),
        Some("code_malformed"),
        "not a try"
    );
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    assert_eq!(enter(&t, &path, &spaced).await, None, "verified");

    // Recorded as the step's result, as an engine's would be; the step is done on the page.
    let (s, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_eq!(s, 200);
    assert_eq!(d["status"], "In Progress", "{d}");
    assert_eq!(d["email_verifications"][0]["status"], "Approved", "{d}");
    assert_eq!(d["email_verifications"][0]["node_id"], NODE);
    let html = page(&t, &path).await;
    assert!(
        !html.contains("one-time-code") && !html.contains("Send me a code"),
        "{html}"
    );
    // The code cannot be used again, and the step cannot be redone.
    assert_eq!(enter(&t, &path, &code).await, None);
    let (_, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_eq!(d["email_verifications"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn three_wrong_codes_use_a_code_up() {
    let sink = Sink::start();
    let t = server(Some(&sink)).await;
    let created = session(&t).await;
    let sid = created["session_id"].as_str().unwrap();
    let path = page_path(&created);
    assert_eq!(
        ask(&t, &path, "bob@example.com").await.as_deref(),
        Some("code_sent")
    );
    let code = code_in(&sink.wait_for(1).await[0]);
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 7) % 1_000_000);
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(enter(&t, &path, &wrong).await.unwrap_or_default());
    }
    assert_eq!(
        seen,
        ["code_wrong", "code_wrong", "code_no_tries", "code_no_tries"]
    );
    assert_eq!(
        enter(&t, &path, &code).await.as_deref(),
        Some("code_no_tries"),
        "the right code, too late"
    );
    let (_, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert!(
        d["email_verifications"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{d}"
    );
    assert_eq!(d["status"], "Not Started");
}

#[tokio::test]
async fn without_smtp_or_with_a_bad_address_nothing_is_sent() {
    let t = server(None).await;
    let created = session(&t).await;
    let path = page_path(&created);
    assert_eq!(
        ask(&t, &path, "ann@example.com").await.as_deref(),
        Some("email_unavailable")
    );
    let html = page(&t, &format!("{path}?notice=email_unavailable")).await;
    assert!(
        html.contains(r#"role="alert">Codes by email are not available right now. Contact <bdi>test-app</bdi>.</p>"#),
        "{html}"
    );
    let sink = Sink::start();
    let t = server(Some(&sink)).await;
    let created = session(&t).await;
    let path = page_path(&created);
    for bad in [
        "not an address",
        "",
        "a@b",
        &format!("{}@example.com", "a".repeat(260)),
    ] {
        assert_eq!(
            ask(&t, &path, bad).await.as_deref(),
            Some("email_invalid"),
            "{bad:?}"
        );
    }
    // A step that is not a code step has no code to send; an unknown form is 404.
    let (s, notice) = t
        .post_page_form(
            &format!("{path}/steps/feature_ocr_1/code"),
            &[("email", "ann@example.com")],
            &[],
        )
        .await;
    assert_eq!((s, notice), (303, None));
    let (s, _) = t
        .post_page_form(
            &format!("{path}/steps/{NODE}/email-not-a-route"),
            &[],
            &[("origin", "null")],
        )
        .await;
    assert_eq!(s, 404);
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn the_last_step_done_returns_the_person_to_the_callback() {
    let sink = Sink::start();
    let t = server(Some(&sink)).await;
    let created = t
        .session_with(
            &["EMAIL_VERIFICATION"],
            json!({"contact_details": {"email": "ann@example.com"},
                   "callback": "https://shop.example/back?order=7"}),
        )
        .await;
    let sid = created["session_id"].as_str().unwrap();
    let path = page_path(&created);
    let r = t
        .client
        .get(format!("{}{path}", t.base))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("refresh").is_none(), "nothing done yet");
    assert_eq!(
        ask(&t, &path, "ann@example.com").await.as_deref(),
        Some("code_sent")
    );
    let code = code_in(&sink.wait_for(1).await[0]);
    let r = t
        .client
        .post(format!("{}{path}/steps/{NODE}/verify", t.base))
        .header("sec-fetch-site", "same-origin")
        .form(&[("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(location, format!("{path}?done=1#step-{NODE}"));
    let r = t
        .client
        .get(format!("{}{location}", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let back =
        format!("https://shop.example/back?order=7&verificationSessionId={sid}&status=Approved");
    assert_eq!(
        r.headers()["refresh"].to_str().unwrap(),
        format!("0; url={back}"),
        "sent back at once"
    );
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<h1>Your identity has been verified</h1>"),
        "{html}"
    );
    assert!(
        html.contains(">Return to <bdi>test-app</bdi></a>"),
        "the link stays: {html}"
    );
    // Opened again later, the page shows the outcome without sending the person away.
    let r = t
        .client
        .get(format!("{}{path}", t.base))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("refresh").is_none());
}
