//! The console benchmark: the queue page and the session page with many sessions in the
//! database, and what a decision taken in the console costs beside the same decision through
//! the API.
//!
//! Seeding: one session is made through the API (a workflow, an attempt in review, its trail),
//! then the server stops and the database clones that session, its attempts and its review rows
//! `--sessions` times in batches of plain SQL (1 in 50 stays `In Review`, the others are
//! `Approved` or `Declined`), the statistics are refreshed, and the server starts again on it.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use bytes::Bytes;
use hdrhistogram::Histogram;
use hyper::Method;
use serde_json::json;

use crate::client::Conn;
use crate::console_seed::{seed, Db, IN_REVIEW_EVERY};
use crate::server::Server;

pub struct Measured {
    pub name: String,
    pub requests: u64,
    pub per_sec: f64,
    pub latency_us: Histogram<u64>,
}

pub struct ConsoleFigures {
    pub sessions: i64,
    pub seed_secs: f64,
    pub db_bytes: Option<u64>,
    pub pages: Vec<Measured>,
    pub api_decision: Measured,
    pub console_decision: Measured,
}

/// Closed loop over `connections`, each sending what `next(i)` gives; every answer must be `want`.
pub async fn drive(
    name: &str,
    addr: std::net::SocketAddr,
    connections: usize,
    duration: Duration,
    want: u16,
    next: impl Fn(usize, u64) -> Option<(Method, String, Vec<(&'static str, String)>, String)>
        + Send
        + Sync
        + Clone
        + 'static,
) -> anyhow::Result<Measured> {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let mut conn = Conn::open(addr, "").await?;
            let mut n = 0u64;
            while Instant::now() < deadline {
                let Some((method, path, headers, body)) = next(c, n) else {
                    break;
                };
                n += 1;
                let headers: Vec<(&str, &str)> =
                    headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let t = Instant::now();
                let (s, _, _, b) = conn
                    .send_raw(method, &path, &headers, Bytes::from(body))
                    .await?;
                ensure!(
                    s == want,
                    "{path}: {s} {}",
                    String::from_utf8_lossy(&b[..b.len().min(300)])
                );
                h.record(t.elapsed().as_micros().max(1) as u64)?;
            }
            anyhow::Ok(h)
        }));
    }
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for t in tasks {
        all.add(t.await??)?;
    }
    let requests = all.len();
    Ok(Measured {
        name: name.to_string(),
        requests,
        per_sec: requests as f64 / started.elapsed().as_secs_f64(),
        latency_us: all,
    })
}

fn uuid_of(table: u8, i: i64) -> String {
    format!("{table:08x}-0000-4000-8000-{i:012x}")
}

