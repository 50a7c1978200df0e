//! The scale benchmark: the same operations at 10,000, 100,000 and 1,000,000 sessions (or the
//! `--sizes` given), to show whether their cost stays flat as the data grows.
//!
//! One session is made through the API (an attempt, a decision, its trail) under one of four
//! workflows; the server stops and the database clones it in plain SQL batches up to the first
//! size, with varied columns: status (60 % approved, 20 % declined, 10 % in review, 5 % expired,
//! 5 % abandoned), workflow (one of four), country (one of thirteen, the first three most
//! common, independent of the status), a name (one of 2,000 first and last name pairs), `vendor_data` `customer-<i>` and a
//! creation time 30 s after the previous clone's (a million span eleven months). The server starts
//! on it and each operation runs closed loop; then the server stops, the database grows to the
//! next size, and the operations run again.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use hyper::Method;
use serde_json::json;

use crate::client::Conn;
use crate::console::{drive, Measured};
use crate::console_seed::{case, finish, name_sql, seed_range, Db, FIRST_NAMES, LAST_NAMES};
use crate::server::Server;

/// Seconds between two clones' creation times.
const SPACING_SECS: i64 = 30;
/// Weighted: the first three are most of the sessions, as a real customer's would be.
const COUNTRIES: [&str; 20] = [
    "ESP", "ESP", "ESP", "ESP", "ESP", "MEX", "MEX", "MEX", "ARG", "ARG", "COL", "CHL", "PER",
    "FRA", "DEU", "ITA", "PRT", "GBR", "USA", "BRA",
];

/// An operation at one size.
pub struct Op {
    pub name: &'static str,
    pub list: bool,
    pub at: Vec<Measured>,
}

pub struct ScaleFigures {
    pub sizes: Vec<i64>,
    /// Seconds each growth step took, and the database's bytes per session after it.
    pub seeded: Vec<(f64, Option<f64>)>,
    pub ops: Vec<Op>,
}

fn seed_columns(
    postgres: bool,
    workflows: &[String],
    base_epoch: i64,
) -> impl Fn(&str, &str) -> Option<String> {
    let uuid = if postgres { "::uuid" } else { "" };
    let workflows: Vec<&str> = workflows.iter().map(String::as_str).collect();
    let workflow = case("g.i % 4", &workflows, uuid);
    // Not a function of the status (which cycles every 20 clones): every combination occurs.
    let country = case(
        &format!("(g.i * 7 + g.i / 20) % {}", COUNTRIES.len()),
        &COUNTRIES,
        "",
    );
    let name = name_sql();
    let epoch = format!("({base_epoch} + g.i * {SPACING_SECS})");
    let time = if postgres {
        format!("to_timestamp({epoch})")
    } else {
        format!("strftime('%Y-%m-%dT%H:%M:%S', {epoch}, 'unixepoch') || '.000000Z'")
    };
    let status = "CASE WHEN g.i % 20 < 2 THEN 'In Review' WHEN g.i % 20 < 14 THEN 'Approved' \
                  WHEN g.i % 20 < 18 THEN 'Declined' WHEN g.i % 20 = 18 THEN 'Expired' \
                  ELSE 'Abandoned' END"
        .to_string();
    move |table, col| match (table, col) {
        ("sessions", "status") => Some(status.clone()),
        ("sessions", "workflow_id") => Some(workflow.clone()),
        ("sessions", "country") => Some(country.clone()),
        ("sessions", "full_name") => Some(name.clone()),
        ("sessions", "created_at" | "updated_at") => Some(time.clone()),
        ("sessions", "kyc_expires_at" | "deleted_at" | "backend_resubmitted_at") => {
            Some("NULL".into())
        }
        _ => None,
    }
}

/// The `j`-th seeded session that was seeded approved (statuses cycle every 20 clones).
fn approved(j: i64) -> i64 {
    20 * (j / 12) + 2 + j % 12
}

