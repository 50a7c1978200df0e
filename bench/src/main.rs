//! vouch-bench: starts a real vouch, prepares sessions and measures the API.
//!
//! `cargo build --release -p vouch -p vouch-bench && target/release/vouch-bench`

mod ceilings;
mod client;
mod console;
mod console_seed;
mod imports;
mod load;
mod overload;
mod pg;
mod reports;
mod scale;
mod scenarios;
mod server;
mod uploads;
mod webhooks;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use load::{Plan, Stats};
use scenarios::{prepare, Scenario};
use server::Cluster;

#[derive(Parser, Debug)]
#[command(about = "Measure vouch: throughput and latency percentiles of its API")]
struct Args {
    /// The vouch binary (default: the release build next to this one).
    #[arg(long)]
    vouch: Option<PathBuf>,
    /// Database for the server under test (default: a fresh SQLite file). With a
    /// `postgres://…` URL each scenario runs in a fresh schema `vouch_bench_<random>_<n>` of that
    /// database, dropped afterwards.
    #[arg(long)]
    database_url: Option<String>,
    /// Shorthand for `--database-url postgres://postgres@127.0.0.1:5432/test` (local PostgreSQL).
    #[arg(long, conflicts_with = "database_url")]
    postgres: bool,
    /// `vouch serve` nodes sharing the database (more than one needs PostgreSQL); the load
    /// generator's connections are spread round-robin over them.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Database connections per node (`VOUCH_POSTGRES__POOL_SIZE`; vouch's default is 16).
    #[arg(long)]
    pg_pool_size: Option<usize>,
    /// Keep the PostgreSQL schemas instead of dropping them after each scenario.
    #[arg(long)]
    keep_schema: bool,
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
    /// Measure uploads to the person's page instead: a 12-megapixel JPEG per request, each to a
    /// session of its own (`--connections` uploads at once; 8 is a sane number).
    #[arg(long)]
    uploads: bool,
    /// Measure the PDF report instead: a session with 20 review rows, on one connection and on
    /// `--connections` at once.
    #[arg(long)]
    reports: bool,
    /// Measure bulk imports instead: a CSV of `--import-rows` people uploaded and imported,
    /// then the same file again (every row skipped); the ceiling is one minute per 100,000 rows.
    #[arg(long)]
    imports: bool,
    #[arg(long, default_value_t = 100_000)]
    import_rows: usize,
    /// Measure overload instead: session creation's capacity closed loop, then offered open
    /// loop at 1×, 2× and 5× of it from `--connections` connections (use thousands, enough to
    /// overflow the writer's queue): accepted, refused (503), p99, peak memory.
    #[arg(long)]
    overload: bool,
    /// Measure the reviewer console instead: `--sessions` sessions seeded (use 1000000), then
    /// the queue and session pages, and a decision through the console beside one through the
    /// API (`--connections` at once; 8 is a sane number).
    #[arg(long)]
    console: bool,
    /// Measure the cost of each operation as the data grows instead: the database grows to each
    /// of `--sizes` in turn (seeded through the store), and create, get decision, update-status
    /// and every list filter run at each size (`--connections` at once; 8 is a sane number).
    #[arg(long)]
    scale: bool,
    /// The sizes of `--scale`, growing.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    sizes: Vec<i64>,
    /// Skip the ceilings (bare HTTP stack, bare storage transaction) measured after the scenarios.
    #[arg(long)]
    no_ceilings: bool,
}

struct Row {
    scenario: Scenario,
    plan: Plan,
    stats: Stats,
}

/// vouch's default `postgres.pool_size`.
const DEFAULT_POOL_SIZE: usize = 16;

/// The database the servers under test use.
enum Backend {
    /// A fresh SQLite file per scenario (or the `--database-url` given).
    Sqlite(Option<String>),
    Postgres(Box<pg::Database>),
}

impl Backend {
    /// A fresh database for one scenario: its URL, and the schema to drop afterwards.
    async fn fresh(&mut self) -> anyhow::Result<(Option<String>, Option<pg::Schema>)> {
        match self {
            Backend::Sqlite(url) => Ok((url.clone(), None)),
            Backend::Postgres(db) => {
                let schema = db.fresh_schema().await?;
                Ok((Some(schema.url.clone()), Some(schema)))
            }
        }
    }

