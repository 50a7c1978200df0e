//! vouch as an operator runs it, against a real `vouch serve`: a key's own rate limit set at
//! creation, changed and put back while the server runs; and a whole flow at debug level whose
//! logs hold none of the secrets and personal data that went through it.

#[path = "support/binary.rs"]
mod binary;
#[path = "mail/sink.rs"]
#[allow(dead_code)]
mod sink;

use std::time::Duration;

use binary::{cli, cli_json, vouch, Server};
use serde_json::{json, Value};

async fn sessions(base: &str, key: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/v3/sessions/"))
        .header("x-api-key", key)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_keys_own_rate_limit_is_set_changed_and_reset_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    cli(dir, &["migrate"]);
    cli(dir, &["apps", "create", "shop", "--json"]);
    let created = cli_json(
        dir,
        &[
            "keys",
            "create",
            "--app",
            "shop",
            "--all",
            "read",
            "--rate-limit",
            "3",
            "--json",
        ],
    );
    let key = created["key"].as_str().unwrap().to_string();
    let key_id = created["key_id"].as_str().unwrap().to_string();
    let listed = cli_json(dir, &["keys", "list", "--app", "shop", "--json"]);
    assert_eq!(listed[0]["rate_limit"], 3);

    // Every other limit is out of reach in this environment; the key's own one is not.
    let server = Server::start(dir, "serve.log", &[]);
    for i in 0..3 {
        assert_eq!(sessions(&server.base, &key).await, 200, "request {i}");
    }
    assert_eq!(sessions(&server.base, &key).await, 429);

    // Raised while the server runs: the next request sees it (keys are read per request).
    let out = cli(dir, &["keys", "update", &key_id, "--rate-limit", "5"]);
    assert!(out.contains("5 requests"), "{out}");
    assert_eq!(sessions(&server.base, &key).await, 200);
    assert_eq!(sessions(&server.base, &key).await, 200);
    assert_eq!(sessions(&server.base, &key).await, 429);

    // Back to the configured limit (set out of reach here).
    cli(dir, &["keys", "update", &key_id, "--rate-limit", "default"]);
    assert_eq!(sessions(&server.base, &key).await, 200);
    let listed = cli_json(dir, &["keys", "list", "--app", "shop", "--json"]);
    assert_eq!(listed[0]["rate_limit"], serde_json::Value::Null);

    // Nonsense is refused with the reason.
    for bad in ["0", "-4", "lots"] {
        let out = vouch(dir)
            .args(["keys", "update", &key_id, &format!("--rate-limit={bad}")])
            .output()
            .unwrap();
        assert!(!out.status.success(), "--rate-limit {bad} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("above 0"), "--rate-limit {bad}: {err}");
    }
    let out = vouch(dir)
        .args([
            "keys",
            "update",
            "00000000-0000-0000-0000-000000000000",
            "--rate-limit",
            "9",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no key with id"));
}

/// Whether `needle` occurs in `log` as a word of its own (digits of an email code may well occur
/// inside a hex id by chance).
fn occurs(log: &str, needle: &str) -> bool {
    log.match_indices(needle).any(|(i, _)| {
        let before = log[..i].chars().next_back();
        let after = log[i + needle.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[tokio::test]
async fn a_whole_flow_at_debug_level_logs_no_secret_and_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    cli(dir, &["apps", "create", "shop", "--json"]);
    let key = cli_json(
        dir,
        &[
            "keys", "create", "--app", "shop", "--all", "write", "--json",
        ],
    )["key"]
        .as_str()
        .unwrap()
        .to_string();
    let smtp = sink::Sink::start();
    // A webhook receiver that takes everything.
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hooks", receiver.local_addr().unwrap());
    tokio::spawn(async move {
        let app = axum::Router::new().route("/hooks", axum::routing::post(|| async { "ok" }));
        let _ = axum::serve(receiver, app).await;
    });
    let port = sink::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let server = Server::start(
        dir,
        "debug.log",
        &[
            ("RUST_LOG", "debug".to_string()),
            ("VOUCH_LISTEN", format!("127.0.0.1:{port}")),
            ("VOUCH_PUBLIC_URL", base.clone()),
            ("VOUCH_SMTP_URL", smtp.url()),
            ("VOUCH_ALLOW_PRIVATE_DESTINATIONS", "true".into()),
        ],
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let call = |m: reqwest::Method, path: &str, body: Option<Value>| {
        let mut r = client
            .request(m, format!("{base}{path}"))
            .header("x-api-key", &key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        async move {
            let r = r.send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, dest) = call(
        reqwest::Method::POST,
        "/v3/webhook/destinations/",
        Some(json!({"label": "shop", "url": hook})),
    )
    .await;
    assert_eq!(s, 201, "{dest}");
    let webhook_secret = dest["secret_shared_key"].as_str().unwrap().to_string();
    let (_, wf) = call(
        reqwest::Method::POST,
        "/v3/workflows/",
        Some(json!({"workflow_label": "kyc", "features": [{"feature": "EMAIL_VERIFICATION"}, {"feature": "OCR"}]})),
    )
    .await;
    let email = "ann.secretive@example.com";
    let (s, created) = call(
        reqwest::Method::POST,
        "/v3/session/",
        Some(json!({"workflow_id": wf["uuid"], "contact_details": {"email": email}})),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let id = created["session_id"].as_str().unwrap().to_string();
    let token = created["session_token"].as_str().unwrap().to_string();
    // The person: the page, a code by email, the code entered.
    let page = client
        .get(format!("{base}/session/{token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let form = |path: String, fields: Vec<(&'static str, String)>| {
        client
            .post(format!("{base}{path}"))
            .header("origin", &base)
            .header("sec-fetch-site", "same-origin")
            .form(&fields)
            .send()
    };
    let node = "feature_email_verification_1";
    let r = form(
        format!("/session/{token}/steps/{node}/code"),
        vec![("email", email.to_string())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 303);
    let mut code = String::new();
    for _ in 0..200 {
        if let Some(m) = smtp.messages().first() {
            let text = sink::decoded(m);
            let at = text.find("Your code is ").expect("the code") + "Your code is ".len();
            code = text[at..].chars().take(6).collect();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(code.len(), 6, "no code arrived");
    let r = form(
        format!("/session/{token}/steps/{node}/verify"),
        vec![("code", code.clone())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 303);
    // The document's data, then a reviewer's decision with an email.
    let document_number = "X98765432Z";
    let (s, b) = call(
        reqwest::Method::POST,
        &format!("/v3/session/{id}/attempts/"),
        Some(json!({"node_id": "feature_ocr_1", "status": "In Review",
                    "data": {"document_number": document_number, "first_name": "Ann", "last_name": "Secretive"}})),
    )
    .await;
    assert!(s < 300, "{b}");
    let (s, b) = call(
        reqwest::Method::PATCH,
        &format!("/v3/session/{id}/update-status/"),
        Some(json!({"new_status": "Declined", "comment": "checked", "send_email": true, "email_address": email})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // Wait for the webhooks and the decision email to go out.
    let mut delivered = false;
    for _ in 0..200 {
        let (_, log) = call(
            reqwest::Method::GET,
            &format!("/v3/session/{id}/webhooks/"),
            None,
        )
        .await;
        let (_, emails) = call(
            reqwest::Method::GET,
            &format!("/v3/session/{id}/emails/"),
            None,
        )
        .await;
        let sent = emails["results"]
            .as_array()
            .map_or(0, |e| e.iter().filter(|m| m["state"] == "sent").count());
        if log.as_array().is_some_and(|l| l.len() >= 2) && sent >= 1 {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        delivered,
        "the webhooks and the decision email did not all go out"
    );
    assert!(
        smtp.messages().len() >= 2,
        "the code and the decision by email"
    );
    let log = server.log_text();
    assert!(
        log.lines().count() > 20,
        "debug logging wrote little: {log}"
    );
    assert!(log.contains("DEBUG"), "not at debug level");
    let local_part = email.split('@').next().unwrap();
    for (what, secret) in [
        ("the API key", key.as_str()),
        ("the webhook secret", webhook_secret.as_str()),
        ("the session token", token.as_str()),
        ("the email code", code.as_str()),
        ("the email address", email),
        ("the email address's local part", local_part),
        ("the document number", document_number),
    ] {
        assert!(
            !occurs(&log, secret),
            "{what} ({secret}) is in the debug log:\n{}",
            log.lines()
                .filter(|l| occurs(l, secret))
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// Logs in to the console of `base`; answers the status and the login cookie, if one was set.
async fn console_login(base: &str, email: &str, password: &str) -> (u16, Option<String>) {
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{base}/console/login"))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
    (r.status().as_u16(), cookie)
}

async fn console_queue(base: &str, cookie: &str) -> u16 {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}/console/"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn console_users_are_created_changed_disabled_and_reset_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    cli(dir, &["migrate"]);
    cli(dir, &["apps", "create", "shop", "--json"]);
    let created = cli_json(
        dir,
        &[
            "users",
            "create",
            "--email",
            "Rita@Acme.example",
            "--role",
            "reviewer",
            "--app",
            "shop",
            "--json",
        ],
    );
    assert_eq!(created["email"], "rita@acme.example");
    assert_eq!(created["role"], "reviewer");
    let password = created["password"].as_str().unwrap().to_string();
    assert_eq!(password.len(), 20);
    let listed = cli_json(dir, &["users", "list", "--json"]);
    assert_eq!(listed[0]["email"], "rita@acme.example");
    assert!(listed[0].get("password").is_none() && listed[0].get("password_hash").is_none());

    // Refused with the reason: a taken email, an unknown role or application, a short password.
    for (args, why) in [
        (
            vec!["--email", "rita@acme.example", "--role", "viewer"],
            "already exists",
        ),
        (
            vec!["--email", "x@acme.example", "--role", "root"],
            "a role is admin",
        ),
        (
            vec![
                "--email",
                "x@acme.example",
                "--role",
                "viewer",
                "--app",
                "nope",
            ],
            "no application",
        ),
        (
            vec!["--email", "not-an-address", "--role", "viewer"],
            "not an email address",
        ),
    ] {
        let out = vouch(dir)
            .args(["users", "create"])
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{args:?}: {err}");
    }

    let server = Server::start(dir, "serve.log", &[]);
    let (status, cookie) = console_login(&server.base, "rita@acme.example", &password).await;
    assert_eq!(status, 303);
    let cookie = cookie.unwrap();
    assert_eq!(console_queue(&server.base, &cookie).await, 200);

    cli(
        dir,
        &["users", "update", "rita@acme.example", "--role", "viewer"],
    );
    // Disabled: the running login ends at once, and logging in is refused.
    cli(dir, &["users", "disable", "rita@acme.example"]);
    assert_eq!(console_queue(&server.base, &cookie).await, 303);
    assert_eq!(
        console_login(&server.base, "rita@acme.example", &password)
            .await
            .0,
        401
    );
    cli(dir, &["users", "enable", "rita@acme.example"]);

    // A new password from standard input; the old one no longer works.
    let mut child = vouch(dir)
        .args([
            "users",
            "reset-password",
            "rita@acme.example",
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a brand new password\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    assert_eq!(
        console_login(&server.base, "rita@acme.example", &password)
            .await
            .0,
        401
    );
    assert_eq!(
        console_login(&server.base, "rita@acme.example", "a brand new password")
            .await
            .0,
        303
    );

    // A second factor: the URI an app reads, then the password alone no longer logs in.
    let totp = cli_json(dir, &["users", "totp", "rita@acme.example", "on", "--json"]);
    let uri = totp["uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/vouch:rita@acme.example?secret="),
        "{uri}"
    );
    let secret = vouch_core::totp::decode_secret(totp["secret"].as_str().unwrap()).unwrap();
    assert_eq!(
        console_login(&server.base, "rita@acme.example", "a brand new password")
            .await
            .0,
        401
    );
    let code = vouch_core::totp::code(
        &secret,
        vouch_core::totp::step_at(chrono::Utc::now().timestamp()),
    );
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/console/login", server.base))
        .form(&[
            ("email", "rita@acme.example"),
            ("password", "a brand new password"),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let listed = cli_json(dir, &["users", "list", "--json"]);
    assert_eq!(listed[0]["second_factor"], true);

    let out = cli(dir, &["users", "events", "--json"]);
    let kinds: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for kind in [
        "user_created",
        "login",
        "role_changed",
        "disabled",
        "login_failed",
        "enabled",
        "password_reset",
        "totp_enabled",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} not recorded: {kinds:?}"
        );
    }
    assert!(out.contains("reviewer -> viewer"), "{out}");
}
