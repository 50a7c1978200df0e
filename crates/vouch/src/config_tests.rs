//! Tests of configuration loading (`config.rs`).

use super::*;

fn load_with(toml: &str) -> anyhow::Result<Config> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vouch.toml");
    std::fs::write(&file, toml).unwrap();
    Config::load(Some(&file))
}

#[test]
fn an_sms_gateway_needs_a_secret_which_may_come_from_a_file() {
    let e = load_with("[sms]\ngateway_url = \"https://sms.example/send\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("sms.secret"), "{e}");
    let e = load_with("[sms]\ngateway_url = \"ftp://sms.example\"\nsecret = \"s\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("sms.gateway_url"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("sms_secret");
    std::fs::write(&secret, "from-a-file\n").unwrap();
    let cfg = load_with(&format!(
        "[sms]\ngateway_url = \"https://sms.example/send\"\nsecret_file = \"{}\"",
        secret.display()
    ))
    .unwrap();
    assert_eq!(cfg.sms.signing_secret().unwrap(), "from-a-file");
    assert_eq!(cfg.sms.timeout, Duration::from_secs(10));
    assert!(load_with("").unwrap().sms.gateway_url.is_none());
}

#[test]
fn the_database_url_can_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("database_url");
    std::fs::write(&secret, "postgres://vouch:s3cret@db:5432/vouch\n").unwrap();
    let toml = format!("database_url_file = {:?}", secret.display().to_string());
    let cfg = load_with(&toml).unwrap();
    assert_eq!(cfg.database_url(), "postgres://vouch:s3cret@db:5432/vouch");

    let both = format!("database_url = \"sqlite://x.db\"\n{toml}");
    let err = load_with(&both).unwrap_err().to_string();
    assert!(err.contains("not both"), "{err}");
    let missing = load_with("database_url_file = \"/nonexistent/url\"")
        .unwrap_err()
        .to_string();
    assert!(missing.contains("/nonexistent/url"), "{missing}");
    std::fs::write(&secret, "\n").unwrap();
    let empty = load_with(&toml).unwrap_err().to_string();
    assert!(empty.contains("is empty"), "{empty}");
}

#[test]
fn embedded_defaults_parse() {
    let cfg: Config = Figment::from(Toml::string(DEFAULTS)).extract().unwrap();
    assert_eq!(cfg.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(cfg.sessions.link_ttl, Duration::from_secs(7 * 86_400));
    assert_eq!(cfg.webhooks.retry_schedule.len(), 8);
    assert_eq!(cfg.webhooks.retry_schedule[2], Duration::from_secs(300));
    assert_eq!(cfg.postgres.statement_timeout, Duration::from_secs(30));
    assert!(cfg.smtp_url.is_none() && cfg.database_url.is_none());
    assert_eq!(cfg.body_limit_bytes, 1 << 20);
    assert_eq!(cfg.log_format, LogFormat::Text);
}

#[test]
fn durations_are_written_for_people() {
    let d = |s| human::parse(s).unwrap();
    assert_eq!(d("500ms"), Duration::from_millis(500));
    assert_eq!(d("30s"), Duration::from_secs(30));
    assert_eq!(d("5m"), Duration::from_secs(300));
    assert_eq!(d("1h30m"), Duration::from_secs(5_400));
    assert_eq!(d("7d"), Duration::from_secs(604_800));
    assert_eq!(d("0"), Duration::ZERO);
    for bad in ["", "5", "5 s", "s", "5w", "-1s", "1.5h"] {
        let e = human::parse(bad).unwrap_err();
        assert!(e.contains("not a duration"), "{bad}: {e}");
    }
    let cfg = load_with(
        "[webhooks]\ntimeout = \"2s\"\nretry_schedule = \"0s, 1s, 1m\"\n[mailer]\nretry_schedule = [\"0s\", \"2h\"]",
    )
    .unwrap();
    assert_eq!(cfg.webhooks.timeout, Duration::from_secs(2));
    assert_eq!(
        cfg.webhooks.retry_schedule,
        [
            Duration::ZERO,
            Duration::from_secs(1),
            Duration::from_secs(60)
        ]
    );
    assert_eq!(cfg.mailer.retry_schedule[1], Duration::from_secs(7_200));
    let e = load_with("[webhooks]\ntimeout = \"fast\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"fast\" is not a duration"), "{e}");
}

#[test]
fn keys_of_earlier_releases_name_their_successor() {
    let e = load_with("[webhooks]\ntimeout_seconds = 15")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("webhooks.timeout_seconds is now webhooks.timeout")
            && e.contains("VOUCH_WEBHOOKS__TIMEOUT"),
        "{e}"
    );
}

#[test]
fn addresses_urls_and_secret_files_are_checked() {
    let e = load_with("listen = \"localhost\"").unwrap_err().to_string();
    assert!(e.contains("listen"), "{e}");
    let e = load_with("public_url = \"ftp://x\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("public_url"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("preview.key");
    std::fs::write(&key, "short\n").unwrap();
    let toml = format!("email_preview_key_file = {:?}", key.display().to_string());
    let e = load_with(&toml).unwrap_err().to_string();
    assert!(e.contains("at least 32"), "{e}");
    std::fs::write(&key, format!("{}\n", "k".repeat(40))).unwrap();
    assert!(load_with(&toml).is_ok());
}
