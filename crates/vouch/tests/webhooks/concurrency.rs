//! Concurrency: a hanging or slow destination holds only its own slots.

use std::time::Duration;

use crate::common::TestServer;
use crate::delivery::{decided_session, destination, server};
use crate::receiver::{Receiver, Reply};

#[tokio::test]
async fn a_hanging_receiver_times_out_without_delaying_a_healthy_one() {
    let t = server().await;
    let hanging = Receiver::start().await;
    hanging.script(vec![Reply::Hang(Duration::from_secs(5)); 3]);
    let healthy = Receiver::start().await;
    destination(&t, &hanging.url, None).await;
    destination(&t, &healthy.url, None).await;
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    t.attempt(&sid, "feature_ocr_1", "Approved").await;
    let h = healthy.wait_for(1).await;
    let stuck = hanging.wait_for(1).await;
    // The healthy delivery arrived while the hanging one was still waiting for its answer.
    assert!(
        h[0].at < stuck[0].at + Duration::from_secs(1),
        "healthy delivery waited for the hanging one"
    );
    // The hanging attempt is logged as a timeout and retried.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, log) = t.get(&format!("/v3/session/{sid}/webhooks/")).await;
        let errors: Vec<String> = log
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["error"].as_str().map(String::from))
            .collect();
        if errors
            .iter()
            .any(|e| e.contains("timed out") || e.contains("timeout"))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no timeout logged: {log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_slow_destination_never_has_more_than_its_cap_in_flight() {
    let t = TestServer::start_with(|c| {
        c.allow_private_destinations = true;
        c.webhooks.timeout = std::time::Duration::from_secs(10);
        c.webhooks.poll_interval = std::time::Duration::from_millis(50);
        c.webhooks.per_destination_concurrency = 2;
    })
    .await;
    let slow = Receiver::start().await;
    slow.script(vec![Reply::Hang(Duration::from_secs(2)); 8]);
    let fast = Receiver::start().await;
    destination(&t, &slow.url, None).await;
    destination(&t, &fast.url, None).await;
    // Four decided sessions: eight events, one delivery each per destination.
    for _ in 0..4 {
        decided_session(&t).await;
    }
    // The fast destination gets all eight while the slow one holds two at a time.
    fast.wait_for(8).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        slow.received().len(),
        2,
        "a slow destination holds at most its cap of deliveries"
    );
    // As each answer comes back the next ones go out, never more than two at once.
    let got = slow.wait_for(8).await;
    for (i, r) in got.iter().enumerate() {
        let answered_before = got[..i]
            .iter()
            .filter(|earlier| earlier.at + Duration::from_secs(2) <= r.at)
            .count();
        assert!(
            i - answered_before < 2,
            "delivery {i} started while {} others were in flight",
            i - answered_before
        );
    }
}
