//! Calls of Didit's real clients that vouch answers as Didit documents (issue #12): the session
//! by id, dates and date-times in lists, and authentication before routing.

use reqwest::Method;
use serde_json::json;
use vouch_core::scopes::{Access, Scopes};

use crate::common::{status_json, TestServer};

#[tokio::test]
async fn a_session_is_read_by_id_in_the_create_answers_shape() {
    let t = TestServer::start().await;
    let (sid, _) = t.session(&["OCR"]).await;
    let (s, one) = t.get(&format!("/v3/session/{sid}/")).await;
    assert_eq!(s, 200, "{one}");
    assert_eq!(one["session_id"], sid.as_str());
    assert_eq!(one["status"], "Not Started");
    assert!(one["session_token"].is_string() && one["url"].is_string());
    assert_eq!(t.attempt(&sid, "feature_ocr_1", "Approved").await.0, 201);
    assert_eq!(
        t.get(&format!("/v3/session/{sid}/")).await.1["status"],
        "Approved"
    );
    // The link is the person's credential: a read-only key does not see it.
    let reader = t.key_with(Scopes::all(Access::Read)).await;
    let (s, r) = status_json(
        t.request(
            Method::GET,
            &format!("/v3/session/{sid}/"),
            Some(&reader),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    assert!(r["session_token"].is_null() && r["url"].is_null(), "{r}");
    let none = t
        .key_with(Scopes {
            sessions: Access::None,
            ..Scopes::all(Access::Read)
        })
        .await;
    let r = t
        .request(
            Method::GET,
            &format!("/v3/session/{sid}/"),
            Some(&none),
            None,
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        t.get("/v3/session/00000000-0000-0000-0000-000000000000/")
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn lists_take_dates_and_rfc3339_date_times() {
    let t = TestServer::start().await;
    let (sid, _) = t.session(&["OCR"]).await;
    let today = chrono::Utc::now().date_naive();
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["session_id"].as_str().unwrap().to_string())
            .collect()
    };
    let before = (chrono::Utc::now() - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let after = (chrono::Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%S+00:00");
    for (q, found) in [
        (format!("date_from={today}&date_to={today}"), true),
        (format!("date_from={before}"), true),
        (format!("date_from={before}&date_to={after}"), true),
        (format!("date_to={before}"), false),
        (format!("date_from={after}"), false),
    ] {
        let q = q.replace('+', "%2B");
        let (s, v) = t.get(&format!("/v3/sessions/?{q}")).await;
        assert_eq!(s, 200, "{q}: {v}");
        assert_eq!(ids(&v).contains(&sid), found, "{q}: {v}");
    }
    for q in [
        "date_from=yesterday",
        "date_from=2026-12-01T25:00:00Z",
        &format!("date_from={after}&date_to={before}"),
    ] {
        let (s, e) = t
            .get(&format!("/v3/sessions/?{}", q.replace('+', "%2B")))
            .await;
        assert_eq!(s, 400, "{q}: {e}");
    }
}

#[tokio::test]
async fn an_unknown_path_is_answered_404_only_to_a_valid_key() {
    let t = TestServer::start().await;
    for path in ["/v3/nothing-here/", "/v3/session/x/nope", "/v1/nothing/"] {
        let r = t.request(Method::GET, path, None, None).await;
        assert_eq!(r.status(), 403, "{path}: no key");
        let r = t
            .request(Method::GET, path, Some("vk_live_not-a-key"), None)
            .await;
        assert_eq!(r.status(), 401, "{path}: a wrong key");
        let (s, b) = status_json(t.request(Method::GET, path, Some(&t.key), None).await).await;
        assert_eq!(s, 404, "{path}: {b}");
    }
    // Outside the API, unknown paths stay 404 for anyone.
    assert_eq!(
        t.request(Method::GET, "/nothing", None, None)
            .await
            .status(),
        404
    );
    let _ = json!(null);
}
