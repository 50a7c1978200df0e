//! Disabling failing destinations, and the `vouch webhooks listen` helper.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::TestServer;
use crate::delivery::destination;
use crate::receiver::{Receiver, Reply};

#[tokio::test]
async fn a_destination_failing_continuously_is_disabled() {
    let t = TestServer::start_with(|c| {
        c.allow_private_destinations = true;
        c.webhooks.retry_schedule = [0, 1, 1, 1, 1, 1]
            .map(std::time::Duration::from_secs)
            .to_vec();
        c.webhooks.jitter = 0.0;
        c.webhooks.poll_interval = std::time::Duration::from_millis(100);
        c.webhooks.disable_after = std::time::Duration::from_secs(1);
    })
    .await;
    let rx = Receiver::start().await;
    rx.script(vec![Reply::Status(500); 50]);
    let d = destination(&t, &rx.url, None).await;
    let id = d["uuid"].as_str().unwrap();
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    t.attempt(&sid, "feature_ocr_1", "Approved").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let got = loop {
        let (_, got) = t.get(&format!("/v3/webhook/destinations/{id}/")).await;
        if got["enabled"] == false {
            break got;
        }
        assert!(Instant::now() < deadline, "never disabled: {got}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(got["status"], "disabled");
    assert!(got["failing_since"].is_string());
    assert!(
        got["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("failing continuously"),
        "{got}"
    );
    let (_, list) = t
        .get(&format!("/v3/webhook/destinations/{id}/deliveries/"))
        .await;
    assert_eq!(list["results"][0]["state"], "failed");
    // No more deliveries go to it; re-enabling clears the streak.
    let before = rx.received().len();
    t.attempt(&sid, "feature_liveness_1", "Approved").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(rx.received().len(), before);
    let (s, back) = t
        .call(
            reqwest::Method::PATCH,
            &format!("/v3/webhook/destinations/{id}/"),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (back["status"].as_str(), &back["failing_since"]),
        (Some("active"), &serde_json::Value::Null)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listen_helper_prints_and_verifies_deliveries() {
    let t = crate::delivery::server().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(["webhooks", "listen", "--listen", "127.0.0.1:0"])
        .env("VOUCH_WEBHOOK_SECRET", "placeholder")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let guard = Kill(child);
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    // The helper is told the secret only after the destination exists; restart it with it.
    drop(guard);
    let d = destination(&t, &format!("http://{addr}/"), None).await;
    let secret = d["secret_shared_key"].as_str().unwrap().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(["webhooks", "listen", "--listen", &addr, "--secret", &secret])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = Kill(child);
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    assert!(rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .contains("listening"));
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    t.attempt(&sid, "feature_ocr_1", "Approved").await;
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !lines
        .iter()
        .any(|l: &String| l.starts_with("webhook-signature:"))
    {
        if Instant::now() > deadline {
            let (_, log) = t.get(&format!("/v3/session/{sid}/webhooks/")).await;
            panic!("{lines:?} {log}");
        }
        match rx.try_recv() {
            Ok(l) => lines.push(l),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let text = lines.join("\n");
    assert!(text.contains(&sid), "{text}");
    for name in [
        "X-Signature: valid",
        "X-Signature-V2: valid",
        "X-Signature-Simple: valid",
        "webhook-signature: valid",
    ] {
        assert!(text.contains(name), "{name} missing in {text}");
    }
}
