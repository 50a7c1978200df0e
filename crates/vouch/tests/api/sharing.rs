//! Reusable KYC: a finished session shared with another application as a signed token bound to
//! it, imported there once as a fresh session with the same results; both trails record it.

use reqwest::Method;
use serde_json::{json, Value};
use vouch_core::scopes::{Access, Scopes};

use crate::common::{new_app, new_key, status_json, TestServer};

async fn as_key(
    t: &TestServer,
    key: &str,
    m: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    status_json(t.request(m, path, Some(key), body).await).await
}

/// A decided (Approved) session of the test application with OCR data.
async fn decided(t: &TestServer) -> String {
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    let (s, b) = t
        .post(
            &format!("/v3/session/{sid}/attempts/"),
            json!({"node_id": "feature_ocr_1", "status": "Approved",
                   "data": {"first_name": "Ana", "last_name": "García", "issuing_state": "ESP"}}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    t.attempt(&sid, "feature_liveness_1", "Approved").await;
    sid
}

#[tokio::test]
async fn a_shared_session_is_imported_once_by_the_application_it_was_shared_with() {
    let t = TestServer::start().await;
    let sid = decided(&t).await;
    let partner = new_app(t.store.as_ref(), "partner").await;
    let pkey = new_key(t.store.as_ref(), &partner, Scopes::all(Access::Write), None).await;
    let (_, pwf) = as_key(&t, &pkey, Method::POST, "/v3/workflows/",
        Some(json!({"workflow_label": "kyc", "features": [{"feature": "OCR"}, {"feature": "LIVENESS"}]}))).await;

    let (s, shared) = t
        .post(
            &format!("/v3/session/{sid}/share/"),
            json!({"for_application_id": partner.id, "ttl_in_seconds": 7200, "session_id": sid}),
        )
        .await;
    assert_eq!(s, 200, "{shared}");
    let token = shared["share_token"].as_str().unwrap().to_string();
    assert!(
        token.starts_with("eyJ") && token.split('.').count() == 3,
        "{token}"
    );
    assert_eq!(shared["for_application_id"], partner.id.to_string());

    // Only the application it was made for redeems it.
    let (s, e) = t
        .post("/v3/session/import-shared/", json!({"share_token": token}))
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (403, Some("share_token_wrong_application")),
        "{e}"
    );
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    let (s, e) = as_key(
        &t,
        &pkey,
        Method::POST,
        "/v3/session/import-shared/",
        Some(json!({"share_token": tampered})),
    )
    .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("invalid_share_token")),
        "{e}"
    );

    let (s, imported) = as_key(&t, &pkey, Method::POST, "/v3/session/import-shared/",
        Some(json!({"share_token": token, "workflow_id": pwf["uuid"], "vendor_data": "partner-user-9"}))).await;
    assert_eq!(s, 201, "{imported}");
    let new_id = imported["session_id"].as_str().unwrap().to_string();
    assert_ne!(new_id, sid);
    assert_eq!(imported["vendor_data"], "partner-user-9");
    let (_, d) = as_key(
        &t,
        &pkey,
        Method::GET,
        &format!("/v3/session/{new_id}/decision/"),
        None,
    )
    .await;
    assert_eq!(d["status"], "In Review", "{d}");
    assert_eq!(d["id_verifications"][0]["first_name"], "Ana");
    assert_eq!(d["liveness_checks"][0]["status"], "Approved");
    let import_row = d["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["activity_type"] == "IMPORT")
        .expect("IMPORT row")
        .clone();
    assert_eq!(import_row["metadata"]["from_session_id"], sid.as_str());
    assert_eq!(
        (
            import_row["previous_status"].as_str(),
            import_row["new_status"].as_str()
        ),
        (Some("Not Started"), Some("In Review"))
    );
    // The source's trail: shared, then imported (naming the new session).
    let (_, src) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    let shares: Vec<&Value> = src["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["activity_type"] == "SHARE")
        .collect();
    assert_eq!(shares.len(), 2, "{src}");
    assert_eq!(shares[0]["metadata"]["action"], "shared");
    assert_eq!(
        shares[1]["metadata"]["imported_session_id"],
        new_id.as_str()
    );
    assert_eq!(src["status"], "Approved");
    // The source application does not see the copy; the partner does not see the source.
    assert_eq!(
        t.get(&format!("/v3/session/{new_id}/decision/")).await.0,
        404
    );
    assert_eq!(
        as_key(
            &t,
            &pkey,
            Method::GET,
            &format!("/v3/session/{sid}/decision/"),
            None
        )
        .await
        .0,
        404
    );

    // Once: the same token again, or a new token for the same session, is 409.
    let (s, e) = as_key(
        &t,
        &pkey,
        Method::POST,
        "/v3/session/import-shared/",
        Some(json!({"share_token": token, "workflow_id": pwf["uuid"]})),
    )
    .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (409, Some("share_token_used")),
        "{e}"
    );
    let (_, again) = t
        .post(
            &format!("/v3/session/{sid}/share/"),
            json!({"partner_client_id": partner.id}),
        )
        .await;
    let (s, _) = as_key(
        &t,
        &pkey,
        Method::POST,
        "/v3/session/import-shared/",
        Some(json!({"share_token": again["share_token"], "workflow_id": pwf["uuid"]})),
    )
    .await;
    assert_eq!(s, 409);

    // Another application trusting the review keeps the decision; a KYB workflow is refused.
    let third = new_app(t.store.as_ref(), "third").await;
    let tkey = new_key(t.store.as_ref(), &third, Scopes::all(Access::Write), None).await;
    let (_, kyb) = as_key(
        &t,
        &tkey,
        Method::POST,
        "/v3/workflows/",
        Some(json!({"workflow_label": "kyb", "features": [{"feature": "KYB_REGISTRY"}]})),
    )
    .await;
    let (_, twf) = as_key(
        &t,
        &tkey,
        Method::POST,
        "/v3/workflows/",
        Some(
            json!({"workflow_label": "kyc", "is_default": true, "features": [{"feature": "OCR"}]}),
        ),
    )
    .await;
    let (_, tshare) = t
        .post(
            &format!("/v3/session/{sid}/share/"),
            json!({"for_application_id": third.id}),
        )
        .await;
    let (s, e) = as_key(
        &t,
        &tkey,
        Method::POST,
        "/v3/session/import-shared/",
        Some(json!({"share_token": tshare["share_token"], "workflow_id": kyb["uuid"]})),
    )
    .await;
    assert_eq!(s, 400, "{e}");
    assert!(e["workflow_id"].is_array(), "{e}");
    let (s, trusted) = as_key(
        &t,
        &tkey,
        Method::POST,
        "/v3/session/import-shared/",
        Some(json!({"share_token": tshare["share_token"], "trust_review": true})),
    )
    .await;
    assert_eq!(s, 201, "{trusted}");
    assert_eq!(trusted["workflow_id"], twf["uuid"], "the default workflow");
    let tid = trusted["session_id"].as_str().unwrap();
    let (_, td) = as_key(
        &t,
        &tkey,
        Method::GET,
        &format!("/v3/session/{tid}/decision/"),
        None,
    )
    .await;
    assert_eq!(td["status"], "Approved");
    // Only the OCR step had a place on that workflow.
    assert_eq!(td["id_verifications"][0]["last_name"], "García");
}

