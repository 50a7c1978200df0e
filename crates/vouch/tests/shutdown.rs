//! Graceful shutdown of the real binary: on SIGTERM a node stops claiming, lets the webhook
//! deliveries in flight finish within `workers.shutdown_grace_seconds` and records them (they are
//! not sent again), and releases the leases of those still running past the grace, so they go
//! out at once after a restart instead of waiting for the lease to run out.

#[path = "support/binary.rs"]
mod binary;
#[path = "webhooks/receiver.rs"]
#[allow(dead_code)]
mod receiver;

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::{json, Value};

use binary::{cli_json, Server};
use receiver::{Receiver, Reply};

struct Node {
    server: Server,
    key: String,
    client: Client,
}

impl Node {
    fn start(dir: &Path, log: &str, key: &str, grace_seconds: u64) -> Node {
        let server = Server::start(
            dir,
            log,
            &[
                ("VOUCH_ALLOW_PRIVATE_DESTINATIONS", "true".into()),
                ("VOUCH_WEBHOOKS__POLL_INTERVAL", "100ms".into()),
                ("VOUCH_WEBHOOKS__TIMEOUT", "60s".into()),
                ("VOUCH_WEBHOOKS__LEASE", "120s".into()),
                ("VOUCH_WORKERS__SHUTDOWN_GRACE", format!("{grace_seconds}s")),
            ],
        );
        Node {
            server,
            key: key.to_string(),
            client: Client::new(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .client
            .post(format!("{}{path}", self.server.base))
            .header("x-api-key", &self.key)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.expect("json")
    }
}

/// An application, a key, and on a first node a destination and one session event that the
/// receiver will be sent.
async fn one_delivery(dir: &Path, receiver: &Receiver, grace_seconds: u64) -> (Node, String) {
    cli_json(dir, &["apps", "create", "t", "--json"]);
    let key = cli_json(
        dir,
        &["keys", "create", "--app", "t", "--all", "write", "--json"],
    );
    let key = key["key"].as_str().expect("key").to_string();
    let node = Node::start(dir, "serve-1.log", &key, grace_seconds);
    node.post(
        "/v3/webhook/destinations/",
        json!({"label": "slow", "url": receiver.url, "subscribed_events": ["status.updated"]}),
    )
    .await;
    let wf = node
        .post(
            "/v3/workflows/",
            json!({"workflow_label": "w", "features": [{"feature": "OCR"}]}),
        )
        .await;
    let s = node
        .post("/v3/session/", json!({"workflow_id": wf["uuid"]}))
        .await;
    let sid = s["session_id"].as_str().unwrap().to_string();
    node.post(
        &format!("/v3/session/{sid}/attempts/"),
        json!({"node_id": "feature_ocr_1", "status": "In Review"}),
    )
    .await;
    (node, sid)
}

/// Sends SIGTERM and waits (without blocking the runtime, which also runs the receiver) for the
/// process to end; answers how long it took.
async fn stop(server: &mut Server) -> Duration {
    let asked = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    while !server.exited() {
        assert!(
            asked.elapsed() < Duration::from_secs(15),
            "the node did not stop; its log:\n{}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    asked.elapsed()
}

/// The delivery rows as stored: state, attempts, whether a lease is held.
fn deliveries(dir: &Path) -> Vec<(String, i64, bool)> {
    let conn = rusqlite::Connection::open(dir.join("vouch.db")).unwrap();
    let mut st = conn
        .prepare("SELECT state, attempts, locked_until IS NOT NULL FROM webhook_deliveries ORDER BY created_at")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test]
async fn a_delivery_in_flight_at_sigterm_finishes_and_is_not_sent_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let receiver = Receiver::start().await;
    // The session goes Not Started → In Progress → In Review: two events. The first answer
    // takes two seconds.
    receiver.script(vec![Reply::Hang(Duration::from_secs(2))]);
    let (mut node, _) = one_delivery(dir, &receiver, 10).await;
    receiver.wait_for(1).await;

    let took = stop(&mut node.server).await;
    assert!(
        took >= Duration::from_millis(1500),
        "the node stopped after {took:?}, before the slow delivery could finish"
    );
    let log = node.server.log_text();
    let rows = deliveries(dir);
    assert!(
        rows.iter()
            .any(|(state, attempts, leased)| state == "succeeded" && *attempts == 1 && !leased),
        "the delivery in flight was recorded: {rows:?}\n{log}"
    );
    assert!(
        rows.iter().all(|(_, _, leased)| !leased),
        "no lease left behind: {rows:?}"
    );

    // After a restart nothing that was recorded is sent again.
    let sent_before = receiver.received().len();
    let key = node.key.clone();
    drop(node);
    let node = Node::start(dir, "serve-2.log", &key, 10);
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows = deliveries(dir);
    assert!(
        rows.iter().all(|(state, _, _)| state == "succeeded"),
        "{rows:?}"
    );
    let ids: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.header("webhook-id").to_string())
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        ids.len(),
        unique.len(),
        "an event was delivered twice: {ids:?}"
    );
    assert_eq!(
        ids.len(),
        rows.len(),
        "every delivery arrived once ({sent_before} before the restart)"
    );
    drop(node);
}

#[tokio::test]
async fn deliveries_running_past_the_grace_are_released_and_sent_after_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let receiver = Receiver::start().await;
    receiver.script(vec![
        Reply::Hang(Duration::from_secs(60)),
        Reply::Hang(Duration::from_secs(60)),
    ]);
    let (mut node, _) = one_delivery(dir, &receiver, 1).await;
    receiver.wait_for(2).await;
    let leased: Vec<_> = deliveries(dir).into_iter().filter(|d| d.2).collect();
    assert_eq!(leased.len(), 2, "both deliveries are leased while they run");

    let took = stop(&mut node.server).await;
    assert!(
        took < Duration::from_secs(10),
        "the node waited {took:?}, far past its one-second grace"
    );
    let log = node.server.log_text();
    assert!(
        log.contains("released jobs still running at shutdown"),
        "{log}"
    );
    // Released, not failed: pending, no attempt counted, no lease (it had 120 s left).
    let rows = deliveries(dir);
    assert_eq!(
        rows,
        vec![
            ("pending".to_string(), 0, false),
            ("pending".to_string(), 0, false)
        ],
        "{log}"
    );

    // The next start sends them at once (the receiver now answers 200).
    let key = node.key.clone();
    drop(node);
    let node = Node::start(dir, "serve-2.log", &key, 10);
    receiver.wait_for(4).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = deliveries(dir);
        if rows.iter().all(|(state, _, _)| state == "succeeded") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not delivered after the restart: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(node);
}
