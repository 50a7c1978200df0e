//! Reviewer corrections (`PATCH …/update-data/`, `…/update-poa-data/`): validated, applied as a
//! new version of the step's data with the earlier one kept, a trail row naming each field
//! before and after, and a `data.updated` event.

use reqwest::Method;
use serde_json::{json, Value};
use vouch_core::change::EventType;
use vouch_core::scopes::{Access, Scopes};

use crate::common::{status_json, TestServer};

async fn patch(t: &TestServer, path: &str, body: Value) -> (u16, Value) {
    t.call(Method::PATCH, path, Some(body)).await
}

#[tokio::test]
async fn a_correction_is_a_new_version_with_its_trail_row_and_event() {
    let t = TestServer::start().await;
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    let (s, b) = t
        .post(
            &format!("/v3/session/{sid}/attempts/"),
            json!({"node_id": "feature_ocr_1", "status": "Approved",
                "data": {"first_name": "Ana", "last_name": "Garcia", "document_number": "X1",
                         "date_of_birth": "1990-01-05"}}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    t.attempt(&sid, "feature_liveness_1", "Approved").await;
    assert_eq!(t.status_of(&sid).await, "Approved");
    let path = format!("/v3/session/{sid}/update-data/");
    let (s, answer) = patch(
        &t,
        &path,
        json!({"first_name": "Ana María", "last_name": "García", "document_number": "X1",
               "date_of_birth": "1990-05-01", "issuing_state": "esp", "gender": "f",
               "extra_fields": {"middle_name": "Lucía"}, "comment": "Read from the passport scan"}),
    )
    .await;
    assert_eq!(s, 200, "{answer}");
    assert_eq!(answer["node_id"], "feature_ocr_1");
    let changed: Vec<(&str, Value, Value)> = answer["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["field"].as_str().unwrap(),
                c["before"].clone(),
                c["after"].clone(),
            )
        })
        .collect();
    // The document number was the same: not a change.
    assert!(
        !changed.iter().any(|c| c.0 == "document_number"),
        "{answer}"
    );
    for (field, before, after) in [
        ("first_name", json!("Ana"), json!("Ana María")),
        ("last_name", json!("Garcia"), json!("García")),
        ("date_of_birth", json!("1990-01-05"), json!("1990-05-01")),
        ("issuing_state", Value::Null, json!("ESP")),
        ("gender", Value::Null, json!("F")),
        ("middle_name", Value::Null, json!("Lucía")),
    ] {
        assert!(
            changed.contains(&(field, before.clone(), after.clone())),
            "{field}: {answer}"
        );
    }

    // The decision shows the corrected data; the status is unchanged.
    let (_, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_eq!(d["status"], "Approved");
    let ocr = &d["id_verifications"][0];
    assert_eq!(
        (ocr["first_name"].as_str(), ocr["issuing_state"].as_str()),
        (Some("Ana María"), Some("ESP"))
    );
    assert_eq!(ocr["status"], "Approved");
    // The trail names each field before and after; the chain still verifies.
    let rows = d["reviews"].as_array().unwrap();
    let row = rows
        .iter()
        .find(|r| r["activity_type"] == "DATA_UPDATE")
        .expect("a DATA_UPDATE row");
    assert_eq!(row["comment"], "Read from the passport scan");
    assert_eq!(
        (row["previous_status"].as_str(), row["new_status"].as_str()),
        (Some("Approved"), Some("Approved"))
    );
    assert_eq!(
        row["metadata"]["changes"].as_array().unwrap().len(),
        changed.len()
    );
    let id: vouch_core::SessionId = sid.parse().unwrap();
    let (_, broken) = t.store.verify_reviews(Some(id)).await.unwrap();
    assert!(broken.is_empty());
    // The earlier value stays in the history: both versions are stored.
    let bundle = t.store.session_bundle(t.app.id, id).await.unwrap().unwrap();
    let versions: Vec<&Value> = bundle
        .attempts
        .iter()
        .filter(|a| a.node_id == "feature_ocr_1")
        .map(|a| &a.data["first_name"])
        .collect();
    assert_eq!(versions, [&json!("Ana"), &json!("Ana María")]);
    // One data.updated event, and the lists find the corrected values.
    let events = t.store.outbox_events(id).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == EventType::DataUpdated)
            .count(),
        1
    );
    assert_eq!(t.get("/v3/sessions/?country=ESP").await.1["count"], 1);
    assert_eq!(t.get("/v3/sessions/?search=Ana%20Mar").await.1["count"], 1);

    // The same values again: nothing differs, nothing is written.
    let (s, again) = patch(&t, &path, json!({"first_name": "Ana María"})).await;
    assert_eq!((s, again["changed"].clone()), (200, json!([])), "{again}");
    let (_, d2) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_eq!(d2["reviews"].as_array().unwrap().len(), rows.len());
}

