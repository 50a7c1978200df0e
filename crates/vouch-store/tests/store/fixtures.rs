//! Shared fixtures: a fresh database per test (a SQLite file, or a PostgreSQL schema), and
//! builders for rows.
#![allow(dead_code, unused_imports)]

pub use std::collections::HashSet;
pub use std::path::{Path, PathBuf};
pub use std::sync::Arc;
use vouch_core::KeyId;
use vouch_core::{AppId, EventId, SessionId, WorkflowId};

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
    ApiKey, App, Idem, IdemKey, KindFilter, Modified, NewEvent, NewSession, Page, SessionChange,
    SessionFilter, Store, StoreError, WorkflowRecord, WorkflowStatus, WorkflowUpdate, Written,
};

// --- fixtures ----------------------------------------------------------------------------------

pub use vouch_store::postgres::{PgOptions, PgStore};
pub use vouch_store::testing::Backend;

pub struct Db {
    pub backend: Backend,
    /// The SQLite file (empty on PostgreSQL).
    pub path: PathBuf,
    /// The PostgreSQL URL, its search_path set to the test's own schema (empty on SQLite).
    pub url: String,
    pub store: Arc<dyn Store>,
    // Keeps the directory (and so the file) alive for the test.
    pub _dir: Option<TempDir>,
}

pub fn open_at(path: &Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(path, 2).expect("open the store"))
}

/// A fresh SQLite database file.
pub fn open() -> Db {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("vouch.db");
    let store = open_at(&path);
    Db {
        backend: Backend::Sqlite,
        path,
        url: String::new(),
        store,
        _dir: Some(dir),
    }
}

pub async fn connect_pg(url: &str) -> Arc<dyn Store> {
    let mut opts = PgOptions::new(url);
    opts.pool_size = 8;
    Arc::new(
        PgStore::connect(&opts)
            .await
            .expect("connect to PostgreSQL"),
    )
}

/// A fresh, empty PostgreSQL schema; `None` when the test must skip (no database outside CI).
pub async fn open_postgres(test: &str) -> Option<Db> {
    let url = vouch_store::testing::fresh_postgres(test).await?;
    let store = connect_pg(&url).await;
    Some(Db {
        backend: Backend::Postgres,
        path: PathBuf::new(),
        url,
        store,
        _dir: None,
    })
}

/// Runs one conformance test on both backends: `mod sqlite` and `mod postgres` each get a
/// `#[tokio::test]` per name, calling `crate::<module>::<name>(db)`.
#[macro_export]
macro_rules! conformance {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::$module::$name($crate::fixtures::open()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::fixtures::open_postgres(stringify!($name)).await {
                        $crate::$module::$name(db).await
                    }
                }
            )*
        }
    };
}

