//! The PostgreSQL backend, for one or several vouch nodes sharing a database. Every write runs
//! in its own transaction; sessions are serialized by their row locks, queues are claimed with
//! `FOR UPDATE SKIP LOCKED` and leases, and LISTEN/NOTIFY wakes the workers of every node.

/// Runs `$body` in a transaction on a pooled connection and commits it; an early return
/// (`?`) rolls back.
macro_rules! in_tx {
    ($self:ident, $tx:ident => $body:expr) => {{
        let mut client = $self.conn().await?;
        let $tx = client
            .transaction()
            .await
            .map_err($crate::postgres::rows::db_err)?;
        let out = $body;
        $tx.commit().await.map_err($crate::postgres::rows::db_err)?;
        out
    }};
}

mod admin;
mod console;
pub(crate) mod driver;
mod engine_queue;
mod group;
pub mod migrate;
mod notify;
pub(crate) mod rows;
pub mod tls;
mod webhook_store;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use vouch_core::WorkflowId;
use vouch_core::{AppId, KeyId, SessionId};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio::sync::Notify;
use vouch_core::review::{BrokenLink, Review};
use vouch_core::session::Session;

use crate::model::*;
use crate::queries::{
    self, catalog, changes, codes, engines, idempotency, media, sandbox, session_list, sessions,
};
use crate::workflow_cache::WorkflowCache;
use crate::{Store, StoreError, StoreResult};
use driver::Pg;
pub use notify::Channels;
use rows::{db_err, get, query_one};

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// `postgres://user:pass@host:port/db?options=-csearch_path%3Dschema`.
    pub url: String,
    /// Connections this node keeps at most.
    pub pool_size: usize,
    /// How long a request waits for a free connection (or a new one) before answering 503.
    pub acquire_timeout: Duration,
    /// Statements running longer are cancelled (and answer 503); `None`: no limit.
    pub statement_timeout: Option<Duration>,
    /// Requests allowed to wait for a connection when all are busy; more are refused at once
    /// (`StoreError::Overloaded`).
    pub max_waiting: usize,
    /// Tasks that group concurrent changes to sessions into shared transactions, each using
    /// one connection at a time (at most `pool_size`).
    pub writers: usize,
    /// The CAs (PEM) a `verify-ca`/`verify-full` connection trusts, when the URL names no
    /// `sslrootcert`; without either, the public web CAs.
    pub ca_file: Option<std::path::PathBuf>,
}

impl PgOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: 16,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Some(Duration::from_secs(30)),
            max_waiting: 256,
            writers: 4,
            ca_file: None,
        }
    }
}

/// True for URLs this backend serves.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

pub struct PgStore {
    shared: Arc<Shared>,
    /// The writers that group concurrent changes to sessions into shared transactions.
    groups: group::Groups,
    batch_signal: Arc<Notify>,
    import_signal: Arc<Notify>,
    schema: String,
    listener: tokio::task::JoinHandle<()>,
    notifier_task: tokio::task::JoinHandle<()>,
}

/// What the store's request paths and its group writers share.
pub(crate) struct Shared {
    pool: Pool,
    max_waiting: usize,
    /// Seconds each request waited for a connection (`/metrics`).
    pool_waits: crate::stats::Histogram,
    workflows: WorkflowCache,
    signal: Arc<Notify>,
    mail_signal: Arc<Notify>,
    engine_signal: Arc<Notify>,
    notifier: notify::Notifier,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.listener.abort();
        self.notifier_task.abort();
    }
}

fn pool_err(e: PoolError) -> StoreError {
    match e {
        PoolError::Timeout(_) => {
            StoreError::Unavailable("no database connection became free in time".into())
        }
        PoolError::Backend(e) => db_err(e),
        e => StoreError::Unavailable(e.to_string()),
    }
}

