//! The `http` engine against a real engine process (`tests/engines/engine.py`): the job is
//! signed, retried while the engine fails, its files fetched through signed URLs, and its
//! result recorded once.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::capture::{capture, capture_nodes, page, photo};
use crate::common::TestServer;

struct EngineProcess {
    child: Child,
    port: u16,
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_engine(secret: &str, log: &std::path::Path, fail: u32) -> EngineProcess {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/engines/engine.py");
    let mut child = Command::new("python3")
        .args([
            script,
            "--secret",
            secret,
            "--fail",
            &fail.to_string(),
            "--log",
        ])
        .arg(log)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .strip_prefix("ready ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("the engine did not start: {line:?}"));
    EngineProcess { child, port }
}

fn log_lines(log: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outside_engine_is_retried_until_it_answers_and_its_result_is_recorded_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("engine.log");
    let engine = start_engine("engine-secret", &log, 2);
    let url = format!("http://127.0.0.1:{}/jobs", engine.port);
    // The engine fetches the files through the URLs vouch signs: they name this server.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let t = TestServer::start_with(move |c| {
        c.listen = addr;
        c.public_url = format!("http://{addr}");
        c.engines.http_url = Some(url);
        c.engines.http_secret = Some("engine-secret".into());
    })
    .await;
    let key = t.key.clone();
    let wf = t
        .post(
            "/v3/workflows/",
            json!({"workflow_label": "outside", "features": [{"feature": "OCR", "config": {"engine": "http"}}]}),
        )
        .await
        .1;
    let (s, created) = t
        .post("/v3/session/", json!({"workflow_id": wf["uuid"]}))
        .await;
    assert_eq!(s, 201, "{created}");
    let id = created["session_id"].as_str().unwrap().to_string();
    let (html, v) = page(&t, &created).await;
    let ocr = capture_nodes(&html).remove(0);
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
    // Two failures (503), retried after 1 s and 5 s, then the answer.
    let d = crate::capture::until_for(&t, &key, &id, Duration::from_secs(20), |d| {
        d["id_verifications"][0]["status"] == "Approved"
    })
    .await;
    let entry = &d["id_verifications"][0];
    assert_eq!(entry["document_number"], "X1234567");
    assert_eq!(entry["checked_by"], "test engine");
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.iter().all(|l| l["signed"] == true), "{lines:?}");
    let answered: Vec<i64> = lines
        .iter()
        .map(|l| l["answered"].as_i64().unwrap())
        .collect();
    assert_eq!(answered, [503, 503, 200]);
    let jobs: Vec<&Value> = lines.iter().map(|l| &l["job"]["job_id"]).collect();
    assert!(
        jobs.windows(2).all(|w| w[0] == w[1]),
        "one job, tried three times"
    );
    assert_eq!(lines[0]["job_header"], lines[0]["job"]["job_id"]);
    assert_eq!(lines[2]["job"]["try"], 3);
    assert_eq!(
        lines[2]["front_is_jpeg"], true,
        "the engine read the original"
    );
    assert_eq!(lines[2]["job"]["feature"], "OCR");
    // Once: one attempt for the step, and no further requests.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(log_lines(&log).len(), 3);
    let attempts = t
        .store
        .session_bundle(t.app.id, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .attempts;
    assert_eq!(attempts.iter().filter(|a| a.node_id == ocr).count(), 1);
    drop(engine);
}

#[tokio::test]
async fn without_an_engine_configured_the_step_goes_to_a_reviewer_saying_why() {
    let t = TestServer::start().await;
    let wf = t
        .post(
            "/v3/workflows/",
            json!({"workflow_label": "outside", "features": [{"feature": "LIVENESS", "config": {"engine": "http"}}]}),
        )
        .await
        .1;
    let (_, created) = t
        .post("/v3/session/", json!({"workflow_id": wf["uuid"]}))
        .await;
    let id = created["session_id"].as_str().unwrap().to_string();
    let (html, v) = page(&t, &created).await;
    let live = capture_nodes(&html).remove(0);
    let (_, notice) = capture(
        &t,
        &created,
        &live,
        &v,
        &[],
        vec![("selfie", "s.jpg", "image/jpeg", photo(800, 800))],
    )
    .await;
    assert_eq!(notice, "submitted");
    let d = crate::capture::until(&t, &t.key, &id, |d| d["status"] == "In Review").await;
    assert_eq!(
        d["liveness_checks"][0]["warnings"][0]["risk"],
        "ENGINE_UNAVAILABLE"
    );
}
