//! The sandbox's API over HTTP: the catalog, scenarios chosen at creation or by a magic
//! `vendor_data`, an armed outcome used once, sessions completed headlessly, and live
//! applications kept out.

use reqwest::Method;
use serde_json::{json, Value};

use crate::capture::{capture, photo, sandbox_key, session_on, until};
use crate::common::{status_json, TestServer};

async fn call(
    t: &TestServer,
    key: &str,
    m: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    status_json(t.request(m, path, Some(key), body).await).await
}

#[tokio::test]
async fn the_catalog_lists_every_scenario_with_its_outcomes() {
    let t = TestServer::start().await;
    let (s, c) = call(&t, &t.key, Method::GET, "/v1/sandbox/scenarios/", None).await;
    assert_eq!(s, 200, "{c}");
    let ids: Vec<&str> = c["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"approved") && ids.contains(&"document_expired") && ids.contains(&"aml_hit"),
        "{ids:?}"
    );
    let expired = c["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "document_expired")
        .unwrap();
    assert_eq!(expired["outcomes"]["OCR"]["status"], "Declined");
    assert_eq!(
        expired["outcomes"]["OCR"]["warnings"][0]["risk"],
        "DOCUMENT_EXPIRED"
    );
    assert_eq!(
        expired["magic_vendor_data"],
        "vouch-sandbox:document_expired"
    );
    assert_eq!(expired["data"]["OCR"]["document_number"], "L898902C3");
    let r = t
        .request(Method::GET, "/v1/sandbox/scenarios/", None, None)
        .await;
    assert!(matches!(r.status().as_u16(), 401 | 403));
}

#[tokio::test]
async fn a_scenario_chosen_at_creation_decides_the_captured_steps_results() {
    let t = TestServer::start().await;
    let key = sandbox_key(&t).await;
    let created = session_on(
        &t,
        &key,
        &["OCR", "LIVENESS"],
        json!({"sandbox_scenario": "document_expired"}),
    )
    .await;
    let id = created["session_id"].as_str().unwrap();
    let (html, v) = crate::capture::page(&t, &created).await;
    let ocr = crate::capture::capture_nodes(&html).remove(0);
    let (_, notice) = capture(
        &t,
        &created,
        &ocr,
        &v,
        &[("document_type", "P")],
        vec![("front", "p.jpg", "image/jpeg", photo(1200, 800))],
    )
    .await;
    assert_eq!(notice, "submitted");
    let d = until(&t, &key, id, |d| {
        d["id_verifications"][0]["status"] == "Declined"
    })
    .await;
    assert_eq!(
        d["id_verifications"][0]["warnings"][0]["risk"],
        "DOCUMENT_EXPIRED"
    );
    // The rest, headlessly: the selfie Approved (the scenario does not name it).
    let (s, b) = call(
        &t,
        &key,
        Method::POST,
        &format!("/v1/sandbox/sessions/{id}/complete/"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["completed_nodes"], json!(["feature_liveness_1"]));
    let (_, d) = call(
        &t,
        &key,
        Method::GET,
        &format!("/v3/session/{id}/decision/"),
        None,
    )
    .await;
    assert_eq!(d["liveness_checks"][0]["status"], "Approved");
    assert_eq!(b["status"], d["status"]);
    assert_ne!(d["status"], "In Progress", "{d}");
}

#[tokio::test]
async fn an_armed_outcome_wins_once_and_a_magic_vendor_data_names_a_scenario() {
    let t = TestServer::start().await;
    let key = sandbox_key(&t).await;
    let created = session_on(
        &t,
        &key,
        &["OCR", "LIVENESS", "AML"],
        json!({"vendor_data": "user-9 vouch-sandbox:aml_hit"}),
    )
    .await;
    let id = created["session_id"].as_str().unwrap();
    let path = format!("/v1/sandbox/sessions/{id}/arm/");
    let (s, b) = call(
        &t,
        &key,
        Method::POST,
        &path,
        Some(
            json!({"node_id": "feature_liveness_1", "status": "In Review", "data": {"score": 42}}),
        ),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    for (body, field) in [
        (json!({"node_id": "nope", "status": "Approved"}), "node_id"),
        (
            json!({"node_id": "feature_liveness_1", "status": "Expired"}),
            "status",
        ),
        (
            json!({"node_id": "feature_liveness_1", "status": "Approved", "data": [1]}),
            "data",
        ),
        (
            json!({"node_id": "feature_liveness_1", "status": "Approved", "warnings": [[null]]}),
            "warnings[0]",
        ),
    ] {
        let (s, e) = call(&t, &key, Method::POST, &path, Some(body)).await;
        assert_eq!(s, 400, "{e}");
        assert!(e[field].is_array(), "{e}");
    }
    let (s, b) = call(
        &t,
        &key,
        Method::POST,
        &format!("/v1/sandbox/sessions/{id}/complete/"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (_, d) = call(
        &t,
        &key,
        Method::GET,
        &format!("/v3/session/{id}/decision/"),
        None,
    )
    .await;
    assert_eq!(d["liveness_checks"][0]["status"], "In Review");
    assert_eq!(d["liveness_checks"][0]["score"], 42);
    assert_eq!(
        d["aml_screenings"][0]["status"], "In Review",
        "the magic value's scenario"
    );
    assert_eq!(d["aml_screenings"][0]["total_hits"], 1);
    assert!(
        t.store
            .sandbox_plan(id.parse().unwrap())
            .await
            .unwrap()
            .arms
            .is_empty(),
        "used once"
    );
    // Completing again completes nothing.
    let (_, again) = call(
        &t,
        &key,
        Method::POST,
        &format!("/v1/sandbox/sessions/{id}/complete/"),
        None,
    )
    .await;
    assert_eq!(again["completed_nodes"], json!([]));
}

#[tokio::test]
async fn live_applications_have_no_scenarios_arms_or_headless_completion() {
    let t = TestServer::start().await;
    let wf = t.workflow(&["OCR"]).await;
    let (s, e) = t
        .post(
            "/v3/session/",
            json!({"workflow_id": wf["uuid"], "sandbox_scenario": "approved"}),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    assert!(e["sandbox_scenario"].is_array());
    let (sid, _) = t.session(&["OCR"]).await;
    for path in [
        format!("/v1/sandbox/sessions/{sid}/complete/"),
        format!("/v1/sandbox/sessions/{sid}/arm/"),
    ] {
        let (s, e) = t
            .post(
                &path,
                json!({"node_id": "feature_ocr_1", "status": "Approved"}),
            )
            .await;
        assert_eq!(
            (s, e["code"].as_str()),
            (403, Some("sandbox_only")),
            "{path}: {e}"
        );
    }
    let key = sandbox_key(&t).await;
    let wf = call(
        &t,
        &key,
        Method::POST,
        "/v3/workflows/",
        Some(json!({"workflow_label": "w", "features": [{"feature": "OCR"}]})),
    )
    .await
    .1;
    let (s, e) = call(
        &t,
        &key,
        Method::POST,
        "/v3/session/",
        Some(json!({"workflow_id": wf["uuid"], "sandbox_scenario": "nonsense"})),
    )
    .await;
    assert_eq!(s, 400, "{e}");
    // Another application's session is not found.
    let (s, _) = call(
        &t,
        &key,
        Method::POST,
        &format!("/v1/sandbox/sessions/{sid}/complete/"),
        None,
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn the_clock_produces_expired_abandoned_and_kyc_expired_sessions_on_demand() {
    let t = TestServer::start().await;
    let key = sandbox_key(&t).await;
    let advance = |id: String, by: &'static str| {
        let (t, key) = (&t, key.clone());
        async move {
            call(
                t,
                &key,
                Method::POST,
                &format!("/v1/sandbox/sessions/{id}/clock/"),
                Some(json!({"advance": by})),
            )
            .await
        }
    };
    let fresh = session_on(&t, &key, &["OCR", "LIVENESS"], json!({})).await;
    let id = fresh["session_id"].as_str().unwrap().to_string();
    let (s, b) = advance(id.clone(), "1d").await;
    assert_eq!((s, b["status"].as_str()), (200, Some("Not Started")), "{b}");
    let (_, b) = advance(id.clone(), "7d").await;
    assert_eq!(b["status"], "Expired", "8 days after creation: {b}");
    assert_eq!(b["advanced_by_seconds"], 7 * 86_400);

    let started = session_on(&t, &key, &["OCR", "LIVENESS"], json!({})).await;
    let sid = started["session_id"].as_str().unwrap().to_string();
    let (s, _) = call(
        &t,
        &key,
        Method::POST,
        &format!("/v3/session/{sid}/attempts/"),
        Some(json!({"node_id": "feature_ocr_1", "status": "Approved"})),
    )
    .await;
    assert_eq!(s, 201);
    let (_, b) = advance(sid, "4d").await;
    assert_eq!(b["status"], "Abandoned", "{b}");

    let approved = session_on(&t, &key, &["OCR"], json!({})).await;
    let aid = approved["session_id"].as_str().unwrap().to_string();
    let (_, b) = call(
        &t,
        &key,
        Method::POST,
        &format!("/v1/sandbox/sessions/{aid}/complete/"),
        None,
    )
    .await;
    assert_eq!(b["status"], "Approved", "{b}");
    let (_, b) = advance(aid.clone(), "3650d").await;
    assert_eq!(
        b["status"], "Kyc Expired",
        "past the specimen document's 2034 expiry: {b}"
    );

    for bad in [
        json!({}),
        json!({"advance": "soon"}),
        json!({"advance": "0s"}),
        json!({"advance": "4000d"}),
    ] {
        let (s, e) = call(
            &t,
            &key,
            Method::POST,
            &format!("/v1/sandbox/sessions/{aid}/clock/"),
            Some(bad),
        )
        .await;
        assert_eq!(s, 400, "{e}");
        assert!(e["advance"].is_array(), "{e}");
    }
    let (sid, _) = t.session(&["OCR"]).await;
    let (s, e) = t
        .post(
            &format!("/v1/sandbox/sessions/{sid}/clock/"),
            json!({"advance": "8d"}),
        )
        .await;
    assert_eq!((s, e["code"].as_str()), (403, Some("sandbox_only")));
}
