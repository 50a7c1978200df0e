//! Persistence for vouch. Application code holds an `Arc<dyn Store>`; the backend is chosen once
//! at start-up from the database URL. Every write method takes a whole change, so no transaction
//! type leaks out of a backend.

pub mod admin;
pub mod console;
pub mod emails;
pub mod engines;
pub mod model;
pub mod postgres;
pub mod queries;
pub mod rows;
pub mod sql;
pub mod sqlite;
pub mod stats;
pub mod testing;
pub mod webhooks;
mod workflow_cache;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vouch_core::review::{BrokenLink, Review};
use vouch_core::session::Session;
use vouch_core::{AppId, KeyId, SessionId, WorkflowId};

pub use admin::*;
pub use console::*;
pub use emails::*;
pub use engines::*;
pub use model::*;
pub use webhooks::*;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A change that was not decided on the session's current version (a decision must be
    /// made on the state `modify_session` loads); nothing was written.
    #[error("the session was changed concurrently")]
    VersionConflict,
    /// A unique value is already taken (e.g. an application name).
    #[error("{0} already exists")]
    Duplicate(String),
    #[error("not found: {0}")]
    NotFound(Entity),
    /// The `Idempotency-Key` was used before with another request body.
    #[error("idempotency key reused with a different request")]
    IdempotencyConflict,
    /// The database cannot be reached or is overloaded; the request may be retried.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// More requests wait for the database than this node lets wait (the SQLite writer's
    /// queue, the PostgreSQL pool's waiters): refused at once, nothing written.
    #[error("database overloaded: {0}")]
    Overloaded(String),
    /// The database's disk (or its configured size) is full: nothing was written, and writes
    /// succeed again by themselves once there is room.
    #[error("database full: {0}")]
    Full(String),
    #[error("database error: {0}")]
    Internal(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What a write needed and did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// The workflow to update.
    Workflow,
    /// A workflow that is not archived (new sessions are refused on an archived one).
    ActiveWorkflow,
    /// A published version of the session's workflow (the named one, or the default).
    PublishedWorkflow,
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Entity::Workflow => "workflow",
            Entity::ActiveWorkflow => "workflow that is not archived",
            Entity::PublishedWorkflow => "published workflow",
        })
    }
}

