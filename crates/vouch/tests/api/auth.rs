//! §1: keys, privileges and tenancy.

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::json;
use vouch_core::scopes::{Access, Scopes};

use crate::common::{new_app, new_key, status_json, TestServer};

#[tokio::test]
async fn missing_key_is_403_not_authenticated() {
    let t = TestServer::start().await;
    let (s, b) = status_json(t.request(Method::GET, "/v3/sessions/", None, None).await).await;
    assert_eq!(s, 403);
    assert_eq!(
        b,
        json!({"detail": "Authentication credentials were not provided.", "code": "not_authenticated"})
    );
}

#[tokio::test]
async fn unknown_malformed_revoked_and_expired_keys_are_401() {
    let t = TestServer::start().await;
    let expected = json!({"detail": "Invalid API key.", "code": "invalid_api_key"});
    let revoked_key = t.key_with(Scopes::all(Access::Write)).await;
    let keys = t.store.list_keys(t.app.id).await.unwrap();
    let revoked = keys.last().unwrap().id;
    assert!(t.store.revoke_key(revoked, Utc::now()).await.unwrap());
    let expired = new_key(
        t.store.as_ref(),
        &t.app,
        Scopes::all(Access::Write),
        Some(Utc::now() - Duration::seconds(1)),
    )
    .await;
    // The real key with its last character changed (to one it does not already have).
    let last = if t.key.ends_with('x') { 'y' } else { 'x' };
    let almost_right = format!("{}{last}", &t.key[..t.key.len() - 1]);
    for key in [
        "vk_live_nope",
        "",
        "not a key at all; drop table",
        almost_right.as_str(),
        revoked_key.as_str(),
        expired.as_str(),
    ] {
        let (s, b) = status_json(
            t.request(Method::GET, "/v3/sessions/", Some(key), None)
                .await,
        )
        .await;
        assert_eq!((s, &b), (401, &expected), "key {key:?}");
    }
}

#[tokio::test]
async fn a_key_that_expires_later_still_works() {
    let t = TestServer::start().await;
    let later = new_key(
        t.store.as_ref(),
        &t.app,
        Scopes::all(Access::Read),
        Some(Utc::now() + Duration::hours(1)),
    )
    .await;
    let r = t
        .request(Method::GET, "/v3/sessions/", Some(&later), None)
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn each_endpoint_needs_its_privilege() {
    let t = TestServer::start().await;
    let (sid, wf) = t.session(&["OCR"]).await;
    let denied = json!({"detail": "You do not have permission to perform this action.", "code": "permission_denied"});
    let none = Scopes::all(Access::None);
    let read_all = Scopes::all(Access::Read);
    let sessions_write_only = Scopes {
        sessions: Access::Write,
        ..none
    };
    let decisions_write = Scopes {
        decisions: Access::Write,
        ..none
    };
    let wf_path = format!("/v3/workflows/{}/", wf["uuid"].as_str().unwrap());
    let cases: Vec<(Scopes, Method, String, Option<serde_json::Value>, bool)> = vec![
        (none, Method::GET, "/v3/sessions/".into(), None, false),
        (read_all, Method::GET, "/v3/sessions/".into(), None, true),
        (
            read_all,
            Method::POST,
            "/v3/session/".into(),
            Some(json!({})),
            false,
        ),
        (
            read_all,
            Method::GET,
            format!("/v3/session/{sid}/decision/"),
            None,
            true,
        ),
        (
            none,
            Method::GET,
            format!("/v3/session/{sid}/decision/"),
            None,
            false,
        ),
        (
            read_all,
            Method::DELETE,
            format!("/v3/session/{sid}/delete/"),
            None,
            false,
        ),
        (
            read_all,
            Method::POST,
            format!("/v3/session/{sid}/attempts/"),
            Some(json!({})),
            false,
        ),
        (
            sessions_write_only,
            Method::POST,
            format!("/v3/session/{sid}/attempts/"),
            Some(json!({})),
            false,
        ),
        (
            decisions_write,
            Method::GET,
            "/v3/sessions/".into(),
            None,
            false,
        ),
        (read_all, Method::GET, "/v3/workflows/".into(), None, true),
        (
            sessions_write_only,
            Method::GET,
            "/v3/workflows/".into(),
            None,
            false,
        ),
        (
            read_all,
            Method::POST,
            "/v3/workflows/".into(),
            Some(json!({})),
            false,
        ),
        (
            read_all,
            Method::PATCH,
            wf_path.clone(),
            Some(json!({})),
            false,
        ),
        (read_all, Method::DELETE, wf_path.clone(), None, false),
        (read_all, Method::GET, wf_path, None, true),
    ];
    for (scopes, method, path, body, allowed) in cases {
        let key = t.key_with(scopes).await;
        let (s, b) = status_json(t.request(method.clone(), &path, Some(&key), body).await).await;
        if allowed {
            assert_eq!(s, 200, "{method} {path} with {scopes:?}: {b}");
        } else {
            assert_eq!((s, &b), (403, &denied), "{method} {path} with {scopes:?}");
        }
    }
}

#[tokio::test]
async fn another_applications_session_is_404_like_an_unknown_id() {
    let t = TestServer::start().await;
    let (sid, wf) = t.session(&["OCR"]).await;
    let other = new_app(t.store.as_ref(), "other").await;
    let other_key = new_key(t.store.as_ref(), &other, Scopes::all(Access::Write), None).await;
    let not_found = json!({"detail": "Not found.", "code": "not_found"});
    let wf_id = wf["uuid"].as_str().unwrap();
    for (method, path, body) in [
        (Method::GET, format!("/v3/session/{sid}/decision/"), None),
        (Method::DELETE, format!("/v3/session/{sid}/delete/"), None),
        (
            Method::POST,
            format!("/v3/session/{sid}/attempts/"),
            Some(json!({"node_id": "feature_ocr_1", "status": "Approved"})),
        ),
        (Method::GET, format!("/v3/workflows/{wf_id}/"), None),
        (Method::DELETE, format!("/v3/workflows/{wf_id}/"), None),
        (
            Method::GET,
            format!("/v3/session/{}/decision/", uuid::Uuid::new_v4()),
            None,
        ),
    ] {
        let (s, b) = status_json(
            t.request(method.clone(), &path, Some(&other_key), body)
                .await,
        )
        .await;
        assert_eq!((s, &b), (404, &not_found), "{method} {path}");
    }
    // Nor does it appear in the other application's list or accept its workflow.
    let (_, list) = status_json(
        t.request(
            Method::GET,
            "/v3/sessions/?session_kind=all",
            Some(&other_key),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(list["count"], 0);
    let (s, b) = status_json(
        t.request(
            Method::POST,
            "/v3/session/",
            Some(&other_key),
            Some(json!({"workflow_id": wf_id})),
        )
        .await,
    )
    .await;
    assert_eq!(s, 400, "{b}");
    assert!(b["workflow_id"].is_array());
    // The owner still sees it untouched.
    assert_eq!(t.status_of(&sid).await, "Not Started");
}

#[tokio::test]
async fn non_uuid_ids_are_404() {
    let t = TestServer::start().await;
    for path in [
        "/v3/session/123/decision/",
        "/v3/session/not-a-uuid/decision/",
        "/v3/workflows/xyz/",
    ] {
        let (s, b) = t.get(path).await;
        assert_eq!((s, b["code"].as_str()), (404, Some("not_found")), "{path}");
    }
}
