//! Layered configuration: embedded commented defaults -> optional TOML file -> `VOUCH_*`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;

/// The defaults, with comments; `vouch config` prints them.
pub const DEFAULTS: &str = include_str!("config.default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub listen: SocketAddr,
    pub public_url: String,
    pub data_dir: PathBuf,
    /// The database; unset means `sqlite://<data_dir>/vouch.db`. Always set after `load`.
    pub database_url: Option<String>,
    /// A file holding the database URL (its password included), instead of `database_url`.
    pub database_url_file: Option<PathBuf>,
    pub body_limit_bytes: usize,
    pub log_format: LogFormat,
    pub sqlite: SqliteConfig,
    pub postgres: PostgresConfig,
    pub sessions: SessionsConfig,
    pub lifecycle: LifecycleConfig,
    /// Lets webhooks reach loopback and private addresses (development and tests only).
    pub allow_private_destinations: bool,
    pub webhooks: WebhooksConfig,
    /// `smtp://[user:pass@]host[:port][?tls=required]` or `smtps://…`; unset: emails are
    /// recorded as not sent.
    pub smtp_url: Option<String>,
    /// The sender, `"Name <address>"`.
    pub smtp_from: String,
    /// A file holding the SMTP password (overrides the URL's).
    pub smtp_password_file: Option<PathBuf>,
    /// A file holding the key email preview tokens are signed with; unset: a key generated
    /// once and kept in the database, shared by every node.
    pub email_preview_key_file: Option<PathBuf>,
    pub mailer: MailerConfig,
    pub workers: WorkersConfig,
    pub sms: SmsConfig,
    pub media: MediaConfig,
    pub engines: EnginesConfig,
    pub imports: ImportsConfig,
    pub rate_limit: RateLimitConfig,
    pub http: HttpConfig,
    pub console: crate::console::settings::ConsoleConfig,
}

/// The outside engine of nodes whose `config.engine` is `"http"`.
#[derive(Debug, Clone, Deserialize)]
pub struct EnginesConfig {
    pub http_url: Option<String>,
    pub http_secret: Option<String>,
    pub http_secret_file: Option<PathBuf>,
    #[serde(with = "human")]
    pub http_timeout: Duration,
}

impl EnginesConfig {
    /// The signing secret (from `http_secret_file` when set).
    pub fn signing_secret(&self) -> anyhow::Result<String> {
        match (&self.http_secret_file, &self.http_secret) {
            (Some(f), _) => read_secret("engines.http_secret_file", f),
            (None, Some(s)) => Ok(s.clone()),
            (None, None) => Ok(String::new()),
        }
    }
}

/// Rate limits (§7): requests per `window`, each 0 for none.
#[derive(Debug, Clone, Deserialize)]
pub struct RateLimitConfig {
    /// Every request of one key, whatever the route (a key's own limit, set with the CLI, wins).
    pub per_key: u32,
    /// `POST /v3/session/` per key, on top of `per_key`.
    pub session_create: u32,
    /// `GET /v3/session/{id}/decision/` per key.
    pub decision: u32,
    /// `GET /v3/session/{id}/generate-pdf/` per key.
    pub pdf: u32,
    /// Requests without a valid key, per client address.
    pub unauthenticated: u32,
    /// The person's pages and forms, per client address.
    pub person_pages: u32,
    /// The reviewer console's pages and forms, per client address.
    pub console_pages: u32,
    #[serde(with = "human")]
    pub window: Duration,
    /// Counters shared by every node through this Redis; unset, each node counts alone.
    pub redis_url: Option<String>,
    /// The request header holding the client's address when vouch is behind a proxy that sets
    /// it (e.g. `x-forwarded-for`, its first address taken); unset, the connection's peer.
    pub client_address_header: Option<String>,
}

