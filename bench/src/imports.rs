//! The import benchmark: a CSV of `rows` people (identity document fields, an AML result, one
//! row in 20 invalid) uploaded to `POST /v3/session/imports/`, timed from the upload to the
//! job's COMPLETED; then the same file again, every valid row skipped as already imported.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use bytes::Bytes;
use hyper::Method;
use serde_json::{json, Value};

use crate::client::Conn;
use crate::server::Server;

pub struct ImportFigures {
    pub rows: usize,
    pub file_bytes: usize,
    /// The upload's answer (the file checked whole, the job created).
    pub accepted: Duration,
    /// Upload to COMPLETED.
    pub first: Duration,
    pub created: i64,
    pub failed: i64,
    /// The same file again: upload to COMPLETED, every valid row skipped.
    pub rerun: Duration,
    pub skipped: i64,
}

const FIRST: &[&str] = &["Ana", "Jon", "Zoë", "Мария", "Νίκος", "Li", "Oğuz", "Søren"];
const LAST: &[&str] = &[
    "García",
    "Smith",
    "Müller",
    "Иванова",
    "Παπαδόπουλος",
    "Wang",
];
const COUNTRIES: &[&str] = &["ESP", "GBR", "DEU", "FRA", "ITA", "PRT", "POL", "GRC"];

fn csv(rows: usize) -> String {
    let mut out = String::from(
        "external_id,vendor_data,status,created_at,first_name,last_name,date_of_birth,nationality,document_type,document_number,issuing_state,expiration_date,aml_status\n",
    );
    for i in 0..rows {
        let status = match i % 20 {
            19 => "unknown-status",
            n if n % 3 == 0 => "Declined",
            n if n % 7 == 0 => "In Review",
            _ => "Approved",
        };
        let c = COUNTRIES[i % COUNTRIES.len()];
        let _ = writeln!(
            out,
            "src-{i},customer-{i},{status},2024-{:02}-{:02}T10:00:00Z,{},{},19{:02}-{:02}-{:02},{c},ID,X{i:08},{c},2031-01-01,{}",
            i % 12 + 1,
            i % 28 + 1,
            FIRST[i % FIRST.len()],
            LAST[i % LAST.len()],
            50 + i % 50,
            i % 12 + 1,
            i % 28 + 1,
            if i % 2 == 0 { "Approved" } else { "Declined" },
        );
    }
    out
}

fn multipart(workflow_id: &str, file: &str) -> (String, Bytes) {
    let boundary = "vouch-bench-boundary-7MA4YWxkTrZu0gW";
    let mut body = String::new();
    let _ = write!(
        body,
        "--{boundary}\r\ncontent-disposition: form-data; name=\"workflow_id\"\r\n\r\n{workflow_id}\r\n--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"customers.csv\"\r\ncontent-type: text/csv\r\n\r\n{file}\r\n--{boundary}--\r\n"
    );
    (
        format!("multipart/form-data; boundary={boundary}"),
        Bytes::from(body),
    )
}

/// Uploads the file and waits for the job to end: (accepted after, finished after, job).
async fn import(c: &mut Conn, wf: &str, file: &str) -> anyhow::Result<(Duration, Duration, Value)> {
    let (ct, body) = multipart(wf, file);
    let started = Instant::now();
    let (s, b) = c
        .send_body(Method::POST, "/v3/session/imports/", &ct, body)
        .await?;
    let accepted = started.elapsed();
    let job: Value = serde_json::from_slice(&b)?;
    ensure!(s == 201, "import: {s} {job}");
    let id = job["uuid"].as_str().context("a job id")?.to_string();
    loop {
        let (s, j) = c
            .json(Method::GET, &format!("/v3/session/imports/{id}/"), None)
            .await?;
        ensure!(s == 200, "progress: {s} {j}");
        match j["status"].as_str() {
            Some("COMPLETED") => return Ok((accepted, started.elapsed(), j)),
            Some("FAILED") => anyhow::bail!("the import failed: {j}"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
        ensure!(
            started.elapsed() < Duration::from_secs(1800),
            "no end in 30 min: {j}"
        );
    }
}

pub async fn run(
    binary: &std::path::Path,
    database_url: Option<&str>,
    extra_env: &[(String, String)],
    rows: usize,
) -> anyhow::Result<ImportFigures> {
    let server = Server::start(binary, database_url, extra_env).await?;
    let mut c = Conn::open(server.addr, &server.key).await?;
    let (s, wf) = c
        .json(
            Method::POST,
            "/v3/workflows/",
            Some(&json!({"workflow_label": "imports", "features": [{"feature": "OCR"}, {"feature": "AML"}]})),
        )
        .await?;
    ensure!(s == 201, "workflow: {s} {wf}");
    let wf = wf["uuid"].as_str().context("a workflow id")?.to_string();
    let file = csv(rows);
    let (accepted, first, job) = import(&mut c, &wf, &file).await?;
    let (_, rerun, again) = import(&mut c, &wf, &file).await?;
    server.stop().await;
    let n = |j: &Value, k: &str| j[k].as_i64().unwrap_or(-1);
    ensure!(
        n(&job, "processed_rows") == rows as i64
            && n(&again, "skipped_count") == n(&job, "created_count"),
        "counters: {job} / {again}"
    );
    Ok(ImportFigures {
        rows,
        file_bytes: file.len(),
        accepted,
        first,
        created: n(&job, "created_count"),
        failed: n(&job, "failed_count"),
        rerun,
        skipped: n(&again, "skipped_count"),
    })
}
