//! A database written by the previous release opens in this build: it migrates in place (the
//! two session tables become one) and answers every recorded request exactly as that release
//! did, and every review chain still verifies. The fixtures were made with the previous
//! release's binary by `scripts/make-upgrade-fixture.py`, which records the answers beside them.

mod common;

use std::sync::Arc;

use reqwest::Client;
use serde_json::Value;
use vouch::config::Config;
use vouch::server;
use vouch_store::testing::{connect, postgres_base_url, url_with_schema, SCHEMA_PREFIX};
use vouch_store::Store;

use common::{status_json, test_config};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/upgrade");

fn expected(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture");
    serde_json::from_str(&text).expect("fixture JSON")
}

/// The previous release's decision with the contract changes decided since applied, and nothing
/// else: a feature array of the workflow is `[]` before its first attempt, never `null`
/// (API.md §4.2).
fn as_the_contract_now_says(recorded: &Value) -> Value {
    let mut d = recorded.clone();
    let arrays: Vec<&str> = vouch_core::feature::Feature::ALL
        .iter()
        .map(|f| f.decision_array())
        .collect();
    if let Some(obj) = d.as_object_mut() {
        for (key, value) in obj.iter_mut() {
            if arrays.contains(&key.as_str()) && value.is_null() {
                *value = Value::Array(Vec::new());
            }
        }
    }
    d
}

/// Starts this build on `cfg` (migrating the database) and asks it everything the previous
/// release answered.
async fn answers_as_before(mut cfg: Config, want: &Value) -> Arc<dyn Store> {
    // The fixtures age while the answers recorded beside them do not: this run's lifecycle
    // timers must not move their sessions on (abandoned three days after their last change).
    let century = std::time::Duration::from_secs(100 * 365 * 24 * 3600);
    cfg.lifecycle.abandon_after = century;
    cfg.lifecycle.not_started_expire_after = century;
    let store = server::open_store(&cfg)
        .await
        .expect("the old database opens");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let running = server::start(cfg, store.clone(), async {
        let _ = rx.await;
    })
    .await
    .expect("start");
    let base = format!("http://{}", running.addr);
    let key = want["key"].as_str().expect("key");
    let client = Client::new();
    let get = |path: String| {
        let req = client.get(format!("{base}{path}")).header("x-api-key", key);
        async move { status_json(req.send().await.expect("request")).await }
    };
    let sessions = want["sessions"].as_object().expect("sessions");
    assert!(
        sessions.len() >= 7,
        "the fixture covers every kind of session"
    );
    for (name, s) in sessions {
        let id = s["id"].as_str().expect("id");
        let (status, body) = get(format!("/v3/session/{id}/decision/")).await;
        assert_eq!(u64::from(status), s["status"], "{name}: decision status");
        assert_eq!(
            body,
            as_the_contract_now_says(&s["decision"]),
            "{name}: the decision as the previous release gave it"
        );
        let (status, body) = get(format!("/v3/sessions/{id}/reviews/")).await;
        let trail = &want["reviews"][name];
        assert_eq!(u64::from(status), trail["status"], "{name}: trail status");
        assert_eq!(body, trail["body"], "{name}: the review trail");
    }
    for (query, list) in want["lists"].as_object().expect("lists") {
        let (status, body) = get(format!("/v3/sessions/{query}")).await;
        assert_eq!(status, 200, "list {query:?}");
        assert_eq!(&body, list, "list {query:?} as before");
    }
    let (checked, broken) = store.verify_reviews(None).await.expect("verify");
    assert!(checked >= 6, "chains checked: {checked}");
    assert!(
        broken.is_empty(),
        "broken chains after the upgrade: {broken:?}"
    );
    let _ = tx.send(());
    store
}

#[tokio::test]
async fn a_sqlite_database_of_the_previous_release_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vouch.db");
    std::fs::copy(format!("{FIXTURES}/sqlite.db"), &db).expect("copy the fixture");
    let mut cfg = test_config(dir.path());
    cfg.public_url = "http://127.0.0.1:8080".into();
    answers_as_before(cfg, &expected("sqlite.json")).await;

    let conn = rusqlite::Connection::open(&db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%sessions'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tables, ["sessions"], "one session table, the old two gone");
    let kinds: i64 = conn
        .query_row("SELECT COUNT(DISTINCT kind) FROM sessions", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(kinds, 2, "user and business sessions both moved");
}

#[tokio::test]
async fn a_postgres_schema_of_the_previous_release_upgrades_in_place() {
    let base = postgres_base_url();
    let client = match connect(&base).await {
        Ok(c) => c,
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("skipping the PostgreSQL upgrade: cannot connect to {base}: {e}");
            return;
        }
        Err(e) => panic!("CI=true and PostgreSQL at {base} is unreachable: {e}"),
    };
    // The previous release's schema under a name of this run, as pg_dump wrote it.
    let schema = format!("{SCHEMA_PREFIX}upgrade_{}", uuid::Uuid::new_v4().simple());
    let dump = std::fs::read_to_string(format!("{FIXTURES}/postgres.sql")).expect("dump");
    let dump: String = dump
        .lines()
        .filter(|l| !l.starts_with('\\'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("vouch_upgrade_fixture", &schema);
    client.batch_execute(&dump).await.expect("load the dump");

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    cfg.public_url = "http://127.0.0.1:8080".into();
    cfg.database_url = Some(url_with_schema(&base, &schema));
    answers_as_before(cfg, &expected("postgres.json")).await;

    let tables: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = $1 AND table_name LIKE '%sessions' ORDER BY 1",
            &[&schema],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(tables, ["sessions"], "one session table, the old two gone");
}