/// Limits of the HTTP server itself.
#[derive(Debug, Clone, Deserialize)]
pub struct HttpConfig {
    /// A client that has not sent its whole request head in this time is dropped.
    #[serde(with = "human")]
    pub header_read_timeout: Duration,
    /// A request body that stalls (no bytes) this long ends the request (`408`).
    #[serde(with = "human")]
    pub body_read_timeout: Duration,
    /// A request that has no answer after this long is answered `503` (`request_timeout`).
    #[serde(with = "human")]
    pub request_timeout: Duration,
    /// Largest request head (request line and headers), in bytes; larger ones answer `431`.
    pub max_header_bytes: usize,
    /// Connections open at once; past it new ones wait in the kernel's queue.
    pub max_connections: usize,
    /// Requests worked on at once; past it one is answered `503` (`overloaded`) at once.
    pub max_in_flight: usize,
    /// HTTP/2 (cleartext, prior knowledge): streams at once on one connection.
    pub http2_max_concurrent_streams: u32,
}

/// Bulk session imports (`POST /v3/session/imports/`).
#[derive(Debug, Clone, Deserialize)]
pub struct ImportsConfig {
    /// Largest file accepted, uploaded or fetched, in bytes.
    pub max_file_bytes: usize,
    /// Rows one run imports in one transaction.
    pub rows_per_run: usize,
    /// Time allowed for fetching a `source_file_url`.
    #[serde(with = "human")]
    pub fetch_timeout: Duration,
}

/// Files the person's page captures.
#[derive(Debug, Clone, Deserialize)]
pub struct MediaConfig {
    /// Where the encrypted files are kept; unset: `<data_dir>/media`.
    pub dir: Option<PathBuf>,
    /// Largest file accepted, in bytes.
    pub max_bytes: usize,
    /// The master key (64 hex digits or base64 of 32 bytes) that wraps each session's key.
    pub master_key: Option<String>,
    pub master_key_file: Option<PathBuf>,
    /// How long a signed media URL in a decision works.
    #[serde(with = "human")]
    pub url_ttl: Duration,
}

/// The gateway one-time codes for phone steps are sent through.
#[derive(Debug, Clone, Deserialize)]
pub struct SmsConfig {
    pub gateway_url: Option<String>,
    pub secret: Option<String>,
    pub secret_file: Option<PathBuf>,
    #[serde(with = "human")]
    pub timeout: Duration,
}

impl SmsConfig {
    /// The signing secret (from `secret_file` when set).
    pub fn signing_secret(&self) -> anyhow::Result<String> {
        match (&self.secret_file, &self.secret) {
            (Some(f), _) => read_secret("sms.secret_file", f),
            (None, Some(s)) => Ok(s.clone()),
            (None, None) => Ok(String::new()),
        }
    }
}

