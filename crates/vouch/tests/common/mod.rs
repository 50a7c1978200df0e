//! Boots the real server in-process on port 0, with keys to call it: over a real SQLite file,
//! or with `VOUCH_TEST_BACKEND=postgres` over a fresh schema of a real PostgreSQL
//! (`VOUCH_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
#![allow(dead_code)]

use std::sync::Arc;
use vouch_core::AppId;

use chrono::Utc;
use reqwest::{Client, Method, Response};
use serde_json::{json, Value};
use vouch::config::Config;
use vouch::server;
use vouch_core::scopes::{Access, Scopes};
use vouch_core::session::Environment;
use vouch_store::testing::Backend;
use vouch_store::{App, Store};

pub struct TestServer {
    pub base: String,
    pub store: Arc<dyn Store>,
    pub app: App,
    /// Full access on every resource.
    pub key: String,
    pub client: Client,
    pub dir: tempfile::TempDir,
    /// The database the server runs on (a sqlite:// or postgres:// URL).
    pub database_url: String,
    pub backend: Backend,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn test_config(dir: &std::path::Path) -> Config {
    let mut cfg = Config::load(Some(&write_empty_config(dir))).expect("config");
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.database_url = Some(format!("sqlite://{}", dir.join("vouch.db").display()));
    cfg.data_dir = dir.to_path_buf();
    cfg.sqlite.readers = 2;
    // Tests drive one key hard; the limits still count every request (their own tests use the
    // defaults).
    unlimited(&mut cfg.rate_limit);
    cfg
}

/// The rate limits as shipped (`config.default.toml`).
pub fn default_rate_limits() -> vouch::config::RateLimitConfig {
    let dir = tempfile::tempdir().expect("tempdir");
    Config::load(Some(&write_empty_config(dir.path())))
        .expect("config")
        .rate_limit
}

/// The Redis the shared rate limits are tested on (`VOUCH_TEST_REDIS_URL`, by default the one
/// on 127.0.0.1:6379); `None`, with the reason printed, where none answers, except under
/// `CI=true`, where that is a failure.
pub async fn test_redis() -> Option<String> {
    let url = std::env::var("VOUCH_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string());
    let reachable = async {
        let client = redis::Client::open(url.as_str()).ok()?;
        let mut c = client.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("PING").query_async::<String>(&mut c).await.ok()
    };
    match tokio::time::timeout(std::time::Duration::from_secs(2), reachable).await {
        Ok(Some(_)) => Some(url),
        _ => {
            let ci = matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1"));
            assert!(!ci, "CI=true and no Redis answers at {url}");
            eprintln!("skipped: no Redis answers at {url} (set VOUCH_TEST_REDIS_URL)");
            None
        }
    }
}

/// Rate limits too high to bite, the counters still running.
pub fn unlimited(r: &mut vouch::config::RateLimitConfig) {
    let n = 1_000_000_000;
    r.per_key = n;
    r.session_create = n;
    r.decision = n;
    r.pdf = n;
    r.unauthenticated = n;
    r.person_pages = n;
    r.console_pages = n;
}

fn write_empty_config(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("vouch.toml");
    std::fs::write(&p, "").expect("write config");
    p
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start_on(vouch_store::testing::backend(), tweak).await
    }

    /// On the given backend, whatever `VOUCH_TEST_BACKEND` says.
    pub async fn start_on(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = test_config(dir.path());
        if backend == Backend::Postgres {
            cfg.database_url = Some(
                vouch_store::testing::fresh_postgres("the HTTP suite")
                    .await
                    .expect("VOUCH_TEST_BACKEND=postgres needs a reachable PostgreSQL"),
            );
            cfg.postgres.pool_size = 8;
        }
        tweak(&mut cfg);
        let store = server::open_store(&cfg).await.expect("store");
        let app = new_app(store.as_ref(), "test-app").await;
        let key = new_key(store.as_ref(), &app, Scopes::all(Access::Write), None).await;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let running = server::start(cfg.clone(), store.clone(), async {
            let _ = rx.await;
        })
        .await
        .expect("start");
        TestServer {
            base: format!("http://{}", running.addr),
            store,
            app,
            key,
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            dir,
            database_url: cfg.database_url().to_string(),
            backend,
            shutdown: Some(tx),
        }
    }

    pub async fn key_with(&self, scopes: Scopes) -> String {
        new_key(self.store.as_ref(), &self.app, scopes, None).await
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request")
    }

    /// Sends with the full-access key and answers (status, JSON body or null).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let r = self.request(method, path, Some(&self.key), body).await;
        status_json(r).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Creates a published workflow with the given features; answers its body.
    pub async fn workflow(&self, features: &[&str]) -> Value {
        let features: Vec<Value> = features.iter().map(|f| json!({"feature": f})).collect();
        let (s, body) = self
            .post(
                "/v3/workflows/",
                json!({"workflow_label": "wf", "features": features}),
            )
            .await;
        assert_eq!(s, 201, "{body}");
        body
    }

    /// Creates a session on a new workflow with these features; answers (session_id, workflow).
    pub async fn session(&self, features: &[&str]) -> (String, Value) {
        let wf = self.workflow(features).await;
        let (s, body) = self
            .post("/v3/session/", json!({"workflow_id": wf["uuid"]}))
            .await;
        assert_eq!(s, 201, "{body}");
        (body["session_id"].as_str().unwrap().to_string(), wf)
    }

    pub async fn attempt(&self, session: &str, node: &str, status: &str) -> (u16, Value) {
        self.post(
            &format!("/v3/session/{session}/attempts/"),
            json!({"node_id": node, "status": status}),
        )
        .await
    }

    /// Creates a session on a new workflow with these features and extra create fields;
    /// answers the create body.
    pub async fn session_with(&self, features: &[&str], extra: Value) -> Value {
        let wf = self.workflow(features).await;
        let mut body = json!({"workflow_id": wf["uuid"]});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let (s, created) = self.post("/v3/session/", body).await;
        assert_eq!(s, 201, "{created}");
        created
    }

    /// Posts a form of the person's page as the page's own browser would (`Sec-Fetch-Site:
    /// same-origin`, `Origin` this server) unless `headers` say otherwise (an empty value leaves
    /// a header out); answers the status and the redirect's `notice`, if any.
    pub async fn post_page_form(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> (u16, Option<String>) {
        let mut sent = vec![
            ("origin", self.base.as_str()),
            ("sec-fetch-site", "same-origin"),
        ];
        for (k, v) in headers {
            sent.retain(|(name, _)| name != k);
            if !v.is_empty() {
                sent.push((k, v));
            }
        }
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .form(fields);
        for (k, v) in sent {
            req = req.header(k, v);
        }
        let r = req.send().await.expect("request");
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let notice = url::Url::parse(&format!("http://x{location}"))
            .ok()
            .and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == "notice")
                    .map(|(_, v)| v.into_owned())
            });
        (r.status().as_u16(), notice)
    }

    /// `/metrics` as text.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    pub async fn status_of(&self, session: &str) -> String {
        let (s, d) = self.get(&format!("/v3/session/{session}/decision/")).await;
        assert_eq!(s, 200, "{d}");
        d["status"].as_str().unwrap().to_string()
    }
}

pub async fn status_json(r: Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

pub async fn new_app(store: &dyn Store, name: &str) -> App {
    store
        .create_app(App {
            id: AppId::random(),
            name: name.into(),
            mode: Environment::Live,
            created_at: Utc::now(),
        })
        .await
        .expect("app")
}

pub async fn new_key(
    store: &dyn Store,
    app: &App,
    scopes: Scopes,
    expires: Option<chrono::DateTime<Utc>>,
) -> String {
    server::create_key(store, app, None, scopes, expires, None)
        .await
        .expect("key")
        .1
}

/// Serves `body` to every request on a loopback port; answers its URL.
pub async fn file_server(body: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = tokio::io::AsyncReadExt::read(&mut conn, &mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tokio::io::AsyncWriteExt::write_all(&mut conn, head.as_bytes()).await;
                let _ = tokio::io::AsyncWriteExt::write_all(&mut conn, body.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}
