//! The overload benchmark: session creation (every request a durable write) measured closed
//! loop for the server's capacity, then offered open loop at 1×, 2× and 5× that rate from
//! enough connections to overflow the writer's queue. For each: requests accepted and
//! refused (`503 overloaded`), the p99 of the accepted ones and of the refusals, the server's
//! peak memory, and `/metrics`' count of shed requests. Afterwards the database must hold every
//! session that was acknowledged.

use std::path::Path;
use std::time::Duration;

use anyhow::ensure;
use hyper::Method;

use crate::client::Conn;
use crate::load::{self, Plan, Stats};
use crate::scenarios::{prepare, Scenario};
use crate::server::Server;

pub struct Step {
    pub multiple: f64,
    pub offered: f64,
    pub stats: Stats,
    pub peak_rss_mb: f64,
}

pub struct Figures {
    pub capacity: f64,
    pub capacity_p99_ms: f64,
    pub steps: Vec<Step>,
    pub shed_by_metrics: u64,
    pub created: u64,
    pub acknowledged_at_least: u64,
}

/// Peak resident memory of a process so far, in MiB (Linux `VmHWM`).
fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn get_text(conn: &mut Conn, path: &str) -> anyhow::Result<String> {
    let (_, body) = conn.send(Method::GET, path, None).await?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

pub async fn run(
    binary: &Path,
    database_url: Option<&str>,
    env: &[(String, String)],
    duration: Duration,
    connections: usize,
) -> anyhow::Result<Figures> {
    let server = Server::start(binary, database_url, env).await?;
    let prepared = prepare(server.addr, &server.key, 1).await?;
    let addrs = [server.addr];
    eprintln!("measuring capacity (closed loop, 64 connections)…");
    let closed = load::run(
        &addrs,
        &server.key,
        Plan {
            connections: 64,
            duration,
            warmup: Duration::from_secs(1),
            rate: None,
        },
        Scenario::CreateSession.streams(&prepared),
    )
    .await?;
    let capacity = closed.throughput();
    ensure!(capacity > 0.0, "no session was created");
    let pid = server.pid().unwrap_or(0);
    let mut steps = Vec::new();
    let mut acknowledged = closed.ok;
    for multiple in [1.0, 2.0, 5.0] {
        let offered = capacity * multiple;
        eprintln!("offering {offered:.0}/s ({multiple}× capacity) from {connections} connections…");
        let stats = load::run(
            &addrs,
            &server.key,
            Plan {
                connections,
                duration,
                warmup: Duration::from_secs(1),
                rate: Some(offered),
            },
            // Fresh streams each run: vendor_data is never repeated.
            Scenario::CreateSession.streams(&prepared),
        )
        .await?;
        acknowledged += stats.ok;
        steps.push(Step {
            multiple,
            offered,
            stats,
            peak_rss_mb: peak_rss_mb(pid),
        });
    }
    let mut conn = Conn::open(server.addr, &server.key).await?;
    let metrics = get_text(&mut conn, "/metrics").await?;
    let shed_by_metrics = metrics
        .lines()
        .find_map(|l| l.strip_prefix("vouch_shed_requests_total{reason=\"overloaded\"} "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let list = get_text(&mut conn, "/v3/sessions/?limit=1").await?;
    let created = serde_json::from_str::<serde_json::Value>(&list)?["count"]
        .as_u64()
        .unwrap_or(0);
    server.stop().await;
    Ok(Figures {
        capacity,
        capacity_p99_ms: closed.ms(0.99),
        steps,
        shed_by_metrics,
        created,
        acknowledged_at_least: acknowledged,
    })
}

/// The markdown table of the figures.
pub fn table(head: &str, f: &Figures, connections: usize) -> String {
    let mut out = format!(
        "{head}| create session, {connections} connections | offered/s | accepted/s | refused 503 | refused/s | other errors | accepted p50 ms | accepted p99 ms | peak RSS MB |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n| capacity (closed loop, 64 connections) | | {:.0} | | | | | {:.1} | |\n",
        f.capacity, f.capacity_p99_ms
    );
    for s in &f.steps {
        let refused: u64 = s
            .stats
            .errors
            .iter()
            .filter(|(k, _)| k.starts_with("503"))
            .map(|(_, v)| v)
            .sum();
        let other = s.stats.error_count() - refused;
        let secs = s.stats.elapsed.as_secs_f64().max(1e-9);
        out.push_str(&format!(
            "| {}× capacity | {:.0} | {:.0} | {} | {:.0} | {} | {:.1} | {:.1} | {:.0} |\n",
            s.multiple,
            s.offered,
            s.stats.throughput(),
            refused,
            refused as f64 / secs,
            other,
            s.stats.ms(0.5),
            s.stats.ms(0.99),
            s.peak_rss_mb,
        ));
    }
    out.push_str(&format!(
        "\n/metrics counted {} shed requests; the database holds {} sessions for at least {} acknowledged in the measured windows ({}).\n",
        f.shed_by_metrics,
        f.created,
        f.acknowledged_at_least,
        if f.created >= f.acknowledged_at_least { "none lost" } else { "LOST SOME" }
    ));
    out
}
