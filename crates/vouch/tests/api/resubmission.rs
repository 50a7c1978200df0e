//! §4.6 rule 6 over HTTP: which steps a resubmission reopens, and what follows.

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::{status_json, TestServer};
use crate::update_status::{patch, with_results};

#[tokio::test]
async fn kyb_parent_checks_are_never_resubmitted() {
    let t = TestServer::start().await;
    let sid = with_results(
        &t,
        &["KYB_REGISTRY", "KYB_KEY_PEOPLE", "KYB_DOCUMENTS"],
        &[
            ("feature_kyb_registry_1", "Declined"),
            ("feature_kyb_key_people_1", "Approved"),
            ("feature_kyb_documents_1", "Declined"),
        ],
    )
    .await;
    for (node, feature) in [
        ("feature_kyb_registry_1", "KYB_REGISTRY"),
        ("feature_kyb_key_people_1", "KYB_KEY_PEOPLE"),
        ("feature_kyb_registry_1", "KYB"),
    ] {
        let (s, b) = patch(&t, &sid, json!({"new_status": "Resubmitted", "nodes_to_resubmit": [{"node_id": node, "feature": feature}]})).await;
        assert_eq!(s, 400, "{feature}");
        assert!(b["nodes_to_resubmit[0].feature"].is_array(), "{b}");
    }
    // The business session's own documents can be sent back.
    let (s, _) = patch(&t, &sid, json!({"new_status": "Resubmitted", "nodes_to_resubmit": [{"node_id": "feature_kyb_documents_1", "feature": "KYB_DOCUMENTS"}]})).await;
    assert_eq!(s, 200);
    let (_, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_eq!(d["session_kind"], "business");
    assert_eq!(
        d["resubmit_info"]["nodes"],
        json!(["feature_kyb_documents_1"])
    );
}

#[tokio::test]
async fn explicit_nodes_must_match_the_workflow() {
    let t = TestServer::start().await;
    let sid = with_results(
        &t,
        &["OCR", "LIVENESS"],
        &[
            ("feature_ocr_1", "Approved"),
            ("feature_liveness_1", "Declined"),
        ],
    )
    .await;
    assert_eq!(
        patch(&t, &sid, json!({"new_status": "Resubmitted", "nodes_to_resubmit": [{"node_id": "feature_nfc_1", "feature": "NFC"}]})).await,
        (400, json!({"nodes_to_resubmit[0].node_id": ["\"feature_nfc_1\" is not a node of this session's workflow."]}))
    );
    let (s, b) = patch(&t, &sid, json!({"new_status": "Resubmitted", "nodes_to_resubmit": [{"node_id": "feature_ocr_1", "feature": "LIVENESS"}]})).await;
    assert_eq!(s, 400);
    assert!(b["nodes_to_resubmit[0].feature"].is_array());
    assert_eq!(t.status_of(&sid).await, "Declined");
    // FACE names the liveness step.
    let (s, _) = patch(&t, &sid, json!({"new_status": "Resubmitted", "nodes_to_resubmit": [{"node_id": "feature_liveness_1", "feature": "FACE", "reason": "Too dark"}]})).await;
    assert_eq!(s, 200);
    let (_, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_eq!(
        d["resubmit_info"]["steps"],
        json!([{"node_id": "feature_liveness_1", "feature": "LIVENESS", "reason": "Too dark"}])
    );
}

#[tokio::test]
async fn automatic_selection_and_nothing_to_resubmit() {
    let t = TestServer::start().await;
    let nothing = json!({"detail": "No features found that need resubmission", "code": "nothing_to_resubmit"});
    let approved = with_results(
        &t,
        &["OCR", "LIVENESS"],
        &[
            ("feature_ocr_1", "Approved"),
            ("feature_liveness_1", "Approved"),
        ],
    )
    .await;
    assert_eq!(
        patch(&t, &approved, json!({"new_status": "Resubmitted"})).await,
        (400, nothing.clone())
    );
    // NFC and IP_ANALYSIS are never auto-selected; un-attempted steps neither.
    let sid = with_results(
        &t,
        &["OCR", "NFC", "IP_ANALYSIS", "LIVENESS", "FACE_MATCH"],
        &[
            ("feature_ocr_1", "Declined"),
            ("feature_nfc_1", "Declined"),
            ("feature_ip_analysis_1", "Declined"),
            ("feature_face_match_1", "In Review"),
        ],
    )
    .await;
    assert_eq!(t.status_of(&sid).await, "In Progress");
    // Not reviewable yet: liveness has no result. Decide it, then resubmit.
    t.attempt(&sid, "feature_liveness_1", "Approved").await;
    assert_eq!(t.status_of(&sid).await, "Declined");
    let (s, _) = patch(
        &t,
        &sid,
        json!({"new_status": "Resubmitted", "nodes_to_resubmit": []}),
    )
    .await;
    assert_eq!(s, 200);
    let (_, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_eq!(
        d["resubmit_info"]["nodes"],
        json!(["feature_ocr_1", "feature_face_match_1"])
    );
    // A session whose only result is a never-auto-selected step: nothing to resubmit.
    let nfc_only = with_results(
        &t,
        &["OCR", "NFC"],
        &[("feature_nfc_1", "Declined"), ("feature_ocr_1", "Approved")],
    )
    .await;
    assert_eq!(
        patch(
            &t,
            &nfc_only,
            json!({"new_status": "Resubmitted", "nodes_to_resubmit": null})
        )
        .await,
        (400, nothing)
    );
}

#[tokio::test]
async fn selected_steps_follow_workflow_order_and_the_link_stays_valid() {
    let t = TestServer::start().await;
    let sid = with_results(
        &t,
        &["OCR", "LIVENESS", "PROOF_OF_ADDRESS"],
        &[
            ("feature_ocr_1", "Declined"),
            ("feature_liveness_1", "Approved"),
            ("feature_proof_of_address_1", "Declined"),
        ],
    )
    .await;
    let (_, before) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    let (s, _) = patch(&t, &sid, json!({"new_status": "Resubmitted", "nodes_to_resubmit": [
        {"node_id": "feature_proof_of_address_1", "feature": "POA", "reason": "Bill older than 3 months"},
        "feature_ocr_1",
        {"node_id": "feature_ocr_1", "feature": "OCR"}]})).await;
    assert_eq!(s, 200);
    let (_, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_eq!(d["status"], "Resubmitted");
    let info = &d["resubmit_info"];
    assert_eq!(
        info["nodes"],
        json!(["feature_ocr_1", "feature_proof_of_address_1"])
    );
    assert_eq!(info["steps"][0]["feature"], "OCR");
    assert!(
        !info["steps"][0]["reason"].as_str().unwrap().is_empty(),
        "a default reason"
    );
    assert_eq!(info["steps"][1]["reason"], "Bill older than 3 months");
    assert!(info["requested_at"].is_string());
    assert_eq!(d["session_url"], before["session_url"], "same link");
    assert!(d["expires_at"].as_str().unwrap() >= before["expires_at"].as_str().unwrap());
    let events = t.store.outbox_events(sid.parse().unwrap()).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.status.as_str(), "Resubmitted");
    assert_eq!(last.resubmit_info.as_ref().unwrap()["nodes"], info["nodes"]);
    assert!(
        last.resubmit_info
            .as_ref()
            .unwrap()
            .get("after_seq")
            .is_none(),
        "internal fields stay internal"
    );
}

#[tokio::test]
async fn reopened_steps_decide_the_session_again() {
    let t = TestServer::start().await;
    let sid = with_results(
        &t,
        &["OCR", "LIVENESS", "FACE_MATCH"],
        &[
            ("feature_ocr_1", "Approved"),
            ("feature_liveness_1", "Declined"),
            ("feature_face_match_1", "In Review"),
        ],
    )
    .await;
    patch(&t, &sid, json!({"new_status": "Resubmitted"})).await;
    let (_, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_eq!(
        d["resubmit_info"]["nodes"],
        json!(["feature_liveness_1", "feature_face_match_1"])
    );
    // A result on an untouched step does not decide; old results of reopened steps do not count.
    t.attempt(&sid, "feature_ocr_1", "Approved").await;
    assert_eq!(t.status_of(&sid).await, "Resubmitted");
    t.attempt(&sid, "feature_liveness_1", "Approved").await;
    assert_eq!(
        t.status_of(&sid).await,
        "Resubmitted",
        "face match not redone yet"
    );
    t.attempt(&sid, "feature_face_match_1", "Approved").await;
    let (_, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_eq!(d["status"], "Approved");
    assert_eq!(d["resubmit_info"], Value::Null);
    assert_eq!(
        d["id_verifications"][0]["status"], "Approved",
        "the untouched step kept its result"
    );
    let reviews = d["reviews"].as_array().unwrap();
    let last = reviews.last().unwrap();
    assert_eq!(
        (
            last["actor_type"].as_str(),
            last["previous_status"].as_str(),
            last["new_status"].as_str()
        ),
        (Some("SYSTEM"), Some("Resubmitted"), Some("Approved"))
    );
}

#[tokio::test]
async fn backend_only_resubmissions_send_nothing_and_are_rate_limited() {
    let t = TestServer::start().await;
    let sid = with_results(
        &t,
        &["OCR", "AML", "DATABASE_VALIDATION"],
        &[
            ("feature_ocr_1", "Approved"),
            ("feature_aml_1", "In Review"),
            ("feature_database_validation_1", "Approved"),
        ],
    )
    .await;
    let body = json!({"new_status": "Resubmitted", "send_email": true, "email_address": "p@example.com",
        "nodes_to_resubmit": [{"node_id": "feature_aml_1", "feature": "AML"}]});
    assert_eq!(patch(&t, &sid, body.clone()).await.0, 200);
    let id: vouch_core::SessionId = sid.parse().unwrap();
    let jobs = t.store.email_jobs(id).await.unwrap();
    assert_eq!(jobs.len(), 1, "recorded, not sent: no user action");
    assert_eq!(
        (
            jobs[0].state.as_str(),
            jobs[0].not_sent_reason.map(|r| r.as_str())
        ),
        ("not_sent", Some("no_user_action"))
    );
    let reviews = t.store.reviews(id).await.unwrap();
    assert_eq!(reviews.last().unwrap().metadata["backend_only"], true);
    // The engine re-runs AML; the session is decided again.
    t.attempt(&sid, "feature_aml_1", "Approved").await;
    assert_eq!(t.status_of(&sid).await, "Approved");
    let r = t
        .request(
            Method::PATCH,
            &format!("/v3/session/{sid}/update-status/"),
            Some(&t.key),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status(), 429);
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    let (_, b) = status_json(r).await;
    assert_eq!(b["code"], "resubmission_too_soon");
    assert_eq!(t.status_of(&sid).await, "Approved", "nothing changed");
    // A resubmission that needs the person is not limited.
    let (s, _) = patch(
        &t,
        &sid,
        json!({"new_status": "Resubmitted", "nodes_to_resubmit": ["feature_ocr_1"]}),
    )
    .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn resubmission_emails_carry_the_link_and_reasons() {
    let t = TestServer::start().await;
    let sid = with_results(
        &t,
        &["OCR", "LIVENESS"],
        &[
            ("feature_ocr_1", "Declined"),
            ("feature_liveness_1", "Approved"),
        ],
    )
    .await;
    let (s, _) = patch(&t, &sid, json!({"new_status": "Resubmitted", "send_email": true, "email_address": "p@example.com",
        "nodes_to_resubmit": [{"node_id": "feature_ocr_1", "feature": "OCR", "reason": "Glare on the photo"}]})).await;
    assert_eq!(s, 200);
    let jobs = t.store.email_jobs(sid.parse().unwrap()).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind.as_str(), "resubmission");
    assert_eq!(jobs[0].language, "en");
    let (_, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    let text = jobs[0].payload["text"].as_str().unwrap();
    assert!(text.contains(d["session_url"].as_str().unwrap()), "{text}");
    assert!(text.contains("Glare on the photo"), "{text}");
    assert!(jobs[0].payload["html"]
        .as_str()
        .unwrap()
        .contains("Glare on the photo"));
}

#[tokio::test]
async fn unknown_and_foreign_sessions_are_404_and_privileges_apply() {
    let t = TestServer::start().await;
    let (s, b) = patch(
        &t,
        &Uuid::new_v4().to_string(),
        json!({"new_status": "Approved"}),
    )
    .await;
    assert_eq!(
        (s, b),
        (404, json!({"detail": "Not found.", "code": "not_found"}))
    );
    let (s, _) = patch(&t, "not-a-uuid", json!({"new_status": "Approved"})).await;
    assert_eq!(s, 404);
    let sid = with_results(&t, &["OCR"], &[("feature_ocr_1", "In Review")]).await;
    let read_only = t
        .key_with(vouch_core::scopes::Scopes::all(
            vouch_core::scopes::Access::Read,
        ))
        .await;
    let r = t
        .request(
            Method::PATCH,
            &format!("/v3/session/{sid}/update-status/"),
            Some(&read_only),
            Some(json!({"new_status": "Approved"})),
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = t
        .request(
            Method::PATCH,
            &format!("/v3/session/{sid}/update-status"),
            Some(&t.key),
            Some(json!({"new_status": "Approved"})),
        )
        .await;
    assert_eq!(r.status(), 308, "PATCH without the slash keeps its method");
}
