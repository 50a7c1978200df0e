//! The command line: `serve`, `migrate`, `apps …`, `keys …`, `audit verify`, `config`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use chrono::{DateTime, Duration, Utc};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use uuid::Uuid;
use vouch_core::scopes::{Access, Scopes};
use vouch_core::session::Environment;
use vouch_store::{App, Store};

use crate::config::{Config, LogFormat, DEFAULTS};
use crate::server;

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
    },
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
        #[arg(long)]
        json: bool,
    },
    /// List an application's keys (prefix and last four characters only).
    List {
        #[arg(long)]
        app: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key at once.
    Revoke { key_id: Uuid },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the review trail's hash chains and report the first broken link.
    Verify {
        #[arg(long)]
        session: Option<Uuid>,
    },
}

fn parse_access(s: &str) -> Result<Access, String> {
    Access::parse(s).ok_or_else(|| format!("expected none, read or write (got {s:?})"))
}

fn parse_expiry(s: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .with_context(|| format!("--expires {s:?}: expected a time or a duration like 90d"))?;
    let d = match unit {
        "d" => Duration::days(n),
        "h" => Duration::hours(n),
        "m" => Duration::minutes(n),
        "s" | "" => Duration::seconds(n),
        _ => bail!("--expires {s:?}: unit must be d, h, m or s"),
    };
    Ok(now + d)
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

async fn find_app(store: &dyn Store, name_or_id: &str) -> anyhow::Result<App> {
    store
        .find_app(name_or_id)
        .await?
        .with_context(|| format!("no application named or with id {name_or_id:?}"))
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
            target.database_url = to.clone();
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
                server::redact_url(&cfg.database_url)
            );
            Ok(())
        }
        Command::Apps(c) => apps(store.as_ref(), c).await,
        Command::Keys(c) => keys(store.as_ref(), c).await,
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
    let db = server::redact_url(&cfg.database_url);
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

async fn apps(store: &dyn Store, c: AppsCommand) -> anyhow::Result<()> {
    match c {
        AppsCommand::Create {
            name,
            sandbox,
            json,
        } => {
            if name.trim().is_empty() {
                bail!("the application name must not be empty");
            }
            let app = store
                .create_app(App {
                    id: Uuid::new_v4(),
                    name: name.trim().to_string(),
                    mode: if sandbox {
                        Environment::Sandbox
                    } else {
                        Environment::Live
                    },
                    created_at: Utc::now(),
                })
                .await?;
            if json {
                println!(
                    "{}",
                    json!({"app_id": app.id, "name": app.name, "mode": app.mode})
                );
            } else {
                println!(
                    "created application {:?} ({}), mode {}",
                    app.name,
                    app.id,
                    app.mode.as_str()
                );
            }
        }
        AppsCommand::Update {
            app,
            email_sender_name,
            email_brand,
        } => {
            let app = find_app(store, &app).await?;
            let clean = |v: Option<String>| v.map(|s| s.trim().to_string());
            if email_sender_name
                .as_deref()
                .or(email_brand.as_deref())
                .is_some_and(|v| v.chars().any(char::is_control))
            {
                bail!("email branding must not contain control characters");
            }
            store
                .set_app_branding(app.id, clean(email_sender_name), clean(email_brand))
                .await?;
            println!("updated the email branding of application {:?}", app.name);
        }
        AppsCommand::List { json } => {
            let apps = store.list_apps().await?;
            if json {
                let rows: Vec<_> = apps
                    .iter()
                    .map(|a| json!({"app_id": a.id, "name": a.name, "mode": a.mode, "created_at": a.created_at}))
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                for a in apps {
                    println!("{}  {:<8} {}", a.id, a.mode.as_str(), a.name);
                }
            }
        }
    }
    Ok(())
}

fn scopes_json(s: &Scopes) -> serde_json::Value {
    json!({"sessions": s.sessions, "decisions": s.decisions, "webhooks": s.webhooks, "workflows": s.workflows})
}

async fn keys(store: &dyn Store, c: KeysCommand) -> anyhow::Result<()> {
    match c {
        KeysCommand::Create {
            app,
            name,
            scopes,
            expires,
            json,
        } => {
            let app = find_app(store, &app).await?;
            let base = scopes.all.unwrap_or(Access::None);
            let s = Scopes {
                sessions: scopes.sessions.unwrap_or(base),
                decisions: scopes.decisions.unwrap_or(base),
                webhooks: scopes.webhooks.unwrap_or(base),
                workflows: scopes.workflows.unwrap_or(base),
            };
            if s == Scopes::all(Access::None) {
                bail!("grant at least one privilege, e.g. --all write or --sessions read");
            }
            let now = Utc::now();
            let expires_at = expires.map(|e| parse_expiry(&e, now)).transpose()?;
            if expires_at.is_some_and(|t| t <= now) {
                bail!("--expires is in the past");
            }
            let (record, key) = server::create_key(store, &app, name, s, expires_at).await?;
            if json {
                println!(
                    "{}",
                    json!({"key_id": record.id, "key": key, "app_id": app.id, "scopes": scopes_json(&s), "expires_at": expires_at})
                );
            } else {
                println!("created key {} for application {:?}.", record.id, app.name);
                println!("It is shown only once; store it now:\n\n    {key}\n");
            }
        }
        KeysCommand::List { app, json } => {
            let app = find_app(store, &app).await?;
            let keys = store.list_keys(app.id).await?;
            if json {
                let rows: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        json!({"key_id": k.id, "name": k.name, "prefix": k.prefix, "last4": k.last4,
                        "scopes": scopes_json(&k.scopes), "expires_at": k.expires_at,
                        "revoked_at": k.revoked_at, "created_at": k.created_at})
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                for k in keys {
                    let state = if k.revoked_at.is_some() {
                        "revoked".to_string()
                    } else if let Some(t) = k.expires_at {
                        format!("expires {}", t.to_rfc3339())
                    } else {
                        "active".to_string()
                    };
                    println!(
                        "{}  {}…{}  sessions:{} decisions:{} webhooks:{} workflows:{}  {state}",
                        k.id,
                        k.prefix,
                        k.last4,
                        k.scopes.sessions.as_str(),
                        k.scopes.decisions.as_str(),
                        k.scopes.webhooks.as_str(),
                        k.scopes.workflows.as_str()
                    );
                }
            }
        }
        KeysCommand::Revoke { key_id } => {
            if store.revoke_key(key_id, Utc::now()).await? {
                println!("revoked key {key_id}");
            } else {
                bail!("no key with id {key_id}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_accepts_durations_and_times() {
        let now = Utc::now();
        assert_eq!(parse_expiry("2d", now).unwrap(), now + Duration::days(2));
        assert_eq!(
            parse_expiry("30m", now).unwrap(),
            now + Duration::minutes(30)
        );
        assert!(parse_expiry("2030-01-01T00:00:00Z", now).is_ok());
        assert!(parse_expiry("soon", now).is_err());
        assert!(parse_expiry("3w", now).is_err());
    }
}
