//! The Python `didit-sdk` (0.4.0, PyPI) against vouch: every method of its sessions and imports
//! resources, its health check, its webhook verification on a delivery vouch really sent, and
//! its `didit doctor` command — the SDK's own pydantic models are the check of each answer.

use serde_json::{json, Value};

use crate::bridge::{may_skip, Bridge, Scoreboard};
use crate::common::TestServer;
use crate::receiver::Receiver;

/// Methods of the surface vouch does not serve yet.
const NOT_BUILT: &[&str] = &[];

struct Sdk {
    bridge: Bridge,
    board: Scoreboard,
}

impl Sdk {
    /// Calls `call`; it works when the SDK returned (its models accepted the answer) and
    /// `check` holds for the result.
    async fn expect(
        &mut self,
        name: &str,
        call: &str,
        kwargs: Value,
        check: impl FnOnce(&Value) -> Result<(), String>,
    ) -> Value {
        let out = self
            .bridge
            .ask(json!({"call": call, "kwargs": kwargs}))
            .await;
        let verdict = if out["ok"] == true {
            check(&out["result"])
        } else {
            Err(format!(
                "{}: {}",
                out["error"].as_str().unwrap_or(""),
                out["message"]
                    .as_str()
                    .unwrap_or("")
                    .chars()
                    .take(300)
                    .collect::<String>()
            ))
        };
        match verdict {
            Ok(()) => self.board.record(name, true, ""),
            Err(why) => self.board.record(name, false, why),
        }
        out["result"].clone()
    }
}

fn is(cond: bool, what: impl std::fmt::Display) -> Result<(), String> {
    cond.then_some(()).ok_or_else(|| what.to_string())
}

