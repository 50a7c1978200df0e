//! Didit's own MCP server (`@didit-protocol/mcp-server` 4.0.0, npm), driven by the official MCP
//! client with `DIDIT_API_BASE_URL` pointed at vouch: every tool of the sessions API surface
//! vouch serves — sessions, reviews, reports, corrections, deletion, workflows, webhook
//! destinations — called as an agent would, each answer checked.

use serde_json::{json, Value};

use reqwest::Method;
use vouch_core::scopes::{Access, Scopes};

use crate::bridge::{may_skip, Bridge, Scoreboard};
use crate::common::{status_json, TestServer};

/// A decided session of the partner application (its own workflow), by its key.
async fn partner_session(t: &TestServer, key: &str) -> String {
    let call = |m: Method, path: String, body: Value| async move {
        status_json(t.request(m, &path, Some(key), Some(body)).await)
            .await
            .1
    };
    let wf = call(
        Method::POST,
        "/v3/workflows/".into(),
        json!({"workflow_label": "partner", "features": [{"feature": "OCR"}]}),
    )
    .await;
    let s = call(
        Method::POST,
        "/v3/session/".into(),
        json!({"workflow_id": wf["uuid"]}),
    )
    .await;
    let id = s["session_id"].as_str().unwrap().to_string();
    call(
        Method::POST,
        format!("/v3/session/{id}/attempts/"),
        json!({"node_id": "feature_ocr_1", "status": "Approved", "data": {"first_name": "Ana"}}),
    )
    .await;
    id
}

/// Tools of the surface vouch does not serve yet: the test fails if one of them starts
/// working without this list being updated, or if any other tool fails.
const NOT_BUILT: &[&str] = &[];

/// Tools of other Didit products (standalone checks, users, lists, billing, …): not part of the
/// sessions API vouch is compatible with, and not called.
const OTHER_PRODUCTS: &[&str] = &[
    "didit_email_send",
    "didit_email_check",
    "didit_phone_send",
    "didit_phone_check",
    "didit_id_verification",
    "didit_poa_verification",
    "didit_passive_liveness",
    "didit_face_match",
    "didit_face_search",
    "didit_age_estimation",
    "didit_database_validation",
    "didit_aml_screening",
];

struct Mcp {
    bridge: Bridge,
    board: Scoreboard,
}

impl Mcp {
    async fn call(&mut self, tool: &str, args: Value) -> Value {
        self.bridge.ask(json!({"tool": tool, "args": args})).await
    }

    /// Calls `tool`; it works when the server answered 2xx and `check` holds for the answer.
    async fn expect(
        &mut self,
        tool: &str,
        args: Value,
        check: impl FnOnce(&Value) -> Result<(), String>,
    ) -> Value {
        let out = self.call(tool, args).await;
        let parsed = out["parsed"].clone();
        let verdict = if out["isError"] == true {
            Err(out["text"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(300)
                .collect())
        } else {
            check(&parsed)
        };
        match verdict {
            Ok(()) => self.board.record(tool, true, ""),
            Err(why) => self.board.record(tool, false, why),
        }
        parsed
    }
}

fn has(v: &Value, key: &str) -> Result<(), String> {
    if v.get(key).is_some_and(|x| !x.is_null()) {
        Ok(())
    } else {
        Err(format!("no {key} in {v}"))
    }
}

#[tokio::test]
async fn didits_mcp_server_works_against_vouch() {
    let modules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/node_modules/@didit-protocol/mcp-server"
    );
    if !std::path::Path::new(modules).exists() && may_skip("@didit-protocol/mcp-server (npm)") {
        return;
    }
    let t = TestServer::start_with(|c| c.allow_private_destinations = true).await;
    let base = format!("{}/v3", t.base);
    let bridge = Bridge::start("node", &["tests/clients/mcp_bridge.mjs", &base, &t.key]).await;
    let tools: Vec<String> = bridge.hello["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let mut m = Mcp {
        bridge,
        board: Scoreboard::default(),
    };

    // --- workflows -------------------------------------------------------------------------
    let wf = m
        .expect(
            "didit_create_workflow",
            json!({"workflow_label": "MCP KYC", "features": [
                {"feature": "OCR", "label": "Identity document"}, {"feature": "LIVENESS"}],
                "session_expiration_time": 3600, "max_retry_attempts": 3,
                "is_white_label_enabled": true}),
            |w| {
                has(w, "uuid")?;
                (w["session_expiration_time"] == 3600
                    && w["features"][0]["label"] == "Identity document")
                    .then_some(())
                    .ok_or(format!("settings not echoed: {w}"))
            },
        )
        .await;
    let wf_id = wf["uuid"].as_str().unwrap_or_default().to_string();
    m.expect("didit_list_workflows", json!({}), |l| {
        (l["count"].as_i64() >= Some(1))
            .then_some(())
            .ok_or(format!("{l}"))
    })
    .await;
    m.expect("didit_get_workflow", json!({"workflow_id": wf_id}), |w| {
        has(w, "nodes")
    })
    .await;
    m.expect(
        "didit_update_workflow",
        json!({"workflow_id": wf_id, "workflow_label": "MCP KYC v2", "retry_window_days": 7}),
        |w| {
            (w["workflow_label"] == "MCP KYC v2" && w["retry_window_days"] == 7)
                .then_some(())
                .ok_or(format!("{w}"))
        },
    )
    .await;

