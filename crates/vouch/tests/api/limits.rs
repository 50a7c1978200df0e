//! §7 rate limits (per key, per route group, per client address, shared through a real Redis)
//! and the HTTP server's own limits (slow heads, huge heads, stalled bodies, slow answers,
//! connection count, HTTP/2 settings), each driven over real sockets.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vouch_core::scopes::{Access, Scopes};

use crate::common::{default_rate_limits, status_json, test_redis, TestServer};

fn header(r: &reqwest::Response, name: &str) -> Option<i64> {
    r.headers().get(name)?.to_str().ok()?.parse().ok()
}

/// The key id behind the newest key of the test application.
async fn newest_key_id(t: &TestServer) -> vouch_core::KeyId {
    t.store
        .list_keys(t.app.id)
        .await
        .unwrap()
        .last()
        .unwrap()
        .id
}

#[tokio::test]
async fn a_key_gets_a_hundred_decision_reads_a_minute_then_429_with_retry_after() {
    let t = TestServer::start_with(|c| c.rate_limit = default_rate_limits()).await;
    let (id, _) = t.session(&["OCR"]).await;
    let path = format!("/v3/session/{id}/decision/");
    for i in 0..100 {
        let r = t.request(Method::GET, &path, Some(&t.key), None).await;
        assert_eq!(r.status(), 200, "read {i}");
        assert_eq!(header(&r, "x-ratelimit-limit"), Some(100));
        assert_eq!(header(&r, "x-ratelimit-remaining"), Some(99 - i));
    }
    let r = t.request(Method::GET, &path, Some(&t.key), None).await;
    let now = chrono::Utc::now().timestamp();
    assert_eq!(r.status(), 429);
    let retry = header(&r, "retry-after").expect("Retry-After");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(header(&r, "x-ratelimit-limit"), Some(100));
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some(0));
    let reset = header(&r, "x-ratelimit-reset").expect("X-RateLimit-Reset");
    assert!(reset > now && reset <= now + 61, "reset {reset}, now {now}");
    let (_, body) = status_json(r).await;
    assert_eq!(body["code"], "rate_limited");
    assert!(body["detail"].as_str().unwrap().contains("second"));

    // The key's other routes count against its 600 a minute, not the decision's 100.
    let r = t
        .request(
            Method::GET,
            &format!("/v3/session/{id}/"),
            Some(&t.key),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-ratelimit-limit"), Some(600));
    assert!(header(&r, "x-ratelimit-remaining").unwrap() < 600 - 100);
    // Another key of the same application has its own counters.
    let other = t.key_with(Scopes::all(Access::Read)).await;
    let r = t.request(Method::GET, &path, Some(&other), None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some(99));
}

#[tokio::test]
async fn the_per_key_limit_its_override_and_requests_without_a_valid_key() {
    let t = TestServer::start_with(|c| {
        c.rate_limit = default_rate_limits();
        c.rate_limit.per_key = 5;
        c.rate_limit.unauthenticated = 3;
    })
    .await;
    for i in 0..5 {
        let (s, _) = t.get("/v3/sessions/").await;
        assert_eq!(s, 200, "request {i}");
    }
    let (s, b) = t.get("/v3/sessions/").await;
    assert_eq!((s, b["code"].as_str()), (429, Some("rate_limited")));
    // A key with its own limit (as `vouch keys update KEY --rate-limit 8` sets it).
    let own = t.key_with(Scopes::all(Access::Read)).await;
    assert!(t
        .store
        .set_key_rate_limit(newest_key_id(&t).await, Some(8))
        .await
        .unwrap());
    for i in 0..8 {
        let r = t
            .request(Method::GET, "/v3/sessions/", Some(&own), None)
            .await;
        assert_eq!(r.status(), 200, "request {i} of the key with its own limit");
        assert_eq!(header(&r, "x-ratelimit-limit"), Some(8));
    }
    let r = t
        .request(Method::GET, "/v3/sessions/", Some(&own), None)
        .await;
    assert_eq!(r.status(), 429);
    // Without a key, and with a wrong one: the contract's answers, then 429 for the address.
    let (s, _) = status_json(t.request(Method::GET, "/v3/sessions/", None, None).await).await;
    assert_eq!(s, 403);
    for _ in 0..2 {
        let r = t
            .request(
                Method::GET,
                "/v3/nothing-here/",
                Some("vk_live_wrong"),
                None,
            )
            .await;
        assert_eq!(r.status(), 401);
    }
    let r = t
        .request(Method::GET, "/v3/sessions/", Some("vk_live_wrong"), None)
        .await;
    assert_eq!(r.status(), 429);
    assert!(header(&r, "retry-after").is_some());
}

