//! The sandbox's codes on the person's page: phone test numbers registered as Didit documents
//! them play their outcome (no gateway needed, nothing sent); other numbers and every email
//! step take the documented code 000000.

use reqwest::Method;
use serde_json::{json, Value};

use crate::capture::{sandbox_key, session_on};
use crate::common::{status_json, TestServer};

async fn register(t: &TestServer, key: &str, body: Value) -> (u16, Value) {
    status_json(
        t.request(
            Method::POST,
            "/v3/phone/sandbox/numbers/",
            Some(key),
            Some(body),
        )
        .await,
    )
    .await
}

fn step_path(created: &Value, node: &str, action: &str) -> String {
    let url = url::Url::parse(created["url"].as_str().unwrap()).unwrap();
    format!("{}/steps/{node}/{action}", url.path())
}

async fn phone_status(t: &TestServer, key: &str, created: &Value) -> Value {
    let id = created["session_id"].as_str().unwrap();
    let (_, d) = status_json(
        t.request(
            Method::GET,
            &format!("/v3/session/{id}/decision/"),
            Some(key),
            None,
        )
        .await,
    )
    .await;
    d["phone_verifications"][0].clone()
}

#[tokio::test]
async fn phone_test_numbers_play_their_outcomes_and_other_numbers_take_000000() {
    let t = TestServer::start().await;
    let key = sandbox_key(&t).await;
    for (number, outcome, code) in [
        ("+34600000001", "verified", Some("4321")),
        ("+34600000002", "silent_match", None),
        ("+34600000003", "blocked", None),
        ("+34600000004", "expired", None),
        ("+34600000006", "verified", None),
    ] {
        let mut body = json!({"phone_number": number, "outcome": outcome});
        if let Some(c) = code {
            body["code"] = json!(c);
        }
        let (s, b) = register(&t, &key, body).await;
        assert_eq!(s, 201, "{b}");
        assert_eq!(b["outcome"], outcome);
    }
    let node = "feature_phone_verification_1";
    // (number, code to enter or none, the notice after sending, the step's status at the end)
    let cases: [(&str, Option<&str>, Option<&str>, &str); 6] = [
        ("+34600000001", Some("4321"), Some("code_sent"), "Approved"),
        ("+34600000002", None, None, "Approved"),
        ("+34600000003", None, None, "Declined"),
        ("+34600000004", Some("123456"), Some("code_sent"), ""),
        (
            "+34600000005",
            Some("000000"),
            Some("code_sent"),
            "Approved",
        ),
        ("+34600000006", Some("98765"), Some("code_sent"), "Approved"),
    ];
    for (number, code, sent_notice, want) in cases {
        let created = session_on(
            &t,
            &key,
            &["PHONE_VERIFICATION"],
            json!({"contact_details": {"phone": number}}),
        )
        .await;
        let (s, notice) = t
            .post_page_form(
                &step_path(&created, node, "code"),
                &[("phone", number)],
                &[],
            )
            .await;
        assert_eq!((s, notice.as_deref()), (303, sent_notice), "{number}");
        if let Some(code) = code {
            if number == "+34600000001" {
                let (_, wrong) = t
                    .post_page_form(
                        &step_path(&created, node, "verify"),
                        &[("code", "1111")],
                        &[],
                    )
                    .await;
                assert_eq!(wrong.as_deref(), Some("code_wrong"));
            }
            let (_, notice) = t
                .post_page_form(&step_path(&created, node, "verify"), &[("code", code)], &[])
                .await;
            if want.is_empty() {
                assert_eq!(notice.as_deref(), Some("code_expired"), "{number}");
                continue;
            }
            assert_eq!(notice, None, "{number}");
        }
        let entry = phone_status(&t, &key, &created).await;
        assert_eq!(entry["status"], want, "{number}: {entry}");
        assert_eq!(entry["phone_number"], number);
    }
}

#[tokio::test]
async fn the_sandboxs_email_code_is_000000_and_live_applications_register_no_numbers() {
    let t = TestServer::start().await;
    let key = sandbox_key(&t).await;
    let created = session_on(
        &t,
        &key,
        &["EMAIL_VERIFICATION"],
        json!({"contact_details": {"email": "a@example.com"}}),
    )
    .await;
    let node = "feature_email_verification_1";
    // No SMTP server configured: in the sandbox the code is simulated, not refused.
    let (_, notice) = t
        .post_page_form(
            &step_path(&created, node, "code"),
            &[("email", "a@example.com")],
            &[],
        )
        .await;
    assert_eq!(notice.as_deref(), Some("code_sent"));
    let (_, notice) = t
        .post_page_form(
            &step_path(&created, node, "verify"),
            &[("code", "000000")],
            &[],
        )
        .await;
    assert_eq!(notice, None);
    let id = created["session_id"].as_str().unwrap();
    let (_, d) = status_json(
        t.request(
            Method::GET,
            &format!("/v3/session/{id}/decision/"),
            Some(&key),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(d["email_verifications"][0]["status"], "Approved", "{d}");

    let (s, e) = register(
        &t,
        &t.key,
        json!({"phone_number": "+34600000001", "outcome": "verified"}),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (403, Some("sandbox_only")));
    for (body, field) in [
        (
            json!({"phone_number": "600", "outcome": "verified"}),
            "phone_number",
        ),
        (
            json!({"phone_number": "+34600000001", "outcome": "sometimes"}),
            "outcome",
        ),
        (
            json!({"phone_number": "+34600000001", "outcome": "verified", "code": "12"}),
            "code",
        ),
        (
            json!({"phone_number": "+34600000001", "outcome": "verified", "code": "12a4"}),
            "code",
        ),
    ] {
        let (s, e) = register(&t, &key, body).await;
        assert_eq!(s, 400, "{e}");
        assert!(e[field].is_array(), "{e}");
    }
}
