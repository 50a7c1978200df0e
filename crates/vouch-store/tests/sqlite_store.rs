//! Integration tests of the SQLite backend: each test opens a real database file in a temporary
//! directory and drives it only through `Arc<dyn Store>` (plus a direct rusqlite connection where
//! the test must look at, or tamper with, the stored rows).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use tempfile::TempDir;
use tokio::task::JoinSet;
use uuid::Uuid;
use vouch_core::attempt::{ActorType, Attempt};
use vouch_core::feature::Feature;
use vouch_core::progress::{transitions_after_attempt, ResubmitInfo, ResubmitStep};
use vouch_core::review::{NewReview, GENESIS_HASH};
use vouch_core::scopes::{Access, Scopes};
use vouch_core::session::{CallbackMethod, Environment, Session};
use vouch_core::workflow::{validate_features, FeatureInput, WorkflowSpec};
use vouch_core::{AttemptStatus, SessionStatus, WorkflowKind};
use vouch_store::sqlite::SqliteStore;
use vouch_store::{
    ApiKey, App, Idem, IdemKey, KindFilter, NewEvent, NewSession, Page, SessionChange,
    SessionFilter, Store, StoreError, WorkflowRecord, WorkflowStatus, WorkflowUpdate, Written,
};

// --- fixtures ----------------------------------------------------------------------------------

struct Db {
    // Keeps the directory (and so the file) alive for the test.
    _dir: TempDir,
    path: PathBuf,
    store: Arc<dyn Store>,
}

fn open_at(path: &Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(path, 2).expect("open the store"))
}

fn open() -> Db {
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
fn raw(path: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).expect("open raw connection");
    c.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    c
}

