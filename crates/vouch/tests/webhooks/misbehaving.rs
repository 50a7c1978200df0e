//! Receivers that misbehave, as raw TCP servers on loopback (no HTTP library to be polite for
//! them): one that never answers, one that answers a gigabyte, one that resets the connection
//! before answering or in the middle of its answer, one that answers 410. Each delivery must end
//! recorded as the contract says, retried exactly on the configured schedule (three attempts:
//! at once, 1 s, 1 s), every attempt that reached the receiver recorded once under its own number.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::TestServer;
use crate::delivery::{destination, recorded, server};

/// How the receiver treats one connection.
#[derive(Debug, Clone, Copy)]
enum Misbehave {
    /// Reads the request and never answers (the connection stays open).
    Silent,
    /// Answers 200 with a body of 1 GiB, written until the client goes away.
    Gigabyte,
    /// Reads the request head, then resets the connection (RST) without a word.
    ResetBeforeAnswer,
    /// Answers 200 and ten bytes of a thousand-byte body, then resets.
    ResetMidAnswer,
    /// 410 Gone.
    Gone,
    /// 200, politely.
    Fine,
}

struct Raw {
    url: String,
    /// The request heads received, in order.
    heads: Arc<Mutex<Vec<String>>>,
    /// Bytes of answer body written (the gigabyte's progress).
    written: Arc<AtomicU64>,
}

impl Raw {
    /// A receiver treating the n-th connection as `script[n]` (the last entry thereafter).
    async fn start(script: Vec<Misbehave>) -> Raw {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let written = Arc::new(AtomicU64::new(0));
        let (h, w) = (heads.clone(), written.clone());
        tokio::spawn(async move {
            let mut n = 0;
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let how = script[n.min(script.len() - 1)];
                n += 1;
                tokio::spawn(serve(stream, how, h.clone(), w.clone()));
            }
        });
        Raw {
            url,
            heads,
            written,
        }
    }

    fn requests(&self) -> usize {
        self.heads.lock().unwrap().len()
    }
}

async fn serve(
    mut stream: TcpStream,
    how: Misbehave,
    heads: Arc<Mutex<Vec<String>>>,
    written: Arc<AtomicU64>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    heads
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&buf).into_owned());
    let reset = |s: TcpStream| {
        let _ = s.set_zero_linger();
        drop(s);
    };
    match how {
        Misbehave::Silent => tokio::time::sleep(Duration::from_secs(60)).await,
        Misbehave::ResetBeforeAnswer => reset(stream),
        Misbehave::ResetMidAnswer => {
            let head = b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n0123456789";
            let _ = stream.write_all(head).await;
            let _ = stream.flush().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            reset(stream);
        }
        Misbehave::Gigabyte => {
            let head = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 1073741824\r\n\r\n";
            if stream.write_all(head).await.is_err() {
                return;
            }
            let block = vec![b'x'; 64 * 1024];
            while written.load(Ordering::Relaxed) < 1 << 30 {
                if stream.write_all(&block).await.is_err() {
                    return;
                }
                written.fetch_add(block.len() as u64, Ordering::Relaxed);
            }
        }
        Misbehave::Gone => {
            let _ = stream
                .write_all(b"HTTP/1.1 410 Gone\r\ncontent-length: 4\r\n\r\ngone")
                .await;
        }
        Misbehave::Fine => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await;
        }
    }
}

/// One event (the session's `In Progress`) to a destination at `url`; its delivery once it is no
/// longer pending, with its attempt log.
async fn deliver_one(t: &TestServer, url: &str) -> Value {
    let d = destination(t, url, Some(serde_json::json!(["status.updated"]))).await;
    let dest = d["uuid"].as_str().unwrap().to_string();
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    t.attempt(&sid, "feature_ocr_1", "Approved").await;
    let list = format!("/v3/webhook/destinations/{dest}/deliveries/");
    let page = recorded(t, &list, |v| {
        v["results"][0]["state"]
            .as_str()
            .is_some_and(|s| s != "pending")
    })
    .await;
    let id = page["results"][0]["uuid"].as_str().unwrap();
    let (s, delivery) = t.get(&format!("{list}{id}/")).await;
    assert_eq!(s, 200, "{delivery}");
    delivery
}

