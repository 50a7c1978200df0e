//! Opening the store and serving HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use vouch_core::{AppId, KeyId};

use anyhow::Context;
use chrono::Utc;
use tokio::net::TcpListener;
use uuid::Uuid;
use vouch_core::scopes::{Access, Scopes};
use vouch_core::session::Environment;
use vouch_store::postgres::{is_postgres_url, PgOptions, PgStore};
use vouch_store::sqlite::{path_from_url, SqliteOptions, SqliteStore};
use vouch_store::{ApiKey, App, Store};

use crate::apikey;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::state::AppState;

/// Opens the database named by the configuration, applying migrations.
pub async fn open_store(cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = cfg.database_url();
    if url.starts_with("sqlite:") {
        let path =
            path_from_url(url).with_context(|| format!("database_url {url:?} names no file"))?;
        let store = SqliteStore::open_with(
            &path,
            SqliteOptions {
                readers: cfg.sqlite.readers,
                max_queued_writes: cfg.sqlite.max_queued_writes,
                max_write_wait: cfg.sqlite.max_write_wait,
            },
        )
        .with_context(|| format!("opening {}", path.display()))?;
        Ok(Arc::new(store))
    } else if is_postgres_url(url) {
        let store = PgStore::connect(&pg_options(cfg))
            .await
            .with_context(|| format!("connecting to {}", redact_url(url)))?;
        Ok(Arc::new(store))
    } else {
        anyhow::bail!(
            "database_url must start with sqlite:// or postgres:// (got {:?})",
            redact_url(url)
        )
    }
}

/// The PostgreSQL connection settings of the configuration.
pub fn pg_options(cfg: &Config) -> PgOptions {
    let p = &cfg.postgres;
    PgOptions {
        url: cfg.database_url().to_string(),
        pool_size: p.pool_size,
        acquire_timeout: p.acquire_timeout,
        statement_timeout: (!p.statement_timeout.is_zero()).then_some(p.statement_timeout),
        max_waiting: p.max_waiting,
        writers: p.writers,
        ca_file: p.ca_file.clone(),
    }
}

/// The URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// What a node runs: the HTTP API, the background workers (webhook dispatcher, mailer,
/// lifecycle scheduler), or both (the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub api: bool,
    pub workers: bool,
}

impl Default for Roles {
    fn default() -> Self {
        Self {
            api: true,
            workers: true,
        }
    }
}

/// A key for `app` (its own rate limit, or the default when `None`), shown once by the caller.
pub async fn create_key(
    store: &dyn Store,
    app: &App,
    name: Option<String>,
    scopes: Scopes,
    expires_at: Option<chrono::DateTime<Utc>>,
    rate_limit: Option<u32>,
) -> anyhow::Result<(ApiKey, String)> {
    let generated = apikey::generate(app.mode);
    let key = store
        .create_key(ApiKey {
            id: KeyId::random(),
            app_id: app.id,
            name,
            key_hash: generated.hash,
            prefix: generated.prefix,
            last4: generated.last4,
            scopes,
            expires_at,
            revoked_at: None,
            created_at: crate::clock::now(),
            rate_limit,
        })
        .await?;
    Ok((key, generated.key))
}

/// On an empty database, creates the `default` application and a full-access key, answered
/// so `serve` can print it once.
pub async fn bootstrap(store: &dyn Store) -> anyhow::Result<Option<(App, String)>> {
    if !store.list_apps().await?.is_empty() {
        return Ok(None);
    }
    let app = store
        .create_app(App {
            id: AppId::random(),
            name: "default".into(),
            mode: Environment::Live,
            created_at: crate::clock::now(),
        })
        .await?;
    let (_, key) = create_key(
        store,
        &app,
        Some("bootstrap".into()),
        Scopes::all(Access::Write),
        None,
        None,
    )
    .await?;
    Ok(Some((app, key)))
}

pub struct Running {
    pub addr: SocketAddr,
    pub handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Binds the listener and serves in the background until `shutdown` resolves (API and workers).
pub async fn start(
    cfg: Config,
    store: Arc<dyn Store>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    start_with_roles(cfg, store, Roles::default(), shutdown).await
}

/// As `start`, running only the given roles. A worker-only node still listens, for
/// `/system/healthcheck` and `/metrics`.
pub async fn start_with_roles(
    cfg: Config,
    store: Arc<dyn Store>,
    roles: Roles,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    let listener = TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let metrics = Arc::new(Metrics::default());
    // Turned true once the HTTP server has stopped: the queue runners drain and return.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let media = Arc::new(crate::media::Media::from_config(&cfg, &*store).await?);
    let mut scheduler = None;
    let mut runners = Vec::new();
    if roles.workers {
        scheduler = Some(crate::service::lifecycle::spawn(
            store.clone(),
            cfg.lifecycle.clone(),
        ));
        runners.push(crate::webhooks::dispatcher::spawn(
            store.clone(),
            &cfg,
            stopping.clone(),
        )?);
        runners.push(crate::mail::mailer::spawn(
            store.clone(),
            &cfg,
            metrics.clone(),
            stopping.clone(),
        )?);
        runners.push(crate::engines::spawn(
            store.clone(),
            &cfg,
            media.clone(),
            stopping.clone(),
        )?);
        runners.push(crate::batches::spawn(store.clone(), &cfg, stopping.clone()));
        runners.push(crate::imports::spawn(store.clone(), &cfg, stopping)?);
    }
    let preview_key = Arc::new(
        match &cfg.email_preview_key_file {
            Some(file) => crate::config::read_secret("email_preview_key_file", file)?,
            None => {
                let fresh = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
                store.secret("email_preview_key", fresh).await?
            }
        }
        .into_bytes(),
    );
    let limiter = Arc::new(match &cfg.rate_limit.redis_url {
        Some(url) => crate::ratelimit::Limiter::redis(url)
            .with_context(|| format!("rate_limit.redis_url {:?}", redact_url(url)))?,
        None => crate::ratelimit::Limiter::local(),
    });
    let state = AppState {
        store,
        config: Arc::new(cfg),
        metrics,
        preview_key,
        media,
        person_limits: Default::default(),
        limiter,
        workers: crate::state::Workers {
            here: roles.workers,
            stopping: stop.subscribe(),
        },
    };
    let state_http = state.config.http.clone();
    let app = if roles.api {
        crate::http::router(state)
    } else {
        crate::http::system_router(state)
    };
    let http = state_http;
    let handle = tokio::spawn(async move {
        let served = crate::http::serve::serve(listener, app, http, shutdown).await;
        // A scheduler step is one transaction: stopping between two loses nothing.
        if let Some(s) = scheduler {
            s.abort();
        }
        let _ = stop.send(true);
        for r in runners {
            let _ = r.await;
        }
        served
    });
    Ok(Running { addr, handle })
}
