//! `vouch migrate-data`: a SQLite database filled through the real server is copied into
//! PostgreSQL by the real binary, and a server on the copy answers exactly as the original.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Client, Method};
use serde_json::{json, Value};
use vouch::config::Config;
use vouch::migrate_data::TABLES;
use vouch::server;
use vouch_core::scopes::{Access, Scopes};
use vouch_store::postgres::{PgOptions, PgStore};
use vouch_store::Store;

use common::{new_app, new_key, status_json, test_config};

/// A server in this process on an explicit database (never the backend `VOUCH_TEST_BACKEND`
/// picks: the source here must be SQLite).
struct Node {
    base: String,
    key: String,
    client: Client,
    store: Arc<dyn Store>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn config(dir: &Path, database_url: &str) -> Config {
    let mut cfg = test_config(dir);
    cfg.database_url = Some(database_url.to_string());
    cfg.allow_private_destinations = true;
    cfg.webhooks.retry_schedule = [0, 1, 1].map(std::time::Duration::from_secs).to_vec();
    cfg.webhooks.jitter = 0.0;
    cfg.webhooks.poll_interval = std::time::Duration::from_millis(100);
    cfg.mailer.poll_interval = std::time::Duration::from_millis(100);
    cfg
}

impl Node {
    /// Starts on `cfg`; with `key` None, creates an application and a full-access key first.
    async fn start(cfg: Config, key: Option<String>) -> Node {
        let store = server::open_store(&cfg).await.expect("store");
        let key = match key {
            Some(k) => k,
            None => {
                let app = new_app(store.as_ref(), "migrated-app").await;
                new_key(store.as_ref(), &app, Scopes::all(Access::Write), None).await
            }
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let running = server::start(cfg, store.clone(), async {
            let _ = rx.await;
        })
        .await
        .expect("start");
        Node {
            base: format!("http://{}", running.addr),
            key,
            client: Client::new(),
            store,
            shutdown: Some(tx),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        idem: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("x-api-key", &self.key);
        if let Some(k) = idem {
            req = req.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        status_json(req.send().await.expect("request")).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(Method::GET, path, None, None).await
    }

    async fn ok(&self, method: Method, path: &str, body: Value, want: u16) -> Value {
        let (s, b) = self.send(method, path, Some(body), None).await;
        assert_eq!(s, want, "{path}: {b}");
        b
    }

    /// A session on a new workflow of `features`; answers its id.
    async fn session(&self, features: &[&str], vendor: &str) -> String {
        let features: Vec<Value> = features.iter().map(|f| json!({"feature": f})).collect();
        let wf = self
            .ok(
                Method::POST,
                "/v3/workflows/",
                json!({"workflow_label": "wf", "features": features}),
                201,
            )
            .await;
        let s = self
            .ok(
                Method::POST,
                "/v3/session/",
                json!({"workflow_id": wf["uuid"], "vendor_data": vendor,
                       "metadata": {"z": 1, "a": [1.50, 2e3, "é"], "n": null}}),
                201,
            )
            .await;
        s["session_id"].as_str().unwrap().to_string()
    }

    async fn attempt(&self, sid: &str, node: &str, status: &str, data: Value) {
        let (s, b) = self
            .send(
                Method::POST,
                &format!("/v3/session/{sid}/attempts/"),
                Some(json!({"node_id": node, "status": status, "data": data})),
                Some(&format!("{sid}-{node}")),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }

    async fn update(&self, sid: &str, body: Value) {
        self.ok(
            Method::PATCH,
            &format!("/v3/session/{sid}/update-status/"),
            body,
            200,
        )
        .await;
    }
}

/// Fills the tables only a sandbox application and the person's page write.
async fn sandbox_rows(src: &Node, shareable: &str) {
    let app = src
        .store
        .create_app(vouch_store::App {
            id: vouch_core::AppId::random(),
            name: "sandbox".into(),
            mode: vouch_core::session::Environment::Sandbox,
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let key = new_key(src.store.as_ref(), &app, Scopes::all(Access::Write), None).await;
    let call = |m: Method, path: &str, body: Value| {
        let path = path.to_string();
        let req = src
            .client
            .request(m, format!("{}{path}", src.base))
            .header("x-api-key", &key)
            .json(&body);
        async move {
            let (s, b) = status_json(req.send().await.unwrap()).await;
            assert!((200..300).contains(&s), "{path}: {s} {b}");
            b
        }
    };
    call(
        Method::POST,
        "/v3/phone/sandbox/numbers/",
        json!({"phone_number": "+34600000001", "outcome": "verified"}),
    )
    .await;
    let wf = call(
        Method::POST,
        "/v3/workflows/",
        json!({"workflow_label": "sandbox", "features": [
            {"feature": "EMAIL_VERIFICATION"}, {"feature": "LIVENESS"}]}),
    )
    .await;
    let created = call(
        Method::POST,
        "/v3/session/",
        json!({"workflow_id": wf["uuid"], "sandbox_scenario": "approved",
               "contact_details": {"email": "p@example.com"}}),
    )
    .await;
    let page = url::Url::parse(created["url"].as_str().unwrap())
        .unwrap()
        .path()
        .to_string();
    // As the person's browser, seeing each redirect's notice.
    let browser = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = browser
        .post(format!(
            "{}{page}/steps/feature_email_verification_1/code",
            src.base
        ))
        .header("origin", &src.base)
        .header("sec-fetch-site", "same-origin")
        .form(&[("email", "p@example.com")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let html = src
        .client
        .get(format!("{}{page}", src.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let version = html
        .split("name=\"submission\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a capture form")
        .to_string();
    let img = image::RgbImage::from_fn(640, 800, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, 90])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
        .encode_image(&img)
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("submission", version)
        .part(
            "selfie",
            reqwest::multipart::Part::bytes(jpeg)
                .file_name("me.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        );
    let r = browser
        .post(format!(
            "{}{page}/steps/feature_liveness_1/capture",
            src.base
        ))
        .header("sec-fetch-site", "same-origin")
        .multipart(form)
        .send()
        .await
        .unwrap();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        location.contains("notice=submitted"),
        "{} {location}",
        r.status()
    );

    // A batch deletion large enough to run as a job (its row is copied too), finished first.
    for i in 0..21 {
        call(
            Method::POST,
            "/v3/session/",
            json!({"workflow_id": wf["uuid"], "vendor_data": format!("gone-{i}")}),
        )
        .await;
    }
    let queued = call(
        Method::POST,
        "/v3/sessions/delete/",
        json!({"session_numbers": (2..=22).collect::<Vec<i64>>()}),
    )
    .await;
    let job = queued["job_id"].as_str().expect("a job").to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while call(
        Method::GET,
        &format!("/v3/sessions/delete/{job}/"),
        Value::Null,
    )
    .await["status"]
        != "COMPLETED"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the deletion job never finished"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A bulk import, finished, with a row imported and a row refused.
    let form = reqwest::multipart::Form::new()
        .text("workflow_id", wf["uuid"].as_str().unwrap().to_string())
        .part(
            "file",
            reqwest::multipart::Part::text("vendor_data,status\nold-1,Approved\nold-2,nope\n")
                .file_name("old.csv"),
        );
    let r = src
        .client
        .post(format!("{}/v3/session/imports/", src.base))
        .header("x-api-key", &key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (s, import) = status_json(r).await;
    assert_eq!(s, 201, "{import}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let progress = format!("/v3/session/imports/{}/", import["uuid"].as_str().unwrap());
    while call(Method::GET, &progress, Value::Null).await["status"] != "COMPLETED" {
        assert!(
            std::time::Instant::now() < deadline,
            "the import never finished"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // One due tomorrow: still pending, with its file, when the database is copied.
    let file = b"vendor_data,status\nlater,Approved\n".to_vec();
    let layout = vouch_core::imports::scan(&file, vouch_core::imports::SourceFormat::Csv).unwrap();
    let later = vouch_store::ImportJob::new(
        uuid::Uuid::now_v7(),
        app.id,
        wf["uuid"].as_str().unwrap().parse().unwrap(),
        "csv",
        "later.csv".into(),
        None,
        chrono::Utc::now() + chrono::Duration::days(1),
    );
    src.store
        .create_import(
            later,
            Some(vouch_store::ImportFile {
                content: file,
                layout,
            }),
            None,
        )
        .await
        .unwrap();

    // A session of the main application shared with this one and imported here.
    let (s, shared) = src
        .send(
            Method::POST,
            &format!("/v3/session/{shareable}/share/"),
            Some(json!({"for_application_id": app.id})),
            None,
        )
        .await;
    assert_eq!(s, 200, "{shared}");
    let kyc = call(
        Method::POST,
        "/v3/workflows/",
        json!({"workflow_label": "imported", "features": [{"feature": "OCR"}, {"feature": "LIVENESS"}]}),
    )
    .await;
    call(
        Method::POST,
        "/v3/session/import-shared/",
        json!({"share_token": shared["share_token"], "workflow_id": kyc["uuid"]}),
    )
    .await;
}

async fn receiver() -> String {
    let app = axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/hook")
}

/// Polls until `done` holds on `path`.
async fn until(node: &Node, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (s, v) = node.get(path).await;
        assert_eq!(s, 200, "{path}: {v}");
        if done(&v) {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "{path}: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the real binary with a clean environment.
async fn migrate_data(dir: &Path, from: &str, to: &str) -> (bool, String, String) {
    let config = dir.join("empty.toml");
    std::fs::write(&config, "").unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_vouch"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("VOUCH_") {
            cmd.env_remove(&k);
        }
    }
    let out = cmd
        .current_dir(dir)
        .arg("--config")
        .arg(&config)
        .args(["migrate-data", "--from", from, "--to", to, "--no-progress"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("run vouch");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Everything a client can read about the data, keyed by path.
async fn snapshot(
    node: &Node,
    sessions: &[String],
    destination: &str,
) -> Vec<(String, u16, Value)> {
    let mut paths = vec![
        "/v3/workflows/?limit=100".to_string(),
        "/v3/sessions/?limit=100".to_string(),
        // Counted from the session tallies, which the target's triggers rebuild as it copies.
        "/v3/sessions/?status=Approved,Declined,In%20Review,Not%20Started&limit=100".to_string(),
        "/v3/sessions/?session_kind=all&date_from=2000-01-01&limit=100".to_string(),
        "/v3/webhook/destinations/".to_string(),
        format!("/v3/webhook/destinations/{destination}/deliveries/?limit=100"),
    ];
    for sid in sessions {
        paths.push(format!("/v3/session/{sid}/decision/"));
        paths.push(format!("/v3/sessions/{sid}/reviews/?limit=100"));
        paths.push(format!("/v3/session/{sid}/webhooks/"));
        paths.push(format!("/v3/session/{sid}/emails/"));
    }
    let (_, deliveries) = node
        .get(&format!(
            "/v3/webhook/destinations/{destination}/deliveries/?limit=100"
        ))
        .await;
    for d in deliveries["results"].as_array().unwrap() {
        paths.push(format!(
            "/v3/webhook/destinations/{destination}/deliveries/{}/",
            d["uuid"].as_str().unwrap()
        ));
    }
    let mut out = Vec::new();
    for p in paths {
        let (s, v) = node.get(&p).await;
        out.push((p, s, v));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sqlite_database_is_copied_exactly() {
    let Some(pg_url) = vouch_store::testing::fresh_postgres("migrate_data").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("source.db");
    let src = Node::start(
        config(dir.path(), &format!("sqlite://{}", db.display())),
        None,
    )
    .await;

    // The readiness check's probe row.
    let (s, ready) = src.get("/system/readiness").await;
    assert_eq!(s, 200, "{ready}");
    let hook = receiver().await;
    let dest = src
        .ok(
            Method::POST,
            "/v3/webhook/destinations/",
            json!({"label": "hook", "url": hook}),
            201,
        )
        .await;
    let dest = dest["uuid"].as_str().unwrap().to_string();

    let ocr = json!({"issuing_state": "ESP", "first_name": "Ana", "score": 0.9500, "big": 1e21});
    let mut sessions = Vec::new();
    // KYC: approved by the results, then declined by a reviewer with an email.
    let declined = src.session(&["OCR", "LIVENESS"], "user-1").await;
    src.attempt(&declined, "feature_ocr_1", "Approved", ocr.clone())
        .await;
    src.attempt(&declined, "feature_liveness_1", "Approved", json!({}))
        .await;
    src.update(
        &declined,
        json!({"new_status": "Declined", "comment": "Looks forged",
        "send_email": true, "email_address": "ana@example.com", "email_language": "es"}),
    )
    .await;
    sessions.push(declined);
    // KYC: declined by the results, approved by a reviewer.
    let approved = src.session(&["OCR", "LIVENESS"], "user-2").await;
    src.attempt(&approved, "feature_ocr_1", "Approved", ocr.clone())
        .await;
    src.attempt(
        &approved,
        "feature_liveness_1",
        "Declined",
        json!({"reason": "dark"}),
    )
    .await;
    src.update(
        &approved,
        json!({"new_status": "Approved", "comment": "Checked by phone"}),
    )
    .await;
    sessions.push(approved);
    // KYC: a step sent back.
    let resubmitted = src.session(&["OCR", "LIVENESS"], "user-3").await;
    src.attempt(&resubmitted, "feature_ocr_1", "Approved", ocr.clone())
        .await;
    src.attempt(&resubmitted, "feature_liveness_1", "Declined", json!({}))
        .await;
    src.update(&resubmitted, json!({"new_status": "Resubmitted",
        "nodes_to_resubmit": [{"node_id": "feature_liveness_1", "feature": "LIVENESS", "reason": "Too dark"}]}))
        .await;
    sessions.push(resubmitted);
    // KYB: registry and documents, then approved.
    let business = src
        .session(&["KYB_REGISTRY", "KYB_DOCUMENTS"], "company-1")
        .await;
    src.attempt(
        &business,
        "feature_kyb_registry_1",
        "Approved",
        json!({"company": "ACME SL"}),
    )
    .await;
    src.attempt(&business, "feature_kyb_documents_1", "Declined", json!({}))
        .await;
    src.update(&business, json!({"new_status": "Approved"}))
        .await;
    sessions.push(business);
    // Notes on an untouched session.
    let noted = src.session(&["OCR"], "user-4").await;
    for c in ["Called the customer", "Waiting for a callback"] {
        src.ok(
            Method::POST,
            &format!("/v3/sessions/{noted}/reviews/"),
            json!({"comment": c}),
            201,
        )
        .await;
    }
    // The reviewer console: a user with its login and events, a claim, a staged decision and an
    // application's four-eyes setting.
    {
        use vouch_store::{Claim, ConsoleEvent, ConsoleLogin, ConsoleUser, Staged};
        let now = chrono::Utc::now();
        let store = &src.store;
        let user = ConsoleUser {
            id: uuid::Uuid::now_v7(),
            email: "rita@acme.example".into(),
            password_hash: vouch::console::password::hash("a long enough password").unwrap(),
            role: vouch_core::console::Role::Reviewer,
            apps: vec![],
            disabled_at: None,
            created_at: now,
            totp_secret: Some("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".into()),
            totp_last_step: None,
        };
        let created = ConsoleEvent::new("user_created", &user.email, now);
        store
            .create_console_user(user.clone(), created)
            .await
            .unwrap();
        let login = ConsoleLogin {
            token_hash: vec![7; 32],
            user_id: user.id,
            csrf: "c".repeat(64),
            created_at: now,
            seen_at: now,
        };
        let event = ConsoleEvent::new("login", &user.email, now);
        store.start_console_login(login, event).await.unwrap();
        let sid: vouch_core::SessionId = noted.parse().unwrap();
        let claim = Claim {
            session_id: sid,
            user_id: user.id,
            email: user.email.clone(),
            claimed_at: now,
            expires_at: now + chrono::Duration::minutes(30),
        };
        store.claim_session(claim, false).await.unwrap();
        let staged = Staged {
            session_id: sid,
            user_id: user.id,
            email: user.email.clone(),
            body: json!({"new_status": "Approved", "comment": "Looks right"}),
            version: 1,
            staged_at: now,
            rejected_by: None,
            note: None,
        };
        store.stage_decision(staged).await.unwrap();
        let app = store.find_app("migrated-app").await.unwrap().unwrap();
        store.set_four_eyes(app.id, true).await.unwrap();
    }
    sessions.push(noted);
    // A deleted session: its rows are erased in place and must copy (and verify) too.
    let deleted = src.session(&["OCR", "LIVENESS"], "user-5").await;
    src.attempt(&deleted, "feature_ocr_1", "Approved", ocr.clone())
        .await;
    src.ok(
        Method::POST,
        &format!("/v3/sessions/{deleted}/reviews/"),
        json!({"comment": "personal"}),
        201,
    )
    .await;
    let (s, b) = src
        .send(
            Method::DELETE,
            &format!("/v3/session/{deleted}/delete/"),
            None,
            None,
        )
        .await;
    assert_eq!(s, 204, "{b}");
    sessions.push(deleted);
    // Some volume.
    for i in 0..10 {
        let sid = src.session(&["OCR"], &format!("bulk-{i}")).await;
        src.attempt(
            &sid,
            "feature_ocr_1",
            if i % 2 == 0 { "Approved" } else { "Declined" },
            ocr.clone(),
        )
        .await;
        sessions.push(sid);
    }

    // A sandbox application: a test phone number, a session with a scenario (its plan), a code
    // sent on the person's page (the one-time code), and a selfie captured there (the sealed
    // file, the session's key and the engine's job). Not in the snapshot: its decision carries
    // signed media URLs, which change with time. It also imports a session the reviewer
    // approved, shared with it (the redemption).
    sandbox_rows(&src, &sessions[1]).await;

    // Let the workers finish: every event fanned out, no delivery or email left pending.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while pending_work(&db) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the workers never settled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let path = format!("/v3/webhook/destinations/{dest}/deliveries/?limit=100");
    let (_, deliveries) = src.get(&path).await;
    let results = deliveries["results"].as_array().unwrap();
    assert!(results.len() >= 10, "{deliveries}");
    assert!(
        results
            .iter()
            .all(|d| d["state"] == "succeeded" || d["state"] == "dropped"),
        "{deliveries}"
    );
    let emails = until(&src, &format!("/v3/session/{}/emails/", sessions[0]), |v| {
        v.to_string().contains("not_sent") || v.to_string().contains("\"sent\"")
    })
    .await;
    assert!(!emails.to_string().contains("pending"), "{emails}");

    let before = snapshot(&src, &sessions, &dest).await;
    let decided = before
        .iter()
        .filter(|(p, s, _)| p.ends_with("/decision/") && *s == 200)
        .count();
    assert_eq!(
        decided,
        sessions.len() - 1,
        "all but the deleted session answer"
    );
    let (chains, broken) = src.store.verify_reviews(None).await.unwrap();
    assert!(
        broken.is_empty() && chains >= sessions.len(),
        "{chains} {broken:?}"
    );

    // The copy, by the real binary, while the source server still runs (a read snapshot).
    let (ok, stdout, stderr) =
        migrate_data(dir.path(), &format!("sqlite://{}", db.display()), &pg_url).await;
    assert!(
        ok,
        "migrate-data failed:\nstdout: {stdout}\nstderr: {stderr}"
    );
    eprintln!("{stdout}");
    assert!(
        stdout.contains("copied") && stdout.contains("sessions"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("verified {chains} review chains")),
        "{stdout}"
    );
    let key = src.key.clone();
    drop(src);

    let target = PgStore::connect(&PgOptions::new(pg_url.clone()))
        .await
        .unwrap();
    let (pg_chains, pg_broken) = target.verify_reviews(None).await.unwrap();
    assert_eq!((pg_chains, pg_broken.len()), (chains, 0), "{pg_broken:?}");
    for sid in &sessions {
        let id = sid.parse::<vouch_core::SessionId>().unwrap();
        assert!(!target.reviews(id).await.unwrap().is_empty(), "{sid}");
    }
    drop(target);
    assert_eq!(sqlite_counts(&db), pg_counts(&pg_url).await);
    assert_json_text_is_kept(&db, &pg_url).await;

    // A server on the copy answers every read exactly as the original did, with the same key.
    let pg_dir = tempfile::tempdir().unwrap();
    let dst = Node::start(config(pg_dir.path(), &pg_url), Some(key)).await;
    let after = snapshot(&dst, &sessions, &dest).await;
    assert_eq!(before.len(), after.len());
    for ((path, s1, v1), (_, s2, v2)) in before.iter().zip(&after) {
        assert_eq!((s1, v1), (s2, v2), "{path} differs after the copy");
    }

    // New rows continue after the copied identities.
    let sid = dst.session(&["OCR"], "after").await;
    dst.attempt(&sid, "feature_ocr_1", "Approved", json!({}))
        .await;
    let list = until(&dst, &path, |v| {
        let new: Vec<&Value> = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["session_id"] == sid.as_str())
            .collect();
        !new.is_empty() && new.iter().all(|d| d["state"] != "pending")
    })
    .await;
    let new: Vec<&Value> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["session_id"] == sid.as_str())
        .collect();
    assert!(new.iter().all(|d| d["state"] == "succeeded"), "{list}");
    drop(dst);

    // Once more into the same (now full) database: refused, nothing written.
    let (ok, stdout, stderr) = migrate_data(dir.path(), db.to_str().unwrap(), &pg_url).await;
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("already holds data"), "{stderr}");
}

/// Events not yet fanned out, deliveries and emails not yet settled.
fn pending_work(db: &Path) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(
        "SELECT (SELECT count(*) FROM outbox_events WHERE fanned_out_at IS NULL AND dropped_at IS NULL)
              + (SELECT count(*) FROM webhook_deliveries WHERE state = 'pending')
              + (SELECT count(*) FROM email_jobs WHERE state = 'pending')",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

fn sqlite_counts(db: &Path) -> Vec<(String, i64)> {
    let c = rusqlite::Connection::open(db).unwrap();
    TABLES
        .iter()
        .map(|t| {
            let n: i64 = c
                .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                .unwrap();
            assert!(n > 0 || *t == "settings", "the source has no {t} rows");
            (t.to_string(), n)
        })
        .collect()
}

async fn pg_counts(url: &str) -> Vec<(String, i64)> {
    let c = vouch_store::testing::connect(url).await.unwrap();
    let mut out = Vec::new();
    for t in TABLES {
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM {t}"), &[])
            .await
            .unwrap()
            .get(0);
        out.push((t.to_string(), n));
    }
    out
}

/// Every JSON document reads back from PostgreSQL as the very text SQLite held.
async fn assert_json_text_is_kept(db: &Path, url: &str) {
    let c = rusqlite::Connection::open(db).unwrap();
    let pg = vouch_store::testing::connect(url).await.unwrap();
    for (table, key, column) in [
        ("attempts", "id", "data"),
        ("reviews", "uuid", "metadata"),
        ("sessions", "id", "metadata"),
        ("idempotency_keys", "key", "response"),
        ("webhook_deliveries", "id", "payload"),
        ("webhook_attempts", "CAST(id AS TEXT)", "request_headers"),
        ("email_jobs", "id", "payload"),
    ] {
        let mut st = c
            .prepare(&format!(
                "SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL"
            ))
            .unwrap();
        let rows: Vec<(String, String)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!rows.is_empty(), "{table}.{column}");
        for (k, text) in rows {
            let got: String = pg
                .query_one(
                    &format!("SELECT {column}::text FROM {table} WHERE {key}::text = $1"),
                    &[&k],
                )
                .await
                .unwrap()
                .get(0);
            assert_eq!(got, text, "{table}.{column} of {k}");
        }
    }
}

/// A value that does not convert, in the last table copied: the command fails and the target
/// stays empty (one transaction).
#[tokio::test]
async fn a_failure_part_way_leaves_the_target_empty() {
    let Some(pg_url) = vouch_store::testing::fresh_postgres("migrate_data_atomic").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("source.db");
    {
        let src = Node::start(
            config(dir.path(), &format!("sqlite://{}", db.display())),
            None,
        )
        .await;
        src.session(&["OCR"], "v").await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute(
        "INSERT INTO settings (key, value) VALUES ('bad', x'00ff')",
        [],
    )
    .unwrap();
    drop(c);
    let (ok, stdout, stderr) = migrate_data(dir.path(), db.to_str().unwrap(), &pg_url).await;
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains("settings") && stderr.contains("expected UTF-8 text, found a 2-byte blob"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(pg_counts(&pg_url).await.iter().all(|(_, n)| *n == 0));
}

#[tokio::test]
async fn a_missing_source_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here.db");
    let (ok, _, stderr) = migrate_data(
        dir.path(),
        &format!("sqlite://{}", missing.display()),
        "postgres://postgres@127.0.0.1:5432/unused",
    )
    .await;
    assert!(!ok);
    assert!(
        stderr.contains("no SQLite database at") && stderr.contains("does not exist"),
        "{stderr}"
    );
    assert!(!missing.exists(), "the missing source must not be created");
}