#[tokio::test]
async fn corrections_are_validated_and_need_a_step_with_a_result() {
    let t = TestServer::start().await;
    let (sid, _) = t.session(&["OCR"]).await;
    let path = format!("/v3/session/{sid}/update-data/");
    // No result yet.
    let (s, e) = patch(&t, &path, json!({"first_name": "Ana"})).await;
    assert_eq!(s, 400, "{e}");
    assert!(
        e["non_field_errors"][0]
            .as_str()
            .unwrap()
            .contains("no result"),
        "{e}"
    );
    t.attempt(&sid, "feature_ocr_1", "Approved").await;
    for (body, field) in [
        (json!({}), "non_field_errors"),
        (json!({"session_id": sid}), "non_field_errors"),
        (json!({"date_of_birth": "01/05/1990"}), "date_of_birth"),
        (json!({"date_of_birth": "1990-02-30"}), "date_of_birth"),
        (json!({"gender": "Q"}), "gender"),
        (json!({"issuing_state": "ES"}), "issuing_state"),
        (json!({"marital_status": "ENGAGED"}), "marital_status"),
        (json!({"document_type": "PASSPORT"}), "document_type"),
        (json!({"first_name": 7}), "first_name"),
        (json!({"extra_fields": "x"}), "extra_fields"),
        (
            json!({"extra_fields": {"first_name": "A"}}),
            "extra_fields.first_name",
        ),
        (
            json!({"first_name": "A", "node_id": "feature_liveness_1"}),
            "node_id",
        ),
        (json!({"first_name": "x".repeat(201)}), "first_name"),
    ] {
        let (s, e) = patch(&t, &path, body.clone()).await;
        assert_eq!(s, 400, "{body}: {e}");
        assert!(e[field].is_array(), "{body}: {e}");
    }
    // A workflow without a proof of address has nothing for update-poa-data.
    let (s, e) = patch(
        &t,
        &format!("/v3/session/{sid}/update-poa-data/"),
        json!({"issuer": "X"}),
    )
    .await;
    assert_eq!(s, 400, "{e}");
    // Unknown session 404; a read-only key 403.
    let missing = uuid::Uuid::new_v4();
    assert_eq!(
        patch(
            &t,
            &format!("/v3/session/{missing}/update-data/"),
            json!({"first_name": "A"})
        )
        .await
        .0,
        404
    );
    let reader = t.key_with(Scopes::all(Access::Read)).await;
    let (s, _) = status_json(
        t.request(
            Method::PATCH,
            &path,
            Some(&reader),
            Some(json!({"first_name": "A"})),
        )
        .await,
    )
    .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn the_proof_of_address_is_corrected_likewise() {
    let t = TestServer::start().await;
    let (sid, _) = t.session(&["PROOF_OF_ADDRESS"]).await;
    t.post(
        &format!("/v3/session/{sid}/attempts/"),
        json!({"node_id": "feature_proof_of_address_1", "status": "In Review",
               "data": {"issuer": "Iberdrola", "poa_address": "Calle Mayor 1"}}),
    )
    .await;
    let (s, a) = patch(
        &t,
        &format!("/v3/session/{sid}/update-poa-data/"),
        json!({"issuer": "Iberdrola SA", "document_type": "utility_bill", "issue_date": "2026-10-01",
               "issuing_state": "ESP", "name_on_document": "Ana García"}),
    )
    .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["changed"].as_array().unwrap().len(), 5, "{a}");
    let (_, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    let poa = &d["poa_verifications"][0];
    assert_eq!(
        (poa["issuer"].as_str(), poa["document_type"].as_str()),
        (Some("Iberdrola SA"), Some("UTILITY_BILL"))
    );
    assert_eq!(poa["poa_address"], "Calle Mayor 1");
    assert_eq!(d["status"], "In Review");
    for (body, field) in [
        (json!({"document_type": "PAYSLIP"}), "document_type"),
        (json!({"issue_date": "yesterday"}), "issue_date"),
        (json!({"first_name": "A"}), "non_field_errors"),
    ] {
        let (s, e) = patch(
            &t,
            &format!("/v3/session/{sid}/update-poa-data/"),
            body.clone(),
        )
        .await;
        assert_eq!(s, 400, "{body}: {e}");
        assert!(e[field].is_array(), "{body}: {e}");
    }
}