#[tokio::test]
async fn only_finished_sessions_are_shared_and_tokens_expire() {
    let t = TestServer::start().await;
    let partner = new_app(t.store.as_ref(), "partner").await;
    let (open, _) = t.session(&["OCR"]).await;
    let (s, e) = t
        .post(
            &format!("/v3/session/{open}/share/"),
            json!({"for_application_id": partner.id}),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    assert!(
        e["non_field_errors"][0]
            .as_str()
            .unwrap()
            .contains("finished"),
        "{e}"
    );
    let sid = decided(&t).await;
    for (body, field) in [
        (json!({}), "for_application_id"),
        (json!({"for_application_id": "nope"}), "for_application_id"),
        (
            json!({"for_application_id": t.app.id}),
            "for_application_id",
        ),
        (
            json!({"for_application_id": uuid::Uuid::new_v4()}),
            "for_application_id",
        ),
        (
            json!({"for_application_id": partner.id, "ttl_in_seconds": 30}),
            "ttl_in_seconds",
        ),
        (
            json!({"for_application_id": partner.id, "ttl_in_seconds": 86401}),
            "ttl_in_seconds",
        ),
    ] {
        let (s, e) = t
            .post(&format!("/v3/session/{sid}/share/"), body.clone())
            .await;
        assert_eq!(s, 400, "{body}: {e}");
        assert!(e[field].is_array(), "{body}: {e}");
    }
    assert_eq!(
        t.post(
            &format!("/v3/session/{}/share/", uuid::Uuid::new_v4()),
            json!({"for_application_id": partner.id})
        )
        .await
        .0,
        404
    );
    let reader = t.key_with(Scopes::all(Access::Read)).await;
    assert_eq!(
        as_key(
            &t,
            &reader,
            Method::POST,
            &format!("/v3/session/{sid}/share/"),
            Some(json!({"for_application_id": partner.id}))
        )
        .await
        .0,
        403
    );

    // A token past its time: signed with the server's own key, expired an hour ago.
    let key = t
        .store
        .secret("share_token_key", "unused".into())
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let claims = vouch_core::sharing::ShareClaims {
        jti: uuid::Uuid::new_v4(),
        session_id: sid.parse().unwrap(),
        session_kind: vouch_core::WorkflowKind::User,
        from_application_id: t.app.id,
        for_application_id: partner.id,
        iat: now.timestamp() - 7200,
        exp: now.timestamp() - 3600,
    };
    let expired = vouch_core::sharing::sign(&claims, key.as_bytes());
    let pkey = new_key(t.store.as_ref(), &partner, Scopes::all(Access::Write), None).await;
    let (s, e) = as_key(
        &t,
        &pkey,
        Method::POST,
        "/v3/session/import-shared/",
        Some(json!({"share_token": expired})),
    )
    .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("share_token_expired")),
        "{e}"
    );
    let (s, e) = as_key(
        &t,
        &pkey,
        Method::POST,
        "/v3/session/import-shared/",
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 400);
    assert!(e["share_token"].is_array(), "{e}");
    for (token, message) in [
        (json!("  "), "This field may not be blank."),
        (json!(7), "Not a valid string."),
    ] {
        let body = json!({ "share_token": token });
        let (s, e) = as_key(
            &t,
            &pkey,
            Method::POST,
            "/v3/session/import-shared/",
            Some(body),
        )
        .await;
        assert_eq!((s, e), (400, json!({ "share_token": [message] })));
    }
}