pub async fn run(
    binary: &std::path::Path,
    database_url: Option<&str>,
    extra_env: &[(String, String)],
    sessions: i64,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<ConsoleFigures> {
    let dir = tempfile::tempdir()?;
    let sqlite_path = dir.path().join("vouch.db");
    let url = database_url
        .map(String::from)
        .unwrap_or_else(|| format!("sqlite://{}", sqlite_path.display()));
    let postgres = url.starts_with("postgres");
    let server = Server::start(binary, Some(&url), extra_env).await?;
    let key = server.key.clone();
    let mut c = Conn::open(server.addr, &key).await?;
    let (s, wf) = c
        .json(
            Method::POST,
            "/v3/workflows/",
            Some(&json!({"workflow_label": "console", "features": [{"feature": "OCR"}]})),
        )
        .await?;
    ensure!(s == 201, "workflow: {s} {wf}");
    let (s, created) = c
        .json(
            Method::POST,
            "/v3/session/",
            Some(&json!({"workflow_id": wf["uuid"], "vendor_data": "template"})),
        )
        .await?;
    ensure!(s == 201, "session: {s} {created}");
    let template = created["session_id"]
        .as_str()
        .context("session id")?
        .to_string();
    let (s, b) = c
        .json(Method::POST, &format!("/v3/session/{template}/attempts/"),
            Some(&json!({"node_id": "feature_ocr_1", "status": "In Review", "data": {"first_name": "Ada", "last_name": "Lovelace", "document_number": "X1234567"}})))
        .await?;
    ensure!(s == 201, "attempt: {s} {b}");
    let (s, d) = c
        .json(
            Method::GET,
            &format!("/v3/session/{template}/decision/"),
            None,
        )
        .await?;
    ensure!(s == 200 && d["status"] == "In Review", "template: {s} {d}");
    let number = d["session_number"].as_i64().context("number")?;
    let mut cli = std::process::Command::new(binary);
    cli.args([
        "users",
        "create",
        "--email",
        "bench@vouch.example",
        "--role",
        "admin",
        "--password-stdin",
    ])
    .env("VOUCH_DATABASE_URL", &url)
    .env("VOUCH_DATA_DIR", dir.path())
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::null());
    let mut child = cli.spawn()?;
    use std::io::Write;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(b"a benchmark password\n")?;
    ensure!(child.wait()?.success(), "vouch users create failed");
    server.stop().await;

    eprintln!("seeding {sessions} sessions…");
    let t0 = Instant::now();
    let mut db = if postgres {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        Db::Postgres(client)
    } else {
        Db::Sqlite(rusqlite::Connection::open(&sqlite_path)?)
    };
    seed(&mut db, &url, &template, number, sessions - 1).await?;
    let seed_secs = t0.elapsed().as_secs_f64();
    let db_bytes = (!postgres).then(|| {
        std::fs::metadata(&sqlite_path)
            .map(|m| m.len())
            .unwrap_or(0)
    });
    drop(db);

    let server = Server::start_existing(binary, &url, extra_env, &key).await?;
    let addr = server.addr;
    let mut c = Conn::open(addr, &key).await?;
    let (s, cookie, _, _) = c
        .send_raw(
            Method::POST,
            "/console/login",
            &[("content-type", "application/x-www-form-urlencoded")],
            Bytes::from("email=bench%40vouch.example&password=a+benchmark+password"),
        )
        .await?;
    ensure!(s == 303, "console login: {s}");
    let cookie = cookie.split(';').next().unwrap_or_default().to_string();
    let (_, _, _, page) = c
        .send_raw(
            Method::GET,
            "/console/",
            &[("cookie", &cookie)],
            Bytes::new(),
        )
        .await?;
    let page = String::from_utf8_lossy(&page).to_string();
    let at = page.find("name=\"csrf\" value=\"").context("csrf")? + 19;
    let csrf = page[at..at + 64].to_string();
    // Every clone has the template's version: read it from the template's page.
    let (_, _, _, tpage) = c
        .send_raw(
            Method::GET,
            &format!("/console/sessions/{template}"),
            &[("cookie", &cookie)],
            Bytes::new(),
        )
        .await?;
    let tpage = String::from_utf8_lossy(&tpage).to_string();
    let at = tpage.find("name=\"version\" value=\"").context("version")? + 22;
    let version: i64 = tpage[at..].split('"').next().unwrap_or("").parse()?;
    let in_review = (sessions - 1) / IN_REVIEW_EVERY;
    ensure!(
        in_review >= 200,
        "--sessions must leave at least 200 in review (10,000 or more)"
    );

    let mut pages = Vec::new();
    let ck = cookie.clone();
    let get = move |path: String| {
        Some((
            Method::GET,
            path,
            vec![("cookie", ck.clone())],
            String::new(),
        ))
    };
    for (name, paths) in [
        (
            "queue, first page (In Review, oldest first, exact count)",
            0u8,
        ),
        ("queue, the page after any session in review (keyset)", 1),
        ("queue, a session number", 2),
        ("queue, a vendor_data", 3),
        ("queue, the start of a name", 5),
        (
            "session page (steps, trail check, neighbours, deliveries, emails)",
            4,
        ),
    ] {
        let get = get.clone();
        let m = drive(name, addr, connections, duration, 200, move |conn, n| {
            let i = (conn as i64 * 7919 + n as i64 * 104_729) % in_review.max(1) + 1;
            get(match paths {
                0 => "/console/".to_string(),
                1 => format!("/console/?after={}", number + i * IN_REVIEW_EVERY),
                2 => format!("/console/?status=any&q={}", number + i * IN_REVIEW_EVERY),
                3 => format!("/console/?status=any&q=customer-{}", i * IN_REVIEW_EVERY),
                5 => "/console/?status=any&q=Ada%20Love".to_string(),
                _ => format!("/console/sessions/{}", uuid_of(1, i * IN_REVIEW_EVERY)),
            })
        })
        .await?;
        eprintln!(
            "  {name}: {:.0}/s p99 {:.1} ms",
            m.per_sec,
            m.latency_us.value_at_quantile(0.99) as f64 / 1000.0
        );
        pages.push(m);
    }

    // Decisions: the API on the first half of the in-review sessions, the console on the other.
    let half = in_review / 2;
    let per_conn = (half / connections as i64).max(1);
    let api_key = key.clone();
    let api = drive(
        "update-status through the API",
        addr,
        connections,
        duration,
        200,
        move |conn, n| {
            let k = conn as i64 * per_conn + n as i64;
            if n as i64 >= per_conn {
                return None;
            }
            let id = uuid_of(1, (k + 1) * IN_REVIEW_EVERY);
            Some((
                Method::PATCH,
                format!("/v3/session/{id}/update-status/"),
                vec![
                    ("x-api-key", api_key.clone()),
                    ("content-type", "application/json".into()),
                ],
                json!({"new_status": "Approved", "comment": "bench"}).to_string(),
            ))
        },
    )
    .await?;
    let ck = cookie.clone();
    let console = drive(
        "the same decision through the console",
        addr,
        connections,
        duration,
        303,
        move |conn, n| {
            let k = half + conn as i64 * per_conn + n as i64;
            if n as i64 >= per_conn {
                return None;
            }
            let id = uuid_of(1, (k + 1) * IN_REVIEW_EVERY);
            Some((
                Method::POST,
                format!("/console/sessions/{id}/decision"),
                vec![
                    ("cookie", ck.clone()),
                    ("content-type", "application/x-www-form-urlencoded".into()),
                ],
                format!(
                    "csrf={csrf}&version={version}&new_status=Approved&comment=bench&action=decide"
                ),
            ))
        },
    )
    .await?;
    server.stop().await;
    ensure!(
        api.requests > 0 && console.requests > 0,
        "no decision was measured ({} through the API, {} through the console)",
        api.requests,
        console.requests
    );
    Ok(ConsoleFigures {
        sessions,
        seed_secs,
        db_bytes,
        pages,
        api_decision: api,
        console_decision: console,
    })
}

