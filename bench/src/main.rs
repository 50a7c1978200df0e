//! vouch-bench: starts a real vouch, prepares sessions and measures the API.
//!
//! `cargo build --release -p vouch -p vouch-bench && target/release/vouch-bench`

mod ceilings;
mod client;
mod load;
mod scenarios;
mod server;
mod webhooks;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use load::{Plan, Stats};
use scenarios::{prepare, Scenario};
use server::Server;

#[derive(Parser, Debug)]
#[command(about = "Measure vouch: throughput and latency percentiles of its API")]
struct Args {
    /// The vouch binary (default: the release build next to this one).
    #[arg(long)]
    vouch: Option<PathBuf>,
    /// Database for the server under test (default: a fresh SQLite file).
    #[arg(long)]
    database_url: Option<String>,
    /// Scenarios to run, in order (default: the standard set).
    #[arg(long, value_enum, value_delimiter = ',')]
    scenario: Vec<Scenario>,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Open-loop rate in requests per second (default: closed-loop).
    #[arg(long)]
    rate: Option<f64>,
    /// Measured seconds per scenario.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Unmeasured seconds before each measurement.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Sessions prepared (decided) before each update-status run.
    #[arg(long, default_value_t = 4000)]
    sessions: usize,
    /// Threads of the load generator (the rest of the machine is the server's).
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Also write the markdown table to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Measure webhook delivery instead: update-status load with one subscribed destination.
    #[arg(long)]
    webhooks: bool,
    /// Skip the ceilings (bare HTTP stack, bare storage transaction) measured after the scenarios.
    #[arg(long)]
    no_ceilings: bool,
}

struct Row {
    scenario: Scenario,
    plan: Plan,
    stats: Stats,
}

fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| scenario | load | requests/s | p50 ms | p90 ms | p99 ms | p99.9 ms | errors |\n|---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let load = match r.plan.rate {
            Some(rate) => format!("open loop {rate:.0}/s, {} conns", r.plan.connections),
            None => format!("closed loop, {} conns", r.plan.connections),
        };
        let errors = if r.stats.errors.is_empty() {
            "0".to_string()
        } else {
            format!("{} ({:?})", r.stats.error_count(), r.stats.errors)
        };
        let _ = writeln!(
            s,
            "| {} | {load} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {errors} |",
            r.scenario.name(),
            r.stats.throughput(),
            r.stats.ms(0.5),
            r.stats.ms(0.9),
            r.stats.ms(0.99),
            r.stats.ms(0.999),
        );
    }
    s
}

async fn bench(args: Args) -> anyhow::Result<()> {
    let binary = args.vouch.clone().unwrap_or_else(server::default_binary);
    let scenarios = if args.scenario.is_empty() {
        vec![
            Scenario::UpdateStatus,
            Scenario::UpdateStatusMix,
            Scenario::GetDecision,
            Scenario::CreateSession,
            Scenario::List,
        ]
    } else {
        args.scenario.clone()
    };
    let plan = Plan {
        connections: args.connections,
        duration: Duration::from_secs_f64(args.duration),
        warmup: Duration::from_secs_f64(args.warmup),
        rate: args.rate,
    };
    if args.webhooks {
        let f = webhooks::run(&binary, args.sessions, plan).await?;
        let out = format!(
            "| webhooks | changes | delivered | deliveries/s | commit→first attempt p50 ms | p90 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|---:|---:|\n| {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
            match plan.rate { Some(r) => format!("open loop {r:.0}/s, {} conns", plan.connections), None => format!("closed loop, {} conns", plan.connections) },
            f.changes,
            f.delivered,
            f.deliveries_per_sec,
            f.lag_ms.value_at_quantile(0.5) as f64 / 1000.0,
            f.lag_ms.value_at_quantile(0.9) as f64 / 1000.0,
            f.lag_ms.value_at_quantile(0.99) as f64 / 1000.0,
            f.lag_ms.max() as f64 / 1000.0,
        );
        println!("{out}");
        if let Some(path) = &args.out {
            std::fs::write(path, &out)?;
        }
        return Ok(());
    }
    let mut rows = Vec::new();
    for scenario in scenarios {
        // A fresh server per scenario: each measures the same starting point.
        let server = Server::start(&binary, args.database_url.as_deref(), &[]).await?;
        eprintln!(
            "preparing {} sessions for {}…",
            args.sessions,
            scenario.name()
        );
        let prepared = prepare(server.addr, &server.key, args.sessions).await?;
        eprintln!("running {} for {:.0} s…", scenario.name(), args.duration);
        let stats = load::run(server.addr, &server.key, plan, scenario.streams(&prepared)).await?;
        server.stop().await;
        let row = Row {
            scenario,
            plan,
            stats,
        };
        eprint!(
            "{}",
            table(std::slice::from_ref(&row))
                .lines()
                .nth(2)
                .map(|l| format!("{l}\n"))
                .unwrap_or_default()
        );
        rows.push(row);
    }
    let mut out = table(&rows);
    let vouch_update = rows
        .iter()
        .find(|r| r.scenario == Scenario::UpdateStatus)
        .map(|r| r.stats.throughput());
    if !args.no_ceilings {
        eprintln!("measuring the ceilings…");
        let http = ceilings::bare_http(&binary, plan, args.sessions).await?;
        let storage = ceilings::bare_storage(plan, args.sessions).await?;
        out.push_str("\n| ceiling | requests/s | p50 ms | p99 ms | update-status / ceiling |\n|---|---:|---:|---:|---:|\n");
        for (name, s) in [
            ("bare HTTP stack (same router layers, no work)", &http),
            (
                "bare storage transaction (same rows, same writer, no HTTP)",
                &storage,
            ),
        ] {
            let ratio = vouch_update.map_or("n/a".to_string(), |v| {
                format!("{:.2}", v / s.throughput().max(1e-9))
            });
            out.push_str(&format!(
                "| {name} | {:.0} | {:.2} | {:.2} | {ratio} |\n",
                s.throughput(),
                s.ms(0.5),
                s.ms(0.99)
            ));
        }
    }
    println!("{out}");
    if let Some(path) = args.out {
        std::fs::write(&path, &out)?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(bench(args))
}