impl PgStore {
    /// Connects, applies pending migrations (one node at a time) and starts the listener.
    pub async fn connect(opts: &PgOptions) -> StoreResult<Self> {
        let tls = tls::from_url(&opts.url, opts.ca_file.as_deref())?;
        let mut config = tokio_postgres::Config::from_str(&tls.url)
            .map_err(|e| StoreError::Unavailable(format!("bad PostgreSQL URL: {e}")))?;
        config.connect_timeout(opts.acquire_timeout);
        if config.get_application_name().is_none() {
            config.application_name("vouch");
        }
        if let Some(t) = opts.statement_timeout {
            let options = format!(
                "{} -c statement_timeout={}",
                config.get_options().unwrap_or(""),
                t.as_millis()
            );
            config.options(options.trim());
        }
        let manager = Manager::from_config(
            config.clone(),
            tls.connector.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(opts.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(opts.acquire_timeout))
            .create_timeout(Some(opts.acquire_timeout))
            .recycle_timeout(Some(opts.acquire_timeout))
            .build()
            .map_err(|e| StoreError::Internal(format!("cannot build the pool: {e}")))?;
        let mut client = pool.get().await.map_err(pool_err)?;
        migrate::migrate(&mut client).await?;
        let autovacuum: String = get(
            &query_one(&client, "SHOW autovacuum", &[]).await?,
            "autovacuum",
        )?;
        if autovacuum != "on" {
            tracing::warn!(
                "the PostgreSQL server runs with autovacuum off: the tables vouch changes all \
                 the time (sessions, outbox_events, session_tally_deltas) are never vacuumed nor \
                 analyzed, and changes slow down as they grow; turn autovacuum on, or VACUUM \
                 ANALYZE them regularly"
            );
        }
        let schema: String = get(
            &query_one(&client, "SELECT current_schema() AS s", &[]).await?,
            "s",
        )?;
        drop(client);
        let channels = Channels::for_schema(&schema);
        let signal = Arc::new(Notify::new());
        let mail_signal = Arc::new(Notify::new());
        let listener = notify::spawn_listener(
            config,
            tls.connector,
            channels.clone(),
            signal.clone(),
            mail_signal.clone(),
        );
        let notifier = notify::Notifier::default();
        let notifier_task = notifier.spawn(pool.clone(), channels);
        let shared = Arc::new(Shared {
            pool_waits: crate::stats::Histogram::new(crate::stats::SECONDS),
            pool,
            max_waiting: opts.max_waiting,
            workflows: WorkflowCache::default(),
            signal,
            mail_signal,
            engine_signal: Arc::new(Notify::new()),
            notifier,
        });
        let groups = group::Groups::spawn(
            shared.clone(),
            opts.writers.clamp(1, opts.pool_size.max(1)),
            opts.max_waiting,
        );
        Ok(Self {
            shared,
            groups,
            batch_signal: Arc::new(Notify::new()),
            import_signal: Arc::new(Notify::new()),
            schema,
            listener,
            notifier_task,
        })
    }

    /// The schema the tables live in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// A pooled connection; refused at once when `max_waiting` requests already wait for one.
    async fn conn(&self) -> StoreResult<deadpool_postgres::Client> {
        self.shared.conn().await
    }

    /// After a commit: wakes this node's workers, and (soon, coalesced) every other node's.
    fn wake(&self, events: bool, emails: bool) {
        self.shared.wake(events, emails, false);
    }
}

impl Shared {
    async fn conn(&self) -> StoreResult<deadpool_postgres::Client> {
        let status = self.pool.status();
        if status.available == 0
            && status.size >= status.max_size
            && status.waiting >= self.max_waiting
        {
            return Err(StoreError::Overloaded(
                "too many requests are waiting for a database connection".into(),
            ));
        }
        let asked = std::time::Instant::now();
        let got = self.pool.get().await.map_err(pool_err);
        self.pool_waits.observe(asked.elapsed().as_secs_f64());
        got
    }

    fn wake(&self, events: bool, emails: bool, engines: bool) {
        self.notifier.committed(events, emails);
        if events {
            self.signal.notify_one();
        }
        if emails {
            self.mail_signal.notify_one();
        }
        if engines {
            self.engine_signal.notify_one();
        }
    }