/// The attempt numbers of a delivery's log, oldest first.
fn numbers(delivery: &Value) -> Vec<i64> {
    let mut n: Vec<i64> = delivery["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["attempt"].as_i64().unwrap())
        .collect();
    n.sort();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_times_out_on_every_attempt_then_fails() {
    let t = server().await; // timeout 1 s, schedule 0 s, 1 s, 1 s
    let silent = Raw::start(vec![Misbehave::Silent]).await;
    let d = deliver_one(&t, &silent.url).await;
    assert_eq!(d["state"], "failed", "{d}");
    assert_eq!(d["attempts"], 3, "{d}");
    assert_eq!(numbers(&d), [1, 2, 3]);
    for a in d["attempt_log"].as_array().unwrap() {
        assert!(a["response_status"].is_null(), "{a}");
        let error = a["error"].as_str().unwrap_or_default().to_lowercase();
        assert!(
            error.contains("timed out") || error.contains("timeout"),
            "{a}"
        );
    }
    assert_eq!(silent.requests(), 3, "one request per attempt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gigabyte_answer_is_read_no_further_than_the_log_keeps() {
    let t = server().await;
    let huge = Raw::start(vec![Misbehave::Gigabyte]).await;
    let d = deliver_one(&t, &huge.url).await;
    assert_eq!(d["state"], "succeeded", "{}", d["last_error"]);
    assert_eq!(numbers(&d), [1], "a 200 is not retried");
    let body = d["attempt_log"][0]["response_body"].as_str().unwrap();
    assert_eq!(body.len(), 4096, "the configured response_body_bytes");
    assert!(body.bytes().all(|b| b == b'x'));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = huge.written.load(Ordering::Relaxed);
    assert!(
        sent < 64 << 20,
        "vouch kept reading: {sent} bytes of the gigabyte written"
    );
    assert_eq!(huge.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_before_the_answer_is_retried_and_one_mid_answer_counts_as_the_answer() {
    let t = server().await;
    // Reset twice, then fine: three attempts, the third succeeds.
    let flaky = Raw::start(vec![
        Misbehave::ResetBeforeAnswer,
        Misbehave::ResetBeforeAnswer,
        Misbehave::Fine,
    ])
    .await;
    let d = deliver_one(&t, &flaky.url).await;
    assert_eq!(d["state"], "succeeded", "{}", d["last_error"]);
    assert_eq!(numbers(&d), [1, 2, 3]);
    let log = d["attempt_log"].as_array().unwrap();
    let failed: Vec<&Value> = log.iter().filter(|a| a["attempt"] != 3).collect();
    assert!(failed
        .iter()
        .all(|a| a["response_status"].is_null() && a["error"].is_string()));
    assert_eq!(flaky.requests(), 3);

    // The receiver said 200 before the reset: it has the event, so it is not sent again.
    let cut = Raw::start(vec![Misbehave::ResetMidAnswer]).await;
    let d = deliver_one(&t, &cut.url).await;
    assert_eq!(d["state"], "succeeded", "{}", d["last_error"]);
    assert_eq!(numbers(&d), [1]);
    assert_eq!(d["attempt_log"][0]["response_status"], 200);
    assert_eq!(d["attempt_log"][0]["response_body"], "0123456789");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(cut.requests(), 1, "not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_stops_the_delivery_at_once() {
    let t = server().await;
    let gone = Raw::start(vec![Misbehave::Gone]).await;
    let d = deliver_one(&t, &gone.url).await;
    assert_eq!(d["state"], "failed", "{d}");
    assert_eq!(d["last_response_status"], 410);
    assert_eq!(numbers(&d), [1]);
    assert!(d["next_attempt_at"].is_null(), "{d}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(gone.requests(), 1, "410 is not retried");
}