#[tokio::test]
async fn the_python_sdk_works_against_vouch() {
    let installed = std::process::Command::new("python3")
        .args(["-c", "import didit"])
        .status()
        .is_ok_and(|s| s.success());
    if !installed && may_skip("the Python didit-sdk (PyPI)") {
        return;
    }
    let t = TestServer::start_with(|c| c.allow_private_destinations = true).await;
    let rx = Receiver::start().await;
    let (s, dest) = t
        .post(
            "/v3/webhook/destinations/",
            json!({"label": "sdk", "url": rx.url}),
        )
        .await;
    assert_eq!(s, 201, "{dest}");
    let secret = dest["secret_shared_key"].as_str().unwrap().to_string();
    let base = format!("{}/v3", t.base);
    let bridge = Bridge::start("python3", &["tests/clients/sdk_bridge.py", &base, &t.key]).await;
    assert_eq!(bridge.hello["version"], "0.4.0");
    let mut sdk = Sdk {
        bridge,
        board: Scoreboard::default(),
    };
    let wf = t.workflow(&["OCR", "LIVENESS"]).await;
    let wf_id = wf["uuid"].as_str().unwrap();

    sdk.expect("healthcheck", "healthcheck", json!({}), |h| {
        is(h["status"] == "ok", h)
    })
    .await;
    let created = sdk
        .expect(
            "sessions.create",
            "sessions.create",
            json!({"vendor_data": "sdk-user-1", "workflow_id": wf_id, "callback": "https://shop.example/done",
                   "callback_method": "both", "metadata": {"plan": "gold"}, "language": "en",
                   "contact_details": {"email": "ana@example.com", "send_notification_emails": false}}),
            |s| is(s["status"] == "Not Started" && s["url"].is_string(), s),
        )
        .await;
    let sid = created["session_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    sdk.expect(
        "sessions.get",
        "sessions.get",
        json!({"session_id": sid}),
        |s| is(s["session_id"] == sid.as_str(), s),
    )
    .await;
    sdk.expect(
        "sessions.get_decision (not started)",
        "sessions.get_decision",
        json!({"session_id": sid}),
        |d| {
            is(
                d["status"] == "Not Started" && d["id_verifications"] == json!([]),
                d,
            )
        },
    )
    .await;
    sdk.expect(
        "sessions.list",
        "sessions.list",
        json!({"vendor_data": "sdk-user-1", "status": "Not Started", "workflow_id": wf_id,
               "date_from": "2026-01-01T00:00:00Z", "limit": 10}),
        |l| {
            is(
                l["count"] == 1 && l["results"][0]["session_id"] == sid.as_str(),
                l,
            )
        },
    )
    .await;
    for (node, status) in [
        ("feature_ocr_1", "Approved"),
        ("feature_liveness_1", "Declined"),
    ] {
        let (s, b) = t
            .post(
                &format!("/v3/session/{sid}/attempts/"),
                json!({"node_id": node, "status": status,
                       "data": {"first_name": "Ana", "document_number": "X1", "score": 42.5},
                       "warnings": [{"risk": "HIGH", "short_description": "Face mismatch",
                                     "long_description": "…", "log_type": "error"}]}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    sdk.expect(
        "sessions.get_decision (decided)",
        "sessions.get_decision",
        json!({"session_id": sid}),
        |d| {
            is(
                d["status"] == "Declined"
                    && d["id_verifications"][0]["first_name"] == "Ana"
                    && d["liveness_checks"][0]["status"] == "Declined",
                d,
            )
        },
    )
    .await;
    sdk.expect(
        "sessions.reconcile",
        "sessions.reconcile",
        json!({"session_id": sid}),
        |r| is(r.is_object(), r),
    )
    .await;
    sdk.expect(
        "sessions.resubmit",
        "sessions.resubmit",
        json!({"session_id": sid, "nodes_to_resubmit": [{"node_id": "feature_liveness_1", "feature": "LIVENESS"}]}),
        |r| is(r["session_id"] == sid.as_str(), r),
    )
    .await;
    let (s, b) = t
        .post(
            &format!("/v3/session/{sid}/attempts/"),
            json!({"node_id": "feature_liveness_1", "status": "Approved"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    sdk.expect(
        "sessions.poll_decision",
        "sessions.poll_decision",
        json!({"session_id": sid, "timeout": 10, "interval": 0.1}),
        |d| is(d["status"] == "Approved", d),
    )
    .await;
    sdk.expect(
        "sessions.update_status",
        "sessions.update_status",
        json!({"session_id": sid, "new_status": "Declined", "comment": "Document looks altered"}),
        |r| is(r["session_id"] == sid.as_str(), r),
    )
    .await;
    sdk.expect(
        "sessions.generate_pdf_report",
        "sessions.generate_pdf_report",
        json!({"session_id": sid}),
        |p| {
            is(
                p["head"].as_str().is_some_and(|h| h.starts_with("%PDF-")),
                p,
            )
        },
    )
    .await;
    sdk.expect(
        "sessions.download_pdf_report",
        "sessions.download_pdf_report",
        json!({"session_id": sid}),
        |p| is(p["bytes"].as_u64() > Some(1000), p),
    )
    .await;

    // A delivery vouch really sent, verified and parsed by the SDK's own webhook code.
    let got = rx.wait_for(4).await;
    let last = got.last().unwrap();
    let headers: serde_json::Map<String, Value> = last
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
        .collect();
    let body = String::from_utf8(last.body.to_vec()).unwrap();
    let webhook = json!({"body": body, "headers": headers, "secret": secret});
    sdk.expect("verify_webhook", "verify_webhook", webhook.clone(), |v| {
        is(*v == json!(true), v)
    })
    .await;
    sdk.expect("parse_webhook", "parse_webhook", webhook.clone(), |p| {
        is(
            p["session_id"] == sid.as_str() && p["decision"]["session_id"] == sid.as_str(),
            p,
        )
    })
    .await;
    let mut forged = webhook;
    forged["secret"] = json!("not-the-secret");
    sdk.expect(
        "verify_webhook (wrong secret refused)",
        "verify_webhook",
        forged,
        |v| is(*v == json!(false), v),
    )
    .await;

    // Imports.
    let csv =
        "vendor_data,first_name,last_name,status\nimp-1,Ana,García,Approved\nimp-2,Bea,,Maybe\n";
    let job = sdk
        .expect(
            "session_imports.create (file)",
            "session_imports.create",
            json!({"file_text": csv, "filename": "customers.csv", "workflow_id": wf_id}),
            |j| {
                is(
                    j["uuid"].is_string() && j["status"] == "PENDING" && j["total_rows"] == 2,
                    j,
                )
            },
        )
        .await;
    let source = crate::common::file_server(
        "{\"vendor_data\":\"imp-url-1\",\"status\":\"Declined\",\"external_id\":\"x-1\"}\n",
    )
    .await;
    let by_url = sdk
        .expect(
            "session_imports.create (url)",
            "session_imports.create",
            json!({"source_file_url": format!("{source}/export.ndjson"), "workflow_id": wf_id}),
            |j| is(j["uuid"].is_string() && j["source_format"] == "ndjson", j),
        )
        .await;
    let job_id = job["uuid"]
        .as_str()
        .unwrap_or("00000000-0000-0000-0000-000000000000")
        .to_string();
    crate::bridge::settled(&t, &job_id).await;
    if let Some(id) = by_url["uuid"].as_str() {
        let done = crate::bridge::settled(&t, id).await;
        assert_eq!(
            (&done["status"], &done["created_count"]),
            (&json!("COMPLETED"), &json!(1)),
            "{done}"
        );
    }
    sdk.expect(
        "session_imports.get",
        "session_imports.get",
        json!({"import_id": job_id}),
        |j| {
            is(
                j["status"] == "COMPLETED" && j["created_count"] == 1 && j["failed_count"] == 1,
                j,
            )
        },
    )
    .await;
    sdk.expect(
        "session_imports.list_errors",
        "session_imports.list_errors",
        json!({"import_id": job_id}),
        |e| is(e["count"] == 1 && e["results"][0]["row_number"] == 2, e),
    )
    .await;
    sdk.expect(
        "session_imports.get_template",
        "session_imports.get_template",
        json!({}),
        |tpl| is(tpl.as_str().is_some_and(|s| s.contains("vendor_data")), tpl),
    )
    .await;

    // `didit doctor`: a good key passes, a wrong one is reported (not taken for valid).
    for (key, want) in [(t.key.as_str(), true), ("vk_live_wrong", false)] {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("key");
        std::fs::write(&key_file, key).unwrap();
        // Not blocking this test's runtime: the server answering the doctor runs on it.
        let out = tokio::process::Command::new("python3")
            .args(["-m", "didit.cli", "--base-url", &base, "--api-key-file"])
            .arg(&key_file)
            .args(["--json", "doctor", "--strict"])
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let name = if want {
            "didit doctor"
        } else {
            "didit doctor (wrong key refused)"
        };
        sdk.board.record(
            name,
            out.status.success() == want,
            format!(
                "{} {}",
                text.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        );
    }

    sdk.board.publish("python-sdk");
    sdk.board.assert_failing_exactly(NOT_BUILT);
}