    /// Runs one change in a transaction of its own (a change with an `Idempotency-Key`, or
    /// one of a group that could not be loaded together).
    async fn modify_alone(
        &self,
        app_id: AppId,
        session_id: SessionId,
        decide: Decide,
        idem: Option<Idem<()>>,
    ) -> StoreResult<Modified> {
        let mut client = self.conn().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let db = Pg(&tx);
        if let Some(Written::Replayed { status_code, body }) =
            idempotency::begin::<()>(&db, idem.as_ref().map(|i| &i.key)).await?
        {
            return Ok(Modified::Replayed { status_code, body });
        }
        // The session's row lock: concurrent writers of this session, on any node, wait here.
        let Some((state, tip)) = sessions::state(&db, &self.workflows, app_id, session_id).await?
        else {
            return Ok(Modified::NotFound);
        };
        let change = match decide(&state) {
            Ok(Some(change)) => change,
            Ok(None) => return Ok(Modified::Unchanged),
            Err(r) => return Ok(Modified::Rejected(r)),
        };
        let wakes = group::Wakes::of(&change);
        changes::apply(&db, change, tip).await?;
        idempotency::finish(&db, idem, ()).await?;
        tx.commit().await.map_err(db_err)?;
        self.wake(wakes.events, wakes.emails, wakes.engines);
        Ok(Modified::Applied)
    }
}

#[async_trait]
impl Store for PgStore {
    async fn create_app(&self, app: App) -> StoreResult<App> {
        in_tx!(self, tx => {
            catalog::insert_app(&Pg(&tx), &app).await?;
            tx.batch_execute(&number_sequence_sql(app.id, 1))
                .await
                .map_err(db_err)?;
        });
        Ok(app)
    }

    async fn list_apps(&self) -> StoreResult<Vec<App>> {
        catalog::list_apps(&Pg(&self.conn().await?)).await
    }

    async fn find_app(&self, name_or_id: &str) -> StoreResult<Option<App>> {
        catalog::find_app(&Pg(&self.conn().await?), name_or_id).await
    }

    async fn set_app_allowed_domains(
        &self,
        app_id: AppId,
        origins: Vec<String>,
    ) -> StoreResult<()> {
        catalog::set_allowed_domains(&Pg(&self.conn().await?), app_id, &origins).await
    }

    async fn set_app_branding(
        &self,
        app_id: AppId,
        sender_name: Option<String>,
        brand: Option<String>,
    ) -> StoreResult<()> {
        catalog::set_branding(&Pg(&self.conn().await?), app_id, sender_name, brand).await
    }

    async fn create_key(&self, key: ApiKey) -> StoreResult<ApiKey> {
        catalog::insert_key(&Pg(&self.conn().await?), &key).await?;
        Ok(key)
    }

    async fn list_keys(&self, app_id: AppId) -> StoreResult<Vec<ApiKey>> {
        catalog::list_keys(&Pg(&self.conn().await?), app_id).await
    }

    async fn revoke_key(&self, key_id: KeyId, now: DateTime<Utc>) -> StoreResult<bool> {
        catalog::revoke_key(&Pg(&self.conn().await?), key_id, now).await
    }

    async fn set_key_rate_limit(&self, key_id: KeyId, limit: Option<u32>) -> StoreResult<bool> {
        catalog::set_key_rate_limit(&Pg(&self.conn().await?), key_id, limit).await
    }

    async fn keys_by_hash_prefix(&self, prefix: [u8; 8]) -> StoreResult<Vec<(ApiKey, App)>> {
        catalog::keys_by_hash_prefix(&Pg(&self.conn().await?), prefix).await
    }

    async fn create_workflow(
        &self,
        wf: WorkflowRecord,
        idem: Option<Idem<WorkflowRecord>>,
    ) -> StoreResult<Written<WorkflowRecord>> {
        in_tx!(self, tx => {
            match idempotency::begin(&Pg(&tx), idem.as_ref().map(|i| &i.key)).await? {
                Some(replayed) => replayed,
                None => {
                    catalog::insert_workflow(&Pg(&tx), &wf).await?;
                    idempotency::finish(&Pg(&tx), idem, wf).await?
                }
            }
        })
        .pipe(Ok)
    }

    async fn update_workflow(&self, update: WorkflowUpdate) -> StoreResult<WorkflowRecord> {
        Ok(in_tx!(self, tx => catalog::update_workflow(&Pg(&tx), update).await?))
    }

    async fn list_workflows(
        &self,
        app_id: AppId,
        page: Page,
    ) -> StoreResult<(Vec<WorkflowRecord>, i64)> {
        catalog::list_workflows(&Pg(&self.conn().await?), app_id, page).await
    }

    async fn get_workflow(
        &self,
        app_id: AppId,
        id: WorkflowId,
    ) -> StoreResult<Option<WorkflowRecord>> {
        catalog::current_workflow(&Pg(&self.conn().await?), app_id, id).await
    }