#[tokio::test]
async fn the_persons_pages_are_limited_per_client_address() {
    let t = TestServer::start_with(|c| {
        c.rate_limit = default_rate_limits();
        c.rate_limit.person_pages = 3;
        c.rate_limit.client_address_header = Some("x-forwarded-for".into());
    })
    .await;
    let page = |from: &'static str| {
        t.client
            .get(format!("{}/session/not-a-real-token-at-all-0000", t.base))
            .header("x-forwarded-for", format!("{from}, 10.0.0.1"))
            .header("accept-language", "es")
            .send()
    };
    for _ in 0..3 {
        assert_eq!(page("203.0.113.5").await.unwrap().status(), 404);
    }
    let r = page("203.0.113.5").await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(header(&r, "retry-after").is_some_and(|s| s >= 1));
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("<h1"), "a page, not JSON: {html}");
    // Another address is not held back by the first.
    assert_eq!(page("203.0.113.6").await.unwrap().status(), 404);
    // Nor is the API (its own counters).
    assert_eq!(t.get("/v3/sessions/").await.0, 200);
}

#[tokio::test]
async fn the_console_is_limited_per_client_address_apart_from_the_persons_pages() {
    let t = TestServer::start_with(|c| {
        c.rate_limit = default_rate_limits();
        c.rate_limit.console_pages = 3;
        c.rate_limit.person_pages = 3;
        c.rate_limit.client_address_header = Some("x-forwarded-for".into());
    })
    .await;
    let get = |path: &'static str, from: &'static str| {
        t.client
            .get(format!("{}{path}", t.base))
            .header("x-forwarded-for", from)
            .send()
    };
    for _ in 0..3 {
        assert_eq!(
            get("/console/login", "203.0.113.7").await.unwrap().status(),
            200
        );
    }
    let r = get("/console/login", "203.0.113.7").await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(header(&r, "retry-after").is_some_and(|s| s >= 1));
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Too many requests from your address. Try again in"),
        "{html}"
    );
    // The person's pages count apart: the same address still reaches them.
    let person = get("/session/not-a-real-token-at-all-0000", "203.0.113.7");
    assert_eq!(person.await.unwrap().status(), 404);
    assert_eq!(
        get("/console/login", "203.0.113.8").await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn two_nodes_share_one_count_through_redis() {
    let Some(redis) = test_redis().await else {
        return;
    };
    let limits = |c: &mut vouch::config::Config, url: &str| {
        c.rate_limit = default_rate_limits();
        c.rate_limit.per_key = 10;
        c.rate_limit.redis_url = Some(url.to_string());
    };
    let a = TestServer::start_with(|c| limits(c, &redis)).await;
    // A second node on the same database, so that the first node's key works on both.
    let mut cfg = crate::common::test_config(a.dir.path());
    limits(&mut cfg, &redis);
    cfg.database_url = Some(a.database_url.clone());
    let store = vouch::server::open_store(&cfg).await.unwrap();
    let (_stop_b, stopped) = tokio::sync::oneshot::channel::<()>();
    let node_b = vouch::server::start(cfg, store, async {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    let (base_a, base_b) = (a.base.clone(), format!("http://{}", node_b.addr));
    let on = |base: &str| {
        a.client
            .get(format!("{base}/v3/sessions/"))
            .header("x-api-key", &a.key)
            .send()
    };
    for i in 0..5 {
        assert_eq!(
            on(&base_a).await.unwrap().status(),
            200,
            "node A, request {i}"
        );
        let r = on(&base_b).await.unwrap();
        assert_eq!(r.status(), 200, "node B, request {i}");
        assert_eq!(header(&r, "x-ratelimit-remaining"), Some(10 - 2 * (i + 1)));
    }
    // Ten in all: the eleventh is refused by either node.
    assert_eq!(on(&base_a).await.unwrap().status(), 429);
    assert_eq!(on(&base_b).await.unwrap().status(), 429);
    // The count is Redis's own.
    let key_id = a.store.list_keys(a.app.id).await.unwrap()[0].id;
    let client = redis::Client::open(redis.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let names: Vec<String> = redis::cmd("KEYS")
        .arg(format!("vouch:rl:key:{key_id}:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!names.is_empty(), "no counter in Redis");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&names[0])
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 120_000, "kept two windows at most: {ttl}");
}

#[tokio::test]
async fn with_redis_unreachable_each_node_still_limits_on_its_own() {
    let t = TestServer::start_with(|c| {
        c.rate_limit = default_rate_limits();
        c.rate_limit.per_key = 3;
        // Nothing listens on port 9 of the loopback.
        c.rate_limit.redis_url = Some("redis://127.0.0.1:9".into());
    })
    .await;
    for i in 0..3 {
        assert_eq!(t.get("/v3/sessions/").await.0, 200, "request {i}");
    }
    assert_eq!(t.get("/v3/sessions/").await.0, 429);
    let metrics = t.metrics().await;
    assert!(
        metrics.contains("vouch_rate_limited_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("vouch_rate_limit_redis_errors_total 1\n"),
        "one failure, then the node counted alone without retrying at once: {metrics}"
    );
}

// --- the HTTP server's own limits ---------------------------------------------------------

fn addr(t: &TestServer) -> String {
    t.base.trim_start_matches("http://").to_string()
}

/// Reads what the server sends until it closes or `wait` passes.
async fn read_for(s: &mut TcpStream, wait: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(wait, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    if got.windows(4).any(|w| w == b"\r\n\r\n") && !got.is_empty() {
                        // A whole head arrived; give the body a moment, then stop.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        if let Ok(Ok(n)) =
                            tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await
                        {
                            got.extend_from_slice(&buf[..n]);
                        }
                        return false;
                    }
                }
            }
        }
    })
    .await
    .unwrap_or(false);
    (String::from_utf8_lossy(&got).into_owned(), closed)
}

#[tokio::test]
async fn a_request_head_over_32_kib_is_431_and_one_under_it_is_served() {
    let t = TestServer::start().await;
    for (size, expected) in [(20_000, "HTTP/1.1 200"), (40_000, "HTTP/1.1 431")] {
        let mut s = TcpStream::connect(addr(&t)).await.unwrap();
        let req = format!(
            "GET /system/healthcheck HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(size)
        );
        // The server may answer and close before the whole head is written.
        let _ = s.write_all(req.as_bytes()).await;
        let (got, _) = read_for(&mut s, Duration::from_secs(5)).await;
        assert!(got.starts_with(expected), "{size} bytes: {got:?}");
    }
}

#[tokio::test]
async fn a_client_sending_its_head_slowly_is_dropped() {
    let t = TestServer::start_with(|c| c.http.header_read_timeout = Duration::from_secs(1)).await;
    let mut slow = TcpStream::connect(addr(&t)).await.unwrap();
    slow.write_all(b"GET /system/healthcheck HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut dropped = false;
    for i in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if slow
            .write_all(format!("X-Line-{i}: a\r\n").as_bytes())
            .await
            .is_err()
        {
            dropped = true;
            break;
        }
        let mut buf = [0u8; 512];
        if let Ok(r) = tokio::time::timeout(Duration::from_millis(1), slow.read(&mut buf)).await {
            // Closed, or answered 408 and closed.
            let _ = r;
            dropped = true;
            break;
        }
    }
    assert!(
        dropped,
        "still connected after {:?} of one header line per 250 ms",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // Everyone else is served.
    assert_eq!(t.get("/v3/sessions/").await.0, 200);
}

/// A POST to `/v3/session/` whose body stops after its first byte.
async fn stalled_body(t: &TestServer) -> TcpStream {
    let mut s = TcpStream::connect(addr(t)).await.unwrap();
    let head = format!(
        "POST /v3/session/ HTTP/1.1\r\nHost: x\r\nx-api-key: {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{",
        t.key
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

fn body_of(response: &str) -> Value {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body.trim()).unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_stalled_body_is_408_and_a_slow_answer_503() {
    let t = TestServer::start_with(|c| c.http.body_read_timeout = Duration::from_secs(1)).await;
    let mut s = stalled_body(&t).await;
    let (got, _) = read_for(&mut s, Duration::from_secs(10)).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got:?}");
    assert_eq!(body_of(&got)["code"], "request_timeout");

    let t = TestServer::start_with(|c| {
        c.http.body_read_timeout = Duration::from_secs(30);
        c.http.request_timeout = Duration::from_secs(1);
    })
    .await;
    let mut s = stalled_body(&t).await;
    let (got, _) = read_for(&mut s, Duration::from_secs(10)).await;
    assert!(got.starts_with("HTTP/1.1 503"), "{got:?}");
    assert!(
        got.to_ascii_lowercase().contains("retry-after: 1"),
        "{got:?}"
    );
    assert_eq!(body_of(&got)["code"], "request_timeout");
    // Nothing was created by the requests that never finished.
    let (_, list) = t.get("/v3/sessions/").await;
    assert_eq!(list["count"], 0);
}

#[tokio::test]
async fn past_max_connections_a_new_one_waits_until_one_closes() {
    let t = TestServer::start_with(|c| c.http.max_connections = 2).await;
    let get = b"GET /system/healthcheck HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr(&t)).await.unwrap();
        s.write_all(get).await.unwrap();
        let (got, _) = read_for(&mut s, Duration::from_secs(5)).await;
        assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
        open.push(s);
    }
    let mut third = TcpStream::connect(addr(&t)).await.unwrap();
    third.write_all(get).await.unwrap();
    let (got, _) = read_for(&mut third, Duration::from_millis(700)).await;
    assert_eq!(got, "", "answered while two connections were open");
    drop(open.pop());
    let (got, _) = read_for(&mut third, Duration::from_secs(5)).await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
}

#[tokio::test]
async fn http2_is_served_with_bounded_streams() {
    let t = TestServer::start().await;
    let tcp = TcpStream::connect(addr(&t)).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let mut client = client.ready().await.unwrap();
    let req = axum::http::Request::get(format!("{}/v3/sessions/", t.base))
        .header("x-api-key", &t.key)
        .body(())
        .unwrap();
    let (resp, _) = client.send_request(req, true).unwrap();
    let resp = resp.await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-ratelimit-limit"));
    assert_eq!(client.current_max_send_streams(), 100);
}
