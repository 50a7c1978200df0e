//! Batch deletion (`POST /v3/sessions/delete/`): by number (numbers or numeric strings) or all;
//! the same erasure as a single deletion; more than 20 sessions as a job with readable progress.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use vouch_core::scopes::{Access, Scopes};

use crate::common::{new_app, new_key, status_json, TestServer};

/// Sessions on one workflow; answers (id, number) of each.
async fn sessions(t: &TestServer, n: usize) -> Vec<(String, i64)> {
    let wf = t.workflow(&["OCR"]).await;
    let mut out = Vec::new();
    for i in 0..n {
        let (s, b) = t
            .post(
                "/v3/session/",
                json!({"workflow_id": wf["uuid"], "vendor_data": format!("u{i}")}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        out.push((
            b["session_id"].as_str().unwrap().to_string(),
            b["session_number"].as_i64().unwrap(),
        ));
    }
    out
}

async fn gone(t: &TestServer, sid: &str) -> bool {
    t.get(&format!("/v3/session/{sid}/decision/")).await.0 == 404
}

#[tokio::test]
async fn a_few_sessions_are_erased_at_once_and_unknown_numbers_reported() {
    let t = TestServer::start().await;
    let s = sessions(&t, 3).await;
    // A number, its digits as a string, and a JSON integer written with a fraction (9999.0).
    let body =
        json!({"session_numbers": [s[0].1, s[1].1.to_string(), 9999.0], "delete_all": false});
    let r = t
        .client
        .post(format!("{}/v3/sessions/delete/", t.base))
        .header("x-api-key", &t.key)
        .header("Idempotency-Key", "batch-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, answer) = status_json(r).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["deleted_count"], 2);
    assert_eq!(answer["not_found"], json!([9999]));
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert!(results
        .iter()
        .any(|r| r["session_id"] == s[0].0.as_str() && r["status"] == "deleted"));
    assert!(results
        .iter()
        .any(|r| r["session_number"] == 9999 && r["status"] == "not_found"));
    assert!(gone(&t, &s[0].0).await && gone(&t, &s[1].0).await);
    assert!(!gone(&t, &s[2].0).await);
    // Erased like a single deletion: the trail keeps its rows, personal data removed.
    let (_, list) = t.get("/v3/sessions/").await;
    assert_eq!(list["count"], 1);

    // The same key and body again: the stored answer, nothing done twice.
    let r = t
        .client
        .post(format!("{}/v3/sessions/delete/", t.base))
        .header("x-api-key", &t.key)
        .header("Idempotency-Key", "batch-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    assert_eq!(status_json(r).await, (200, answer));
    // Without the key, a repeat reports them as not found.
    let (s2, again) = t.post("/v3/sessions/delete/", body).await;
    assert_eq!((s2, again["deleted_count"].clone()), (200, json!(0)));
}

#[tokio::test]
async fn bad_requests_are_field_keyed() {
    let t = TestServer::start().await;
    for (body, field) in [
        (json!({}), "session_numbers"),
        (json!({"delete_all": false}), "session_numbers"),
        (json!({"session_numbers": []}), "session_numbers"),
        (
            json!({"session_numbers": [1], "delete_all": true}),
            "delete_all",
        ),
        (
            json!({"session_numbers": [1, "two", -3]}),
            "session_numbers[1]",
        ),
        (json!({"session_numbers": [1, 2.5]}), "session_numbers[1]"),
        (json!({"session_numbers": "1,2"}), "session_numbers"),
    ] {
        let (s, e) = t.post("/v3/sessions/delete/", body.clone()).await;
        assert_eq!(s, 400, "{body}: {e}");
        assert!(e[field].is_array(), "{body}: {e}");
    }
    let reader = t.key_with(Scopes::all(Access::Read)).await;
    let r = t
        .request(
            Method::POST,
            "/v3/sessions/delete/",
            Some(&reader),
            Some(json!({"delete_all": true})),
        )
        .await;
    assert_eq!(r.status(), 403);
}

async fn until_done(t: &TestServer, job: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (s, j) = t.get(&format!("/v3/sessions/delete/{job}/")).await;
        assert_eq!(s, 200, "{j}");
        if j["status"] == "COMPLETED" {
            return j;
        }
        assert!(std::time::Instant::now() < deadline, "{j}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn many_sessions_are_erased_by_a_job_whose_progress_can_be_read() {
    let t = TestServer::start().await;
    let s = sessions(&t, 30).await;
    // By number, more than 20: a job; the unknown number is reported at once.
    let mut numbers: Vec<Value> = s[..25].iter().map(|(_, n)| json!(n)).collect();
    numbers.push(json!(424242));
    let (status, queued) = t
        .post("/v3/sessions/delete/", json!({"session_numbers": numbers}))
        .await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(
        (queued["total"].clone(), queued["not_found"].clone()),
        (json!(25), json!([424242]))
    );
    let job = queued["job_id"].as_str().unwrap();
    assert!(queued["progress_url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/v3/sessions/delete/{job}/")));
    let done = until_done(&t, job).await;
    assert_eq!(
        (done["deleted"].clone(), done["remaining"].clone()),
        (json!(25), json!(0))
    );
    assert!(done["completed_at"].is_string());
    for (sid, _) in &s[..25] {
        assert!(gone(&t, sid).await, "{sid}");
    }
    assert!(!gone(&t, &s[25].0).await);

    // Another application neither reads the job nor loses its sessions to delete_all.
    let other = new_app(t.store.as_ref(), "other").await;
    let other_key = new_key(t.store.as_ref(), &other, Scopes::all(Access::Write), None).await;
    let r = t
        .request(
            Method::GET,
            &format!("/v3/sessions/delete/{job}/"),
            Some(&other_key),
            None,
        )
        .await;
    assert_eq!(r.status(), 404);
    let (s_other, answer) = status_json(
        t.request(
            Method::POST,
            "/v3/sessions/delete/",
            Some(&other_key),
            Some(json!({"delete_all": true})),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s_other, answer["deleted_count"].clone()),
        (200, json!(0)),
        "{answer}"
    );
    assert!(!gone(&t, &s[25].0).await);

    // All: the five left go at once (a few are erased in the request); a business session
    // (not a user one) stays.
    let kyb = t.session(&["KYB_REGISTRY"]).await.0;
    let (status, answer) = t
        .post("/v3/sessions/delete/", json!({"delete_all": true}))
        .await;
    assert_eq!(
        (status, answer["deleted_count"].clone()),
        (200, json!(5)),
        "{answer}"
    );
    assert!(!gone(&t, &kyb).await);
    // And all of many: a job.
    sessions(&t, 22).await;
    let (status, queued) = t
        .post("/v3/sessions/delete/", json!({"delete_all": true}))
        .await;
    assert_eq!(status, 202, "{queued}");
    let done = until_done(&t, queued["job_id"].as_str().unwrap()).await;
    assert_eq!(
        (done["deleted"].clone(), done["delete_all"].clone()),
        (json!(22), json!(true))
    );
    let (_, list) = t.get("/v3/sessions/").await;
    assert_eq!(list["count"], 0);
}
