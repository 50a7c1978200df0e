//! Shared fixtures: a fresh database file per test, and builders for rows.
#![allow(dead_code, unused_imports)]

pub use std::collections::HashSet;
pub use std::path::{Path, PathBuf};
pub use std::sync::Arc;

pub use chrono::{DateTime, NaiveDate, Utc};
pub use serde_json::json;
pub use tempfile::TempDir;
pub use tokio::task::JoinSet;
pub use uuid::Uuid;
pub use vouch_core::attempt::{ActorType, Attempt};
pub use vouch_core::feature::Feature;
pub use vouch_core::progress::{transitions_after_attempt, ResubmitInfo, ResubmitStep};
pub use vouch_core::review::{NewReview, GENESIS_HASH};
pub use vouch_core::scopes::{Access, Scopes};
pub use vouch_core::session::{CallbackMethod, Environment, Session};
pub use vouch_core::workflow::{validate_features, FeatureInput, WorkflowSpec};
pub use vouch_core::{AttemptStatus, SessionStatus, WorkflowKind};
pub use vouch_store::sqlite::SqliteStore;
pub use vouch_store::{
    ApiKey, App, Idem, IdemKey, KindFilter, NewEvent, NewSession, Page, SessionChange,
    SessionFilter, Store, StoreError, WorkflowRecord, WorkflowStatus, WorkflowUpdate, Written,
};

// --- fixtures ----------------------------------------------------------------------------------

pub struct Db {
    // Keeps the directory (and so the file) alive for the test.
    pub _dir: TempDir,
    pub path: PathBuf,
    pub store: Arc<dyn Store>,
}

pub fn open_at(path: &Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(path, 2).expect("open the store"))
}

pub fn open() -> Db {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("vouch.db");
    let store = open_at(&path);
    Db {
        _dir: dir,
        path,
        store,
    }
}

/// A direct connection to the same file, bypassing the store.
pub fn raw(path: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).expect("open raw connection");
    c.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    c
}

pub fn count(conn: &rusqlite::Connection, sql: &str, arg: &str) -> i64 {
    conn.query_row(sql, [arg], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A time with whole microseconds, so it round-trips through the stored text exactly.
pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("valid time")
        .with_timezone(&Utc)
}

/// `2024-03-01T00:00:00Z` plus `secs` seconds.
pub fn t(secs: i64) -> DateTime<Utc> {
    at("2024-03-01T00:00:00Z") + chrono::Duration::seconds(secs)
}

pub fn spec(features: &[&str]) -> WorkflowSpec {
    let inputs: Vec<FeatureInput> = features
        .iter()
        .map(|f| FeatureInput {
            feature: Some(json!(f)),
            config: None,
        })
        .collect();
    validate_features(&inputs).expect("a valid feature list")
}

pub async fn make_app(store: &Arc<dyn Store>, name: &str, created: DateTime<Utc>) -> App {
    store
        .create_app(App {
            id: Uuid::new_v4(),
            name: name.into(),
            mode: Environment::Live,
            created_at: created,
        })
        .await
        .expect("create app")
}

pub fn workflow_record(
    app_id: Uuid,
    label: &str,
    features: &[&str],
    is_default: bool,
    created: DateTime<Utc>,
) -> WorkflowRecord {
    WorkflowRecord {
        id: Uuid::new_v4(),
        version: 1,
        app_id,
        label: label.into(),
        status: WorkflowStatus::Published,
        is_default,
        spec: spec(features),
        created_at: created,
    }
}

pub async fn make_workflow(
    store: &Arc<dyn Store>,
    app_id: Uuid,
    features: &[&str],
    is_default: bool,
    created: DateTime<Utc>,
) -> WorkflowRecord {
    let wf = workflow_record(app_id, "wf", features, is_default, created);
    match store.create_workflow(wf.clone(), None).await.unwrap() {
        Written::Fresh(w) => {
            assert_eq!(w, wf);
            w
        }
        other => panic!("expected a fresh write, got {other:?}"),
    }
}

pub fn new_session(
    app_id: Uuid,
    workflow_id: Option<Uuid>,
    vendor_data: Option<&str>,
    now: DateTime<Utc>,
) -> NewSession {
    let id = Uuid::new_v4();
    NewSession {
        id,
        app_id,
        token: format!("tok-{id}"),
        workflow_id,
        vendor_data: vendor_data.map(String::from),
        metadata: json!({}),
        callback: None,
        callback_method: None,
        language: Some("en".into()),
        contact_details: json!({}),
        expected_details: json!({}),
        now,
        expires_at: now + chrono::Duration::days(7),
    }
}

pub fn fresh<T: std::fmt::Debug>(w: Written<T>) -> T {
    match w {
        Written::Fresh(v) => v,
        other => panic!("expected a fresh write, got {other:?}"),
    }
}

pub async fn create(store: &Arc<dyn Store>, new: NewSession) -> Session {
    fresh(
        store
            .create_session(new, None)
            .await
            .expect("create session"),
    )
}

pub fn attempt(session_id: Uuid, seq: i64, now: DateTime<Utc>) -> Attempt {
    Attempt {
        id: Uuid::new_v4(),
        session_id,
        seq,
        node_id: "feature_ocr_1".into(),
        feature: Feature::Ocr,
        status: AttemptStatus::Approved,
        data: json!({"document_number": format!("X{seq}"), "first_name": "Ann"}),
        warnings: json!(["LOW_QUALITY"]),
        actor_type: ActorType::System,
        created_at: now,
    }
}

pub fn review(
    from: SessionStatus,
    to: SessionStatus,
    comment: Option<&str>,
    now: DateTime<Utc>,
) -> NewReview {
    let mut r = NewReview::system_status_change(Uuid::new_v4(), from, to, now);
    r.comment = comment.map(String::from);
    if comment.is_some() {
        r.actor_type = ActorType::ConsoleUser;
        r.actor_display = "reviewer@example.com".into();
        r.metadata = json!({"note": "personal"});
    }
    r
}

pub fn event(status: SessionStatus, previous: Option<SessionStatus>) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "status.updated".into(),
        status,
        previous_status: previous,
    }
}

/// A change to `s` that expects `expected_version`, with nothing attached.
pub fn change(s: &Session, expected_version: i64, now: DateTime<Utc>) -> SessionChange {
    SessionChange {
        expected_version,
        ..SessionChange::for_session(s, now)
    }
}

pub async fn session(store: &Arc<dyn Store>, s: &Session) -> Session {
    store
        .get_session(s.app_id, s.id)
        .await
        .unwrap()
        .expect("the session exists")
}

pub fn all_page() -> Page {
    Page {
        limit: 1000,
        offset: 0,
    }
}