/// The background workers (webhook dispatcher, mailer).
#[derive(Debug, Clone, Deserialize)]
pub struct WorkersConfig {
    /// On SIGTERM, how long jobs in flight may run before their leases are released.
    #[serde(with = "human")]
    pub shutdown_grace: Duration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MailerConfig {
    #[serde(with = "human")]
    pub timeout: Duration,
    #[serde(with = "human::list")]
    pub retry_schedule: Vec<Duration>,
    #[serde(with = "human")]
    pub poll_interval: Duration,
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
    /// Writes allowed to wait for the writer; more are answered `503` (`overloaded`) at once.
    pub max_queued_writes: usize,
    /// While writes wait longer than this for the writer, new ones are answered `503`.
    #[serde(with = "human")]
    pub max_write_wait: Duration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PostgresConfig {
    pub pool_size: usize,
    #[serde(with = "human")]
    pub acquire_timeout: Duration,
    /// Zero: no limit.
    #[serde(with = "human")]
    pub statement_timeout: Duration,
    /// Requests allowed to wait for a connection when all are busy; more are answered `503`
    /// (`overloaded`) at once.
    pub max_waiting: usize,
    /// Tasks grouping concurrent changes to sessions into shared transactions.
    pub writers: usize,
    /// The CAs (PEM) trusted with `sslmode=verify-ca|verify-full`, when the URL has no
    /// `sslrootcert`.
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SessionsConfig {
    #[serde(with = "human")]
    pub link_ttl: Duration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LifecycleConfig {
    #[serde(with = "human")]
    pub interval: Duration,
    #[serde(with = "human")]
    pub not_started_expire_after: Duration,
    #[serde(with = "human")]
    pub abandon_after: Duration,
    pub batch: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WebhooksConfig {
    #[serde(with = "human")]
    pub timeout: Duration,
    #[serde(with = "human")]
    pub lease: Duration,
    #[serde(with = "human::list")]
    pub retry_schedule: Vec<Duration>,
    pub jitter: f64,
    pub per_destination_concurrency: i64,
    pub max_in_flight: usize,
    #[serde(with = "human")]
    pub disable_after: Duration,
    #[serde(with = "human")]
    pub poll_interval: Duration,
    pub batch: i64,
    pub response_body_bytes: usize,
}

/// Keys of earlier releases, refused with the name to use instead.
const RENAMED: &[(&str, &str)] = &[
    ("postgres.acquire_timeout_ms", "postgres.acquire_timeout"),
    (
        "postgres.statement_timeout_ms",
        "postgres.statement_timeout",
    ),
    ("sessions.link_ttl_seconds", "sessions.link_ttl"),
    ("lifecycle.interval_ms", "lifecycle.interval"),
    (
        "lifecycle.not_started_expire_seconds",
        "lifecycle.not_started_expire_after",
    ),
    ("lifecycle.abandon_after_seconds", "lifecycle.abandon_after"),
    ("webhooks.timeout_seconds", "webhooks.timeout"),
    ("webhooks.lease_seconds", "webhooks.lease"),
    ("webhooks.retry_schedule_seconds", "webhooks.retry_schedule"),
    ("webhooks.disable_after_seconds", "webhooks.disable_after"),
    ("webhooks.poll_interval_ms", "webhooks.poll_interval"),
    ("workers.shutdown_grace_seconds", "workers.shutdown_grace"),
    ("mailer.timeout_seconds", "mailer.timeout"),
    ("mailer.retry_schedule_seconds", "mailer.retry_schedule"),
    ("mailer.poll_interval_ms", "mailer.poll_interval"),
];

/// A secret file named by the configuration: read whole, trimmed, never empty.
pub fn read_secret(key: &str, path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("configuration: {key} {}: {e}", path.display()))?;
    let text = text.trim().to_string();
    anyhow::ensure!(
        !text.is_empty(),
        "configuration: {key} {} is empty",
        path.display()
    );
    Ok(text)
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
        for (old, new) in RENAMED {
            anyhow::ensure!(
                !fig.contains(old),
                "configuration: {old} is now {new}, a duration such as \"500ms\", \"30s\", \"5m\", \"2h\" or \"7d\" (environment: VOUCH_{})",
                new.to_ascii_uppercase().replace('.', "__")
            );
        }
        let mut cfg: Config = fig
            .extract()
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        cfg.public_url = cfg.public_url.trim_end_matches('/').to_string();
        let public = url::Url::parse(&cfg.public_url)
            .map_err(|e| anyhow::anyhow!("configuration: public_url {}: {e}", cfg.public_url))?;
        anyhow::ensure!(
            matches!(public.scheme(), "http" | "https") && public.query().is_none(),
            "configuration: public_url must be an http:// or https:// URL without a query"
        );
        anyhow::ensure!(
            !cfg.sessions.link_ttl.is_zero(),
            "configuration: sessions.link_ttl must be positive"
        );
        let l = &cfg.lifecycle;
        anyhow::ensure!(
            !l.not_started_expire_after.is_zero() && !l.abandon_after.is_zero() && l.batch > 0,
            "configuration: lifecycle times and batch must be positive"
        );
        let w = &cfg.webhooks;
        anyhow::ensure!(
            !w.retry_schedule.is_empty()
                && (0.0..1.0).contains(&w.jitter)
                && !w.timeout.is_zero()
                && w.per_destination_concurrency > 0
                && w.max_in_flight > 0
                && w.batch > 0,
            "configuration: webhooks needs a non-empty retry schedule, 0 <= jitter < 1 and positive limits"
        );
        anyhow::ensure!(
            w.lease > w.timeout,
            "configuration: webhooks.lease must be longer than webhooks.timeout"
        );
        anyhow::ensure!(
            !cfg.mailer.retry_schedule.is_empty() && cfg.mailer.batch > 0,
            "configuration: mailer needs a non-empty retry schedule and a positive batch"
        );
        if let Some(url) = &cfg.sms.gateway_url {
            let u = url::Url::parse(url)
                .map_err(|e| anyhow::anyhow!("configuration: sms.gateway_url {url}: {e}"))?;
            anyhow::ensure!(
                matches!(u.scheme(), "http" | "https"),
                "configuration: sms.gateway_url must be an http:// or https:// URL"
            );
            anyhow::ensure!(
                !cfg.sms.signing_secret()?.is_empty(),
                "configuration: sms.gateway_url needs sms.secret or sms.secret_file (VOUCH_SMS__SECRET)"
            );
        }
        anyhow::ensure!(
            (1024..=100 * 1024 * 1024).contains(&cfg.media.max_bytes),
            "configuration: media.max_bytes must be between 1024 and 104857600"
        );
        if let Some(url) = &cfg.engines.http_url {
            let u = url::Url::parse(url)
                .map_err(|e| anyhow::anyhow!("configuration: engines.http_url {url}: {e}"))?;
            anyhow::ensure!(
                matches!(u.scheme(), "http" | "https"),
                "configuration: engines.http_url must be an http:// or https:// URL"
            );
            anyhow::ensure!(
                !cfg.engines.signing_secret()?.is_empty(),
                "configuration: engines.http_url needs engines.http_secret or engines.http_secret_file"
            );
        }
        anyhow::ensure!(
            !cfg.media.url_ttl.is_zero(),
            "configuration: media.url_ttl must be positive"
        );
        if let Some(f) = &cfg.smtp_password_file {
            anyhow::ensure!(
                f.is_file(),
                "configuration: smtp_password_file {} is not a readable file",
                f.display()
            );
        }
        if let Some(f) = &cfg.email_preview_key_file {
            anyhow::ensure!(
                read_secret("email_preview_key_file", f)?.len() >= 32,
                "configuration: email_preview_key_file {} must hold at least 32 characters",
                f.display()
            );
        }
        anyhow::ensure!(
            cfg.postgres.pool_size > 0 && !cfg.postgres.acquire_timeout.is_zero(),
            "configuration: postgres.pool_size and postgres.acquire_timeout must be positive"
        );
        if let Some(f) = &cfg.database_url_file {
            anyhow::ensure!(
                cfg.database_url.is_none(),
                "configuration: set database_url or database_url_file, not both"
            );
            cfg.database_url = Some(read_secret("database_url_file", f)?);
        }
        if cfg.database_url.is_none() {
            cfg.database_url = Some(format!(
                "sqlite://{}",
                cfg.data_dir.join("vouch.db").display()
            ));
        }
        Ok(cfg)
    }

    /// The database URL (resolved by `load`).
    pub fn database_url(&self) -> &str {
        self.database_url.as_deref().unwrap_or("")
    }

    /// The SMTP URL, when one is configured.
    pub fn smtp_url(&self) -> Option<&str> {
        self.smtp_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
    }
}

/// Durations written for people: `"500ms"`, `"30s"`, `"5m"`, `"2h"`, `"7d"`, or several parts
/// (`"1h30m"`); `"0"` is zero.
pub mod human {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn parse(text: &str) -> Result<Duration, String> {
        let t = text.trim();
        if t == "0" {
            return Ok(Duration::ZERO);
        }
        let bad = || {
            format!("{text:?} is not a duration: write a number and a unit (ms, s, m, h, d), e.g. \"30s\" or \"7d\"")
        };
        let mut total = Duration::ZERO;
        let mut rest = t;
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
            let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let part = match &rest[..unit_len] {
                "ms" => Duration::from_millis(n),
                "s" => Duration::from_secs(n),
                "m" => Duration::from_secs(n * 60),
                "h" => Duration::from_secs(n * 3_600),
                "d" => Duration::from_secs(n * 86_400),
                _ => return Err(bad()),
            };
            total += part;
            rest = &rest[unit_len..];
        }
        Ok(total)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }

    /// A list of durations: a TOML list of strings, or one string separated by commas.
    pub mod list {
        use super::*;

        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            List(Vec<String>),
            Text(String),
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
            let parts = match Form::deserialize(d)? {
                Form::List(v) => v,
                Form::Text(s) => s.split(',').map(String::from).collect(),
            };
            parts
                .iter()
                .map(|p| parse(p))
                .collect::<Result<_, _>>()
                .map_err(serde::de::Error::custom)
        }
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
