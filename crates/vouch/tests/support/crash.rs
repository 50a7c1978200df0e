//! The crash harness every kill -9 scenario runs on: a data directory with an application and a
//! key made through the CLI, the real binary serving it, requests that report "no answer"
//! instead of failing (a killed server answers nothing), SIGKILL at the moment the scenario
//! chooses, and a restart on the same directory with the same settings.
// Each crash test uses its own part of the harness.
#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vouch_core::AppId;

use reqwest::{Client, Method};
use serde_json::Value;

use super::binary::{cli_json, Server};

/// One answer of the server.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// Replayed from an earlier request with the same `Idempotency-Key`.
    pub replayed: bool,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.text).ok()
    }
}

pub struct Crash {
    pub dir: PathBuf,
    pub app_id: AppId,
    pub key: String,
    pub client: Client,
    env: Vec<(&'static str, String)>,
    server: Option<Server>,
    /// Servers started so far; the n-th logs to `serve-n.log`.
    starts: usize,
}

impl Crash {
    /// An application `t` with a key allowed everything, and `vouch serve` with `env`.
    pub fn start(dir: &Path, env: Vec<(&'static str, String)>) -> Crash {
        let app = cli_json(dir, &["apps", "create", "t", "--json"]);
        let app_id = app["app_id"].as_str().expect("app_id").parse().unwrap();
        let key = cli_json(
            dir,
            &["keys", "create", "--app", "t", "--all", "write", "--json"],
        );
        let mut crash = Crash {
            dir: dir.to_path_buf(),
            app_id,
            key: key["key"].as_str().expect("key").to_string(),
            client: Client::builder()
                .timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            env,
            server: None,
            starts: 0,
        };
        crash.restart();
        crash
    }

    fn server(&self) -> &Server {
        self.server.as_ref().expect("the server is running")
    }

    /// The running server's address (a new port after each restart).
    pub fn base(&self) -> String {
        self.server().base.clone()
    }

    /// Whether the running server has ended on its own.
    pub fn exited(&mut self) -> bool {
        self.server.as_mut().is_some_and(|s| s.exited())
    }

    /// SIGKILL now, without waiting for the process: what was in flight stays in flight.
    pub fn sigkill(&mut self) {
        if let Some(s) = &mut self.server {
            s.sigkill();
        }
    }

    /// Reaps the killed server; answers its log.
    pub fn reap(&mut self) -> String {
        let mut s = self.server.take().expect("a server to reap");
        s.kill();
        s.log_text()
    }

    /// Starts the server (again) on the same data directory with the same settings.
    pub fn restart(&mut self) {
        assert!(self.server.is_none(), "reap the running server first");
        self.starts += 1;
        let log = format!("serve-{}.log", self.starts);
        self.server = Some(Server::start(&self.dir, &log, &self.env));
    }
}

/// One SIGKILL of a scenario: when it came and what the killed server logged.
pub struct Kill {
    pub at: Instant,
    /// Since the load of this round began.
    pub after_load: Duration,
    pub log: String,
}

impl Crash {
    /// The core of every crash scenario: `drivers` load the running server for `load_for`;
    /// `just_before` takes the scenario's reading of the moment, then the server is SIGKILLed
    /// (what is in flight stays in flight), `stop` tells the drivers to end, and the killed
    /// server is reaped. The drivers must end within 15 s of the kill (a request to a dead
    /// server must fail, not hang).
    pub async fn kill_under_load<T>(
        &mut self,
        load_for: Duration,
        stop: &AtomicBool,
        drivers: Vec<tokio::task::JoinHandle<()>>,
        just_before: impl FnOnce() -> T,
    ) -> (Kill, T) {
        let load_started = Instant::now();
        tokio::time::sleep(load_for).await;
        let reading = just_before();
        let at = Instant::now();
        self.sigkill();
        stop.store(true, Ordering::SeqCst);
        let log = self.reap();
        for d in drivers {
            tokio::time::timeout(Duration::from_secs(15), d)
                .await
                .expect("a load task hung after the kill")
                .expect("load task");
        }
        let kill = Kill {
            at,
            after_load: at - load_started,
            log,
        };
        (kill, reading)
    }
}

/// Runs `f` over `items` with `workers` concurrent workers (checks after a restart).
pub async fn in_parallel<T, R, F, Fut>(workers: usize, items: Vec<T>, f: F) -> Vec<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let queue = Arc::new(Mutex::new(items));
    let f = Arc::new(f);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (queue, f) = (queue.clone(), f.clone());
        set.spawn(async move {
            let mut out = Vec::new();
            loop {
                let next = queue.lock().unwrap().pop();
                let Some(item) = next else { break };
                out.push(f(item).await);
            }
            out
        });
    }
    let mut all = Vec::new();
    while let Some(r) = set.join_next().await {
        all.extend(r.expect("checker task"));
    }
    all
}

/// One request, usable from load tasks that hold only a client, a base and a key.
pub async fn send(
    client: &Client,
    base: &str,
    key: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
    idem_key: Option<&str>,
) -> Result<Answer, String> {
    let mut rb = client
        .request(method.clone(), format!("{base}{path}"))
        .header("x-api-key", key);
    if let Some(body) = body {
        rb = rb.json(body);
    }
    if let Some(k) = idem_key {
        rb = rb.header("Idempotency-Key", k);
    }
    let resp = rb
        .send()
        .await
        .map_err(|e| format!("{method} {path}: {e}"))?;
    let status = resp.status().as_u16();
    let replayed = resp
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    let text = resp
        .text()
        .await
        .map_err(|e| format!("{method} {path}: {e}"))?;
    Ok(Answer {
        status,
        replayed,
        text,
    })
}

/// One request; `None` when it got no answer (connection refused or cut).
pub async fn call(
    client: &Client,
    base: &str,
    key: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Option<(u16, String)> {
    send(client, base, key, method, path, body, None)
        .await
        .ok()
        .map(|a| (a.status, a.text))
}

/// A request that must be answered `want`; answers the body.
pub async fn must(
    client: &Client,
    base: &str,
    key: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
    want: u16,
) -> Value {
    let (status, text) = call(client, base, key, method.clone(), path, body)
        .await
        .unwrap_or_else(|| panic!("{method} {path}: no answer"));
    assert_eq!(status, want, "{method} {path} {body:?}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
}

/// The last 4,000 bytes of a log, for failure messages.
pub fn tail(s: &str) -> &str {
    let start = s.len().saturating_sub(4000);
    let start = (start..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    &s[start..]
}
