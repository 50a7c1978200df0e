//! A cluster of real `vouch serve` processes on one fresh PostgreSQL schema, and the checks the
//! cluster tests share.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use vouch_store::testing::{fresh_postgres, query_text};

use super::binary::{self, Server};
use super::receiver::Receiver;

pub struct Cluster {
    pub _dir: tempfile::TempDir,
    pub url: String,
    pub nodes: Vec<Server>,
    pub env: Vec<(&'static str, String)>,
    pub key: String,
    pub client: reqwest::Client,
}

/// Runs a CLI command against the cluster's database; answers stdout as JSON.
fn cli_json(dir: &Path, url: &str, args: &[&str]) -> Value {
    let out = binary::vouch(dir)
        .env("VOUCH_DATABASE_URL", url)
        .args(args)
        .output()
        .expect("run vouch");
    assert!(
        out.status.success(),
        "vouch {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

impl Cluster {
    /// `None` when the test must skip (no PostgreSQL outside CI).
    pub async fn start(
        test: &str,
        nodes: usize,
        extra: &[(&'static str, &str)],
    ) -> Option<Cluster> {
        let url = fresh_postgres(test).await?;
        let dir = tempfile::tempdir().unwrap();
        // The application and key exist before any node starts, so no node bootstraps.
        cli_json(dir.path(), &url, &["apps", "create", "bank", "--json"]);
        let key = cli_json(
            dir.path(),
            &url,
            &[
                "keys", "create", "--app", "bank", "--all", "write", "--json",
            ],
        )["key"]
            .as_str()
            .unwrap()
            .to_string();
        let mut env: Vec<(&'static str, String)> = vec![
            ("VOUCH_DATABASE_URL", url.clone()),
            ("VOUCH_ALLOW_PRIVATE_DESTINATIONS", "true".into()),
            ("VOUCH_POSTGRES__POOL_SIZE", "6".into()),
            ("VOUCH_WEBHOOKS__TIMEOUT", "2s".into()),
            ("VOUCH_WEBHOOKS__LEASE", "4s".into()),
            ("VOUCH_WEBHOOKS__POLL_INTERVAL", "200ms".into()),
            ("VOUCH_WEBHOOKS__RETRY_SCHEDULE", "0s,1s,1s,1s,1s".into()),
            ("VOUCH_WEBHOOKS__JITTER", "0".into()),
        ];
        env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        let nodes = (0..nodes)
            .map(|i| Server::start(dir.path(), &format!("node{i}.log"), &env))
            .collect();
        Some(Cluster {
            _dir: dir,
            url,
            nodes,
            env,
            key,
            client: reqwest::Client::new(),
        })
    }

    /// Starts one more node on the same database.
    pub fn add_node(&mut self) {
        let n = self.nodes.len();
        self.nodes.push(Server::start(
            self._dir.path(),
            &format!("node{n}.log"),
            &self.env,
        ));
    }

    /// Sends to node `n`; `None` when the node did not answer (e.g. it was killed).
    pub async fn call(
        &self,
        n: usize,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Option<(u16, Value)> {
        call(
            &self.client,
            &self.nodes[n].base,
            &self.key,
            method,
            path,
            body,
        )
        .await
    }

    pub async fn must(&self, n: usize, method: Method, path: &str, body: Option<Value>) -> Value {
        let (s, v) = self
            .call(n, method, path, body)
            .await
            .expect("node answers");
        assert!((200..300).contains(&s), "{path}: {s} {v}");
        v
    }

    pub async fn sql(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        query_text(&self.url, sql, None).await.expect(sql)
    }

    /// `n` sessions on an OCR workflow, each already Approved by its result.
    pub async fn decided_sessions(&self, n: usize) -> Vec<String> {
        let wf = self
            .must(
                0,
                Method::POST,
                "/v3/workflows/",
                Some(json!({"workflow_label": "kyc", "features": [{"feature": "OCR"}]})),
            )
            .await;
        let mut ids = Vec::new();
        for i in 0..n {
            let node = i % self.nodes.len();
            let s = self
                .must(
                    node,
                    Method::POST,
                    "/v3/session/",
                    Some(json!({"workflow_id": wf["uuid"]})),
                )
                .await;
            let id = s["session_id"].as_str().unwrap().to_string();
            self.must(
                node,
                Method::POST,
                &format!("/v3/session/{id}/attempts/"),
                Some(json!({"node_id": "feature_ocr_1", "status": "Approved"})),
            )
            .await;
            ids.push(id);
        }
        ids
    }
}

pub async fn call(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Option<(u16, Value)> {
    let mut req = client
        .request(method, format!("{base}{path}"))
        .header("x-api-key", key)
        .timeout(Duration::from_secs(20));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.ok()?;
    let status = r.status().as_u16();
    let text = r.text().await.ok()?;
    Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// Every `status.updated` event of the database, by id.
pub async fn event_ids(c: &Cluster) -> HashSet<String> {
    c.sql("SELECT CAST(event_id AS TEXT) FROM outbox_events")
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect()
}

/// Waits until the receiver got every event of the database (bounded); answers receipts per
/// event id.
pub async fn wait_delivered(
    c: &Cluster,
    hook: &Receiver,
    within: Duration,
) -> HashMap<String, usize> {
    let deadline = Instant::now() + within;
    loop {
        let events = event_ids(c).await;
        let mut got: HashMap<String, usize> = HashMap::new();
        for r in hook.received() {
            *got.entry(r.json["event_id"].as_str().unwrap_or("").to_string())
                .or_default() += 1;
        }
        let missing = events.iter().filter(|e| !got.contains_key(*e)).count();
        if missing == 0 && !events.is_empty() {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} events never delivered",
            events.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Checks every session's chain and that each status change has its one event.
pub async fn assert_trails(c: &Cluster, sessions: &[String]) {
    let out = binary::vouch(c._dir.path())
        .env("VOUCH_DATABASE_URL", &c.url)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "audit verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for sid in sessions {
        let mut seqs: Vec<i64> = query_text(
            &c.url,
            "SELECT CAST(seq AS TEXT) FROM reviews WHERE session_id = ?1",
            Some(sid),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| r[0].as_deref().unwrap().parse().unwrap())
        .collect();
        seqs.sort_unstable();
        assert_eq!(
            seqs,
            (1..=seqs.len() as i64).collect::<Vec<_>>(),
            "session {sid}: one gapless chain"
        );
    }
    let changes = c
        .sql("SELECT COUNT(*)::text FROM reviews WHERE new_status IS NOT NULL")
        .await;
    let events = c
        .sql("SELECT COUNT(*)::text FROM outbox_events WHERE event_type = 'status.updated'")
        .await;
    assert_eq!(changes, events, "each status change wrote one event");
}

/// No delivery was attempted twice under the same attempt number: two nodes never sent it
/// from the same claim.
pub async fn assert_no_double_claims(c: &Cluster) {
    let doubles = c
        .sql(
            "SELECT CAST(delivery_id AS TEXT), attempt::text FROM webhook_attempts
             GROUP BY delivery_id, attempt HAVING COUNT(*) > 1",
        )
        .await;
    assert!(
        doubles.is_empty(),
        "deliveries sent twice from one claim: {doubles:?}"
    );
}