/// A direct connection to the same database, bypassing the store, for looking at (or
/// tampering with) stored rows. SQL is written once for both backends: `?1` is the one
/// argument, JSON columns are compared as `CAST(col AS TEXT)`, booleans as TRUE/FALSE.
pub enum Raw {
    Sqlite(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

pub fn raw(db: &Db) -> Raw {
    match db.backend {
        Backend::Sqlite => {
            let c = rusqlite::Connection::open(&db.path).expect("open raw connection");
            c.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
            Raw::Sqlite(c)
        }
        Backend::Postgres => Raw::Postgres(
            block(vouch_store::testing::connect(&db.url)).expect("raw PostgreSQL connection"),
        ),
    }
}

/// Runs a future to completion from synchronous test code on the multi-threaded runtime.
fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

/// `?1` replaced by `arg` as a quoted literal (test values only).
fn pg_sql(sql: &str, arg: Option<&str>) -> String {
    match arg {
        Some(a) => sql.replace("?1", &format!("'{}'", a.replace('\'', "''"))),
        None => sql.to_string(),
    }
}

pub const NONE: &[&str] = &[];

impl Raw {
    pub fn count(&self, sql: &str, arg: &str) -> i64 {
        match self {
            Raw::Sqlite(c) => {
                let r = if sql.contains("?1") {
                    c.query_row(sql, [arg], |r| r.get(0))
                } else {
                    c.query_row(sql, [], |r| r.get(0))
                };
                r.unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
            Raw::Postgres(c) => {
                let q = pg_sql(sql, Some(arg));
                let row =
                    block(c.query_one(q.as_str(), &[])).unwrap_or_else(|e| panic!("{q}: {e}"));
                row.get(0)
            }
        }
    }

    /// Every column of the first row as text (NULL as `None`); select them as TEXT.
    pub fn text_row(&self, sql: &str, arg: &str) -> Vec<Option<String>> {
        match self {
            Raw::Sqlite(c) => c
                .query_row(sql, [arg], |r| {
                    (0..r.as_ref().column_count())
                        .map(|i| r.get::<_, Option<String>>(i))
                        .collect::<Result<Vec<_>, _>>()
                })
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
            Raw::Postgres(c) => {
                let q = pg_sql(sql, Some(arg));
                let row =
                    block(c.query_one(q.as_str(), &[])).unwrap_or_else(|e| panic!("{q}: {e}"));
                (0..row.len())
                    .map(|i| row.get::<_, Option<String>>(i))
                    .collect()
            }
        }
    }

    pub fn execute<S: AsRef<str>>(&self, sql: &str, args: &[S]) -> Result<u64, String> {
        let arg = args.first().map(|a| a.as_ref());
        match self {
            Raw::Sqlite(c) => match arg {
                Some(a) => c.execute(sql, [a]),
                None => c.execute(sql, []),
            }
            .map(|n| n as u64)
            .map_err(|e| e.to_string()),
            Raw::Postgres(c) => block(c.execute(pg_sql(sql, arg).as_str(), &[])).map_err(|e| {
                e.as_db_error()
                    .map(|d| d.message().to_string())
                    .unwrap_or(e.to_string())
            }),
        }
    }

    /// Turns off the append-only guard on review rows, as someone with database access could.
    pub fn drop_review_guard(&self) {
        match self {
            Raw::Sqlite(c) => c.execute_batch("DROP TRIGGER reviews_no_update").unwrap(),
            Raw::Postgres(c) => {
                block(c.batch_execute("ALTER TABLE reviews DISABLE TRIGGER reviews_append_only"))
                    .unwrap()
            }
        }
    }
}

pub fn count(conn: &Raw, sql: &str, arg: &str) -> i64 {
    conn.count(sql, arg)
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
            label: None,
        })
        .collect();
    validate_features(&inputs).expect("a valid feature list")
}

pub async fn make_app(store: &Arc<dyn Store>, name: &str, created: DateTime<Utc>) -> App {
    store
        .create_app(App {
            id: AppId::random(),
            name: name.into(),
            mode: Environment::Live,
            created_at: created,
        })
        .await
        .expect("create app")
}

pub fn workflow_record(
    app_id: AppId,
    label: &str,
    features: &[&str],
    is_default: bool,
    created: DateTime<Utc>,
) -> WorkflowRecord {
    WorkflowRecord {
        settings: Default::default(),
        archived_at: None,
        id: WorkflowId::random(),
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
    app_id: AppId,
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
    app_id: AppId,
    workflow_id: Option<WorkflowId>,
    vendor_data: Option<&str>,
    now: DateTime<Utc>,
) -> NewSession {
    let id = SessionId::random();
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
        sandbox_scenario: None,
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

pub fn attempt(session_id: SessionId, seq: i64, now: DateTime<Utc>) -> Attempt {
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
        event_id: EventId::random(),
        event_type: vouch_store::EventType::StatusUpdated,
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

/// Writes a change decided by the test itself, through the store's one write path: the
/// decision hands `c` over as it is, so a change built for another version is refused by the
/// store (`VersionConflict`) and writes nothing.
pub async fn apply(
    s: &Arc<dyn Store>,
    c: SessionChange,
    idem: Option<Idem<()>>,
) -> Result<Modified, StoreError> {
    s.modify_session(c.app_id, c.session_id, Box::new(move |_| Ok(Some(c))), idem)
        .await
}
