//! The upload benchmark: a 12-megapixel JPEG (about 3 MB) sent to the person's page as a
//! passport's front, over and over, each to a session of its own: checked, stripped of its
//! metadata, sealed twice, written and synced, recorded with its engine job. Reports uploads
//! per second, latency, and the vouch process's peak memory; beside it the ceiling of the same
//! file work done in-process on one core without HTTP or database.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use bytes::Bytes;
use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload};
use chacha20poly1305::{AeadCore, XChaCha20Poly1305};
use hdrhistogram::Histogram;
use hyper::Method;
use serde_json::json;

use crate::client::Conn;
use crate::server::Server;

pub struct UploadFigures {
    pub file_bytes: usize,
    pub uploads: u64,
    pub refused: u64,
    pub per_sec: f64,
    pub latency_us: Histogram<u64>,
    pub peak_rss_mb: f64,
    pub ceiling_per_sec: f64,
}

/// A 4000 × 3000 photo: noise over gradients, so that it compresses like a real one (~3 MB).
pub fn photo() -> anyhow::Result<Vec<u8>> {
    let mut seed: u32 = 0x9E37_79B9;
    let img = image::RgbImage::from_fn(4000, 3000, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let n = (seed % 22) as u8;
        image::Rgb([
            ((x / 16) as u8).wrapping_add(n),
            ((y / 12) as u8).wrapping_add(n / 2),
            ((x + y) / 28) as u8 ^ n,
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&img)?;
    Ok(out)
}

fn multipart(boundary: &str, submission: &str, file: &[u8]) -> Bytes {
    let mut b = Vec::with_capacity(file.len() + 512);
    for (name, value) in [("submission", submission), ("document_type", "P")] {
        b.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    b.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"front\"; filename=\"front.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
        )
        .as_bytes(),
    );
    b.extend_from_slice(file);
    b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Bytes::from(b)
}

/// The resident memory of a process, in MiB (Linux).
fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// The file work of one upload without HTTP or database, on this thread, for `secs`: the
/// checks, the copy without metadata, two seals, two synced writes.
fn ceiling(file: &[u8], dir: &Path, secs: f64) -> anyhow::Result<f64> {
    let limits = vouch_core::media::Limits::default();
    let key = XChaCha20Poly1305::generate_key(&mut OsRng);
    let cipher = XChaCha20Poly1305::new(&key);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        let i = vouch_core::media::inspect(file, vouch_core::media::MediaType::IMAGES, &limits)
            .map_err(|r| anyhow::anyhow!("the benchmark's photo is refused: {r:?}"))?;
        let display = vouch_core::media::without_metadata(file, i.media_type);
        for (name, plain) in [("original", file), ("display", &display[..])] {
            let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
            let sealed = cipher
                .encrypt(
                    &nonce,
                    Payload {
                        msg: plain,
                        aad: name.as_bytes(),
                    },
                )
                .map_err(|_| anyhow::anyhow!("seal"))?;
            let path = dir.join(format!("{n}.{name}"));
            let mut f = std::fs::File::create(&path)?;
            std::io::Write::write_all(&mut f, &sealed)?;
            f.sync_all()?;
            std::fs::remove_file(path)?;
        }
        n += 1;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

pub async fn run(
    binary: &Path,
    database_url: Option<&str>,
    extra_env: &[(String, String)],
    connections: usize,
    duration: Duration,
) -> anyhow::Result<UploadFigures> {
    let file = Arc::new(photo()?);
    let server = Server::start(binary, database_url, extra_env).await?;
    let pid = server.pid().context("the server's pid")?;
    let mut c = Conn::open(server.addr, &server.key).await?;
    let (s, wf) = c
        .json(
            Method::POST,
            "/v3/workflows/",
            Some(&json!({"workflow_label": "uploads", "features": [{"feature": "OCR"}]})),
        )
        .await?;
    ensure!(s == 201, "workflow: {s} {wf}");
    // One session per upload: a step is taken once. Enough for 200 uploads a second.
    let wanted = (duration.as_secs_f64() * 200.0) as usize + 100;
    let mut tokens = Vec::with_capacity(wanted);
    for i in 0..wanted {
        let (s, b) = c
            .json(
                Method::POST,
                "/v3/session/",
                Some(&json!({"workflow_id": wf["uuid"], "vendor_data": format!("upload-{i}")})),
            )
            .await?;
        ensure!(s == 201, "session: {s} {b}");
        tokens.push(b["session_token"].as_str().context("token")?.to_string());
    }
    let tokens = Arc::new(tokens);
    let next = Arc::new(AtomicUsize::new(0));
    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1,
        120_000_000,
        3,
    )?));
    let refused = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(Mutex::new(0f64));
    let sampling = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                if let Some(mb) = rss_mb(pid) {
                    let mut p = peak.lock().unwrap();
                    *p = p.max(mb);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (tokens, next, file, histogram, refused) = (
            tokens.clone(),
            next.clone(),
            file.clone(),
            histogram.clone(),
            refused.clone(),
        );
        let addr = server.addr;
        let key = server.key.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr, &key).await?;
            let boundary = "vouchbenchboundary7MA4YWxkTrZu0gW";
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(token) = tokens.get(i) else { break };
                let body = multipart(boundary, &uuid::Uuid::new_v4().to_string(), &file);
                let t = Instant::now();
                let (status, location) = conn
                    .send_form(
                        &format!("/session/{token}/steps/feature_ocr_1/capture"),
                        &format!("multipart/form-data; boundary={boundary}"),
                        body,
                    )
                    .await?;
                let us = t.elapsed().as_micros() as u64;
                if status == 303 && location.contains("notice=submitted") {
                    let _ = histogram.lock().unwrap().record(us.max(1));
                } else {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = started.elapsed();
    sampling.abort();
    let latency_us = histogram.lock().unwrap().clone();
    let uploads = latency_us.len();
    let peak_rss_mb = *peak.lock().unwrap();
    server.stop().await;
    let dir = tempfile::tempdir()?;
    let ceiling_per_sec = tokio::task::spawn_blocking({
        let file = file.clone();
        let path = dir.path().to_path_buf();
        move || ceiling(&file, &path, 5.0)
    })
    .await??;
    Ok(UploadFigures {
        file_bytes: file.len(),
        uploads,
        refused: refused.load(Ordering::Relaxed) as u64,
        per_sec: uploads as f64 / elapsed.as_secs_f64(),
        latency_us,
        peak_rss_mb,
        ceiling_per_sec,
    })
}