    async fn get_workflow_version(
        &self,
        id: WorkflowId,
        version: i64,
    ) -> StoreResult<Option<WorkflowRecord>> {
        catalog::workflow_version(&Pg(&self.conn().await?), id, version).await
    }

    async fn create_session(
        &self,
        new: NewSession,
        idem: Option<Idem<Session>>,
    ) -> StoreResult<Written<Session>> {
        Ok(in_tx!(self, tx => {
            let db = Pg(&tx);
            match idempotency::begin(&db, idem.as_ref().map(|i| &i.key)).await? {
                Some(replayed) => replayed,
                None => {
                    let s = sessions::create(&db, new).await?;
                    idempotency::finish(&db, idem, s).await?
                }
            }
        }))
    }

    async fn get_session(&self, app_id: AppId, id: SessionId) -> StoreResult<Option<Session>> {
        sessions::find(&Pg(&self.conn().await?), app_id, id, false).await
    }

    async fn person_code(
        &self,
        session_id: SessionId,
        node_id: &str,
    ) -> StoreResult<Option<vouch_core::otp::Challenge>> {
        codes::get(&Pg(&self.conn().await?), session_id, node_id).await
    }

    async fn media_key(
        &self,
        session_id: SessionId,
        fresh: String,
        now: DateTime<Utc>,
    ) -> StoreResult<String> {
        media::key(&Pg(&self.conn().await?), session_id, fresh, now).await
    }

    async fn media(&self, id: vouch_core::MediaId) -> StoreResult<Option<(MediaRecord, String)>> {
        media::get(&Pg(&self.conn().await?), id).await
    }

    async fn session_media(&self, session_id: SessionId) -> StoreResult<Vec<MediaRecord>> {
        media::of_session(&Pg(&self.conn().await?), session_id).await
    }

    async fn sandbox_plan(&self, session_id: SessionId) -> StoreResult<SandboxPlan> {
        sandbox::plan(&Pg(&self.conn().await?), session_id).await
    }

    async fn arm_sandbox(
        &self,
        session_id: SessionId,
        node_id: String,
        outcome: Option<serde_json::Value>,
    ) -> StoreResult<()> {
        in_tx!(self, tx => {
            let db = Pg(&tx);
            // The plan's row, locked while it is read and rewritten.
            sandbox::lock(&db, session_id).await?;
            sandbox::arm(&db, session_id, &node_id, outcome).await?;
        });
        Ok(())
    }

    async fn shift_sandbox_clock(
        &self,
        app_id: AppId,
        session_id: SessionId,
        by: chrono::Duration,
    ) -> StoreResult<bool> {
        Ok(in_tx!(self, tx => {
            let db = Pg(&tx);
            // The session's row lock: a concurrent change waits, then sees the moved timers.
            sessions::find(&db, app_id, session_id, true).await?;
            sandbox::shift_clock(&db, app_id, session_id, by).await?
        }))
    }

    async fn put_sandbox_phone(
        &self,
        app_id: AppId,
        number: String,
        outcome: String,
        code: Option<String>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sandbox::put_phone(
            &Pg(&self.conn().await?),
            app_id,
            &number,
            &outcome,
            code.as_deref(),
            now,
        )
        .await
    }

    async fn sandbox_phone(
        &self,
        app_id: AppId,
        number: String,
    ) -> StoreResult<Option<(String, Option<String>)>> {
        sandbox::phone(&Pg(&self.conn().await?), app_id, &number).await
    }

    async fn checking_steps(&self, session_id: SessionId) -> StoreResult<Vec<String>> {
        engines::checking(&Pg(&self.conn().await?), session_id).await
    }

    async fn put_person_code(
        &self,
        code: vouch_core::otp::Challenge,
        sends_before: i64,
    ) -> StoreResult<bool> {
        codes::put(&Pg(&self.conn().await?), &code, sends_before).await
    }