    // --- sessions --------------------------------------------------------------------------
    let created = m
        .expect(
            "didit_create_session",
            json!({"workflow_id": wf_id, "vendor_data": "mcp-user-1", "metadata": {"plan": "gold"},
                   "contact_details": {"email": "ana@example.com"}, "language": "es"}),
            |s| {
                has(s, "session_id")?;
                has(s, "url")
            },
        )
        .await;
    let sid = created["session_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let number = created["session_number"].as_i64().unwrap_or_default();
    m.expect(
        "didit_list_sessions",
        json!({"vendor_data": "mcp-user-1", "status": "Not Started", "date_from": "2026-01-01",
               "limit": "10", "offset": "0"}),
        |l| (l["count"] == 1).then_some(()).ok_or(format!("{l}")),
    )
    .await;
    m.expect(
        "didit_get_session_decision",
        json!({"session_id": sid}),
        |d| {
            (d["id_verifications"] == json!([]) && d["liveness_checks"] == json!([]))
                .then_some(())
                .ok_or(format!("feature arrays: {d}"))
        },
    )
    .await;
    // The steps' results arrive from the engines (here, the API itself).
    for (node, status, data) in [
        (
            "feature_ocr_1",
            "Approved",
            json!({"first_name": "Ana", "last_name": "García", "document_number": "X1"}),
        ),
        ("feature_liveness_1", "Declined", json!({})),
    ] {
        let (s, b) = t
            .post(
                &format!("/v3/session/{sid}/attempts/"),
                json!({"node_id": node, "status": status, "data": data}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    m.expect(
        "didit_update_session_status",
        json!({"session_id": sid, "new_status": "Resubmitted", "nodes_to_resubmit": ["feature_liveness_1"],
               "comment": "Selfie too dark"}),
        |r| has(r, "session_id"),
    )
    .await;
    m.expect(
        "didit_update_session_data",
        json!({"session_id": sid, "first_name": "Ana María", "document_number": "X1234567",
               "date_of_birth": "1990-05-01", "gender": "F"}),
        |_| Ok(()),
    )
    .await;
    let corrected = t.get(&format!("/v3/session/{sid}/decision/")).await.1;
    if corrected["id_verifications"][0]["first_name"] != "Ana María" {
        m.board.record(
            "didit_update_session_data (applied)",
            false,
            format!("the decision shows {}", corrected["id_verifications"][0]),
        );
    }
    let poa_wf = t.workflow(&["PROOF_OF_ADDRESS"]).await;
    let (_, poa) = t
        .post("/v3/session/", json!({"workflow_id": poa_wf["uuid"]}))
        .await;
    let poa_id = poa["session_id"].as_str().unwrap().to_string();
    t.post(
        &format!("/v3/session/{poa_id}/attempts/"),
        json!({"node_id": "feature_proof_of_address_1", "status": "In Review",
               "data": {"issuer": "Iberdrola", "poa_address": "Calle Mayor 1, Madrid"}}),
    )
    .await;
    m.expect(
        "didit_update_session_poa_data",
        json!({"session_id": poa_id, "issuer": "Iberdrola SA", "document_type": "UTILITY_BILL",
               "issue_date": "2026-10-01", "name_on_document": "Ana García"}),
        |_| Ok(()),
    )
    .await;
    m.expect(
        "didit_add_session_review",
        json!({"session_id": sid, "comment": "Called the customer"}),
        |r| has(r, "uuid"),
    )
    .await;
    m.expect(
        "didit_list_session_reviews",
        json!({"session_id": sid}),
        |l| {
            let n = l["results"].as_array().map_or(0, Vec::len);
            (n >= 3).then_some(()).ok_or(format!("{l}"))
        },
    )
    .await;
    m.expect(
        "didit_generate_session_pdf",
        json!({"session_id": sid}),
        |p| {
            p["raw"]
                .as_str()
                .filter(|r| r.starts_with("%PDF-"))
                .map(|_| ())
                .ok_or(format!(
                    "not a PDF: {}",
                    p.to_string().chars().take(80).collect::<String>()
                ))
        },
    )
    .await;
    let other = t.workflow(&["OCR"]).await;
    let (_, decided) = t
        .post("/v3/session/", json!({"workflow_id": other["uuid"]}))
        .await;
    let decided_id = decided["session_id"].as_str().unwrap().to_string();
    t.attempt(&decided_id, "feature_ocr_1", "Approved").await;
    // Reusable KYC with a partner application: this one's session shared there, and one of
    // the partner's shared here and imported.
    let partner = crate::common::new_app(t.store.as_ref(), "partner").await;
    let partner_key =
        crate::common::new_key(t.store.as_ref(), &partner, Scopes::all(Access::Write), None).await;
    m.expect(
        "didit_share_session",
        json!({"session_id": decided_id, "partner_client_id": partner.id.to_string()}),
        |s| has(s, "share_token"),
    )
    .await;
    let theirs = partner_session(&t, &partner_key).await;
    let (_, token) = status_json(
        t.request(
            Method::POST,
            &format!("/v3/session/{theirs}/share/"),
            Some(&partner_key),
            Some(json!({"for_application_id": t.app.id})),
        )
        .await,
    )
    .await;
    m.expect(
        "didit_import_shared_session",
        json!({"share_token": token["share_token"], "workflow_id": wf_id}),
        |s| {
            has(s, "session_id")?;
            (s["status"] == "In Review")
                .then_some(())
                .ok_or(format!("{s}"))
        },
    )
    .await;
    m.expect("didit_delete_session", json!({"session_id": sid}), |r| {
        (r["success"] == true).then_some(()).ok_or(format!("{r}"))
    })
    .await;
    m.expect(
        "didit_batch_delete_sessions",
        json!({"session_numbers": [number, decided["session_number"]]}),
        |r| {
            (r["deleted_count"] == 1 && r["not_found"] == json!([number]))
                .then_some(())
                .ok_or(format!("{r}"))
        },
    )
    .await;

    // --- imports ---------------------------------------------------------------------------
    m.expect("didit_get_import_template", json!({}), |r| has(r, "raw"))
        .await;
    // The MCP server sends JSON only: the file is fetched from source_file_url.
    let source = crate::common::file_server(
        "vendor_data,status,first_name\nmcp-1,Approved,Ana\nmcp-2,Unknown status,Bea\nmcp-3,Pending,Cy\n",
    )
    .await;
    let import = m
        .expect(
            "didit_create_import",
            json!({"source_file_url": format!("{source}/customers.csv"), "workflow_id": wf_id}),
            |r| has(r, "uuid"),
        )
        .await;
    let import_id = import["uuid"]
        .as_str()
        .unwrap_or("00000000-0000-0000-0000-000000000000")
        .to_string();
    let import_done = crate::bridge::settled(&t, &import_id).await;
    m.expect("didit_get_import", json!({"import_id": import_id}), |r| {
        (r["status"] == "COMPLETED" && r["created_count"] == 2 && r["failed_count"] == 1)
            .then_some(())
            .ok_or(format!("{r} (settled: {import_done})"))
    })
    .await;
    m.expect(
        "didit_get_import_errors",
        json!({"import_id": import_id}),
        |r| {
            (r["count"] == 1 && r["results"][0]["row_number"] == 2)
                .then_some(())
                .ok_or(format!("{r}"))
        },
    )
    .await;

    // --- webhook destinations --------------------------------------------------------------
    let d = m
        .expect(
            "didit_create_webhook_destination",
            json!({"label": "crm", "url": "http://127.0.0.1:9/hook", "webhook_version": "v3",
                   "subscribed_events": ["status.updated", "data.updated"]}),
            |d| {
                has(d, "secret_shared_key")?;
                (d["webhook_version"] == "v3")
                    .then_some(())
                    .ok_or(format!("{d}"))
            },
        )
        .await;
    let did = d["uuid"].as_str().unwrap_or_default().to_string();
    m.expect("didit_list_webhook_destinations", json!({}), |l| {
        (l["count"] == 1).then_some(()).ok_or(format!("{l}"))
    })
    .await;
    m.expect(
        "didit_get_webhook_destination",
        json!({"destination_uuid": did}),
        |d| has(d, "secret_shared_key"),
    )
    .await;
    m.expect(
        "didit_update_webhook_destination",
        json!({"destination_uuid": did, "enabled": false, "webhook_version": "v2"}),
        |d| {
            (d["enabled"] == false && d["webhook_version"] == "v2")
                .then_some(())
                .ok_or(format!("{d}"))
        },
    )
    .await;
    m.expect(
        "didit_delete_webhook_destination",
        json!({"destination_uuid": did}),
        |r| (r["success"] == true).then_some(()).ok_or(format!("{r}")),
    )
    .await;
    m.expect(
        "didit_delete_workflow",
        json!({"workflow_id": wf_id}),
        |w| {
            (w["is_archived"] == true)
                .then_some(())
                .ok_or(format!("{w}"))
        },
    )
    .await;

    m.board.publish("mcp-server");
    // Every tool of the surface was called; the ones not built yet are exactly NOT_BUILT.
    let called: Vec<&str> = m.board.rows.iter().map(|r| r.0.as_str()).collect();
    for name in tools.iter().filter(|n| {
        let n = n.as_str();
        (n.contains("session")
            || n.contains("workflow")
            || n.contains("webhook")
            || n.contains("import"))
            && !OTHER_PRODUCTS.contains(&n)
    }) {
        assert!(called.contains(&name.as_str()), "{name} is not exercised");
    }
    m.board.assert_failing_exactly(NOT_BUILT);
}
