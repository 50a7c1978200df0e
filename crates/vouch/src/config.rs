//! Layered configuration: embedded commented defaults -> optional TOML file -> `VOUCH_*`.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;

/// The defaults, with comments; `vouch config` prints them.
pub const DEFAULTS: &str = include_str!("config.default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub listen: String,
    pub public_url: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// A file holding the database URL (its password included), instead of `database_url`.
    pub database_url_file: String,
    pub body_limit_bytes: usize,
    pub log_format: LogFormat,
    pub sqlite: SqliteConfig,
    pub postgres: PostgresConfig,
    pub sessions: SessionsConfig,
    pub lifecycle: LifecycleConfig,
    /// Lets webhooks reach loopback and private addresses (development and tests only).
    pub allow_private_destinations: bool,
    pub webhooks: WebhooksConfig,
    /// `smtp://[user:pass@]host[:port][?tls=required]` or `smtps://…`; empty: emails are
    /// recorded as not sent.
    pub smtp_url: String,
    /// The sender, `"Name <address>"`.
    pub smtp_from: String,
    /// A file holding the SMTP password (overrides the URL's).
    pub smtp_password_file: String,
    pub mailer: MailerConfig,
    pub workers: WorkersConfig,
}

/// The background workers (webhook dispatcher, mailer).
#[derive(Debug, Clone, Deserialize)]
pub struct WorkersConfig {
    /// On SIGTERM, how long jobs in flight may run before their leases are released.
    pub shutdown_grace_seconds: u64,
}

impl WorkersConfig {
    pub fn shutdown_grace(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.shutdown_grace_seconds)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct MailerConfig {
    pub timeout_seconds: u64,
    pub retry_schedule_seconds: Vec<u64>,
    pub poll_interval_ms: u64,
    pub batch: i64,
    /// Send for sandbox applications too (by default they are simulated).
    pub send_in_sandbox: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SqliteConfig {
    pub readers: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PostgresConfig {
    pub pool_size: usize,
    pub acquire_timeout_ms: u64,
    pub statement_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SessionsConfig {
    pub link_ttl_seconds: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LifecycleConfig {
    pub interval_ms: u64,
    pub not_started_expire_seconds: i64,
    pub abandon_after_seconds: i64,
    pub batch: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WebhooksConfig {
    pub timeout_seconds: u64,
    pub lease_seconds: u64,
    pub retry_schedule_seconds: Vec<u64>,
    pub jitter: f64,
    pub per_destination_concurrency: i64,
    pub max_in_flight: usize,
    pub disable_after_seconds: i64,
    pub poll_interval_ms: u64,
    pub batch: i64,
    pub response_body_bytes: usize,
}

impl Config {
    /// Loads the layers. `file` is `--config`; without it `./vouch.toml` is read if present.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut fig = Figment::from(Toml::string(DEFAULTS));
        match file {
            Some(f) => {
                anyhow::ensure!(f.exists(), "config file {} does not exist", f.display());
                fig = fig.merge(Toml::file(f));
            }
            None => fig = fig.merge(Toml::file("vouch.toml")),
        }
        let fig = fig.merge(Env::prefixed("VOUCH_").split("__"));
        let mut cfg: Config = fig
            .extract()
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        cfg.public_url = cfg.public_url.trim_end_matches('/').to_string();
        anyhow::ensure!(
            cfg.public_url.starts_with("http://") || cfg.public_url.starts_with("https://"),
            "configuration: public_url must start with http:// or https://"
        );
        anyhow::ensure!(
            cfg.sessions.link_ttl_seconds > 0,
            "configuration: sessions.link_ttl_seconds must be positive"
        );
        anyhow::ensure!(
            cfg.lifecycle.not_started_expire_seconds > 0
                && cfg.lifecycle.abandon_after_seconds > 0
                && cfg.lifecycle.batch > 0,
            "configuration: lifecycle times and batch must be positive"
        );
        let w = &cfg.webhooks;
        anyhow::ensure!(
            !w.retry_schedule_seconds.is_empty()
                && (0.0..1.0).contains(&w.jitter)
                && w.timeout_seconds > 0
                && w.per_destination_concurrency > 0
                && w.max_in_flight > 0
                && w.batch > 0,
            "configuration: webhooks needs a non-empty retry schedule, 0 <= jitter < 1 and positive limits"
        );
        anyhow::ensure!(
            w.lease_seconds > w.timeout_seconds,
            "configuration: webhooks.lease_seconds must be longer than webhooks.timeout_seconds"
        );
        anyhow::ensure!(
            !cfg.mailer.retry_schedule_seconds.is_empty() && cfg.mailer.batch > 0,
            "configuration: mailer needs a non-empty retry schedule and a positive batch"
        );
        if !cfg.smtp_password_file.is_empty() {
            anyhow::ensure!(
                Path::new(&cfg.smtp_password_file).is_file(),
                "configuration: smtp_password_file {} is not a readable file",
                cfg.smtp_password_file
            );
        }
        anyhow::ensure!(
            cfg.postgres.pool_size > 0 && cfg.postgres.acquire_timeout_ms > 0,
            "configuration: postgres.pool_size and postgres.acquire_timeout_ms must be positive"
        );
        if !cfg.database_url_file.is_empty() {
            anyhow::ensure!(
                cfg.database_url.is_empty(),
                "configuration: set database_url or database_url_file, not both"
            );
            let url = std::fs::read_to_string(&cfg.database_url_file).map_err(|e| {
                anyhow::anyhow!(
                    "configuration: database_url_file {}: {e}",
                    cfg.database_url_file
                )
            })?;
            cfg.database_url = url.trim().to_string();
            anyhow::ensure!(
                !cfg.database_url.is_empty(),
                "configuration: database_url_file {} is empty",
                cfg.database_url_file
            );
        }
        if cfg.database_url.is_empty() {
            cfg.database_url = format!("sqlite://{}", cfg.data_dir.join("vouch.db").display());
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with(toml: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("vouch.toml");
        std::fs::write(&file, toml).unwrap();
        Config::load(Some(&file))
    }

    #[test]
    fn the_database_url_can_come_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("database_url");
        std::fs::write(&secret, "postgres://vouch:s3cret@db:5432/vouch\n").unwrap();
        let toml = format!("database_url_file = {:?}", secret.display().to_string());
        let cfg = load_with(&toml).unwrap();
        assert_eq!(cfg.database_url, "postgres://vouch:s3cret@db:5432/vouch");

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
        assert_eq!(cfg.listen, "127.0.0.1:8080");
        assert_eq!(cfg.body_limit_bytes, 1 << 20);
        assert_eq!(cfg.log_format, LogFormat::Text);
    }
}
