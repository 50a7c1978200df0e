//! PostgreSQL-only behaviour: a database outage answers 503 quickly and heals without a
//! restart; nodes starting at once apply migrations once; `--api` and `--worker` split roles.
//!
//! Needs PostgreSQL (`VOUCH_TEST_POSTGRES_URL`, default the machine's); skipped with a message
//! without one, except under `CI=true`.

#[path = "support/binary.rs"]
mod binary;
#[path = "common/mod.rs"]
mod common;
#[path = "webhooks/receiver.rs"]
#[allow(dead_code)]
mod receiver;

use std::time::{Duration, Instant};

use common::TestServer;
use reqwest::Method;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use vouch_store::postgres::{PgOptions, PgStore};
use vouch_store::testing::{fresh_postgres, query_text, Backend};
use vouch_store::Store;

/// A TCP proxy to PostgreSQL that the test can take down (closing every connection, refusing
/// new ones) and bring back on the same port.
struct Proxy {
    addr: std::net::SocketAddr,
    upstream: String,
    tasks: Option<JoinSet<()>>,
}

impl Proxy {
    async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut p = Proxy {
            addr,
            upstream: upstream.to_string(),
            tasks: None,
        };
        p.serve(listener);
        p
    }

    fn serve(&mut self, listener: TcpListener) {
        let upstream = self.upstream.clone();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut conns = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                conns.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        self.tasks = Some(tasks);
    }

    /// Every connection through the proxy is cut and new ones are refused.
    fn down(&mut self) {
        self.tasks = None; // dropping the JoinSet aborts the listener and its connections
    }

    async fn up(&mut self) {
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("rebind the proxy port");
        self.serve(listener);
    }
}

/// The URL with its host and port replaced by the proxy's.
fn through(url: &str, proxy: &Proxy) -> String {
    let mut u = url::Url::parse(url).unwrap();
    u.set_host(Some("127.0.0.1")).unwrap();
    u.set_port(Some(proxy.addr.port())).unwrap();
    u.to_string()
}

fn upstream_of(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    format!(
        "{}:{}",
        u.host_str().unwrap_or("127.0.0.1"),
        u.port().unwrap_or(5432)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_503_and_heals_without_a_restart() {
    let Some(url) = fresh_postgres("database outage").await else {
        return;
    };
    let mut proxy = Proxy::start(&upstream_of(&url)).await;
    let proxied = through(&url, &proxy);
    let t = TestServer::start_on(Backend::Postgres, |cfg| {
        cfg.database_url = Some(proxied.clone());
        cfg.postgres.acquire_timeout = std::time::Duration::from_millis(1000);
    })
    .await;
    let (sid, _) = t.session(&["OCR"]).await;
    let decision = format!("/v3/session/{sid}/decision/");
    assert_eq!(t.get(&decision).await.0, 200);

    proxy.down();
    for _ in 0..3 {
        let started = Instant::now();
        let r = t
            .client
            .get(format!("{}{decision}", t.base))
            .header("x-api-key", &t.key)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .expect("an answer, not a hang");
        assert_eq!(r.status().as_u16(), 503);
        assert_eq!(r.headers()["retry-after"], "1");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], "service_unavailable");
        eprintln!("503 after {:?}", started.elapsed());
    }
    // Writes too.
    let (s, _) = t
        .post(
            "/v3/session/",
            json!({"workflow_id": null, "vendor_data": "x"}),
        )
        .await;
    assert_eq!(s, 503);

    proxy.up().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (s, _) = t.get(&decision).await;
        if s == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {s} after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, body) = t
        .call(
            Method::POST,
            &format!("/v3/session/{sid}/attempts/"),
            Some(json!({"node_id": "feature_ocr_1", "status": "Approved"})),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(t.status_of(&sid).await, "Approved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_at_once_apply_each_migration_once() {
    let Some(url) = fresh_postgres("concurrent migrations").await else {
        return;
    };
    let mut starts = JoinSet::new();
    for _ in 0..6 {
        let url = url.clone();
        starts.spawn(async move {
            let mut o = PgOptions::new(url);
            o.pool_size = 2;
            PgStore::connect(&o).await.map(|s| s.schema().to_string())
        });
    }
    while let Some(r) = starts.join_next().await {
        r.unwrap().expect("every node starts");
    }
    let rows = query_text(
        &url,
        "SELECT CAST(version AS TEXT) FROM schema_migrations",
        None,
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), vouch_store::postgres::migrate::LATEST as usize);
    let store = PgStore::connect(&PgOptions::new(url.clone()))
        .await
        .unwrap();
    store.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_and_worker_roles_split_the_work() {
    let Some(url) = fresh_postgres("roles").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("VOUCH_DATABASE_URL", url.clone()),
        ("VOUCH_ALLOW_PRIVATE_DESTINATIONS", "true".to_string()),
    ];
    let cli = |args: &[&str]| {
        let out = binary::vouch(dir.path())
            .env("VOUCH_DATABASE_URL", &url)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    cli(&["apps", "create", "bank", "--json"]);
    let key = cli(&[
        "keys", "create", "--app", "bank", "--all", "write", "--json",
    ])["key"]
        .as_str()
        .unwrap()
        .to_string();
    let api = binary::Server::start_args(dir.path(), "api.log", &["serve", "--api"], &env);
    let client = reqwest::Client::new();
    let send = |base: &str, m: Method, path: &str, body: Option<serde_json::Value>| {
        let mut r = client
            .request(m, format!("{base}{path}"))
            .header("x-api-key", &key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };
    let hook = receiver::Receiver::start().await;
    let r = send(
        &api.base,
        Method::POST,
        "/v3/webhook/destinations/",
        Some(json!({"label": "hook", "url": hook.url})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let wf: serde_json::Value = send(
        &api.base,
        Method::POST,
        "/v3/workflows/",
        Some(json!({"workflow_label": "kyc", "features": [{"feature": "OCR"}]})),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let s: serde_json::Value = send(
        &api.base,
        Method::POST,
        "/v3/session/",
        Some(json!({"workflow_id": wf["uuid"]})),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let sid = s["session_id"].as_str().unwrap();
    let r = send(
        &api.base,
        Method::POST,
        &format!("/v3/session/{sid}/attempts/"),
        Some(json!({"node_id": "feature_ocr_1", "status": "Approved"})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    // An API-only node sends nothing.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(hook.received().is_empty(), "the API node must not deliver");

    // A worker-only node picks the event up; it serves health and metrics, not the API. Its
    // polling is set to ten minutes, so what it sends within the waits below it was woken for.
    let mut worker_env = env.to_vec();
    worker_env.push(("VOUCH_WEBHOOKS__POLL_INTERVAL", "600000ms".to_string()));
    let worker = binary::Server::start_args(
        dir.path(),
        "worker.log",
        &["serve", "--worker"],
        &worker_env,
    );
    let got = hook.wait_for(1).await;
    assert_eq!(got[0].json["session_id"], sid);

    // A change committed on the API node wakes the idle worker through NOTIFY.
    let r = send(
        &api.base,
        Method::PATCH,
        &format!("/v3/session/{sid}/update-status/"),
        Some(json!({"new_status": "Declined"})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !hook
        .received()
        .iter()
        .any(|r| r.json["status"] == "Declined")
    {
        assert!(
            Instant::now() < deadline,
            "the idle worker was not woken by the API node's commit"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = send(&worker.base, Method::GET, "/system/healthcheck", None)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = send(
        &worker.base,
        Method::GET,
        &format!("/v3/session/{sid}/decision/"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
}