#[async_trait]
pub trait Store:
    WebhookStore
    + EmailStore
    + EngineStore
    + AdminStore
    + ConsoleStore
    + ReviewDeskStore
    + Send
    + Sync
    + 'static
{
    // --- applications and keys -------------------------------------------------------------
    async fn create_app(&self, app: App) -> StoreResult<App>;
    async fn list_apps(&self) -> StoreResult<Vec<App>>;
    /// Finds an application by id or by exact name.
    async fn find_app(&self, name_or_id: &str) -> StoreResult<Option<App>>;
    /// Sets an application's email sender name and brand: `None` keeps the current value, an
    /// empty string clears it.
    async fn set_app_branding(
        &self,
        app_id: AppId,
        sender_name: Option<String>,
        brand: Option<String>,
    ) -> StoreResult<()>;
    /// The origins allowed to frame the application's person's page (replaces the list).
    async fn set_app_allowed_domains(&self, app_id: AppId, origins: Vec<String>)
        -> StoreResult<()>;
    async fn create_key(&self, key: ApiKey) -> StoreResult<ApiKey>;
    async fn list_keys(&self, app_id: AppId) -> StoreResult<Vec<ApiKey>>;
    /// Returns false when no such key exists.
    async fn revoke_key(&self, key_id: KeyId, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Sets a key's own rate limit (`None`: the default); false when no such key exists.
    async fn set_key_rate_limit(&self, key_id: KeyId, limit: Option<u32>) -> StoreResult<bool>;
    /// Every key whose hash starts with the given 8 bytes, with its application; the caller
    /// compares full hashes in constant time.
    async fn keys_by_hash_prefix(&self, prefix: [u8; 8]) -> StoreResult<Vec<(ApiKey, App)>>;

    // --- workflows ---------------------------------------------------------------------------
    async fn create_workflow(
        &self,
        wf: WorkflowRecord,
        idem: Option<Idem<WorkflowRecord>>,
    ) -> StoreResult<Written<WorkflowRecord>>;
    /// Writes a new version (or updates label/status/default in place when `new_version` is
    /// false); answers the resulting current version.
    async fn update_workflow(&self, update: WorkflowUpdate) -> StoreResult<WorkflowRecord>;
    async fn list_workflows(
        &self,
        app_id: AppId,
        page: Page,
    ) -> StoreResult<(Vec<WorkflowRecord>, i64)>;
    /// The current (highest) version.
    async fn get_workflow(
        &self,
        app_id: AppId,
        id: WorkflowId,
    ) -> StoreResult<Option<WorkflowRecord>>;
    async fn get_workflow_version(
        &self,
        id: WorkflowId,
        version: i64,
    ) -> StoreResult<Option<WorkflowRecord>>;

    // --- sessions -----------------------------------------------------------------------------
    /// Creates a session, or returns the unfinished one with the same `vendor_data` on the same
    /// workflow version (its callback and metadata updated), all in one transaction.
    async fn create_session(
        &self,
        new: NewSession,
        idem: Option<Idem<Session>>,
    ) -> StoreResult<Written<Session>>;
    /// A live (not deleted) session of the application, user table first.
    async fn get_session(&self, app_id: AppId, id: SessionId) -> StoreResult<Option<Session>>;
    // --- the person's one-time codes (vouch_core::otp) -------------------------------------
    async fn person_code(
        &self,
        session_id: SessionId,
        node_id: &str,
    ) -> StoreResult<Option<vouch_core::otp::Challenge>>;
    /// Stores a sent code if the step's sends are still `sends_before`; answers whether it was.
    async fn put_person_code(
        &self,
        code: vouch_core::otp::Challenge,
        sends_before: i64,
    ) -> StoreResult<bool>;
    /// Counts a try against the code sent at `sent_at` if fewer than `limit` were made; answers
    /// the tries after it, or `None` when none was left.
    async fn take_code_try(
        &self,
        session_id: SessionId,
        node_id: &str,
        sent_at: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Option<i64>>;

    // --- what the person's page captured ----------------------------------------------------
    /// The session's wrapped media key, `fresh` stored first if it has none.
    async fn media_key(
        &self,
        session_id: SessionId,
        fresh: String,
        now: DateTime<Utc>,
    ) -> StoreResult<String>;
    /// A stored file with its session's wrapped key; none once the session is erased.
    async fn media(&self, id: vouch_core::MediaId) -> StoreResult<Option<(MediaRecord, String)>>;
    async fn session_media(&self, session_id: SessionId) -> StoreResult<Vec<MediaRecord>>;
    /// A sandbox session's scenario and armed outcomes (empty for any other session).
    async fn sandbox_plan(&self, session_id: SessionId) -> StoreResult<SandboxPlan>;
    /// Arms (`Some`) or disarms one step's next outcome in the sandbox.
    async fn arm_sandbox(
        &self,
        session_id: SessionId,
        node_id: String,
        outcome: Option<serde_json::Value>,
    ) -> StoreResult<()>;
    /// Moves a sandbox session's timers `by` into the past; false when there is no such session.
    async fn shift_sandbox_clock(
        &self,
        app_id: AppId,
        session_id: SessionId,
        by: chrono::Duration,
    ) -> StoreResult<bool>;
    /// Registers (or replaces) a sandbox application's phone test number.
    async fn put_sandbox_phone(
        &self,
        app_id: AppId,
        number: String,
        outcome: String,
        code: Option<String>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// A registered test number's outcome and fixed code.
    async fn sandbox_phone(
        &self,
        app_id: AppId,
        number: String,
    ) -> StoreResult<Option<(String, Option<String>)>>;
    /// The nodes of a session an engine is still checking.
    async fn checking_steps(&self, session_id: SessionId) -> StoreResult<Vec<String>>;

    /// The session a person's link (`session_token`) names, deleted or not.
    async fn session_by_token(&self, token: &str) -> StoreResult<Option<LinkTarget>>;
    /// The session with its pinned workflow, attempts and review trail.
    async fn session_bundle(
        &self,
        app_id: AppId,
        id: SessionId,
    ) -> StoreResult<Option<SessionBundle>>;
    async fn list_sessions(
        &self,
        app_id: AppId,
        filter: &SessionFilter,
        page: Page,
    ) -> StoreResult<(Vec<Session>, i64)>;
    /// Soft-deletes a session, erases its personal data and drops pending events.
    async fn delete_session(
        &self,
        app_id: AppId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Loads the session, runs `decide` (a core function) on it and applies the change it
    /// returns, all in one transaction, so concurrent writers serialize without retries. The
    /// only way a session changes after creation.
    async fn modify_session(
        &self,
        app_id: AppId,
        session_id: SessionId,
        decide: Decide,
        idem: Option<Idem<()>>,
    ) -> StoreResult<Modified>;
    /// A stored idempotent response, if the key was used in the last 24 hours.
    async fn idempotent_response(
        &self,
        key: &IdemKey,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Written<()>>>;

    // --- audit and outbox -----------------------------------------------------------------------
    async fn reviews(&self, session_id: SessionId) -> StoreResult<Vec<Review>>;
    /// Verifies every chain (or one session's); answers the first broken link per session.
    async fn verify_reviews(
        &self,
        session_id: Option<SessionId>,
    ) -> StoreResult<(usize, Vec<(SessionId, BrokenLink)>)>;
    async fn outbox_events(&self, session_id: SessionId) -> StoreResult<Vec<OutboxEvent>>;
    async fn email_jobs(&self, session_id: SessionId) -> StoreResult<Vec<EmailJob>>;
    /// Sessions whose lifecycle timers have come due (expiry, abandonment, KYC expiry).
    async fn due_transitions(&self, query: LifecycleQuery) -> StoreResult<Vec<DueTransition>>;

    /// A server-wide secret, generated (with `fresh`) the first time it is asked for and shared
    /// by every process on this database afterwards.
    async fn secret(&self, name: &str, fresh: String) -> StoreResult<String>;

    async fn ping(&self) -> StoreResult<()>;
    /// A small real write through the write path (readiness: is the database writable?).
    async fn probe_write(&self, now: DateTime<Utc>) -> StoreResult<()>;

    /// Folds the session tallies' pending differences into them (PostgreSQL, where changes
    /// append differences; SQLite's triggers keep the tallies themselves). Answers how many
    /// differences were folded. Counts are exact before and after.
    async fn fold_tallies(&self) -> StoreResult<u64> {
        Ok(0)
    }

    /// Each job queue's pending and due jobs, and the age of its oldest due one (`/metrics`).
    async fn queue_stats(&self, now: DateTime<Utc>) -> StoreResult<Vec<stats::QueueStat>>;

    /// The store's own figures: write groups (SQLite), pool waits (PostgreSQL).
    fn store_stats(&self) -> stats::StoreStats;
}

/// `t` truncated to the microsecond, the precision every backend stores times with.
pub(crate) fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Timelike;
    t.with_nanosecond(t.nanosecond() / 1000 * 1000).unwrap_or(t)
}