pub fn table(head: &str, f: &ConsoleFigures) -> String {
    let ms = |m: &Measured, q: f64| m.latency_us.value_at_quantile(q) as f64 / 1000.0;
    let mut out = format!(
        "{head}{} sessions seeded in {:.0} s{}\n\n| console, {} sessions | requests | requests/s | p50 ms | p99 ms | ceiling p99 50 ms |\n|---|---:|---:|---:|---:|---|\n",
        f.sessions,
        f.seed_secs,
        f.db_bytes.map_or(String::new(), |b| format!(", database {:.0} MB ({:.0} bytes per session)", b as f64 / 1e6, b as f64 / f.sessions as f64)),
        f.sessions,
    );
    for m in &f.pages {
        let p99 = ms(m, 0.99);
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} |\n",
            m.name,
            m.requests,
            m.per_sec,
            ms(m, 0.5),
            p99,
            if p99 <= 50.0 { "met" } else { "MISSED" }
        ));
    }
    let (a, c) = (&f.api_decision, &f.console_decision);
    let mean = |m: &Measured| m.latency_us.mean() / 1000.0;
    let extra = (mean(c) / mean(a).max(1e-9) - 1.0) * 100.0;
    out.push_str(&format!(
        "\n| decision | requests | requests/s | mean ms | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|---:|\n| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} |\n| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} |\n\nthe console adds {extra:.1} % to a decision's mean latency (ceiling 10 %): {}\n",
        a.name, a.requests, a.per_sec, mean(a), ms(a, 0.5), ms(a, 0.99),
        c.name, c.requests, c.per_sec, mean(c), ms(c, 0.5), ms(c, 0.99),
        if extra <= 10.0 { "met" } else { "MISSED" },
    ));
    out
}
