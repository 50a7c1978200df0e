//! The machine's ceilings, measured in the same run: the bare HTTP stack and the bare storage
//! transaction, so vouch's figures can be read as ratios on noisy shared hardware.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vouch_core::{AppId, SessionId, WorkflowId};

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;
use vouch_core::attempt::ActorType;
use vouch_core::review::NewReview;
use vouch_core::session::Environment;
use vouch_core::workflow::{validate_features, FeatureInput};
use vouch_core::SessionStatus;
use vouch_store::postgres::{PgOptions, PgStore};
use vouch_store::sqlite::SqliteStore;
use vouch_store::{
    App, NewEvent, NewSession, SessionChange, Store, WorkflowRecord, WorkflowStatus, Written,
};

use crate::load::{self, Plan, Stats};
use crate::scenarios::{Prepared, Scenario};
use crate::server::Server;

/// update-status through the same HTTP stack with nothing behind it.
pub async fn bare_http(binary: &Path, plan: Plan, sessions: usize) -> anyhow::Result<Stats> {
    let server = Server::start_command(binary, "serve-bare", None, &[]).await?;
    let prepared = Prepared {
        workflow_id: Uuid::nil().to_string(),
        sessions: (0..sessions)
            .map(|i| {
                (
                    Uuid::from_u128(i as u128 + 1).to_string(),
                    "Approved".to_string(),
                )
            })
            .collect(),
        pages: Vec::new(),
    };
    let stats = load::run(
        &[server.addr],
        &server.key,
        plan,
        Scenario::UpdateStatus.streams(&prepared),
    )
    .await?;
    server.stop().await;
    Ok(stats)
}

/// The change update-status writes (status, API_KEY review row, `status.updated` event),
/// decided and applied by the store's single writer, without HTTP.
fn flip(s: &vouch_store::SessionState) -> Result<Option<SessionChange>, vouch_core::Rejection> {
    let from = s.session.status;
    let to = if from == SessionStatus::Approved {
        SessionStatus::Declined
    } else {
        SessionStatus::Approved
    };
    let now = Utc::now();
    let mut c = SessionChange {
        status: Some(to),
        ..SessionChange::for_session(&s.session, now)
    };
    c.reviews.push(NewReview {
        uuid: Uuid::now_v7(),
        activity_type: vouch_core::review::ActivityType::StatusChange,
        actor_type: ActorType::ApiKey,
        actor_display: "bench".into(),
        previous_status: Some(from),
        new_status: Some(to),
        comment: Some("bench".into()),
        metadata: json!({"nodes_to_resubmit": [], "send_email": false}),
        created_at: now,
    });
    c.events.push(NewEvent::status_updated(from, to));
    Ok(Some(c))
}

/// Where the bare storage transaction runs.
pub enum StorageTarget {
    /// A fresh SQLite file in a temporary folder.
    Sqlite,
    /// A PostgreSQL URL (a fresh schema) and the connections the store may keep.
    Postgres { url: String, pool_size: usize },
}

/// The store's transaction without HTTP, on a runtime of its own with a worker per core, as
/// vouch's (the benchmark's runtime has `--client-threads` workers, one by default).
pub async fn bare_storage(
    target: StorageTarget,
    plan: Plan,
    sessions: usize,
) -> anyhow::Result<Stats> {
    tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(bare_storage_here(target, plan, sessions))
    })
    .await?
}

async fn bare_storage_here(
    target: StorageTarget,
    plan: Plan,
    sessions: usize,
) -> anyhow::Result<Stats> {
    let dir = tempfile::tempdir()?;
    let analyze = match &target {
        StorageTarget::Postgres { url, .. } => Some(url.clone()),
        StorageTarget::Sqlite => None,
    };
    let store: Arc<dyn Store> = match target {
        StorageTarget::Sqlite => Arc::new(SqliteStore::open(&dir.path().join("vouch.db"), 2)?),
        StorageTarget::Postgres { url, pool_size } => Arc::new(
            PgStore::connect(&PgOptions {
                pool_size,
                ..PgOptions::new(url)
            })
            .await?,
        ),
    };
    let now = Utc::now();
    let app = store
        .create_app(App {
            id: AppId::random(),
            name: "bench".into(),
            mode: Environment::Live,
            created_at: now,
        })
        .await?;
    let spec = validate_features(&[
        FeatureInput {
            feature: Some(json!("OCR")),
            config: None,
            label: None,
        },
        FeatureInput {
            feature: Some(json!("LIVENESS")),
            config: None,
            label: None,
        },
    ])
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let wf = WorkflowRecord {
        settings: Default::default(),
        archived_at: None,
        id: WorkflowId::random(),
        version: 1,
        app_id: app.id,
        label: "bench".into(),
        status: WorkflowStatus::Published,
        is_default: true,
        spec,
        created_at: now,
    };
    store.create_workflow(wf.clone(), None).await?;
    // Created by 16 tasks (PostgreSQL commits each one separately; SQLite groups them).
    let creators = 16.min(sessions.max(1));
    let mut made = Vec::new();
    for w in 0..creators {
        let (store, wf_id, app_id) = (store.clone(), wf.id, app.id);
        made.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in (w..sessions).step_by(creators) {
                let written = store
                    .create_session(
                        NewSession {
                            id: SessionId::random(),
                            app_id,
                            token: format!("t{i}"),
                            workflow_id: Some(wf_id),
                            vendor_data: None,
                            metadata: json!({}),
                            callback: None,
                            callback_method: None,
                            language: None,
                            contact_details: json!({}),
                            expected_details: json!({}),
                            now,
                            expires_at: now + chrono::Duration::days(7),
                            sandbox_scenario: None,
                        },
                        None,
                    )
                    .await?;
                if let Written::Fresh(s) = written {
                    ids.push(s.id);
                }
            }
            anyhow::Ok(ids)
        }));
    }
    let mut ids = Vec::with_capacity(sessions);
    for t in made {
        ids.extend(t.await??);
    }
    if let Some(url) = &analyze {
        crate::pg::analyze_without_autovacuum(url).await?;
    }
    let ids = Arc::new(ids);
    let start = Instant::now() + plan.warmup;
    let end = start + plan.duration;
    let mut tasks = Vec::new();
    for c in 0..plan.connections {
        let (store, ids) = (store.clone(), ids.clone());
        let app_id = app.id;
        tasks.push(tokio::spawn(async move {
            let mut stats = Stats::new();
            let mine: Vec<SessionId> = ids
                .iter()
                .skip(c)
                .step_by(plan.connections)
                .copied()
                .collect();
            let mut i = 0;
            while Instant::now() < end && !mine.is_empty() {
                let sid = mine[i % mine.len()];
                i += 1;
                let t0 = Instant::now();
                let r = store
                    .modify_session(app_id, sid, Box::new(flip), None)
                    .await;
                let done = Instant::now();
                if t0 >= start && done <= end {
                    match r {
                        Ok(_) => {
                            stats.ok += 1;
                            let _ = stats
                                .latency_us
                                .record((done - t0).as_micros().max(1) as u64);
                        }
                        Err(e) => *stats.errors.entry(e.to_string()).or_default() += 1,
                    }
                }
            }
            stats
        }));
    }
    let mut total = Stats::new();
    for t in tasks {
        total.merge(t.await?);
    }
    total.elapsed = plan.duration;
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(total)
}
