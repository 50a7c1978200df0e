//! Opening the store and serving HTTP.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use tokio::net::TcpListener;
use uuid::Uuid;
use vouch_core::scopes::{Access, Scopes};
use vouch_core::session::Environment;
use vouch_store::sqlite::{path_from_url, SqliteStore};
use vouch_store::{ApiKey, App, Store};

use crate::apikey;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::state::AppState;

/// Opens the database named by the configuration, applying migrations.
pub fn open_store(cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = cfg.database_url.as_str();
    if url.starts_with("sqlite:") {
        let path =
            path_from_url(url).with_context(|| format!("database_url {url:?} names no file"))?;
        let store = SqliteStore::open(&path, cfg.sqlite.readers)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(Arc::new(store))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        anyhow::bail!("PostgreSQL databases are not supported by this build yet; use sqlite://")
    } else {
        anyhow::bail!("database_url must start with sqlite:// (got {url:?})")
    }
}

/// A full-access key for `app`, shown once by the caller.
pub async fn create_key(
    store: &dyn Store,
    app: &App,
    name: Option<String>,
    scopes: Scopes,
    expires_at: Option<chrono::DateTime<Utc>>,
) -> anyhow::Result<(ApiKey, String)> {
    let generated = apikey::generate(app.mode);
    let key = store
        .create_key(ApiKey {
            id: Uuid::new_v4(),
            app_id: app.id,
            name,
            key_hash: generated.hash,
            prefix: generated.prefix,
            last4: generated.last4,
            scopes,
            expires_at,
            revoked_at: None,
            created_at: Utc::now(),
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
            id: Uuid::new_v4(),
            name: "default".into(),
            mode: Environment::Live,
            created_at: Utc::now(),
        })
        .await?;
    let (_, key) = create_key(
        store,
        &app,
        Some("bootstrap".into()),
        Scopes::all(Access::Write),
        None,
    )
    .await?;
    Ok(Some((app, key)))
}

pub struct Running {
    pub addr: SocketAddr,
    pub handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Binds the listener and serves in the background until `shutdown` resolves.
pub async fn start(
    cfg: Config,
    store: Arc<dyn Store>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    let listener = TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let lifecycle = crate::service::lifecycle::spawn(store.clone(), cfg.lifecycle.clone());
    let dispatcher = crate::webhooks::dispatcher::spawn(store.clone(), &cfg)?;
    let metrics = Arc::new(Metrics::default());
    let mailer = crate::mail::mailer::spawn(store.clone(), &cfg, metrics.clone())?;
    let fresh = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    let preview_key = Arc::new(store.secret("email_preview_key", fresh).await?.into_bytes());
    let state = AppState {
        store,
        config: Arc::new(cfg),
        metrics,
        preview_key,
    };
    let app = crate::http::router(state);
    let handle = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        lifecycle.abort();
        dispatcher.abort();
        mailer.abort();
        served
    });
    Ok(Running { addr, handle })
}