async fn db_bytes(db: &mut Db, path: &std::path::Path) -> anyhow::Result<u64> {
    match db {
        Db::Sqlite(c) => {
            // The log folded into the file first: bytes of the data, not of a passing WAL.
            c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
            let size = |p: std::path::PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            let mut wal = path.as_os_str().to_owned();
            wal.push("-wal");
            Ok(size(path.to_path_buf()) + size(wal.into()))
        }
        Db::Postgres(c) => {
            let row = c
                .query_one(
                    "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')",
                    &[],
                )
                .await?;
            Ok(row.get::<_, i64>(0) as u64)
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn run(
    binary: &std::path::Path,
    database_url: Option<&str>,
    extra_env: &[(String, String)],
    sizes: &[i64],
    connections: usize,
    duration: Duration,
    warmup: Duration,
) -> anyhow::Result<ScaleFigures> {
    ensure!(
        sizes.windows(2).all(|w| w[0] < w[1]) && sizes.first().is_some_and(|s| *s >= 1000),
        "--sizes must grow, from at least 1000"
    );
    let dir = tempfile::tempdir()?;
    let sqlite_path = dir.path().join("vouch.db");
    let url = database_url
        .map(String::from)
        .unwrap_or_else(|| format!("sqlite://{}", sqlite_path.display()));
    let postgres = url.starts_with("postgres");
    let server = Server::start(binary, Some(&url), extra_env).await?;
    let key = server.key.clone();
    let mut c = Conn::open(server.addr, &key).await?;
    let mut workflows = Vec::new();
    for n in 0..4 {
        let (s, wf) = c
            .json(
                Method::POST,
                "/v3/workflows/",
                Some(&json!({"workflow_label": format!("scale {n}"), "features": [{"feature": "OCR"}]})),
            )
            .await?;
        ensure!(s == 201, "workflow: {s} {wf}");
        workflows.push(wf["uuid"].as_str().context("workflow uuid")?.to_string());
    }
    let (s, created) = c
        .json(
            Method::POST,
            "/v3/session/",
            Some(&json!({"workflow_id": workflows[0], "vendor_data": "template"})),
        )
        .await?;
    ensure!(s == 201, "session: {s} {created}");
    let template = created["session_id"]
        .as_str()
        .context("session id")?
        .to_string();
    let (s, b) = c
        .json(Method::POST, &format!("/v3/session/{template}/attempts/"),
            Some(&json!({"node_id": "feature_ocr_1", "status": "In Review", "data": {"first_name": "Ada", "last_name": "Lovelace", "document_number": "X1234567", "issuing_state": "ESP"}})))
        .await?;
    ensure!(s == 201, "attempt: {s} {b}");
    let (s, b) = c
        .json(
            Method::PATCH,
            &format!("/v3/session/{template}/update-status/"),
            Some(&json!({"new_status": "Approved", "comment": "template"})),
        )
        .await?;
    ensure!(s == 200, "decision: {s} {b}");
    let (s, d) = c
        .json(
            Method::GET,
            &format!("/v3/session/{template}/decision/"),
            None,
        )
        .await?;
    ensure!(s == 200, "template: {s} {d}");
    let number = d["session_number"].as_i64().context("number")?;
    drop(c);
    server.stop().await;

    let base_epoch =
        chrono::Utc::now().timestamp() - sizes.last().copied().unwrap_or(0) * SPACING_SECS;
    let vary = seed_columns(postgres, &workflows, base_epoch);
    let mut figures = ScaleFigures {
        sizes: sizes.to_vec(),
        seeded: Vec::new(),
        ops: Vec::new(),
    };
    let mut seeded = 0i64;
    for &size in sizes {
        eprintln!("growing to {size} sessions…");
        let t0 = Instant::now();
        let mut db = if postgres {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            tokio::spawn(conn);
            Db::Postgres(client)
        } else {
            Db::Sqlite(rusqlite::Connection::open(&sqlite_path)?)
        };
        seed_range(&mut db, &template, number, seeded + 1, size, &vary).await?;
        // The numbers of every size are kept from the start: sessions the measurements create
        // come after them.
        let reserve = (seeded == 0).then(|| number + sizes.last().copied().unwrap_or(size) + 1);
        finish(&mut db, &url, &template, reserve).await?;
        let secs = t0.elapsed().as_secs_f64();
        let bytes = db_bytes(&mut db, &sqlite_path).await?;
        drop(db);
        let server = Server::start_existing(binary, &url, extra_env, &key).await?;
        let ops = measure(
            server.addr,
            &key,
            &workflows,
            base_epoch,
            (seeded + 1, size),
            connections,
            duration,
            warmup,
        )
        .await;
        server.stop().await;
        figures
            .seeded
            .push((secs, Some(bytes as f64 / size as f64)));
        for (name, list, m) in ops? {
            match figures.ops.iter_mut().find(|o| o.name == name) {
                Some(op) => op.at.push(m),
                None => figures.ops.push(Op {
                    name,
                    list,
                    at: vec![m],
                }),
            }
        }
        seeded = size;
    }
    if std::env::var_os("VOUCH_BENCH_KEEP").is_some() && !postgres {
        eprintln!(
            "kept the database: {}",
            dir.keep().join("vouch.db").display()
        );
    }
    Ok(figures)
}

type Request = (Method, String, Vec<(&'static str, String)>, String);

/// A list's query string for `(connection, request number)`.
type Query = Arc<dyn Fn(usize, u64) -> String + Send + Sync>;

/// One operation's stream: `(connection, request number) → request`.
type Next = Arc<dyn Fn(usize, u64) -> Option<Request> + Send + Sync>;

#[allow(clippy::too_many_arguments)]
async fn measure(
    addr: SocketAddr,
    key: &str,
    workflows: &[String],
    base_epoch: i64,
    (first, last): (i64, i64),
    connections: usize,
    duration: Duration,
    warmup: Duration,
) -> anyhow::Result<Vec<(&'static str, bool, Measured)>> {
    let size = last;
    let hdr = {
        let key = key.to_string();
        move || {
            vec![
                ("x-api-key", key.clone()),
                ("content-type", "application/json".to_string()),
            ]
        }
    };
    let get = {
        let hdr = hdr.clone();
        move |path: String| Some((Method::GET, path, hdr(), String::new()))
    };
    let spread = move |c: usize, n: u64, modulo: i64| {
        (c as i64 * 7919 + n as i64 * 104_729).rem_euclid(modulo.max(1))
    };
    // One whole day (2,880 clones at every size), a day after the first clone.
    let day = |secs: i64| {
        chrono::DateTime::from_timestamp(secs, 0)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    let one_day = day(base_epoch + 86_400);
    let first_name = FIRST_NAMES[3];
    let last_name = LAST_NAMES[3];
    let wf = workflows[1].clone();

    // update-status: each connection its own slice of this growth step's approved clones,
    // declined on the first pass over it, approved again on the next, so that every request is
    // a real change.
    let approved_here = {
        let lo = (first - 2).div_euclid(20) * 12;
        let hi = (last - 2).div_euclid(20) * 12;
        (lo.max(0), hi)
    };
    let per_conn = ((approved_here.1 - approved_here.0) / connections as i64).max(1);
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..connections).map(|_| AtomicU64::new(0)).collect());

    let mut ops: Vec<(&'static str, bool, Next)> = Vec::new();
    {
        let hdr = hdr.clone();
        let sent = sent.clone();
        ops.push((
            "update-status (a real change each)",
            false,
            Arc::new(move |c, _| {
                let n = sent[c].fetch_add(1, Ordering::Relaxed) as i64;
                let j = approved_here.0 + c as i64 * per_conn + n % per_conn;
                let status = if (n / per_conn) % 2 == 0 {
                    "Declined"
                } else {
                    "Approved"
                };
                let id = uuid_of(approved(j));
                Some((
                    Method::PATCH,
                    format!("/v3/session/{id}/update-status/"),
                    hdr(),
                    json!({"new_status": status, "comment": "bench"}).to_string(),
                ))
            }),
        ));
    }
    {
        let get = get.clone();
        ops.push((
            "get decision",
            false,
            Arc::new(move |c, n| {
                get(format!(
                    "/v3/session/{}/decision/",
                    uuid_of(spread(c, n, size) + 1)
                ))
            }),
        ));
    }
    {
        let hdr = hdr.clone();
        let wf = workflows[2].clone();
        ops.push((
            "create session",
            false,
            Arc::new(move |c, n| {
                Some((
                    Method::POST,
                    "/v3/session/".to_string(),
                    hdr(),
                    json!({"workflow_id": wf, "vendor_data": format!("new-{size}-{c}-{n}")})
                        .to_string(),
                ))
            }),
        ));
    }
    let lists: Vec<(&'static str, Query)> = vec![
        ("list: no filter", Arc::new(|_, _| String::new())),
        (
            "list: status=Approved,Declined",
            Arc::new(|_, _| "status=Approved,Declined".into()),
        ),
        (
            "list: status=In Review",
            Arc::new(|_, _| "status=In%20Review".into()),
        ),
        (
            "list: vendor_data (one session)",
            Arc::new(move |c, n| format!("vendor_data=customer-{}", spread(c, n, size) + 1)),
        ),
        (
            "list: workflow_id (a quarter)",
            Arc::new(move |_, _| format!("workflow_id={wf}")),
        ),
        (
            "list: country=MEX (15 %)",
            Arc::new(|_, _| "country=MEX".into()),
        ),
        (
            "list: country + status",
            Arc::new(|_, _| "country=ARG&status=In%20Review".into()),
        ),
        (
            "list: one day (date_from = date_to)",
            Arc::new(move |_, _| format!("date_from={one_day}&date_to={one_day}")),
        ),
        (
            "list: search, the start of a name",
            Arc::new(move |_, _| format!("search={first_name}%20{}", &last_name[..3])),
        ),
    ];
    for (name, query) in lists {
        let get = get.clone();
        ops.push((
            name,
            true,
            Arc::new(move |c, n| {
                let q = query(c, n);
                get(if q.is_empty() {
                    "/v3/sessions/?limit=20".to_string()
                } else {
                    format!("/v3/sessions/?{q}&limit=20")
                })
            }),
        ));
    }

    let mut out = Vec::new();
    for (name, list, next) in ops {
        let want = if name == "create session" { 201 } else { 200 };
        if !warmup.is_zero() {
            let next = next.clone();
            drive(name, addr, connections, warmup, want, move |c, n| {
                next(c, n)
            })
            .await?;
        }
        let m = drive(name, addr, connections, duration, want, move |c, n| {
            next(c, n)
        })
        .await?;
        eprintln!(
            "  {size} sessions, {name}: {:.0}/s p99 {:.1} ms",
            m.per_sec,
            m.latency_us.value_at_quantile(0.99) as f64 / 1000.0
        );
        out.push((name, list, m));
    }
    Ok(out)
}

/// The id of clone `i` (as `console_seed::id_sql` makes it for sessions).
fn uuid_of(i: i64) -> String {
    format!("00000001-0000-4000-8000-{i:012x}")
}

pub fn table(head: &str, f: &ScaleFigures) -> String {
    let ms = |m: &Measured, q: f64| m.latency_us.value_at_quantile(q) as f64 / 1000.0;
    let mut out = String::from(head);
    for (size, (secs, bps)) in f.sizes.iter().zip(&f.seeded) {
        out.push_str(&format!(
            "grown to {size} sessions in {secs:.0} s{}\n",
            bps.map_or(String::new(), |b| format!(
                ", {b:.0} database bytes per session"
            ))
        ));
    }
    let sizes: Vec<String> = f.sizes.iter().map(|s| s.to_string()).collect();
    out.push_str(&format!(
        "\n| operation | {} | p99 largest / smallest | mean largest / smallest | verdict |\n|---|{}---:|---:|---|\n",
        sizes
            .iter()
            .map(|s| format!("{s}: req/s, p50, p99 ms"))
            .collect::<Vec<_>>()
            .join(" | "),
        "---:|".repeat(sizes.len()),
    ));
    let mut missed = 0;
    for op in &f.ops {
        let cells: Vec<String> = op
            .at
            .iter()
            .map(|m| format!("{:.0}, {:.2}, {:.2}", m.per_sec, ms(m, 0.5), ms(m, 0.99)))
            .collect();
        let (Some(small), Some(large)) = (op.at.first(), op.at.last()) else {
            continue;
        };
        let p99_ratio = ms(large, 0.99) / ms(small, 0.99).max(1e-3);
        let mean_ratio = large.latency_us.mean() / small.latency_us.mean().max(1.0);
        let mut verdict = Vec::new();
        if op.list && ms(large, 0.99) > 50.0 {
            verdict.push("p99 over 50 ms".to_string());
        }
        if mean_ratio > 1.5 {
            verdict.push(format!("{mean_ratio:.1}× slower"));
        }
        if !verdict.is_empty() {
            missed += 1;
        }
        out.push_str(&format!(
            "| {} | {} | {p99_ratio:.2} | {mean_ratio:.2} | {} |\n",
            op.name,
            cells.join(" | "),
            if verdict.is_empty() {
                "met".to_string()
            } else {
                format!("MISSED: {}", verdict.join(", "))
            }
        ));
    }
    out.push_str(&format!(
        "\nceilings: every list p99 ≤ 50 ms with an exact count at the largest size, no operation's mean more than 1.5× the smallest size's: {}\n",
        if missed == 0 {
            "met".to_string()
        } else {
            format!("{missed} MISSED")
        }
    ));
    out
}
