//! §3: workflows.

use reqwest::Method;
use serde_json::json;

use crate::common::TestServer;

#[tokio::test]
async fn create_answers_the_full_workflow_with_node_ids() {
    let t = TestServer::start().await;
    let (s, b) = t
        .post(
            "/v3/workflows/",
            json!({"workflow_label": "Standard KYC", "features": [
                {"feature": "OCR", "config": {}}, {"feature": "LIVENESS"},
                {"feature": "FACE_MATCH", "config": {"face_match_score_decline_threshold": 40}},
                {"feature": "AML"}, {"feature": "AML"}]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["workflow_label"], "Standard KYC");
    assert_eq!(b["workflow_kind"], "user");
    assert_eq!(b["version"], 1);
    assert_eq!(b["status"], "published");
    assert_eq!(b["is_default"], false);
    assert_eq!(
        b["nodes"],
        json!([
            {"node_id": "feature_ocr_1", "feature": "OCR"},
            {"node_id": "feature_liveness_1", "feature": "LIVENESS"},
            {"node_id": "feature_face_match_1", "feature": "FACE_MATCH"},
            {"node_id": "feature_aml_1", "feature": "AML"},
            {"node_id": "feature_aml_2", "feature": "AML"},
        ])
    );
    assert_eq!(
        b["features"][2]["config"]["face_match_score_decline_threshold"],
        40
    );
    assert!(b["uuid"].is_string() && b["created_at"].is_string());
    let (s, got) = t
        .get(&format!("/v3/workflows/{}/", b["uuid"].as_str().unwrap()))
        .await;
    assert_eq!((s, &got), (200, &b));
}

#[tokio::test]
async fn kyb_features_make_a_business_workflow() {
    let t = TestServer::start().await;
    let b = t
        .workflow(&["KYB_REGISTRY", "KYB_KEY_PEOPLE", "KYB_DOCUMENTS", "AML"])
        .await;
    assert_eq!(b["workflow_kind"], "business");
}

#[tokio::test]
async fn every_validation_rule_names_the_offending_index() {
    let t = TestServer::start().await;
    let cases = [
        (json!([]), "features", "At least one feature is required."),
        (json!([{"feature": "OCR"}, {"feature": "SELFIE"}]), "features[1].feature", "\"SELFIE\" is not a valid choice."),
        (json!([{"feature": "FACE_MATCH"}]), "features[0].feature", "FACE_MATCH requires an earlier OCR step."),
        (json!([{"feature": "NFC"}]), "features[0].feature", "NFC requires an earlier OCR step."),
        (json!([{"feature": "DATABASE_VALIDATION"}, {"feature": "OCR"}]), "features[0].feature", "DATABASE_VALIDATION requires an earlier OCR step."),
        (json!([{"feature": "LIVENESS"}, {"feature": "AML"}]), "features[1].feature", "AML requires an earlier OCR, KYB_REGISTRY or DOCUMENT_AI step."),
        (json!([{"feature": "KYB_DOCUMENTS"}]), "features[0].feature", "KYB_DOCUMENTS requires an earlier KYB_REGISTRY step."),
        (json!([{"feature": "KYB_KEY_PEOPLE"}]), "features[0].feature", "KYB_KEY_PEOPLE requires an earlier KYB_REGISTRY step."),
        (json!([{"feature": "KYB_REGISTRY"}, {"feature": "LIVENESS"}]), "features[1].feature",
            "LIVENESS cannot be combined with KYB features: a workflow is either user (KYC) or business (KYB)."),
        (json!([{"feature": "OCR", "config": 5}]), "features[0].config", "Must be a JSON object."),
        (json!([{"config": {}}]), "features[0].feature", "This field is required."),
    ];
    for (features, field, message) in cases {
        let (s, b) = t
            .post(
                "/v3/workflows/",
                json!({"workflow_label": "x", "features": features}),
            )
            .await;
        assert_eq!(s, 400, "{features}: {b}");
        assert_eq!(b[field], json!([message]), "{features}: {b}");
    }
    let (s, b) = t
        .post("/v3/workflows/", json!({"features": [{"feature": "OCR"}]}))
        .await;
    assert_eq!(
        (s, &b["workflow_label"]),
        (400, &json!(["This field is required."]))
    );
    let (s, b) = t
        .post("/v3/workflows/", json!({"workflow_label": "x"}))
        .await;
    assert_eq!(
        (s, &b["features"]),
        (400, &json!(["This field is required."]))
    );
    let (s, b) = t
        .post(
            "/v3/workflows/",
            json!({"workflow_label": "x", "status": "live", "features": [{"feature": "OCR"}]}),
        )
        .await;
    assert_eq!(
        (s, &b["status"]),
        (400, &json!(["\"live\" is not a valid choice."]))
    );
    let (s, b) = t
        .post(
            "/v3/workflows/",
            json!({"workflow_label": "x", "features": "OCR"}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    assert!(b["features"].is_array(), "{b}");
}

#[tokio::test]
async fn aliases_are_accepted_and_normalized() {
    let t = TestServer::start().await;
    let b = t
        .workflow(&["ID_VERIFICATION", "FACE", "POA", "PHONE", "EMAIL"])
        .await;
    let features: Vec<&str> = b["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["feature"].as_str().unwrap())
        .collect();
    assert_eq!(
        features,
        [
            "OCR",
            "LIVENESS",
            "PROOF_OF_ADDRESS",
            "PHONE_VERIFICATION",
            "EMAIL_VERIFICATION"
        ]
    );
}

#[tokio::test]
async fn patching_features_creates_a_new_version_and_old_sessions_keep_theirs() {
    let t = TestServer::start().await;
    let wf = t.workflow(&["OCR"]).await;
    let id = wf["uuid"].as_str().unwrap();
    let (_, s1) = t.post("/v3/session/", json!({"workflow_id": id})).await;
    let (s, v2) = t
        .call(
            Method::PATCH,
            &format!("/v3/workflows/{id}/"),
            Some(json!({"features": [{"feature": "OCR"}, {"feature": "LIVENESS"}], "workflow_label": "v2"})),
        )
        .await;
    assert_eq!(s, 200, "{v2}");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["workflow_label"], "v2");
    assert_eq!(v2["nodes"].as_array().unwrap().len(), 2);
    let (_, s2) = t.post("/v3/session/", json!({"workflow_id": id})).await;
    assert_eq!(s1["workflow_version"], 1);
    assert_eq!(s2["workflow_version"], 2);
    // The old session is decided by its own version: one OCR result completes it.
    let sid1 = s1["session_id"].as_str().unwrap();
    t.attempt(sid1, "feature_ocr_1", "Approved").await;
    assert_eq!(t.status_of(sid1).await, "Approved");
    let (s, _) = t.attempt(sid1, "feature_liveness_1", "Approved").await;
    assert_eq!(s, 400, "version 1 has no liveness node");
    // A label-only patch keeps the version.
    let (_, v) = t
        .call(
            Method::PATCH,
            &format!("/v3/workflows/{id}/"),
            Some(json!({"workflow_label": "renamed"})),
        )
        .await;
    assert_eq!(
        (v["version"].as_i64(), v["workflow_label"].as_str()),
        (Some(2), Some("renamed"))
    );
    // Validation applies to patches too, and a kind cannot change.
    let (s, b) = t
        .call(
            Method::PATCH,
            &format!("/v3/workflows/{id}/"),
            Some(json!({"features": []})),
        )
        .await;
    assert_eq!(
        (s, &b["features"]),
        (400, &json!(["At least one feature is required."]))
    );
    let (s, b) = t
        .call(
            Method::PATCH,
            &format!("/v3/workflows/{id}/"),
            Some(json!({"features": [{"feature": "KYB_REGISTRY"}]})),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    let (s, _) = t
        .call(
            Method::PATCH,
            &format!("/v3/workflows/{}/", uuid::Uuid::new_v4()),
            Some(json!({"workflow_label": "x"})),
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn list_is_newest_first_and_paginated() {
    let t = TestServer::start().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(t.workflow(&["OCR"]).await["uuid"].clone());
    }
    let (s, b) = t.get("/v3/workflows/?limit=2").await;
    assert_eq!(s, 200);
    assert_eq!(b["count"], 3);
    assert_eq!(b["results"][0]["uuid"], ids[2]);
    assert_eq!(b["results"][1]["uuid"], ids[1]);
    assert_eq!(b["previous"], serde_json::Value::Null);
    let next = b["next"].as_str().unwrap();
    assert!(
        next.starts_with("http://") && next.contains("offset=2"),
        "{next}"
    );
    let (_, b2) = t.get("/v3/workflows/?limit=2&offset=2").await;
    assert_eq!(b2["results"][0]["uuid"], ids[0]);
    assert_eq!(b2["next"], serde_json::Value::Null);
    assert!(b2["previous"].as_str().unwrap().starts_with("http://"));
}

#[tokio::test]
async fn drafts_cannot_take_sessions_and_default_workflows_need_no_id() {
    let t = TestServer::start().await;
    let (s, draft) = t
        .post(
            "/v3/workflows/",
            json!({"workflow_label": "d", "status": "draft", "features": [{"feature": "OCR"}]}),
        )
        .await;
    assert_eq!(s, 201);
    let (s, b) = t
        .post("/v3/session/", json!({"workflow_id": draft["uuid"]}))
        .await;
    assert_eq!(s, 400, "{b}");
    assert!(b["workflow_id"].is_array());
    let (s, b) = t.post("/v3/session/", json!({})).await;
    assert_eq!(s, 400);
    assert!(
        b["workflow_id"][0].as_str().unwrap().contains("required"),
        "{b}"
    );
    let (_, def) = t
        .post("/v3/workflows/", json!({"workflow_label": "default", "is_default": true, "features": [{"feature": "LIVENESS"}]}))
        .await;
    let (s, b) = t.post("/v3/session/", json!({})).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["workflow_id"], def["uuid"]);
}

#[tokio::test]
async fn settings_and_step_labels_are_stored_and_echoed() {
    let t = TestServer::start().await;
    let (s, w) = t
        .post(
            "/v3/workflows/",
            json!({"workflow_label": "Settings", "features": [
                {"feature": "OCR", "label": "Passport or ID"}, {"feature": "LIVENESS"}],
                "session_expiration_time": 3600, "max_retry_attempts": 3, "retry_window_days": 7,
                "is_white_label_enabled": true, "is_desktop_allowed": false}),
        )
        .await;
    assert_eq!(s, 201, "{w}");
    assert_eq!(w["features"][0]["label"], "Passport or ID");
    assert!(w["features"][1]["label"].is_null());
    assert_eq!(w["session_expiration_time"], 3600);
    assert_eq!(w["max_retry_attempts"], 3);
    assert_eq!(w["retry_window_days"], 7);
    assert_eq!(w["is_white_label_enabled"], true);
    assert_eq!(w["is_desktop_allowed"], false);
    assert_eq!(w["is_archived"], false);
    let id = w["uuid"].as_str().unwrap();
    assert_eq!(t.get(&format!("/v3/workflows/{id}/")).await.1, w);

    // A session on it lives as long as the workflow says, not the server's default (7 days).
    let (s, created) = t.post("/v3/session/", json!({"workflow_id": id})).await;
    assert_eq!(s, 201, "{created}");
    let sid = created["session_id"].as_str().unwrap();
    let d = t.get(&format!("/v3/session/{sid}/decision/")).await.1;
    let at = |k: &str| chrono::DateTime::parse_from_rfc3339(d[k].as_str().unwrap()).unwrap();
    assert_eq!((at("expires_at") - at("created_at")).num_seconds(), 3600);

    // A PATCH changes only what it names, in place; a new feature list keeps the settings.
    let (s, p) = t
        .call(
            Method::PATCH,
            &format!("/v3/workflows/{id}/"),
            Some(json!({"max_retry_attempts": 5})),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(
        (p["version"].clone(), p["max_retry_attempts"].clone()),
        (json!(1), json!(5))
    );
    assert_eq!(p["session_expiration_time"], 3600);
    let (_, p) = t
        .call(
            Method::PATCH,
            &format!("/v3/workflows/{id}/"),
            Some(json!({"features": [{"feature": "OCR", "label": "ID"}]})),
        )
        .await;
    assert_eq!(p["version"], 2);
    assert_eq!(p["features"][0]["label"], "ID");
    assert_eq!(
        (
            p["max_retry_attempts"].clone(),
            p["retry_window_days"].clone()
        ),
        (json!(5), json!(7))
    );

    // Out of range, or of the wrong type: field-keyed 400s.
    let (s, e) = t
        .post(
            "/v3/workflows/",
            json!({"workflow_label": "Bad", "features": [{"feature": "OCR", "label": 3}],
                "session_expiration_time": 5, "max_retry_attempts": "three",
                "is_white_label_enabled": "yes"}),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    for field in [
        "session_expiration_time",
        "max_retry_attempts",
        "is_white_label_enabled",
        "features[0].label",
    ] {
        assert!(e[field].is_array(), "{field}: {e}");
    }
}

#[tokio::test]
async fn an_archived_workflow_keeps_its_sessions_and_takes_no_new_ones() {
    let t = TestServer::start().await;
    let (s, w) = t
        .post(
            "/v3/workflows/",
            json!({"workflow_label": "Old", "is_default": true, "features": [{"feature": "OCR"}]}),
        )
        .await;
    assert_eq!(s, 201, "{w}");
    let id = w["uuid"].as_str().unwrap();
    let (_, before) = t.post("/v3/session/", json!({"workflow_id": id})).await;
    let sid = before["session_id"].as_str().unwrap();

    let (s, a) = t
        .call(Method::DELETE, &format!("/v3/workflows/{id}/"), None)
        .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(
        (a["is_archived"].clone(), a["is_default"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(
        t.get(&format!("/v3/workflows/{id}/")).await.1["is_archived"],
        true
    );
    // Archiving again changes nothing; another application's key, or an unknown id, is 404.
    assert_eq!(
        t.call(Method::DELETE, &format!("/v3/workflows/{id}/"), None)
            .await
            .0,
        200
    );
    let missing = "00000000-0000-0000-0000-000000000000";
    assert_eq!(
        t.call(Method::DELETE, &format!("/v3/workflows/{missing}/"), None)
            .await
            .0,
        404
    );

    // New sessions on it are refused with the reason; with it no longer the default, a session
    // without a workflow is refused too.
    let (s, e) = t.post("/v3/session/", json!({"workflow_id": id})).await;
    assert_eq!(s, 400, "{e}");
    assert!(
        e["workflow_id"][0].as_str().unwrap().contains("archived"),
        "{e}"
    );
    let (s, e) = t.post("/v3/session/", json!({})).await;
    assert_eq!(s, 400, "{e}");

    // The session created before goes on to its decision.
    assert_eq!(t.attempt(sid, "feature_ocr_1", "Approved").await.0, 201);
    assert_eq!(t.status_of(sid).await, "Approved");
}
