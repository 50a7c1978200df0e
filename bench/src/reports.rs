//! The report benchmark: `GET /v3/session/{id}/generate-pdf/` of a session with two steps (one
//! with OCR data in three scripts and a warning) and 20 review rows, rendered again and again
//! on one connection (the time a reviewer waits) and on several at once (throughput).

use std::time::{Duration, Instant};

use anyhow::ensure;
use hdrhistogram::Histogram;
use hyper::Method;
use serde_json::json;

use crate::client::Conn;
use crate::server::Server;

pub struct ReportFigures {
    pub review_rows: usize,
    pub pdf_bytes: usize,
    /// One connection: (reports, latency).
    pub serial: (u64, Histogram<u64>),
    /// `connections` at once: (reports/s, latency).
    pub parallel: (f64, Histogram<u64>),
}

async fn measure(
    addr: std::net::SocketAddr,
    key: &str,
    path: &str,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<(u64, f64, Histogram<u64>)> {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (key, path) = (key.to_string(), path.to_string());
        tasks.push(tokio::spawn(async move {
            let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let mut conn = Conn::open(addr, &key).await?;
            while Instant::now() < deadline {
                let t = Instant::now();
                let (s, body) = conn.send(Method::GET, &path, None).await?;
                ensure!(s == 200 && body.starts_with(b"%PDF-"), "report: {s}");
                h.record(t.elapsed().as_micros().max(1) as u64)?;
            }
            anyhow::Ok(h)
        }));
    }
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for t in tasks {
        all.add(t.await??)?;
    }
    let n = all.len();
    Ok((n, n as f64 / started.elapsed().as_secs_f64(), all))
}

pub async fn run(
    binary: &std::path::Path,
    database_url: Option<&str>,
    extra_env: &[(String, String)],
    connections: usize,
    duration: Duration,
) -> anyhow::Result<ReportFigures> {
    let server = Server::start(binary, database_url, extra_env).await?;
    let mut c = Conn::open(server.addr, &server.key).await?;
    let (s, wf) = c
        .json(
            Method::POST,
            "/v3/workflows/",
            Some(&json!({"workflow_label": "reports", "features": [{"feature": "OCR"}, {"feature": "LIVENESS"}]})),
        )
        .await?;
    ensure!(s == 201, "workflow: {s} {wf}");
    let (s, created) = c
        .json(
            Method::POST,
            "/v3/session/",
            Some(&json!({"workflow_id": wf["uuid"], "vendor_data": "report-bench"})),
        )
        .await?;
    ensure!(s == 201, "session: {s} {created}");
    let sid = created["session_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let results = [
        json!({"node_id": "feature_ocr_1", "status": "Approved",
            "data": {"first_name": "Анна", "last_name": "Ἀλεξάνδρου", "document_number": "X1234567",
                     "address": {"city": "Zürich", "street": "Bahnhofstrasse 1"}},
            "warnings": [{"risk": "LOW", "short_description": "Glare", "long_description": "The photo has glare", "log_type": "warning"}]}),
        json!({"node_id": "feature_liveness_1", "status": "Declined", "data": {"score": 12.5}}),
    ];
    for r in &results {
        let (s, b) = c
            .json(
                Method::POST,
                &format!("/v3/session/{sid}/attempts/"),
                Some(r),
            )
            .await?;
        ensure!(s == 201, "attempt: {s} {b}");
    }
    // Two automatic rows so far; 17 notes and a reviewer's decision make 20.
    for i in 0..17 {
        let (s, b) = c
            .json(
                Method::POST,
                &format!("/v3/sessions/{sid}/reviews/"),
                Some(&json!({"comment": format!("Note {i}: called the customer back about the selfie")})),
            )
            .await?;
        ensure!(s == 201, "note: {s} {b}");
    }
    let (s, b) = c
        .json(
            Method::PATCH,
            &format!("/v3/session/{sid}/update-status/"),
            Some(&json!({"new_status": "Approved", "comment": "Checked by hand"})),
        )
        .await?;
    ensure!(s == 200, "update-status: {s} {b}");
    let (_, trail) = c
        .json(
            Method::GET,
            &format!("/v3/sessions/{sid}/reviews/?limit=100"),
            None,
        )
        .await?;
    let review_rows = trail["count"].as_u64().unwrap_or(0) as usize;
    let path = format!("/v3/session/{sid}/generate-pdf/");
    let (s, pdf) = c.send(Method::GET, &path, None).await?;
    ensure!(s == 200, "report: {s}");
    // Warm-up, then the measurements.
    measure(server.addr, &server.key, &path, 1, Duration::from_secs(1)).await?;
    let (n, _, serial) = measure(server.addr, &server.key, &path, 1, duration).await?;
    let (_, per_sec, parallel) =
        measure(server.addr, &server.key, &path, connections, duration).await?;
    server.stop().await;
    Ok(ReportFigures {
        review_rows,
        pdf_bytes: pdf.len(),
        serial: (n, serial),
        parallel: (per_sec, parallel),
    })
}