fn count(conn: &rusqlite::Connection, sql: &str, arg: &str) -> i64 {
    conn.query_row(sql, [arg], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A time with whole microseconds, so it round-trips through the stored text exactly.
fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("valid time")
        .with_timezone(&Utc)
}

/// `2024-03-01T00:00:00Z` plus `secs` seconds.
fn t(secs: i64) -> DateTime<Utc> {
    at("2024-03-01T00:00:00Z") + chrono::Duration::seconds(secs)
}

fn spec(features: &[&str]) -> WorkflowSpec {
    let inputs: Vec<FeatureInput> = features
        .iter()
        .map(|f| FeatureInput {
            feature: Some(json!(f)),
            config: None,
        })
        .collect();
    validate_features(&inputs).expect("a valid feature list")
}

async fn make_app(store: &Arc<dyn Store>, name: &str, created: DateTime<Utc>) -> App {
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

fn workflow_record(
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

async fn make_workflow(
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

fn new_session(
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

fn fresh<T: std::fmt::Debug>(w: Written<T>) -> T {
    match w {
        Written::Fresh(v) => v,
        other => panic!("expected a fresh write, got {other:?}"),
    }
}

async fn create(store: &Arc<dyn Store>, new: NewSession) -> Session {
    fresh(
        store
            .create_session(new, None)
            .await
            .expect("create session"),
    )
}

fn attempt(session_id: Uuid, seq: i64, now: DateTime<Utc>) -> Attempt {
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

fn review(
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

fn event(status: SessionStatus, previous: Option<SessionStatus>) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "status.updated".into(),
        status,
        previous_status: previous,
    }
}

/// A change to `s` that expects `expected_version`, with nothing attached.
fn change(s: &Session, expected_version: i64, now: DateTime<Utc>) -> SessionChange {
    SessionChange {
        expected_version,
        ..SessionChange::for_session(s, now)
    }
}

async fn session(store: &Arc<dyn Store>, s: &Session) -> Session {
    store
        .get_session(s.app_id, s.id)
        .await
        .unwrap()
        .expect("the session exists")
}

fn all_page() -> Page {
    Page {
        limit: 1000,
        offset: 0,
    }
}

// --- 1. applications ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_are_created_listed_found_and_unique_by_name() {
    let db = open();
    let s = &db.store;
    let alpha = make_app(s, "alpha", t(0)).await;
    let beta = s
        .create_app(App {
            id: Uuid::new_v4(),
            name: "beta".into(),
            mode: Environment::Sandbox,
            created_at: t(1),
        })
        .await
        .unwrap();

    assert_eq!(
        s.list_apps().await.unwrap(),
        vec![alpha.clone(), beta.clone()]
    );
    assert_eq!(s.find_app("alpha").await.unwrap(), Some(alpha.clone()));
    assert_eq!(s.find_app("beta").await.unwrap(), Some(beta.clone()));
    assert_eq!(
        s.find_app(&alpha.id.to_string()).await.unwrap(),
        Some(alpha.clone())
    );
    assert_eq!(
        s.find_app(&beta.id.to_string()).await.unwrap(),
        Some(beta.clone())
    );
    assert_eq!(s.find_app("gamma").await.unwrap(), None);
    assert_eq!(s.find_app(&Uuid::new_v4().to_string()).await.unwrap(), None);

    // An id match wins over an application that happens to be named like that id.
    let squatter = make_app(s, &beta.id.to_string(), t(2)).await;
    assert_eq!(
        s.find_app(&beta.id.to_string()).await.unwrap(),
        Some(beta.clone())
    );
    assert_eq!(
        s.find_app(&squatter.id.to_string()).await.unwrap(),
        Some(squatter.clone())
    );

    let dup = s
        .create_app(App {
            id: Uuid::new_v4(),
            name: "alpha".into(),
            mode: Environment::Sandbox,
            created_at: t(3),
        })
        .await;
    assert!(
        matches!(dup, Err(StoreError::Duplicate(_))),
        "expected Duplicate, got {dup:?}"
    );
    assert_eq!(s.list_apps().await.unwrap(), vec![alpha, beta, squatter]);
}

// --- 2. API keys -------------------------------------------------------------------------------

fn key(app_id: Uuid, hash: [u8; 32], created: DateTime<Utc>) -> ApiKey {
    ApiKey {
        id: Uuid::new_v4(),
        app_id,
        name: Some("ci".into()),
        key_hash: hash,
        prefix: "vch_live_".into(),
        last4: "abcd".into(),
        scopes: Scopes {
            sessions: Access::Write,
            decisions: Access::Read,
            webhooks: Access::None,
            workflows: Access::Write,
        },
        expires_at: Some(t(86_400)),
        revoked_at: None,
        created_at: created,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_found_by_hash_prefix_and_revoked() {
    let db = open();
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let other = make_app(s, "beta", t(0)).await;

    let mut h1 = [0u8; 32];
    for (i, b) in h1.iter_mut().enumerate() {
        *b = i as u8 + 1;
    }
    // Shares the first 7 bytes with h1 but not the 8th.
    let mut h2 = h1;
    h2[7] = 0x99;
    // Shares the first 8 bytes with h1 but differs later: must be found by the same prefix.
    let mut h3 = h1;
    h3[31] = 0x00;
    let h4 = [0xffu8; 32];

    let k1 = s.create_key(key(app.id, h1, t(1))).await.unwrap();
    let k2 = s.create_key(key(app.id, h2, t(2))).await.unwrap();
    let k3 = s.create_key(key(other.id, h3, t(3))).await.unwrap();
    let k4 = s.create_key(key(other.id, h4, t(4))).await.unwrap();

    assert_eq!(
        s.list_keys(app.id).await.unwrap(),
        vec![k1.clone(), k2.clone()]
    );
    assert_eq!(
        s.list_keys(other.id).await.unwrap(),
        vec![k3.clone(), k4.clone()]
    );

    let prefix = |h: &[u8; 32]| -> [u8; 8] { h[..8].try_into().unwrap() };

    let mut found = s.keys_by_hash_prefix(prefix(&h1)).await.unwrap();
    found.sort_by_key(|(k, _)| k.created_at);
    assert_eq!(
        found,
        vec![(k1.clone(), app.clone()), (k3.clone(), other.clone())]
    );
    assert_eq!(
        s.keys_by_hash_prefix(prefix(&h2)).await.unwrap(),
        vec![(k2.clone(), app.clone())]
    );
    assert_eq!(
        s.keys_by_hash_prefix(prefix(&h4)).await.unwrap(),
        vec![(k4.clone(), other.clone())]
    );
    assert!(s.keys_by_hash_prefix([0x42; 8]).await.unwrap().is_empty());

    assert!(s.revoke_key(k1.id, t(10)).await.unwrap());
    // Revoking again keeps the first revocation time.
    assert!(s.revoke_key(k1.id, t(20)).await.unwrap());
    assert!(!s.revoke_key(Uuid::new_v4(), t(10)).await.unwrap());

    let keys = s.list_keys(app.id).await.unwrap();
    assert_eq!(keys[0].id, k1.id);
    assert_eq!(keys[0].revoked_at, Some(t(10)));
    assert_eq!(keys[1].revoked_at, None, "only the named key is revoked");
    let found = s.keys_by_hash_prefix(prefix(&h2)).await.unwrap();
    assert_eq!(found[0].0.revoked_at, None);
    let found = s.keys_by_hash_prefix(prefix(&h1)).await.unwrap();
    let k1_found = found.iter().find(|(k, _)| k.id == k1.id).unwrap();
    assert_eq!(k1_found.0.revoked_at, Some(t(10)));
}

// --- 3. workflows ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_versions_and_the_default() {
    let db = open();
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let other = make_app(s, "beta", t(0)).await;

    let a1 = make_workflow(s, app.id, &["OCR", "LIVENESS"], true, t(1)).await;
    assert_eq!(
        s.get_workflow(app.id, a1.id).await.unwrap(),
        Some(a1.clone())
    );
    assert_eq!(
        s.get_workflow(other.id, a1.id).await.unwrap(),
        None,
        "a workflow is scoped to its application"
    );
    assert_eq!(
        s.get_workflow_version(a1.id, 1).await.unwrap(),
        Some(a1.clone())
    );
    assert_eq!(s.get_workflow_version(a1.id, 2).await.unwrap(), None);

    // A new feature list writes version 2; version 1 stays readable.
    let v2_spec = spec(&["OCR", "FACE_MATCH", "AML"]);
    let a2 = s
        .update_workflow(WorkflowUpdate {
            app_id: app.id,
            id: a1.id,
            label: Some("wf v2".into()),
            status: None,
            is_default: None,
            spec: Some(v2_spec.clone()),
            now: t(5),
        })
        .await
        .unwrap();
    assert_eq!(a2.version, 2);
    assert_eq!(a2.spec, v2_spec);
    assert_eq!(a2.label, "wf v2");
    assert_eq!(a2.created_at, t(5));
    assert_eq!(
        s.get_workflow(app.id, a1.id).await.unwrap(),
        Some(a2.clone())
    );
    assert_eq!(
        s.get_workflow_version(a1.id, 1).await.unwrap(),
        Some(a1.clone())
    );
    assert_eq!(
        s.get_workflow_version(a1.id, 2).await.unwrap(),
        Some(a2.clone())
    );
    let (listed, n) = s.list_workflows(app.id, all_page()).await.unwrap();
    assert_eq!(n, 1, "versions of one workflow count once");
    assert_eq!(listed, vec![a2.clone()]);

    // An update without a spec changes the current version in place.
    let a2b = s
        .update_workflow(WorkflowUpdate {
            app_id: app.id,
            id: a1.id,
            label: Some("renamed".into()),
            status: None,
            is_default: None,
            spec: None,
            now: t(6),
        })
        .await
        .unwrap();
    assert_eq!(a2b.version, 2);
    assert_eq!(
        s.get_workflow(app.id, a1.id).await.unwrap().unwrap().label,
        "renamed"
    );
    assert_eq!(
        s.get_workflow_version(a1.id, 1)
            .await
            .unwrap()
            .unwrap()
            .label,
        "wf",
        "older versions are not touched"
    );

    // A newer default workflow takes the default away from the older one.
    let b = make_workflow(s, app.id, &["OCR"], true, t(10)).await;
    assert!(
        !s.get_workflow(app.id, a1.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    assert!(
        s.get_workflow(app.id, b.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );

    // A non-default workflow leaves it where it is.
    let c = make_workflow(s, app.id, &["LIVENESS"], false, t(20)).await;
    assert!(
        s.get_workflow(app.id, b.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    assert!(
        !s.get_workflow(app.id, c.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );

    // Sessions without a workflow use the default.
    let s1 = create(s, new_session(app.id, None, None, t(30))).await;
    assert_eq!((s1.workflow_id, s1.workflow_version), (b.id, 1));

    // Another application's default does not move this one's.
    let foreign = make_workflow(s, other.id, &["OCR"], true, t(31)).await;
    assert!(
        s.get_workflow(app.id, b.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    assert!(
        s.get_workflow(other.id, foreign.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );

    // Making A the default (in place) clears B.
    let a_default = s
        .update_workflow(WorkflowUpdate {
            app_id: app.id,
            id: a1.id,
            label: None,
            status: None,
            is_default: Some(true),
            spec: None,
            now: t(40),
        })
        .await
        .unwrap();
    assert!(a_default.is_default);
    assert!(
        s.get_workflow(app.id, a1.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    assert!(
        !s.get_workflow(app.id, b.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    assert!(
        !s.get_workflow(app.id, c.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    let s2 = create(s, new_session(app.id, None, None, t(41))).await;
    assert_eq!((s2.workflow_id, s2.workflow_version), (a1.id, 2));

    let (all, n) = s.list_workflows(app.id, all_page()).await.unwrap();
    assert_eq!(n, 3);
    assert_eq!(
        all.iter()
            .filter(|w| w.is_default)
            .map(|w| w.id)
            .collect::<Vec<_>>(),
        vec![a1.id],
        "exactly one default"
    );

    let missing = s
        .update_workflow(WorkflowUpdate {
            app_id: app.id,
            id: Uuid::new_v4(),
            label: Some("x".into()),
            status: None,
            is_default: None,
            spec: None,
            now: t(50),
        })
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
}

// --- 4. sessions -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_numbers_are_per_application() {
    let db = open();
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let other = make_app(s, "beta", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let owf = make_workflow(s, other.id, &["OCR"], true, t(1)).await;

    let mut numbers = vec![];
    for i in 0..3 {
        let new = new_session(app.id, Some(wf.id), None, t(10 + i));
        let sess = create(s, new.clone()).await;
        assert_eq!(sess.id, new.id);
        assert_eq!(sess.status, SessionStatus::NotStarted);
        assert_eq!(sess.version, 1);
        assert_eq!(sess.kind, WorkflowKind::User);
        assert_eq!(session(s, &sess).await, sess, "stored as returned");
        numbers.push(sess.number);
    }
    assert_eq!(numbers, vec![1, 2, 3]);
    let o = create(s, new_session(other.id, Some(owf.id), None, t(20))).await;
    assert_eq!(o.number, 1, "each application counts its own sessions");
    let next = create(s, new_session(app.id, None, None, t(21))).await;
    assert_eq!(next.number, 4);

    // A session of another application is not visible through this one.
    assert_eq!(s.get_session(other.id, next.id).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_sessions_are_reused_by_vendor_data() {
    let db = open();
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;

    let mut first_new = new_session(app.id, Some(wf.id), Some("user-1"), t(10));
    first_new.callback = Some("https://a.example/cb".into());
    first_new.callback_method = Some(CallbackMethod::Both);
    first_new.metadata = json!({"a": 1});
    let first = create(s, first_new).await;
    assert_eq!(first.callback_method, Some(CallbackMethod::Both));

    let mut again = new_session(app.id, Some(wf.id), Some("user-1"), t(20));
    again.callback = Some("https://b.example/cb".into());
    again.metadata = json!({"b": 2});
    let reused = create(s, again).await;
    assert_eq!(reused.id, first.id, "the unfinished session is reused");
    assert_eq!(reused.number, first.number);
    assert_eq!(reused.token, first.token);
    assert_eq!(reused.callback.as_deref(), Some("https://b.example/cb"));
    assert_eq!(reused.metadata, json!({"b": 2}));
    assert_eq!(reused.version, first.version + 1);
    let stored = session(s, &first).await;
    assert_eq!(stored, reused, "the update is persisted");
    assert_eq!(stored.updated_at, t(20));
    assert_eq!(stored.created_at, t(10));

    // Another vendor_data gets its own session.
    let other_vd = create(s, new_session(app.id, Some(wf.id), Some("user-2"), t(21))).await;
    assert_ne!(other_vd.id, first.id);

    // Still unfinished (In Progress): reused.
    s.apply_session_change(
        SessionChange {
            status: Some(SessionStatus::InProgress),
            ..change(&stored, stored.version, t(25))
        },
        None,
    )
    .await
    .unwrap();
    let reused2 = create(s, new_session(app.id, Some(wf.id), Some("user-1"), t(26))).await;
    assert_eq!(reused2.id, first.id);
    assert_eq!(reused2.status, SessionStatus::InProgress);

    // Once decided it is not reused.
    s.apply_session_change(
        SessionChange {
            status: Some(SessionStatus::Approved),
            ..change(&reused2, reused2.version, t(30))
        },
        None,
    )
    .await
    .unwrap();
    let after = create(s, new_session(app.id, Some(wf.id), Some("user-1"), t(40))).await;
    assert_ne!(after.id, first.id, "a decided session is not reused");
    assert_eq!(after.status, SessionStatus::NotStarted);
    assert_eq!(after.number, 3);
    assert_eq!(session(s, &first).await.status, SessionStatus::Approved);

    // A new workflow version is a different workflow version: no reuse across it.
    s.update_workflow(WorkflowUpdate {
        app_id: app.id,
        id: wf.id,
        label: None,
        status: None,
        is_default: None,
        spec: Some(spec(&["OCR", "LIVENESS"])),
        now: t(50),
    })
    .await
    .unwrap();
    let on_v2 = create(s, new_session(app.id, Some(wf.id), Some("user-1"), t(51))).await;
    assert_ne!(on_v2.id, after.id);
    assert_eq!(on_v2.workflow_version, 2);
    let on_v2_again = create(s, new_session(app.id, Some(wf.id), Some("user-1"), t(52))).await;
    assert_eq!(on_v2_again.id, on_v2.id);

    let (_, n) = s
        .list_sessions(
            app.id,
            &SessionFilter {
                vendor_data: Some("user-1".into()),
                ..Default::default()
            },
            all_page(),
        )
        .await
        .unwrap();
    assert_eq!(n, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn business_sessions_live_in_their_own_table() {
    let db = open();
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let user_wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let kyb = make_workflow(s, app.id, &["KYB_REGISTRY", "KYB_DOCUMENTS"], false, t(2)).await;
    assert_eq!(kyb.kind(), WorkflowKind::Business);

    let u = create(
        s,
        new_session(app.id, Some(user_wf.id), Some("acme"), t(10)),
    )
    .await;
    let b = create(s, new_session(app.id, Some(kyb.id), Some("acme"), t(11))).await;
    assert_eq!(b.kind, WorkflowKind::Business);
    assert_ne!(b.id, u.id, "different workflows never share a session");
    assert_eq!(b.number, 2, "both kinds share the application's numbering");
    assert_eq!(session(s, &b).await, b);

    let conn = raw(&db.path);
    let id = b.id.to_string();
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM business_sessions WHERE id = ?1",
            &id
        ),
        1
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM user_sessions WHERE id = ?1",
            &id
        ),
        0
    );

    // Reuse works for business sessions too.
    let b2 = create(s, new_session(app.id, Some(kyb.id), Some("acme"), t(12))).await;
    assert_eq!(b2.id, b.id);

    // A business change goes to the business table.
    s.apply_session_change(
        SessionChange {
            status: Some(SessionStatus::InReview),
            ..change(&b2, b2.version, t(13))
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(session(s, &b).await.status, SessionStatus::InReview);

    let bundle = s.session_bundle(app.id, b.id).await.unwrap().unwrap();
    assert_eq!(*bundle.workflow, kyb);
    assert_eq!(bundle.environment, Environment::Live);

    // Deleting a business session works on the business table.
    assert!(s.delete_session(app.id, b.id, t(14)).await.unwrap());
    assert_eq!(s.get_session(app.id, b.id).await.unwrap(), None);
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM business_sessions WHERE id = ?1 AND deleted_at IS NOT NULL",
            &id
        ),
        1
    );
    assert_eq!(session(s, &u).await.vendor_data.as_deref(), Some("acme"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_need_a_published_workflow_of_their_application() {
    let db = open();
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let other = make_app(s, "beta", t(0)).await;

    // No default workflow yet.
    let none = s
        .create_session(new_session(app.id, None, None, t(1)), None)
        .await;
    assert!(matches!(none, Err(StoreError::NotFound(_))), "{none:?}");

    // Another application's workflow is not usable.
    let foreign = make_workflow(s, other.id, &["OCR"], true, t(2)).await;
    let r = s
        .create_session(new_session(app.id, Some(foreign.id), None, t(3)), None)
        .await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");

    // A draft is not usable until published; a later draft version leaves sessions on the
    // latest published one.
    let mut draft = workflow_record(app.id, "draft", &["OCR"], true, t(4));
    draft.status = WorkflowStatus::Draft;
    s.create_workflow(draft.clone(), None).await.unwrap();
    let r = s
        .create_session(new_session(app.id, None, None, t(5)), None)
        .await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    s.update_workflow(WorkflowUpdate {
        app_id: app.id,
        id: draft.id,
        label: None,
        status: Some(WorkflowStatus::Published),
        is_default: None,
        spec: None,
        now: t(6),
    })
    .await
    .unwrap();
    s.update_workflow(WorkflowUpdate {
        app_id: app.id,
        id: draft.id,
        label: None,
        status: Some(WorkflowStatus::Draft),
        is_default: None,
        spec: Some(spec(&["OCR", "LIVENESS"])),
        now: t(7),
    })
    .await
    .unwrap();
    let sess = create(s, new_session(app.id, None, None, t(8))).await;
    assert_eq!((sess.workflow_id, sess.workflow_version), (draft.id, 1));

    // Nothing was written by the refused creates: this is the application's first session.
    assert_eq!(sess.number, 1);
}

// --- 5. apply_session_change -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_changes_write_nothing_and_current_ones_write_everything() {
    let db = open();
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let sess = create(s, new_session(app.id, Some(wf.id), Some("v"), t(10))).await;

    let stale = SessionChange {
        status: Some(SessionStatus::Approved),
        full_name: Some("Ann Smith".into()),
        attempts: vec![attempt(sess.id, 1, t(11))],
        reviews: vec![review(
            SessionStatus::NotStarted,
            SessionStatus::Approved,
            None,
            t(11),
        )],
        events: vec![event(
            SessionStatus::Approved,
            Some(SessionStatus::NotStarted),
        )],
        ..change(&sess, sess.version + 6, t(11))
    };
    let err = s.apply_session_change(stale, None).await;
    assert!(matches!(err, Err(StoreError::VersionConflict)), "{err:?}");

    let bundle = s.session_bundle(app.id, sess.id).await.unwrap().unwrap();
    assert_eq!(bundle.session, sess, "the session is untouched");
    assert!(bundle.attempts.is_empty());
    assert!(bundle.reviews.is_empty());
    assert!(s.reviews(sess.id).await.unwrap().is_empty());
    assert!(s.outbox_events(sess.id).await.unwrap().is_empty());

    // A current change writes the session, attempts, the chained trail and the events.
    let a1 = attempt(sess.id, 1, t(20));
    let e1 = event(SessionStatus::InProgress, Some(SessionStatus::NotStarted));
    s.apply_session_change(
        SessionChange {
            status: Some(SessionStatus::InProgress),
            country: Some("DE".into()),
            full_name: Some("Ann Smith".into()),
            attempts: vec![a1.clone()],
            reviews: vec![
                review(
                    SessionStatus::NotStarted,
                    SessionStatus::InProgress,
                    None,
                    t(20),
                ),
                review(
                    SessionStatus::InProgress,
                    SessionStatus::InProgress,
                    Some("looks ok"),
                    t(20),
                ),
            ],
            events: vec![e1.clone()],
            ..change(&sess, sess.version, t(20))
        },
        None,
    )
    .await
    .unwrap();

    let mid = session(s, &sess).await;
    assert_eq!(mid.status, SessionStatus::InProgress);
    assert_eq!(mid.version, sess.version + 1);
    assert_eq!(mid.updated_at, t(20));

    // Reusing the version just consumed is now stale.
    let again = s
        .apply_session_change(
            SessionChange {
                status: Some(SessionStatus::Declined),
                ..change(&sess, sess.version, t(21))
            },
            None,
        )
        .await;
    assert!(
        matches!(again, Err(StoreError::VersionConflict)),
        "{again:?}"
    );

    let a2 = attempt(sess.id, 2, t(30));
    let e2 = event(SessionStatus::Approved, Some(SessionStatus::InProgress));
    s.apply_session_change(
        SessionChange {
            status: Some(SessionStatus::Approved),
            attempts: vec![a2.clone()],
            reviews: vec![review(
                SessionStatus::InProgress,
                SessionStatus::Approved,
                None,
                t(30),
            )],
            events: vec![e2.clone()],
            ..change(&mid, mid.version, t(30))
        },
        None,
    )
    .await
    .unwrap();

    let bundle = s.session_bundle(app.id, sess.id).await.unwrap().unwrap();
    assert_eq!(bundle.session.status, SessionStatus::Approved);
    assert_eq!(bundle.session.version, sess.version + 2);
    assert_eq!(bundle.attempts, vec![a1, a2]);
    let reviews = &bundle.reviews;
    assert_eq!(
        reviews.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(reviews[0].prev_hash, GENESIS_HASH);
    for w in reviews.windows(2) {
        assert_eq!(
            w[1].prev_hash, w[0].hash,
            "row {} links to row {}",
            w[1].seq, w[0].seq
        );
    }
    assert_eq!(reviews[1].comment.as_deref(), Some("looks ok"));
    assert_eq!(reviews, &s.reviews(sess.id).await.unwrap());
    assert_eq!(s.verify_reviews(Some(sess.id)).await.unwrap(), (1, vec![]));
    assert_eq!(s.verify_reviews(None).await.unwrap(), (1, vec![]));

    let events = s.outbox_events(sess.id).await.unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| (e.event_id, e.status, e.previous_status, e.dropped))
            .collect::<Vec<_>>(),
        vec![
            (e1.event_id, e1.status, e1.previous_status, false),
            (e2.event_id, e2.status, e2.previous_status, false)
        ]
    );
    assert!(events[0].seq < events[1].seq);
    assert!(events.iter().all(|e| e.app_id == app.id
        && e.session_id == sess.id
        && e.session_kind == WorkflowKind::User));

    // A change that fails half-way (an attempt seq already taken) is rolled back whole: the
    // session's status and version stay as they were.
    let before = session(s, &sess).await;
    let half = s
        .apply_session_change(
            SessionChange {
                status: Some(SessionStatus::Declined),
                attempts: vec![attempt(sess.id, 3, t(40)), attempt(sess.id, 1, t(40))],
                reviews: vec![],
                events: vec![event(
                    SessionStatus::Declined,
                    Some(SessionStatus::Approved),
                )],
                ..change(&before, before.version, t(40))
            },
            None,
        )
        .await;
    assert!(half.is_err(), "a duplicate attempt seq must fail: {half:?}");
    assert_eq!(session(s, &sess).await, before);
    let bundle = s.session_bundle(app.id, sess.id).await.unwrap().unwrap();
    assert_eq!(
        bundle.attempts.len(),
        2,
        "the attempt with seq 3 was rolled back"
    );
    assert_eq!(s.outbox_events(sess.id).await.unwrap().len(), 2);
}

// --- resubmission info ------------------------------------------------------------------------

fn resubmit_info(after_seq: i64) -> ResubmitInfo {
    ResubmitInfo {
        nodes: vec!["feature_ocr_1".into(), "feature_liveness_1".into()],
        steps: vec![
            ResubmitStep {
                node_id: "feature_ocr_1".into(),
                feature: Feature::Ocr,
                reason: "blurry".into(),
            },
            ResubmitStep {
                node_id: "feature_liveness_1".into(),
                feature: Feature::Liveness,
                reason: "no face".into(),
            },
        ],
        requested_at: t(50),
        after_seq,
    }
}

fn step_attempt(
    session_id: Uuid,
    seq: i64,
    node_id: &str,
    feature: Feature,
    status: AttemptStatus,
) -> Attempt {
    Attempt {
        node_id: node_id.into(),
        feature,
        status,
        ..attempt(session_id, seq, t(40 + seq))
    }
}

/// A declined OCR + LIVENESS session, then sent back for both steps after attempt 2.
async fn resubmitted_session(s: &Arc<dyn Store>) -> (App, WorkflowRecord, Session) {
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR", "LIVENESS"], true, t(1)).await;
    let sess = create(s, new_session(app.id, Some(wf.id), None, t(10))).await;
    s.apply_session_change(
        SessionChange {
            status: Some(SessionStatus::Declined),
            attempts: vec![
                step_attempt(
                    sess.id,
                    1,
                    "feature_ocr_1",
                    Feature::Ocr,
                    AttemptStatus::Approved,
                ),
                step_attempt(
                    sess.id,
                    2,
                    "feature_liveness_1",
                    Feature::Liveness,
                    AttemptStatus::Declined,
                ),
            ],
            ..change(&sess, 1, t(42))
        },
        None,
    )
    .await
    .unwrap();
    s.apply_session_change(
        SessionChange {
            status: Some(SessionStatus::Resubmitted),
            resubmit_info: Some(Some(resubmit_info(2))),
            events: vec![
                event(SessionStatus::Resubmitted, Some(SessionStatus::Declined)),
                event(SessionStatus::Declined, None),
            ],
            ..change(&sess, 2, t(50))
        },
        None,
    )
    .await
    .unwrap();
    (app, wf, sess)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubmit_info_is_stored_announced_and_cleared() {
    let db = open();
    let s = &db.store;
    let (app, _, sess) = resubmitted_session(s).await;

    let stored = session(s, &sess).await;
    assert_eq!(stored.status, SessionStatus::Resubmitted);
    let info = stored
        .resubmit_info
        .clone()
        .expect("resubmit_info is stored");
    let want = resubmit_info(2);
    assert_eq!(
        (&info.nodes, &info.steps, info.requested_at),
        (&want.nodes, &want.steps, want.requested_at)
    );

    // Only the Resubmitted event carries the info.
    let events = s.outbox_events(sess.id).await.unwrap();
    assert_eq!(events.len(), 2);
    let carried = events[0].resubmit_info.as_ref().expect("carried");
    assert_eq!(
        carried["nodes"],
        json!(["feature_ocr_1", "feature_liveness_1"])
    );
    assert_eq!(events[1].resubmit_info, None);

    // A change that does not mention it leaves it; `Some(None)` clears it.
    s.apply_session_change(
        SessionChange {
            status: Some(SessionStatus::Resubmitted),
            ..change(&stored, stored.version, t(60))
        },
        None,
    )
    .await
    .unwrap();
    let kept = session(s, &sess).await;
    assert!(kept.resubmit_info.is_some());
    s.apply_session_change(
        SessionChange {
            status: Some(SessionStatus::Approved),
            resubmit_info: Some(None),
            ..change(&kept, kept.version, t(70))
        },
        None,
    )
    .await
    .unwrap();
    let cleared = s.get_session(app.id, sess.id).await.unwrap().unwrap();
    assert_eq!(cleared.resubmit_info, None);
    assert_eq!(cleared.status, SessionStatus::Approved);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubmission_boundary_survives_storage() {
    let db = open();
    let s = &db.store;
    let (app, wf, sess) = resubmitted_session(s).await;

    let bundle = s.session_bundle(app.id, sess.id).await.unwrap().unwrap();
    let info = bundle.session.resubmit_info.clone().expect("stored");
    assert_eq!(info.after_seq, 2, "the resubmission boundary must be kept");

    // The consequence: the person redoes OCR only; LIVENESS (also reopened) has no new attempt
    // yet, so the session must keep waiting instead of being decided from the old attempt.
    let mut attempts = bundle.attempts.clone();
    attempts.push(step_attempt(
        sess.id,
        3,
        "feature_ocr_1",
        Feature::Ocr,
        AttemptStatus::Approved,
    ));
    let steps = transitions_after_attempt(
        bundle.session.status,
        &wf.spec,
        &attempts,
        bundle.session.resubmit_info.as_ref(),
    );
    assert!(steps.is_empty(), "decided too early: {steps:?}");
}

// --- 6. group isolation ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_are_isolated_within_a_group() {
    let db = open();
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;

    const CALLS: usize = 200;
    let n_sessions = (0..CALLS).filter(|i| i % 3 != 0).count();

    // Create the sessions concurrently, then move each to version 2.
    let mut set = JoinSet::new();
    for i in 0..n_sessions {
        let st = s.clone();
        let new = new_session(app.id, Some(wf.id), Some(&format!("vd-{i}")), t(10));
        set.spawn(async move { create(&st, new).await });
    }
    let mut sessions: Vec<Session> = set.join_all().await;
    sessions.sort_by_key(|x| x.number);
    let numbers: HashSet<i64> = sessions.iter().map(|x| x.number).collect();
    assert_eq!(
        numbers,
        (1..=n_sessions as i64).collect(),
        "numbers are unique and dense"
    );

    let mut set = JoinSet::new();
    for sess in &sessions {
        let st = s.clone();
        let c = SessionChange {
            status: Some(SessionStatus::InProgress),
            reviews: vec![review(
                SessionStatus::NotStarted,
                SessionStatus::InProgress,
                None,
                t(20),
            )],
            ..change(sess, 1, t(20))
        };
        set.spawn(async move { st.apply_session_change(c, None).await });
    }
    for r in set.join_all().await {
        r.expect("prelude change");
    }

    // Now fire 200 changes: valid ones expect version 2, stale ones (every third) expect 1 and
    // target sessions that also receive a valid change, with the same attempt seq.
    struct Call {
        stale: bool,
        session: Session,
        change: SessionChange,
    }
    let mut calls = Vec::with_capacity(CALLS);
    let mut next_valid = 0;
    for i in 0..CALLS {
        let stale = i % 3 == 0;
        let target = if stale {
            sessions[(i / 3) * 2 % n_sessions].clone()
        } else {
            next_valid += 1;
            sessions[next_valid - 1].clone()
        };
        let c = SessionChange {
            status: Some(if stale {
                SessionStatus::Declined
            } else {
                SessionStatus::Approved
            }),
            full_name: Some(format!("name-{i}")),
            attempts: vec![attempt(target.id, 1, t(30))],
            reviews: vec![review(
                SessionStatus::InProgress,
                SessionStatus::Approved,
                None,
                t(30),
            )],
            events: vec![event(
                SessionStatus::Approved,
                Some(SessionStatus::InProgress),
            )],
            ..change(&target, if stale { 1 } else { 2 }, t(30))
        };
        calls.push(Call {
            stale,
            session: target,
            change: c,
        });
    }
    assert_eq!(next_valid, n_sessions);

    let mut set = JoinSet::new();
    for (i, call) in calls.iter().enumerate() {
        let st = s.clone();
        let c = call.change.clone();
        set.spawn(async move { (i, st.apply_session_change(c, None).await) });
    }
    let results = set.join_all().await;
    assert_eq!(results.len(), CALLS);
    for (i, r) in &results {
        let call = &calls[*i];
        if call.stale {
            assert!(
                matches!(r, Err(StoreError::VersionConflict)),
                "stale call {i} must conflict, got {r:?}"
            );
        } else {
            assert!(
                matches!(r, Ok(Written::Fresh(()))),
                "valid call {i} must succeed, got {r:?}"
            );
        }
    }

    let conn = raw(&db.path);
    for call in &calls {
        let c = &call.change;
        let sid = call.session.id.to_string();
        let attempt_id = c.attempts[0].id.to_string();
        let review_id = c.reviews[0].uuid.to_string();
        let event_id = c.events[0].event_id.to_string();
        let expected = if call.stale { 0 } else { 1 };
        assert_eq!(
            count(
                &conn,
                "SELECT COUNT(*) FROM attempts WHERE id = ?1",
                &attempt_id
            ),
            expected,
            "attempt of a {} call",
            if call.stale { "stale" } else { "valid" }
        );
        assert_eq!(
            count(
                &conn,
                "SELECT COUNT(*) FROM reviews WHERE uuid = ?1",
                &review_id
            ),
            expected
        );
        assert_eq!(
            count(
                &conn,
                "SELECT COUNT(*) FROM outbox_events WHERE event_id = ?1",
                &event_id
            ),
            expected
        );
        if !call.stale {
            let now = s
                .get_session(app.id, call.session.id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(now.status, SessionStatus::Approved, "session {sid}");
            assert_eq!(now.version, 3, "session {sid}");
            assert_eq!(
                count(
                    &conn,
                    "SELECT COUNT(*) FROM reviews WHERE session_id = ?1",
                    &sid
                ),
                2
            );
        }
    }
    let rows = |table: &str| -> i64 {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(rows("attempts"), n_sessions as i64);
    assert_eq!(rows("outbox_events"), n_sessions as i64);
    assert_eq!(rows("reviews"), 2 * n_sessions as i64);
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM user_sessions WHERE status = ?1",
            "Declined"
        ),
        0
    );
    assert_eq!(s.verify_reviews(None).await.unwrap(), (n_sessions, vec![]));
}

// --- 7. idempotency ----------------------------------------------------------------------------

fn idem_key(app_id: Uuid, fingerprint: &str, now: DateTime<Utc>) -> IdemKey {
    IdemKey {
        app_id,
        key: "create-once".into(),
        fingerprint: fingerprint.into(),
        now,
    }
}

fn session_idem(key: IdemKey) -> Idem<Session> {
    Idem {
        key,
        status_code: 201,
        render: Box::new(|s: &Session| json!({"session_id": s.id, "session_number": s.number})),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_creates_replay_and_conflict() {
    let db = open();
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let other = make_app(s, "beta", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let owf = make_workflow(s, other.id, &["OCR"], true, t(1)).await;

    let first_new = new_session(app.id, Some(wf.id), None, t(10));
    let first = s
        .create_session(
            first_new.clone(),
            Some(session_idem(idem_key(app.id, "a", t(10)))),
        )
        .await
        .unwrap();
    let first = fresh(first);
    assert_eq!(first.id, first_new.id);
    let body = json!({"session_id": first.id, "session_number": first.number});

    let second = s
        .create_session(
            new_session(app.id, Some(wf.id), None, t(20)),
            Some(session_idem(idem_key(app.id, "a", t(20)))),
        )
        .await
        .unwrap();
    assert_eq!(
        second,
        Written::Replayed {
            status_code: 201,
            body: body.clone()
        }
    );
    let (_, n) = s
        .list_sessions(app.id, &SessionFilter::default(), all_page())
        .await
        .unwrap();
    assert_eq!(n, 1, "a replay creates nothing");

    assert_eq!(
        s.idempotent_response(&idem_key(app.id, "a", t(30)), t(30))
            .await
            .unwrap(),
        Some(Written::Replayed {
            status_code: 201,
            body: body.clone()
        })
    );

    let conflict = s
        .create_session(
            new_session(app.id, Some(wf.id), None, t(40)),
            Some(session_idem(idem_key(app.id, "b", t(40)))),
        )
        .await;
    assert!(
        matches!(conflict, Err(StoreError::IdempotencyConflict)),
        "{conflict:?}"
    );
    let lookup = s
        .idempotent_response(&idem_key(app.id, "b", t(40)), t(40))
        .await;
    assert!(
        matches!(lookup, Err(StoreError::IdempotencyConflict)),
        "{lookup:?}"
    );
    let (_, n) = s
        .list_sessions(app.id, &SessionFilter::default(), all_page())
        .await
        .unwrap();
    assert_eq!(n, 1);

    // Keys are scoped to their application.
    let elsewhere = s
        .create_session(
            new_session(other.id, Some(owf.id), None, t(50)),
            Some(session_idem(idem_key(other.id, "b", t(50)))),
        )
        .await
        .unwrap();
    assert!(matches!(elsewhere, Written::Fresh(_)));

    // After the 24-hour window the key is free again.
    let later = t(10) + chrono::Duration::hours(25);
    let renewed = s
        .create_session(
            new_session(app.id, Some(wf.id), None, later),
            Some(session_idem(idem_key(app.id, "b", later))),
        )
        .await
        .unwrap();
    assert!(matches!(renewed, Written::Fresh(_)), "{renewed:?}");
    let (_, n) = s
        .list_sessions(app.id, &SessionFilter::default(), all_page())
        .await
        .unwrap();
    assert_eq!(n, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_idempotent_creates_write_once() {
    let db = open();
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;

    let mut set = JoinSet::new();
    for i in 0..16 {
        let st = s.clone();
        let new = new_session(app.id, Some(wf.id), None, t(10 + i));
        let idem = session_idem(idem_key(app.id, "a", t(10 + i)));
        set.spawn(async move { st.create_session(new, Some(idem)).await.unwrap() });
    }
    let results = set.join_all().await;
    let fresh: Vec<&Session> = results
        .iter()
        .filter_map(|w| match w {
            Written::Fresh(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(fresh.len(), 1, "exactly one request does the work");
    let body = json!({"session_id": fresh[0].id, "session_number": 1});
    for w in &results {
        if let Written::Replayed {
            status_code,
            body: b,
        } = w
        {
            assert_eq!((*status_code, b), (201, &body));
        }
    }
    let (_, n) = s
        .list_sessions(app.id, &SessionFilter::default(), all_page())
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_changes_apply_once() {
    let db = open();
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let sess = create(s, new_session(app.id, Some(wf.id), None, t(10))).await;
    let idem = |fp: &str| Idem::<()> {
        key: IdemKey {
            app_id: app.id,
            key: "decide".into(),
            fingerprint: fp.into(),
            now: t(20),
        },
        status_code: 200,
        render: Box::new(|_: &()| json!({"ok": true})),
    };
    let c = SessionChange {
        status: Some(SessionStatus::Approved),
        reviews: vec![review(
            SessionStatus::NotStarted,
            SessionStatus::Approved,
            None,
            t(20),
        )],
        events: vec![event(
            SessionStatus::Approved,
            Some(SessionStatus::NotStarted),
        )],
        ..change(&sess, 1, t(20))
    };
    assert_eq!(
        s.apply_session_change(c.clone(), Some(idem("a")))
            .await
            .unwrap(),
        Written::Fresh(())
    );
    // The same request again is replayed, not re-checked against the (now newer) version.
    let mut again = c.clone();
    again.reviews = vec![review(
        SessionStatus::NotStarted,
        SessionStatus::Approved,
        None,
        t(20),
    )];
    again.events = vec![event(
        SessionStatus::Approved,
        Some(SessionStatus::NotStarted),
    )];
    assert_eq!(
        s.apply_session_change(again, Some(idem("a")))
            .await
            .unwrap(),
        Written::Replayed {
            status_code: 200,
            body: json!({"ok": true})
        }
    );
    assert_eq!(s.reviews(sess.id).await.unwrap().len(), 1);
    assert_eq!(s.outbox_events(sess.id).await.unwrap().len(), 1);
    assert_eq!(session(s, &sess).await.version, 2);

    // A failed change records no key: the same key may be used again.
    let failed = s
        .apply_session_change(
            change(&sess, 99, t(21)),
            Some(Idem::<()> {
                key: IdemKey {
                    key: "later".into(),
                    ..idem("x").key
                },
                status_code: 200,
                render: Box::new(|_: &()| json!({})),
            }),
        )
        .await;
    assert!(
        matches!(failed, Err(StoreError::VersionConflict)),
        "{failed:?}"
    );
    let lookup = s
        .idempotent_response(
            &IdemKey {
                app_id: app.id,
                key: "later".into(),
                fingerprint: "x".into(),
                now: t(22),
            },
            t(22),
        )
        .await
        .unwrap();
    assert_eq!(lookup, None);
}

// --- 8. deletion -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_session_erases_personal_data_and_keeps_the_chain() {
    let db = open();
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let mut new = new_session(app.id, Some(wf.id), Some("ann"), t(10));
    new.metadata = json!({"email": "ann@example.com"});
    new.callback = Some("https://cb.example".into());
    let sess = create(s, new).await;
    let keep = create(s, new_session(app.id, Some(wf.id), Some("bob"), t(11))).await;

    let change_with_trail = |sess: &Session| SessionChange {
        status: Some(SessionStatus::InReview),
        full_name: Some("Ann Smith".into()),
        attempts: vec![attempt(sess.id, 1, t(20)), attempt(sess.id, 2, t(21))],
        reviews: vec![
            review(
                SessionStatus::NotStarted,
                SessionStatus::InReview,
                None,
                t(20),
            ),
            review(
                SessionStatus::InReview,
                SessionStatus::InReview,
                Some("passport of Ann"),
                t(21),
            ),
        ],
        events: vec![event(
            SessionStatus::InReview,
            Some(SessionStatus::NotStarted),
        )],
        ..change(sess, 1, t(20))
    };
    s.apply_session_change(change_with_trail(&sess), None)
        .await
        .unwrap();
    s.apply_session_change(change_with_trail(&keep), None)
        .await
        .unwrap();

    assert!(s.delete_session(app.id, sess.id, t(100)).await.unwrap());
    assert_eq!(s.get_session(app.id, sess.id).await.unwrap(), None);
    assert!(s.session_bundle(app.id, sess.id).await.unwrap().is_none());
    assert!(
        !s.delete_session(app.id, sess.id, t(101)).await.unwrap(),
        "already gone"
    );
    assert!(!s
        .delete_session(app.id, Uuid::new_v4(), t(101))
        .await
        .unwrap());

    let conn = raw(&db.path);
    let sid = sess.id.to_string();
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM attempts WHERE session_id = ?1",
            &sid
        ),
        2
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM attempts WHERE session_id = ?1 AND data = '{}'",
            &sid
        ),
        2,
        "attempt data is erased"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM reviews WHERE session_id = ?1",
            &sid
        ),
        2,
        "review rows are kept"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM reviews WHERE session_id = ?1
               AND comment IS NULL AND metadata = '{}' AND redacted = 1",
            &sid
        ),
        2,
        "review comments are erased"
    );
    let (vendor, metadata, callback, full_name): (
        Option<String>,
        String,
        Option<String>,
        Option<String>,
    ) = conn
        .query_row(
            "SELECT vendor_data, metadata, callback, full_name FROM user_sessions WHERE id = ?1",
            [&sid],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        (vendor, metadata.as_str(), callback, full_name),
        (None, "{}", None, None)
    );

    let events = s.outbox_events(sess.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert!(
        events.iter().all(|e| e.dropped),
        "pending events are dropped"
    );

    assert_eq!(s.verify_reviews(Some(sess.id)).await.unwrap(), (1, vec![]));
    assert_eq!(s.verify_reviews(None).await.unwrap(), (2, vec![]));

    // The other session is untouched.
    let kept = s.session_bundle(app.id, keep.id).await.unwrap().unwrap();
    assert_eq!(kept.session.vendor_data.as_deref(), Some("bob"));
    assert_eq!(kept.attempts[0].data["first_name"], json!("Ann"));
    assert_eq!(kept.reviews[1].comment.as_deref(), Some("passport of Ann"));
    assert!(s
        .outbox_events(keep.id)
        .await
        .unwrap()
        .iter()
        .all(|e| !e.dropped));

    let (listed, n) = s
        .list_sessions(app.id, &SessionFilter::default(), all_page())
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(listed[0].id, keep.id);

    // A deleted session cannot be changed any more.
    let late = s
        .apply_session_change(
            SessionChange {
                status: Some(SessionStatus::Approved),
                ..change(&sess, 2, t(200))
            },
            None,
        )
        .await;
    assert!(matches!(late, Err(StoreError::VersionConflict)), "{late:?}");
}

// --- 9. append-only review trail ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_rows_are_append_only_and_tampering_is_detected() {
    let db = open();
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let sess = create(s, new_session(app.id, Some(wf.id), None, t(10))).await;
    let clean = create(s, new_session(app.id, Some(wf.id), None, t(11))).await;
    for target in [&sess, &clean] {
        s.apply_session_change(
            SessionChange {
                status: Some(SessionStatus::Approved),
                reviews: vec![
                    review(
                        SessionStatus::NotStarted,
                        SessionStatus::InProgress,
                        None,
                        t(20),
                    ),
                    review(
                        SessionStatus::InProgress,
                        SessionStatus::InReview,
                        Some("hmm"),
                        t(21),
                    ),
                    review(
                        SessionStatus::InReview,
                        SessionStatus::Approved,
                        Some("fine"),
                        t(22),
                    ),
                ],
                ..change(target, 1, t(20))
            },
            None,
        )
        .await
        .unwrap();
    }

    let conn = raw(&db.path);
    let sid = sess.id.to_string();
    let upd = conn.execute(
        "UPDATE reviews SET comment = 'x' WHERE session_id = ?1",
        [&sid],
    );
    assert!(upd.is_err(), "UPDATE must be refused by the trigger");
    assert!(
        upd.unwrap_err().to_string().contains("append-only"),
        "refused by the append-only trigger"
    );
    let upd_all = conn.execute("UPDATE reviews SET comment = 'x'", []);
    assert!(upd_all.is_err());
    // Even a pretend "redaction" that also rewrites the hash is refused.
    let forge = conn.execute(
        "UPDATE reviews SET comment = NULL, metadata = '{}', redacted = 1, hash = 'f00'
         WHERE session_id = ?1",
        [&sid],
    );
    assert!(forge.is_err(), "a redaction must not change the hash");
    let del = conn.execute("DELETE FROM reviews WHERE session_id = ?1", [&sid]);
    assert!(del.is_err(), "DELETE must be refused by the trigger");
    assert!(conn.execute("DELETE FROM reviews", []).is_err());
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM reviews WHERE session_id = ?1",
            &sid
        ),
        3
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM reviews WHERE comment = ?1",
            "x"
        ),
        0
    );
    assert_eq!(s.verify_reviews(None).await.unwrap(), (2, vec![]));

    // Simulate tampering by someone able to drop the trigger.
    conn.execute_batch("DROP TRIGGER reviews_no_update")
        .unwrap();
    let n = conn
        .execute(
            "UPDATE reviews SET comment = 'approved by me' WHERE session_id = ?1 AND seq = 2",
            [&sid],
        )
        .unwrap();
    assert_eq!(n, 1);

    let (checked, broken) = s.verify_reviews(None).await.unwrap();
    assert_eq!(checked, 2);
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert_eq!(broken[0].0, sess.id);
    assert_eq!(broken[0].1.seq, 2);
    let (_, one) = s.verify_reviews(Some(sess.id)).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].1.seq, 2);
    assert_eq!(s.verify_reviews(Some(clean.id)).await.unwrap(), (1, vec![]));

    // Altering a hashed column (not just the personal fields) is also found.
    let csid = clean.id.to_string();
    conn.execute(
        "UPDATE reviews SET new_status = 'Declined' WHERE session_id = ?1 AND seq = 3",
        [&csid],
    )
    .unwrap();
    let (_, broken) = s.verify_reviews(Some(clean.id)).await.unwrap();
    assert_eq!(broken.len(), 1);
    assert_eq!(broken[0].1.seq, 3);
}

// --- 10. durability ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_closing_and_reopening() {
    let db = open();
    let app;
    let wf;
    let sess;
    let key_hash = [7u8; 32];
    {
        let s = &db.store;
        app = make_app(s, "alpha", t(0)).await;
        s.create_key(key(app.id, key_hash, t(1))).await.unwrap();
        wf = make_workflow(s, app.id, &["OCR"], true, t(2)).await;
        sess = create(s, new_session(app.id, Some(wf.id), Some("ann"), t(10))).await;
        s.apply_session_change(
            SessionChange {
                status: Some(SessionStatus::Approved),
                attempts: vec![attempt(sess.id, 1, t(20))],
                reviews: vec![review(
                    SessionStatus::NotStarted,
                    SessionStatus::Approved,
                    Some("ok"),
                    t(20),
                )],
                events: vec![event(
                    SessionStatus::Approved,
                    Some(SessionStatus::NotStarted),
                )],
                ..change(&sess, 1, t(20))
            },
            None,
        )
        .await
        .unwrap();
    }
    let Db { _dir, path, store } = db;
    drop(store);

    // The file is in WAL mode (set persistently by the store).
    let mode: String = raw(&path)
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");

    let s = open_at(&path);
    s.ping().await.unwrap();
    assert_eq!(s.find_app("alpha").await.unwrap(), Some(app.clone()));
    assert_eq!(s.keys_by_hash_prefix([7; 8]).await.unwrap().len(), 1);
    assert_eq!(
        s.get_workflow(app.id, wf.id).await.unwrap(),
        Some(wf.clone())
    );
    let bundle = s.session_bundle(app.id, sess.id).await.unwrap().unwrap();
    assert_eq!(bundle.session.status, SessionStatus::Approved);
    assert_eq!(bundle.session.version, 2);
    assert_eq!(bundle.attempts.len(), 1);
    assert_eq!(bundle.reviews.len(), 1);
    assert_eq!(bundle.reviews[0].comment.as_deref(), Some("ok"));
    assert_eq!(s.outbox_events(sess.id).await.unwrap().len(), 1);
    assert_eq!(s.verify_reviews(None).await.unwrap(), (1, vec![]));

    // The session counter continues, and the migration did not run twice.
    let next = create(&s, new_session(app.id, None, None, t(30))).await;
    assert_eq!(next.number, 2);
    drop(s);
    assert_eq!(SqliteStore::migrate_file(&path).unwrap(), 0);
    let s = open_at(&path);
    assert!(s.get_session(app.id, next.id).await.unwrap().is_some());
}

// --- 11. list filters --------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_sessions_filters_and_pages() {
    let db = open();
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let other = make_app(s, "beta", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let wf2 = make_workflow(s, app.id, &["LIVENESS"], false, t(1)).await;
    let kyb = make_workflow(s, app.id, &["KYB_REGISTRY"], false, t(1)).await;
    let owf = make_workflow(s, other.id, &["OCR"], true, t(1)).await;

    let mk = |wf: Uuid, vd: &str, when: &str| new_session(app.id, Some(wf), Some(vd), at(when));
    let s1 = create(s, mk(wf.id, "alice-1", "2024-03-01T10:00:00Z")).await;
    let s2 = create(s, mk(wf.id, "alice-2", "2024-03-02T00:00:00Z")).await;
    let s3 = create(s, mk(wf2.id, "carol", "2024-03-03T23:59:59.999999Z")).await;
    let s4 = create(s, mk(kyb.id, "acme", "2024-03-02T12:00:00Z")).await;
    let s5 = create(s, mk(wf.id, "al_x", "2024-03-04T00:00:00Z")).await;
    let s6 = create(s, mk(wf.id, "alice-3", "2024-03-02T08:00:00Z")).await;
    let _foreign = create(
        s,
        new_session(
            other.id,
            Some(owf.id),
            Some("alice-9"),
            at("2024-03-02T01:00:00Z"),
        ),
    )
    .await;
    assert_eq!(
        [s1.number, s2.number, s3.number, s4.number, s5.number, s6.number],
        [1, 2, 3, 4, 5, 6]
    );

    s.apply_session_change(
        SessionChange {
            status: Some(SessionStatus::Approved),
            country: Some("DE".into()),
            full_name: Some("Bob Stone".into()),
            ..change(&s2, 1, t(100))
        },
        None,
    )
    .await
    .unwrap();
    s.apply_session_change(
        SessionChange {
            status: Some(SessionStatus::Declined),
            country: Some("FR".into()),
            ..change(&s3, 1, t(100))
        },
        None,
    )
    .await
    .unwrap();
    s.apply_session_change(
        SessionChange {
            status: Some(SessionStatus::Approved),
            ..change(&s4, 1, t(100))
        },
        None,
    )
    .await
    .unwrap();
    assert!(s.delete_session(app.id, s6.id, t(200)).await.unwrap());

    let list = |f: SessionFilter, page: Page| {
        let s = s.clone();
        async move {
            let (rows, n) = s.list_sessions(app.id, &f, page).await.unwrap();
            (rows.iter().map(|r| r.number).collect::<Vec<_>>(), n)
        }
    };
    let p = all_page();

    // Default: live user sessions of this application, newest first.
    assert_eq!(
        list(SessionFilter::default(), p).await,
        (vec![5, 3, 2, 1], 4)
    );
    assert_eq!(
        list(
            SessionFilter {
                kind: Some(KindFilter::User),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![5, 3, 2, 1], 4)
    );
    assert_eq!(
        list(
            SessionFilter {
                kind: Some(KindFilter::Business),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![4], 1)
    );
    let (rows, n) = s
        .list_sessions(
            app.id,
            &SessionFilter {
                kind: Some(KindFilter::All),
                ..Default::default()
            },
            p,
        )
        .await
        .unwrap();
    assert_eq!(n, 5);
    assert_eq!(
        rows.iter().map(|r| r.number).collect::<Vec<_>>(),
        vec![5, 4, 3, 2, 1]
    );
    assert_eq!(rows[1].kind, WorkflowKind::Business);
    assert_eq!(rows[1], session(s, &s4).await);
    assert!(rows
        .iter()
        .filter(|r| r.number != 4)
        .all(|r| r.kind == WorkflowKind::User));

    // Statuses.
    assert_eq!(
        list(
            SessionFilter {
                statuses: vec![SessionStatus::Approved, SessionStatus::Declined],
                ..Default::default()
            },
            p
        )
        .await,
        (vec![3, 2], 2)
    );
    assert_eq!(
        list(
            SessionFilter {
                kind: Some(KindFilter::All),
                statuses: vec![SessionStatus::Approved],
                ..Default::default()
            },
            p
        )
        .await,
        (vec![4, 2], 2)
    );
    assert_eq!(
        list(
            SessionFilter {
                statuses: vec![SessionStatus::NotStarted],
                ..Default::default()
            },
            p
        )
        .await,
        (vec![5, 1], 2)
    );

    // vendor_data (exact), workflow, country.
    assert_eq!(
        list(
            SessionFilter {
                vendor_data: Some("carol".into()),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![3], 1)
    );
    assert_eq!(
        list(
            SessionFilter {
                vendor_data: Some("alice".into()),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![], 0)
    );
    assert_eq!(
        list(
            SessionFilter {
                vendor_data: Some("alice-3".into()),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![], 0),
        "deleted sessions are not listed"
    );
    assert_eq!(
        list(
            SessionFilter {
                workflow_ids: vec![wf2.id],
                ..Default::default()
            },
            p
        )
        .await,
        (vec![3], 1)
    );
    assert_eq!(
        list(
            SessionFilter {
                country: Some("DE".into()),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![2], 1)
    );

    // Dates (inclusive days on created_at).
    let day = |d: u32| NaiveDate::from_ymd_opt(2024, 3, d).unwrap();
    assert_eq!(
        list(
            SessionFilter {
                date_from: Some(day(2)),
                date_to: Some(day(2)),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![2], 1)
    );
    assert_eq!(
        list(
            SessionFilter {
                kind: Some(KindFilter::All),
                date_from: Some(day(2)),
                date_to: Some(day(3)),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![4, 3, 2], 3)
    );
    assert_eq!(
        list(
            SessionFilter {
                date_from: Some(day(3)),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![5, 3], 2)
    );
    assert_eq!(
        list(
            SessionFilter {
                date_to: Some(day(1)),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![1], 1)
    );

    // Search: a prefix of vendor_data or of the name read from the document; LIKE wildcards in
    // the query are literal.
    assert_eq!(
        list(
            SessionFilter {
                search: Some("ali".into()),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![2, 1], 2)
    );
    assert_eq!(
        list(
            SessionFilter {
                search: Some("Bob".into()),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![2], 1)
    );
    assert_eq!(
        list(
            SessionFilter {
                search: Some("Stone".into()),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![], 0),
        "a prefix, not a substring"
    );
    assert_eq!(
        list(
            SessionFilter {
                search: Some("al_".into()),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![5], 1)
    );
    assert_eq!(
        list(
            SessionFilter {
                search: Some("%".into()),
                ..Default::default()
            },
            p
        )
        .await,
        (vec![], 0)
    );

    // Combined filters.
    assert_eq!(
        list(
            SessionFilter {
                search: Some("alice".into()),
                statuses: vec![SessionStatus::NotStarted],
                ..Default::default()
            },
            p
        )
        .await,
        (vec![1], 1)
    );

    // Pagination: the count is the total, the page is a slice.
    let all = SessionFilter {
        kind: Some(KindFilter::All),
        ..Default::default()
    };
    assert_eq!(
        list(
            all.clone(),
            Page {
                limit: 2,
                offset: 0
            }
        )
        .await,
        (vec![5, 4], 5)
    );
    assert_eq!(
        list(
            all.clone(),
            Page {
                limit: 2,
                offset: 2
            }
        )
        .await,
        (vec![3, 2], 5)
    );
    assert_eq!(
        list(
            all.clone(),
            Page {
                limit: 2,
                offset: 4
            }
        )
        .await,
        (vec![1], 5)
    );
    assert_eq!(
        list(
            all,
            Page {
                limit: 2,
                offset: 10
            }
        )
        .await,
        (vec![], 5)
    );
}

#[test]
fn database_urls_name_files() {
    use vouch_store::sqlite::path_from_url;
    assert_eq!(
        path_from_url("sqlite://data/vouch.db"),
        Some(PathBuf::from("data/vouch.db"))
    );
    assert_eq!(
        path_from_url("sqlite:vouch.db"),
        Some(PathBuf::from("vouch.db"))
    );
    assert_eq!(
        path_from_url("sqlite:///var/lib/vouch.db"),
        Some(PathBuf::from("/var/lib/vouch.db"))
    );
    assert_eq!(
        path_from_url("sqlite://vouch.db?mode=rwc"),
        Some(PathBuf::from("vouch.db"))
    );
    assert_eq!(path_from_url("sqlite://"), None);
    assert_eq!(path_from_url("postgres://localhost/vouch"), None);
}
