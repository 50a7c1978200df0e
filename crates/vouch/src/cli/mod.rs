//! The command line: `serve`, `migrate`, `migrate-data`, `apps …` and `keys …` (in `admin`),
//! `audit verify`, `config`.

use std::path::PathBuf;
use std::sync::Arc;
use vouch_core::KeyId;

use anyhow::bail;
use clap::{Args, Parser, Subcommand};
use vouch_core::scopes::Access;
use vouch_store::Store;

use crate::config::{Config, LogFormat, DEFAULTS};
use crate::server;

mod admin;
pub mod users;

#[derive(Debug, Parser)]
#[command(
    name = "vouch",
    version,
    about = "Self-hosted identity-verification session server"
)]
pub struct Cli {
    /// Configuration file (default: ./vouch.toml when present).
    #[arg(long, global = true, env = "VOUCH_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (creates the database and a first key when needed).
    Serve {
        /// Serve the HTTP API only: no webhook dispatcher, mailer or lifecycle scheduler on
        /// this node. With neither flag, a node runs both roles.
        #[arg(long)]
        api: bool,
        /// Run the background workers only (webhooks, emails, lifecycle timers); the listener
        /// answers only /system/healthcheck and /metrics.
        #[arg(long)]
        worker: bool,
    },
    /// Copy a SQLite database (sessions, attempts, review trail, webhooks, emails, keys) into
    /// the PostgreSQL database of `database_url`, with progress.
    MigrateData {
        /// The SQLite database to copy from (a file path or sqlite:// URL).
        #[arg(long)]
        from: String,
        /// The PostgreSQL database to copy into (default: the configured database_url).
        #[arg(long)]
        to: Option<String>,
        /// Do not draw progress bars (one line per table instead).
        #[arg(long)]
        no_progress: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Print the default configuration, with comments.
    Config,
    /// Manage applications (tenants).
    #[command(subcommand)]
    Apps(AppsCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the reviewer console's users.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Check the review trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Webhook tools.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Benchmark ceiling: update-status's route and middleware with no work behind it.
    #[command(hide = true)]
    ServeBare,
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Run a local receiver that prints every delivery and verifies its signatures.
    Listen {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: String,
        /// The destination's secret_shared_key; without it signatures are not checked.
        #[arg(long, env = "VOUCH_WEBHOOK_SECRET")]
        secret: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// Create an application.
    Create {
        name: String,
        /// Sandbox mode (`environment: sandbox`, keys `vk_test_…`).
        #[arg(long)]
        sandbox: bool,
        #[arg(long)]
        json: bool,
    },
    /// List applications.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Set an application's email branding (an empty value restores the default).
    Update {
        /// Application name or id.
        app: String,
        /// Display name of the sender of this application's emails.
        #[arg(long)]
        email_sender_name: Option<String>,
        /// Brand shown in this application's emails (default: the application's name).
        #[arg(long)]
        email_brand: Option<String>,
        /// Origins allowed to embed the person's page in an iframe, comma-separated
        /// (`https://shop.example,https://app.shop.example:8443`); "" allows none again.
        #[arg(long)]
        allowed_domains: Option<String>,
        /// Four-eyes review in the console: a reviewer's decision waits for a second reviewer.
        #[arg(long, value_parser = parse_on_off)]
        four_eyes: Option<bool>,
    },
}

fn parse_on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{s:?}: on or off")),
    }
}

#[derive(Debug, Args)]
pub struct KeyScopes {
    /// Access on every resource not set by its own flag.
    #[arg(long, value_parser = parse_access)]
    all: Option<Access>,
    #[arg(long, value_parser = parse_access)]
    sessions: Option<Access>,
    #[arg(long, value_parser = parse_access)]
    decisions: Option<Access>,
    #[arg(long, value_parser = parse_access)]
    webhooks: Option<Access>,
    #[arg(long, value_parser = parse_access)]
    workflows: Option<Access>,
    /// `none` or `read`: whether decisions carry signed URLs to the captured images and
    /// documents (`--all read` or `--all write` grant `read`).
    #[arg(long, value_parser = parse_access)]
    media: Option<Access>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; it is printed once and never again.
    Create {
        /// Application name or id.
        #[arg(long)]
        app: String,
        /// A label for people.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        scopes: KeyScopes,
        /// Expiry: an RFC 3339 time or a duration from now (`90d`, `12h`, `30m`, `45s`).
        #[arg(long)]
        expires: Option<String>,
        /// This key's requests per rate-limit window (`rate_limit.window`), instead of
        /// `rate_limit.per_key`; `default` for that.
        #[arg(long, value_parser = parse_rate_limit, default_value = "default")]
        rate_limit: RateLimitArg,
        #[arg(long)]
        json: bool,
    },
    /// Change a key: its own rate limit (`--rate-limit N`, or `default`).
    Update {
        key_id: KeyId,
        #[arg(long, value_parser = parse_rate_limit)]
        rate_limit: RateLimitArg,
    },
    /// List an application's keys (prefix and last four characters only).
    List {
        #[arg(long)]
        app: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key at once.
    Revoke { key_id: KeyId },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the review trail's hash chains and report the first broken link.
    Verify {
        #[arg(long)]
        session: Option<vouch_core::SessionId>,
    },
}

/// A key's own rate limit, or `None` for the configured one.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitArg(pub Option<u32>);

fn parse_rate_limit(s: &str) -> Result<RateLimitArg, String> {
    if s == "default" {
        return Ok(RateLimitArg(None));
    }
    match s.parse::<u32>() {
        Ok(n) if n > 0 => Ok(RateLimitArg(Some(n))),
        _ => Err(format!(
            "expected a number of requests above 0, or \"default\" (got {s:?})"
        )),
    }
}

fn parse_access(s: &str) -> Result<Access, String> {
    Access::parse(s).ok_or_else(|| format!("expected none, read or write (got {s:?})"))
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Config => {
            print!("{DEFAULTS}");
            return Ok(());
        }
        Command::Webhooks(WebhooksCommand::Listen { listen, secret }) => {
            return crate::webhooks::listen::run(&listen, secret).await;
        }
        _ => {}
    }
    let cfg = Config::load(cli.config.as_deref())?;
    init_logging(cfg.log_format);
    if let Command::MigrateData {
        from,
        to,
        no_progress,
    } = &cli.command
    {
        let mut target = cfg.clone();
        if let Some(to) = to {
            target.database_url = Some(to.clone());
        }
        return crate::migrate_data::run(from, &server::pg_options(&target), !no_progress).await;
    }
    let store = server::open_store(&cfg).await?;
    match cli.command {
        Command::Config | Command::Webhooks(_) | Command::MigrateData { .. } => Ok(()),
        Command::ServeBare => serve_bare(cfg).await,
        Command::Serve { api, worker } => {
            let roles = if api == worker {
                server::Roles::default()
            } else {
                server::Roles {
                    api,
                    workers: worker,
                }
            };
            serve(cfg, store, roles).await
        }
        Command::Migrate => {
            println!(
                "database at {} is up to date",
                server::redact_url(cfg.database_url())
            );
            Ok(())
        }
        Command::Apps(c) => admin::apps(store.as_ref(), c).await,
        Command::Keys(c) => admin::keys(store.as_ref(), c).await,
        Command::Users(c) => users::run(store.as_ref(), c).await,
        Command::Audit(AuditCommand::Verify { session }) => {
            let (checked, broken) = store.verify_reviews(session).await?;
            for (sid, b) in &broken {
                println!(
                    "session {sid}: broken at row {} ({}): {}",
                    b.seq, b.uuid, b.reason
                );
            }
            if broken.is_empty() {
                println!("review trail intact: {checked} session chain(s) verified");
                Ok(())
            } else {
                bail!("{} of {checked} session chain(s) are broken", broken.len())
            }
        }
    }
}

async fn serve(cfg: Config, store: Arc<dyn Store>, roles: server::Roles) -> anyhow::Result<()> {
    if let Some((app, key)) = server::bootstrap(store.as_ref()).await? {
        println!(
            "Created application {:?} ({}) and a full-access API key. It is shown only once:\n\n    {key}\n",
            app.name, app.id
        );
    }
    let shutdown = async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
    };
    let db = server::redact_url(cfg.database_url());
    let running = server::start_with_roles(cfg, store, roles, shutdown).await?;
    let role = match (roles.api, roles.workers) {
        (true, false) => " [api only]",
        (false, true) => " [workers only]",
        _ => "",
    };
    println!(
        "vouch listening on http://{} (database {db}){role}",
        running.addr
    );
    tracing::info!(addr = %running.addr, "listening");
    running.handle.await??;
    tracing::info!("stopped");
    Ok(())
}

async fn serve_bare(cfg: Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&cfg.listen).await?;
    let app = crate::http::bare_router(Arc::new(cfg));
    // The benchmark reads the address and a key from these lines, as for `serve`.
    println!("bare handler, no key needed: vk_bare_unused");
    println!("vouch listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
