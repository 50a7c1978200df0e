//! The webhook benchmark: deliveries per second to a local receiver and the time from a change's
//! commit to its first delivery attempt.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::routing::post;
use axum::Router;
use hdrhistogram::Histogram;
use hyper::Method;
use serde_json::json;

use crate::client::Conn;
use crate::load::{self, Plan};
use crate::pg;
use crate::scenarios::{prepare, Scenario};
use crate::server::Cluster;

pub struct WebhookFigures {
    pub changes: u64,
    pub delivered: u64,
    pub deliveries_per_sec: f64,
    pub lag_ms: Histogram<u64>,
}

struct Counter {
    n: AtomicU64,
    first: std::sync::Mutex<Option<Instant>>,
    last: std::sync::Mutex<Option<Instant>>,
}

async fn receiver() -> anyhow::Result<(SocketAddr, Arc<Counter>)> {
    let c = Arc::new(Counter {
        n: AtomicU64::new(0),
        first: Default::default(),
        last: Default::default(),
    });
    let state = c.clone();
    let app = Router::new().route(
        "/hook",
        post(move || {
            let c = state.clone();
            async move {
                let now = Instant::now();
                c.n.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut f) = c.first.lock() {
                    f.get_or_insert(now);
                }
                if let Ok(mut l) = c.last.lock() {
                    *l = Some(now);
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, c))
}

/// Microseconds from each event's creation (taken in its transaction) to its first attempt, on
/// PostgreSQL (the URL names the schema).
async fn pg_lags(url: &str) -> anyhow::Result<Histogram<u64>> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let rows = client
        .query(
            "SELECT (EXTRACT(EPOCH FROM (a.started_at - e.created_at)) * 1000000.0)::float8
             FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
             JOIN outbox_events e ON e.seq = d.event_seq WHERE a.attempt = 1",
            &[],
        )
        .await?;
    let mut h = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    for r in rows {
        let _ = h.record(r.get::<_, f64>(0).max(1.0) as u64);
    }
    Ok(h)
}

/// Microseconds (millisecond resolution) from each event's creation (taken in its transaction)
/// to its first attempt, on SQLite.
fn lags(db: &Path) -> anyhow::Result<Histogram<u64>> {
    let conn = rusqlite::Connection::open(db)?;
    let mut st = conn.prepare(
        "SELECT (julianday(a.started_at) - julianday(e.created_at)) * 86400000.0
         FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
         JOIN outbox_events e ON e.seq = d.event_seq WHERE a.attempt = 1",
    )?;
    let mut h = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    for lag in st.query_map([], |r| r.get::<_, f64>(0))? {
        let us = (lag? * 1000.0).max(1.0) as u64;
        let _ = h.record(us);
    }
    Ok(h)
}

/// update-status load on `nodes` servers (round-robin) with one destination subscribed; every
/// node runs the webhook workers. `database_url` `None`: a fresh SQLite file (one node).
pub async fn run(
    binary: &Path,
    database_url: Option<&str>,
    extra_env: &[(String, String)],
    nodes: usize,
    sessions: usize,
    plan: Plan,
) -> anyhow::Result<WebhookFigures> {
    let (rx_addr, counter) = receiver().await?;
    let mut env = extra_env.to_vec();
    env.push((
        "VOUCH_ALLOW_PRIVATE_DESTINATIONS".to_string(),
        "true".to_string(),
    ));
    let cluster = Cluster::start(binary, database_url, &env, nodes).await?;
    let server = cluster.first();
    let prepared = prepare(server.addr, &server.key, sessions).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut c = Conn::open(server.addr, &server.key).await?;
    let (s, d) = c
        .json(
            Method::POST,
            "/v3/webhook/destinations/",
            Some(&json!({"label": "bench", "url": format!("http://{rx_addr}/hook")})),
        )
        .await?;
    anyhow::ensure!(s == 201, "destination: {s} {d}");
    let stats = load::run(
        &cluster.addrs(),
        cluster.key(),
        Plan {
            warmup: Duration::ZERO,
            ..plan
        },
        Scenario::UpdateStatus.streams(&prepared),
    )
    .await?;
    let changes = stats.ok;
    // Let the queue drain.
    let deadline = Instant::now() + Duration::from_secs(60);
    while counter.n.load(Ordering::Relaxed) < changes && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let delivered = counter.n.load(Ordering::Relaxed);
    let span = match (
        counter.first.lock().ok().and_then(|f| *f),
        counter.last.lock().ok().and_then(|l| *l),
    ) {
        (Some(a), Some(b)) => b.duration_since(a),
        _ => Duration::ZERO,
    };
    let lag_ms = match database_url.filter(|u| pg::is_postgres_url(u)) {
        Some(url) => pg_lags(url).await,
        None => lags(&server.db_path()),
    }
    .context("reading delivery lags")?;
    cluster.stop().await;
    Ok(WebhookFigures {
        changes,
        delivered,
        deliveries_per_sec: delivered as f64 / span.as_secs_f64().max(1e-9),
        lag_ms,
    })
}