    async fn take_code_try(
        &self,
        session_id: SessionId,
        node_id: &str,
        sent_at: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Option<i64>> {
        codes::take_try(
            &Pg(&self.conn().await?),
            session_id,
            node_id,
            sent_at,
            limit,
        )
        .await
    }

    async fn session_by_token(&self, token: &str) -> StoreResult<Option<LinkTarget>> {
        sessions::by_token(&Pg(&self.conn().await?), token).await
    }

    async fn session_bundle(
        &self,
        app_id: AppId,
        id: SessionId,
    ) -> StoreResult<Option<SessionBundle>> {
        sessions::bundle(&Pg(&self.conn().await?), &self.shared.workflows, app_id, id).await
    }

    async fn list_sessions(
        &self,
        app_id: AppId,
        filter: &SessionFilter,
        page: Page,
    ) -> StoreResult<(Vec<Session>, i64)> {
        session_list::list(&Pg(&self.conn().await?), app_id, filter, page).await
    }

    async fn delete_session(
        &self,
        app_id: AppId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        Ok(in_tx!(self, tx => sessions::delete(&Pg(&tx), app_id, id, now).await?))
    }

    async fn modify_session(
        &self,
        app_id: AppId,
        session_id: SessionId,
        decide: Decide,
        idem: Option<Idem<()>>,
    ) -> StoreResult<Modified> {
        match idem {
            // The key's lock and record belong to the change's own transaction.
            Some(idem) => {
                self.shared
                    .modify_alone(app_id, session_id, decide, Some(idem))
                    .await
            }
            None => self.groups.modify(app_id, session_id, decide).await,
        }
    }

    async fn idempotent_response(
        &self,
        key: &IdemKey,
        _now: DateTime<Utc>,
    ) -> StoreResult<Option<Written<()>>> {
        idempotency::lookup(&Pg(&self.conn().await?), key).await
    }

    async fn reviews(&self, session_id: SessionId) -> StoreResult<Vec<Review>> {
        changes::reviews(&Pg(&self.conn().await?), session_id).await
    }

    async fn verify_reviews(
        &self,
        session_id: Option<SessionId>,
    ) -> StoreResult<(usize, Vec<(SessionId, BrokenLink)>)> {
        changes::verify_reviews(&Pg(&self.conn().await?), session_id).await
    }

    async fn outbox_events(&self, session_id: SessionId) -> StoreResult<Vec<OutboxEvent>> {
        changes::outbox(&Pg(&self.conn().await?), session_id).await
    }

    async fn email_jobs(&self, session_id: SessionId) -> StoreResult<Vec<EmailJob>> {
        changes::email_jobs(&Pg(&self.conn().await?), session_id).await
    }

    async fn due_transitions(&self, query: LifecycleQuery) -> StoreResult<Vec<DueTransition>> {
        session_list::due_transitions(&Pg(&self.conn().await?), &query).await
    }

    async fn secret(&self, name: &str, fresh: String) -> StoreResult<String> {
        queries::secret(&Pg(&self.conn().await?), name, fresh).await
    }

    async fn ping(&self) -> StoreResult<()> {
        queries::ping(&Pg(&self.conn().await?)).await
    }

    async fn probe_write(&self, now: DateTime<Utc>) -> StoreResult<()> {
        queries::probe(&Pg(&self.conn().await?), now).await
    }

    async fn fold_tallies(&self) -> StoreResult<u64> {
        queries::session_list::fold_tallies(&Pg(&self.conn().await?)).await
    }

    async fn queue_stats(&self, now: DateTime<Utc>) -> StoreResult<Vec<crate::stats::QueueStat>> {
        queries::queue::stats(&Pg(&self.conn().await?), now).await
    }

    fn store_stats(&self) -> crate::stats::StoreStats {
        let status = self.shared.pool.status();
        crate::stats::StoreStats {
            backend: "postgres",
            pool_waits: Some(self.shared.pool_waits.snapshot()),
            write_groups: Some(self.groups.sizes()),
            writes_queued: Some(self.groups.queued()),
            pool: Some(crate::stats::PoolGauges {
                size: status.size as u64,
                available: status.available as u64,
                waiting: status.waiting as u64,
            }),
        }
    }
}

/// The name of the sequence that numbers an application's sessions.
pub fn number_sequence(app_id: AppId) -> String {
    format!("session_numbers_{}", app_id.uuid().simple())
}

/// SQL creating the sequence numbering an application's sessions, starting at `next`.
/// Sequences never block and are not rolled back, so concurrent creations in one application
/// do not wait for each other's commits; a creation that fails after taking its number leaves
/// a gap.
pub fn number_sequence_sql(app_id: AppId, next: i64) -> String {
    let name = number_sequence(app_id);
    format!(
        "CREATE SEQUENCE IF NOT EXISTS {name} AS bigint MINVALUE 1 START WITH 1;
         SELECT setval('{name}', {}, false);",
        next.max(1)
    )
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl<T> Pipe for T {}