#[tokio::test]
async fn an_import_repeated_with_its_idempotency_key_replays_the_answer() {
    let t = TestServer::start().await;
    let sid = decided(&t).await;
    let partner = new_app(t.store.as_ref(), "partner").await;
    let pkey = new_key(t.store.as_ref(), &partner, Scopes::all(Access::Write), None).await;
    as_key(
        &t,
        &pkey,
        Method::POST,
        "/v3/workflows/",
        Some(
            json!({"workflow_label": "kyc", "is_default": true, "features": [{"feature": "OCR"}]}),
        ),
    )
    .await;
    let (_, shared) = t
        .post(
            &format!("/v3/session/{sid}/share/"),
            json!({"for_application_id": partner.id}),
        )
        .await;
    let body = json!({"share_token": shared["share_token"]});
    let send = || {
        t.client
            .post(format!("{}/v3/session/import-shared/", t.base))
            .header("x-api-key", &pkey)
            .header("Idempotency-Key", "import-1")
            .json(&body)
            .send()
    };
    let first = send().await.unwrap();
    let (s1, b1) = status_json(first).await;
    assert_eq!(s1, 201, "{b1}");
    assert_eq!(b1["status"], "In Review");
    let again = send().await.unwrap();
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    assert_eq!(status_json(again).await, (201, b1));
    // Without the key, a repeat is refused: the token is spent.
    let (s, e) = as_key(
        &t,
        &pkey,
        Method::POST,
        "/v3/session/import-shared/",
        Some(body),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (409, Some("share_token_used")));
}
