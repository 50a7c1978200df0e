//! Capacity: overload is refused at once (`503 overloaded`), a full disk is refused without
//! harm (`503 storage_full`) and heals by itself, and `/system/readiness` says which.

use std::process::Command;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{status_json, TestServer};

async fn readiness(t: &TestServer) -> (u16, Value) {
    status_json(
        t.client
            .get(format!("{}/system/readiness", t.base))
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn shed(metrics: &str, reason: &str) -> u64 {
    let prefix = format!("vouch_shed_requests_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in {metrics}"))
}

#[tokio::test]
async fn readiness_checks_a_read_a_write_and_the_workers() {
    let t = TestServer::start().await;
    let (s, b) = readiness(&t).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "ready");
    for check in ["database_read", "database_write", "workers"] {
        assert_eq!(b["checks"][check]["status"], "ok", "{check}: {b}");
    }
}

/// `n` session creations at once, each with its own `vendor_data`; answers each one's
/// `vendor_data`, status and body.
async fn burst(t: &TestServer, n: usize) -> Vec<(String, u16, Value)> {
    // Set up with retries: the limits are tight enough to shed this too.
    let mut workflow = Value::Null;
    for _ in 0..100 {
        let (s, b) = t
            .post(
                "/v3/workflows/",
                json!({"workflow_label": "burst", "features": [{"feature": "OCR"}]}),
            )
            .await;
        if s == 201 {
            workflow = b["uuid"].clone();
            break;
        }
        assert_eq!(b["code"], "overloaded", "{b}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(workflow.is_string(), "no workflow could be created");
    let sends = (0..n).map(|i| {
        let body = json!({"workflow_id": workflow, "vendor_data": format!("burst-{i}")});
        async move {
            let r = t
                .request(Method::POST, "/v3/session/", Some(&t.key), Some(body))
                .await;
            let (s, b) = status_json(r).await;
            (format!("burst-{i}"), s, b)
        }
    });
    futures_util::future::join_all(sends).await
}

#[tokio::test]
async fn past_the_bounded_queue_writes_are_refused_at_once_and_the_accepted_ones_are_kept() {
    let t = TestServer::start_with(|c| {
        // One write may wait for the SQLite writer; one request may wait for a PostgreSQL
        // connection of the three.
        c.sqlite.max_queued_writes = 1;
        c.postgres.pool_size = 3;
        c.postgres.max_waiting = 1;
    })
    .await;
    let answers = burst(&t, 64).await;
    let mut refused = 0;
    for (vendor_data, s, b) in &answers {
        let found = get_retrying(&t, &format!("/v3/sessions/?vendor_data={vendor_data}")).await;
        match s {
            201 => assert_eq!(found["count"], 1, "an acknowledged session was lost: {b}"),
            503 => {
                refused += 1;
                assert_eq!(b["code"], "overloaded", "{b}");
                assert_eq!(
                    found["count"], 0,
                    "a refused session was written: {vendor_data}"
                );
            }
            other => panic!("{vendor_data}: {other} {b}"),
        }
    }
    assert!(refused > 0, "64 writes at once never filled a queue of one");
    assert!(refused < 64, "nothing was accepted");
    // Each refusal counted once (reads shed while checking are counted too).
    assert!(shed(&t.metrics().await, "overloaded") >= refused);
}

/// A GET retried while the node sheds it (the tight limits above shed reads too).
async fn get_retrying(t: &TestServer, path: &str) -> Value {
    for _ in 0..200 {
        let (s, b) = t.get(path).await;
        if s != 503 {
            assert_eq!(s, 200, "{path}: {b}");
            return b;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{path}: shed 200 times");
}

/// A tmpfs of `mib` MiB mounted on `dir`, unmounted when dropped.
struct SmallDisk {
    dir: std::path::PathBuf,
}

impl SmallDisk {
    /// `None` (the reason printed) where this process may not mount, except under `CI=true`.
    fn mount(dir: &std::path::Path, mib: u32) -> Option<SmallDisk> {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(SmallDisk {
                dir: dir.to_path_buf(),
            }),
            other => {
                let ci = matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1"));
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                    Err(e) => e.to_string(),
                };
                assert!(!ci, "CI=true and a small disk cannot be mounted: {why}");
                eprintln!("skipped: cannot mount a tmpfs for the disk-full test ({why})");
                None
            }
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

#[tokio::test]
async fn a_full_disk_is_503_storage_full_corrupts_nothing_and_heals_by_itself() {
    if vouch_store::testing::backend() != vouch_store::testing::Backend::Sqlite {
        // PostgreSQL's disk is the server's own; the code mapping (53100) is in rows.rs.
        return;
    }
    let outer = tempfile::tempdir().unwrap();
    let mnt = outer.path().join("disk");
    let Some(_disk) = SmallDisk::mount(&mnt, 8) else {
        return;
    };
    let db = mnt.join("vouch.db");
    let t = TestServer::start_with(|c| {
        c.database_url = Some(format!("sqlite://{}", db.display()));
        c.data_dir = mnt.clone();
    })
    .await;
    let (id, _) = t.session(&["OCR"]).await;
    // Leave about half a megabyte free, then write until the disk is full.
    let filler = mnt.join("filler");
    let free = fs_free(&mnt);
    std::fs::write(&filler, vec![0u8; free.saturating_sub(512 * 1024) as usize]).unwrap();
    let workflow = t.workflow(&["OCR"]).await["uuid"].clone();
    let mut created = vec![id];
    let mut full = None;
    for i in 0..20_000 {
        let (s, b) = t
            .post(
                "/v3/session/",
                json!({"workflow_id": workflow, "vendor_data": format!("filling-{i}-{}", "x".repeat(900))}),
            )
            .await;
        match s {
            201 => created.push(b["session_id"].as_str().unwrap().to_string()),
            503 => {
                full = Some(b);
                break;
            }
            other => panic!("create {i}: {other} {b}"),
        }
    }
    let full = full.expect("the disk never filled");
    assert_eq!(full["code"], "storage_full", "{full}");
    let (s, r) = readiness(&t).await;
    assert_eq!(s, 503, "{r}");
    assert_eq!(r["checks"]["database_write"]["code"], "storage_full", "{r}");
    assert_eq!(r["checks"]["database_read"]["status"], "ok", "{r}");
    // The health check stays cheap and up: the node answers, reads work.
    let h = t
        .client
        .get(format!("{}/system/healthcheck", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(h.status(), 200);
    // Everything acknowledged is there.
    for id in created.iter().step_by(7) {
        let (s, _) = t.get(&format!("/v3/session/{id}/")).await;
        assert_eq!(s, 200, "acknowledged session {id} is gone");
    }
    assert!(shed(&t.metrics().await, "storage_full") >= 1);

    // Room again: the next write succeeds on the same node, no restart.
    std::fs::remove_file(&filler).unwrap();
    let (s, b) = t
        .post(
            "/v3/session/",
            json!({"workflow_id": workflow, "vendor_data": "after"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, r) = readiness(&t).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("ready")), "{r}");
    let (_, list) = t.get("/v3/sessions/?limit=1").await;
    assert_eq!(list["count"].as_u64().unwrap() as usize, created.len() + 1);
    // And the file is sound.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

/// Free bytes on the filesystem holding `dir`.
fn fs_free(dir: &std::path::Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap()
}
