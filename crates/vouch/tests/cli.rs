//! The command line as an operator uses it, against a real `vouch serve`: a key's own rate
//! limit set at creation, changed and put back while the server runs.

#[path = "support/binary.rs"]
mod binary;

use binary::{cli, cli_json, vouch, Server};

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