    async fn finish(&self, schema: Option<pg::Schema>) {
        if let (Backend::Postgres(db), Some(schema)) = (self, schema) {
            db.finish(schema).await;
        }
    }
}

/// The line above the tables: backend and nodes.
fn header(backend: &Backend, base_url: Option<&str>, nodes: usize, pool: usize) -> String {
    match backend {
        Backend::Sqlite(None) => {
            format!("database: SQLite (a fresh file per scenario), nodes: {nodes}\n\n")
        }
        Backend::Sqlite(Some(url)) => {
            format!("database: {}, nodes: {nodes}\n\n", pg::redact(url))
        }
        Backend::Postgres(db) => format!(
            "database: PostgreSQL {} at {} (a fresh schema per scenario, {}{}), nodes: {nodes}, pool {pool} connections per node\n\n",
            db.version,
            pg::redact(base_url.unwrap_or_default()),
            db.pattern(),
            if db.keep() { ", kept" } else { ", dropped after" },
        ),
    }
}

fn table(rows: &[Row], nodes: usize) -> String {
    let per_node = nodes > 1;
    let mut s = String::from(
        "| scenario | load | requests/s | p50 ms | p90 ms | p99 ms | p99.9 ms | errors |",
    );
    if per_node {
        s.push_str(" 2xx per node |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    } else {
        s.push_str("\n|---|---|---:|---:|---:|---:|---:|---:|\n");
    }
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
        let _ = write!(
            s,
            "| {} | {load} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {errors} |",
            r.scenario.name(),
            r.stats.throughput(),
            r.stats.ms(0.5),
            r.stats.ms(0.9),
            r.stats.ms(0.99),
            r.stats.ms(0.999),
        );
        if per_node {
            let counts: Vec<String> = r.stats.per_node.iter().map(|n| n.to_string()).collect();
            let _ = write!(s, " {} |", counts.join(" / "));
        }
        s.push('\n');
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
            Scenario::PersonPage,
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
    let database_url = if args.postgres {
        Some(pg::LOCAL_URL.to_string())
    } else {
        args.database_url.clone()
    };
    let postgres = database_url.as_deref().is_some_and(pg::is_postgres_url);
    anyhow::ensure!(args.nodes >= 1, "--nodes must be at least 1");
    anyhow::ensure!(
        args.nodes == 1 || postgres,
        "--nodes {} needs a PostgreSQL database (--postgres or --database-url postgres://…): \
         several nodes cannot share a SQLite file",
        args.nodes
    );
    anyhow::ensure!(
        args.pg_pool_size.is_none() || postgres,
        "--pg-pool-size applies to PostgreSQL only (--postgres or --database-url postgres://…)"
    );
    anyhow::ensure!(
        args.pg_pool_size != Some(0),
        "--pg-pool-size must be positive"
    );
    let pool = args.pg_pool_size.unwrap_or(DEFAULT_POOL_SIZE);
    let mut env = Vec::new();
    if let Some(n) = args.pg_pool_size {
        env.push(("VOUCH_POSTGRES__POOL_SIZE".to_string(), n.to_string()));
    }
    let mut backend = match &database_url {
        Some(url) if postgres => Backend::Postgres(Box::new(
            pg::Database::connect(url, args.keep_schema).await?,
        )),
        other => Backend::Sqlite(other.clone()),
    };
    let head = header(&backend, database_url.as_deref(), args.nodes, pool);
    eprint!("{head}");
    if args.imports {
        let (url, schema) = backend.fresh().await?;
        let figures = imports::run(&binary, url.as_deref(), &env, args.import_rows).await;
        backend.finish(schema).await;
        let f = figures?;
        let ceiling = 60.0 * f.rows as f64 / 100_000.0;
        let secs = f.first.as_secs_f64();
        let out = format!(
            "{head}| bulk import ({} rows, {:.1} MB CSV) | seconds | rows/s | created | failed | skipped |\n|---|---:|---:|---:|---:|---:|\n| upload answered (file checked) | {:.2} | | | | |\n| first run, to COMPLETED | {:.2} | {:.0} | {} | {} | |\n| same file again | {:.2} | {:.0} | | | {} |\n\nceiling: {:.0} s for {} rows: {}\n",
            f.rows,
            f.file_bytes as f64 / 1e6,
            f.accepted.as_secs_f64(),
            secs,
            f.rows as f64 / secs,
            f.created,
            f.failed,
            f.rerun.as_secs_f64(),
            f.rows as f64 / f.rerun.as_secs_f64(),
            f.skipped,
            ceiling,
            f.rows,
            if secs <= ceiling { "met" } else { "MISSED" },
        );
        println!("{out}");
        if let Some(path) = &args.out {
            std::fs::write(path, &out)?;
        }
        anyhow::ensure!(
            secs <= ceiling,
            "the import took {secs:.1} s, over its ceiling of {ceiling:.0} s"
        );
        return Ok(());
    }
    if args.reports {
        let (url, schema) = backend.fresh().await?;
        let figures = reports::run(
            &binary,
            url.as_deref(),
            &env,
            args.connections,
            plan.duration,
        )
        .await;
        backend.finish(schema).await;
        let f = figures?;
        let ms = |h: &hdrhistogram::Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        let out = format!(
            "{head}| PDF report ({} review rows, {:.0} KB) | conns | reports | reports/s | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|---:|\n| one at a time | 1 | {} | {:.0} | {:.2} | {:.2} |\n| at once | {} | {} | {:.0} | {:.2} | {:.2} |\n",
            f.review_rows,
            f.pdf_bytes as f64 / 1000.0,
            f.serial.0,
            f.serial.0 as f64 / plan.duration.as_secs_f64(),
            ms(&f.serial.1, 0.5),
            ms(&f.serial.1, 0.99),
            args.connections,
            f.parallel.1.len(),
            f.parallel.0,
            ms(&f.parallel.1, 0.5),
            ms(&f.parallel.1, 0.99),
        );
        println!("{out}");
        if let Some(path) = &args.out {
            std::fs::write(path, &out)?;
        }
        return Ok(());
    }
    if args.console {
        let (url, schema) = backend.fresh().await?;
        let figures = console::run(
            &binary,
            url.as_deref(),
            &env,
            args.sessions as i64,
            args.connections,
            plan.duration,
        )
        .await;
        backend.finish(schema).await;
        let out = console::table(&head, &figures?);
        println!("{out}");
        if let Some(path) = &args.out {
            std::fs::write(path, &out)?;
        }
        return Ok(());
    }
    if args.scale {
        let (url, schema) = backend.fresh().await?;
        let figures = scale::run(
            &binary,
            url.as_deref(),
            &env,
            &args.sizes,
            args.connections,
            plan.duration,
            plan.warmup,
        )
        .await;
        backend.finish(schema).await;
        let out = scale::table(&head, &figures?);
        println!("{out}");
        if let Some(path) = &args.out {
            std::fs::write(path, &out)?;
        }
        return Ok(());
    }
    if args.overload {
        let (url, schema) = backend.fresh().await?;
        let figures = overload::run(
            &binary,
            url.as_deref(),
            &env,
            plan.duration,
            args.connections,
        )
        .await;
        backend.finish(schema).await;
        let out = overload::table(&head, &figures?, args.connections);
        println!("{out}");
        if let Some(path) = &args.out {
            std::fs::write(path, &out)?;
        }
        return Ok(());
    }
    if args.uploads {
        let (url, schema) = backend.fresh().await?;
        let figures = uploads::run(
            &binary,
            url.as_deref(),
            &env,
            args.connections,
            plan.duration,
        )
        .await;
        backend.finish(schema).await;
        let f = figures?;
        let ms = |q: f64| f.latency_us.value_at_quantile(q) as f64 / 1000.0;
        let out = format!(
            "{head}| uploads ({:.1} MB, 4000×3000 JPEG) | conns | uploads | refused | uploads/s | p50 ms | p99 ms | peak RSS MB | ceiling: file work on one core, uploads/s |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n| closed loop | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1} |\n",
            f.file_bytes as f64 / 1_000_000.0,
            args.connections,
            f.uploads,
            f.refused,
            f.per_sec,
            ms(0.5),
            ms(0.99),
            f.peak_rss_mb,
            f.ceiling_per_sec,
        );
        println!("{out}");
        if let Some(path) = &args.out {
            std::fs::write(path, &out)?;
        }
        return Ok(());
    }
    if args.webhooks {
        // On SQLite, always a fresh file: the delivery lags are read from it afterwards.
        let (url, schema) = match backend {
            Backend::Sqlite(_) => (None, None),
            _ => backend.fresh().await?,
        };
        let figures = webhooks::run(
            &binary,
            url.as_deref(),
            &env,
            args.nodes,
            args.sessions,
            plan,
        )
        .await;
        backend.finish(schema).await;
        let f = figures?;
        let out = format!(
            "{head}| webhooks | changes | delivered | deliveries/s | commit→first attempt p50 ms | p90 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|---:|---:|\n| {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
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
        // A fresh server (and database) per scenario: each measures the same starting point.
        let (url, schema) = backend.fresh().await?;
        if let Some(s) = &schema {
            eprintln!("schema {}", s.name);
        }
        let stats = run_scenario(&binary, url.as_deref(), &env, &args, scenario, plan).await;
        backend.finish(schema).await;
        let row = Row {
            scenario,
            plan,
            stats: stats?,
        };
        eprint!(
            "{}",
            table(std::slice::from_ref(&row), args.nodes)
                .lines()
                .nth(2)
                .map(|l| format!("{l}\n"))
                .unwrap_or_default()
        );
        rows.push(row);
    }
    let mut out = head.clone();
    out.push_str(&table(&rows, args.nodes));
    let vouch_update = rows
        .iter()
        .find(|r| r.scenario == Scenario::UpdateStatus)
        .map(|r| r.stats.throughput());
    if !args.no_ceilings {
        eprintln!("measuring the ceilings…");
        let http = ceilings::bare_http(&binary, plan, args.sessions).await?;
        let (storage, storage_name) = match backend {
            Backend::Postgres(_) => {
                let (url, schema) = backend.fresh().await?;
                let stats = ceilings::bare_storage(
                    ceilings::StorageTarget::Postgres {
                        url: url.unwrap_or_default(),
                        pool_size: pool * args.nodes,
                    },
                    plan,
                    args.sessions,
                )
                .await;
                backend.finish(schema).await;
                (
                    stats?,
                    format!(
                        "bare storage transaction (same rows, PostgreSQL, {} connections, no HTTP)",
                        pool * args.nodes
                    ),
                )
            }
            Backend::Sqlite(_) => (
                ceilings::bare_storage(ceilings::StorageTarget::Sqlite, plan, args.sessions)
                    .await?,
                "bare storage transaction (same rows, same writer, no HTTP)".to_string(),
            ),
        };
        out.push_str("\n| ceiling | requests/s | p50 ms | p99 ms | update-status / ceiling |\n|---|---:|---:|---:|---:|\n");
        for (name, s) in [
            ("bare HTTP stack (same router layers, no work)", &http),
            (storage_name.as_str(), &storage),
        ] {
            let ratio = vouch_update.map_or("n/a".to_string(), |v| {
                format!("{:.2}", v / s.throughput().max(1e-9))
            });
            let _ = writeln!(
                out,
                "| {name} | {:.0} | {:.2} | {:.2} | {ratio} |",
                s.throughput(),
                s.ms(0.5),
                s.ms(0.99)
            );
        }
    }
    println!("{out}");
    if let Some(path) = args.out {
        std::fs::write(&path, &out)?;
    }
    Ok(())
}

/// Starts the nodes, prepares the sessions through the first, drives the scenario over all.
async fn run_scenario(
    binary: &std::path::Path,
    database_url: Option<&str>,
    env: &[(String, String)],
    args: &Args,
    scenario: Scenario,
    plan: Plan,
) -> anyhow::Result<Stats> {
    let cluster = Cluster::start(binary, database_url, env, args.nodes).await?;
    let first = cluster.first();
    eprintln!(
        "preparing {} sessions for {}…",
        args.sessions,
        scenario.name()
    );
    let prepared = prepare(first.addr, &first.key, args.sessions).await;
    if let Some(url) = database_url.filter(|u| pg::is_postgres_url(u)) {
        if pg::analyze_without_autovacuum(url).await? {
            eprintln!("the server runs without autovacuum: the tables were analyzed after preparing, as autovacuum would have");
        }
    }
    let stats = match prepared {
        Ok(prepared) => {
            eprintln!(
                "running {} for {:.0} s on {} node(s)…",
                scenario.name(),
                args.duration,
                args.nodes
            );
            load::run(
                &cluster.addrs(),
                cluster.key(),
                plan,
                scenario.streams(&prepared),
            )
            .await
        }
        Err(e) => Err(e),
    };
    cluster.stop().await;
    stats
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(bench(args))
}
