//! Mail servers that misbehave, each the real SMTP server of the tests told how (see
//! smtp_sink.py): one that greylists (451, then accepts), one that drops the connection in the
//! middle of DATA, one slower than `mailer.timeout`. Each email ends sent, once, after exactly one
//! retry on the configured schedule, and the log says what the first try met.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::TestServer;
use crate::sending::{emails, reviewable, server, settled, update};
use crate::sink::Sink;

/// A declined session's email to `address`, through `t`; its record once it left `pending`.
async fn email_to(t: &TestServer, address: &str) -> Value {
    let sid = reviewable(t).await;
    let body = json!({"new_status": "Declined", "send_email": true, "email_address": address});
    update(t, &sid, body).await;
    settled(t, &sid).await
}

fn tries_for(smtp: &Sink, address: &str) -> usize {
    smtp.rcpt_tries().iter().filter(|a| *a == address).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_greylisting_server_gets_the_email_on_the_retry() {
    let smtp = Sink::start();
    let t = server(Some(&smtp)).await;
    let e = email_to(&t, "greylist-ana@example.com").await;
    assert_eq!(e["state"], "sent", "{e}");
    assert_eq!(e["attempts"], 2, "one 451, then accepted: {e}");
    assert_eq!(tries_for(&smtp, "greylist-ana@example.com"), 2);
    assert_eq!(smtp.wait_for(1).await.len(), 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.messages().len(), 1, "sent once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_data_is_retried_and_the_email_kept_once() {
    let smtp = Sink::start();
    let t = server(Some(&smtp)).await;
    let e = email_to(&t, "dropdata-ben@example.com").await;
    assert_eq!(e["state"], "sent", "{e}");
    assert_eq!(e["attempts"], 2, "{e}");
    assert_eq!(tries_for(&smtp, "dropdata-ben@example.com"), 2);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = smtp.messages();
    assert_eq!(got.len(), 1, "kept once: the dropped DATA was not kept");
    assert!(got[0].contains("dropdata-ben@example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_slower_than_the_timeout_is_given_up_on_and_tried_again() {
    let smtp = Sink::start(); // answers the first RCPT after 3 s
    let url = smtp.url();
    let t = TestServer::start_with(move |c| {
        c.smtp_url = Some(url);
        c.smtp_from = "Acme Verification <verify@acme.example>".into();
        c.mailer.retry_schedule = [0, 1, 1].map(Duration::from_secs).to_vec();
        c.mailer.poll_interval = Duration::from_millis(100);
        c.mailer.timeout = Duration::from_secs(1);
    })
    .await;
    let sid = reviewable(&t).await;
    let body = json!({"new_status": "Declined", "send_email": true, "email_address": "slow-cleo@example.com"});
    update(&t, &sid, body).await;
    // Between the two tries the record says why the first one ended.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let first = emails(&t, &sid).await["results"][0].clone();
        if first["attempts"] == 1 && first["state"] == "pending" {
            let error = first["last_error"].as_str().unwrap_or_default();
            assert!(error.contains("mailer.timeout"), "{first}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{first}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let e = settled(&t, &sid).await;
    assert_eq!(e["state"], "sent", "{e}");
    assert_eq!(e["attempts"], 2, "{e}");
    assert_eq!(tries_for(&smtp, "slow-cleo@example.com"), 2);

    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(smtp.messages().len(), 1, "sent once");
}
