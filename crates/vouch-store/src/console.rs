//! The reviewer's console: its users, their server-side logins and the record of what they did.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use vouch_core::console::{Failures, Role};
use vouch_core::{AppId, SessionId};

use crate::StoreResult;

#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleUser {
    pub id: Uuid,
    /// Lower-cased; unique.
    pub email: String,
    /// Argon2id, in the PHC string format.
    pub password_hash: String,
    pub role: Role,
    /// The applications whose sessions the user sees; empty: every application.
    pub apps: Vec<AppId>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The second factor's secret (base32), when one is set up.
    pub totp_secret: Option<String>,
    /// The last time step whose code logged in (each code is good once).
    pub totp_last_step: Option<i64>,
}

impl ConsoleUser {
    pub fn sees(&self, app: AppId) -> bool {
        self.apps.is_empty() || self.apps.contains(&app)
    }
}

/// A login: the cookie carries a random token, the database only its SHA-256.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleLogin {
    pub token_hash: Vec<u8>,
    pub user_id: Uuid,
    /// The login's CSRF token, which every form it posts must carry.
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub seen_at: DateTime<Utc>,
}

/// One thing a console user (or someone trying to be one) did.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleEvent {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// `login`, `login_failed`, `logout`, `logout_everywhere`, `user_created`, `role_changed`,
    /// `apps_changed`, `disabled`, `enabled`, `password_reset`.
    pub kind: String,
    pub email: String,
    pub address: Option<String>,
    pub detail: Option<String>,
}

impl ConsoleEvent {
    pub fn new(kind: &str, email: &str, at: DateTime<Utc>) -> Self {
        ConsoleEvent {
            id: Uuid::now_v7(),
            at,
            kind: kind.to_string(),
            email: email.to_string(),
            address: None,
            detail: None,
        }
    }
}

/// What `update_console_user` changes (`None` keeps a value).
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub role: Option<Role>,
    pub apps: Option<Vec<AppId>>,
    pub disabled_at: Option<Option<DateTime<Utc>>>,
    pub password_hash: Option<String>,
    /// `Some(None)` removes the second factor.
    pub totp_secret: Option<Option<String>>,
}

impl UserChange {
    /// A change after which the user's logins must end.
    pub fn ends_logins(&self) -> bool {
        self.password_hash.is_some()
            || self.totp_secret.is_some()
            || matches!(self.disabled_at, Some(Some(_)))
    }
}

#[async_trait]
pub trait ConsoleStore: Send + Sync {
    /// `Duplicate` when the email is taken.
    async fn create_console_user(&self, user: ConsoleUser, event: ConsoleEvent) -> StoreResult<()>;
    async fn console_users(&self) -> StoreResult<Vec<ConsoleUser>>;
    async fn console_user(&self, email: String) -> StoreResult<Option<ConsoleUser>>;
    /// Applies the change with its events, ending the user's logins when it is disabled or its
    /// password reset, in one transaction; `None` when there is no such user.
    async fn update_console_user(
        &self,
        email: String,
        change: UserChange,
        events: Vec<ConsoleEvent>,
    ) -> StoreResult<Option<ConsoleUser>>;
    async fn start_console_login(
        &self,
        login: ConsoleLogin,
        event: ConsoleEvent,
    ) -> StoreResult<()>;
    /// The login and its user, if it was created after `absolute_since`, used after
    /// `idle_since` and its user is not disabled; its use is recorded (at most once a minute).
    async fn console_login(
        &self,
        token_hash: Vec<u8>,
        idle_since: DateTime<Utc>,
        absolute_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(ConsoleLogin, ConsoleUser)>>;
    /// Ends the login, or every login of its user (`everywhere`), recording `event`.
    async fn end_console_login(
        &self,
        token_hash: Vec<u8>,
        everywhere: bool,
        event: ConsoleEvent,
    ) -> StoreResult<()>;
    async fn record_console_event(&self, event: ConsoleEvent) -> StoreResult<()>;
    /// Failed logins since `since`: the account's (after its last successful login) and the
    /// address's.
    async fn console_failures(
        &self,
        email: String,
        address: String,
        since: DateTime<Utc>,
    ) -> StoreResult<Failures>;
    /// The newest events first.
    async fn console_events(&self, limit: i64) -> StoreResult<Vec<ConsoleEvent>>;
    /// Records that the code of `step` was used, if no code of it or a later step was; false
    /// when one was (a replayed code).
    async fn use_totp_step(&self, user_id: Uuid, step: i64) -> StoreResult<bool>;
}

/// A reviewer's claim on a session (assignment).
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub session_id: SessionId,
    pub user_id: Uuid,
    pub email: String,
    pub claimed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A decision staged under four-eyes.
#[derive(Debug, Clone, PartialEq)]
pub struct Staged {
    pub session_id: SessionId,
    pub user_id: Uuid,
    pub email: String,
    /// The update-status body it will apply.
    pub body: serde_json::Value,
    /// The session version it was taken on.
    pub version: i64,
    pub staged_at: DateTime<Utc>,
    /// Who sent it back, with why; `None` while it waits.
    pub rejected_by: Option<String>,
    pub note: Option<String>,
}

/// What the desk says of one session.
#[derive(Debug, Clone, PartialEq)]
pub struct DeskState {
    pub claim: Option<Claim>,
    pub four_eyes: bool,
    pub staged: bool,
}

/// Assignment and four-eyes.
#[async_trait]
pub trait ReviewDeskStore: Send + Sync {
    /// Claims the session unless another user holds a live claim and `take_over` is false;
    /// answers the claim that holds afterwards (the new one, or the other user's).
    async fn claim_session(&self, claim: Claim, take_over: bool) -> StoreResult<Claim>;
    /// Ends the session's claim (only `user_id`'s, when given).
    async fn release_claim(&self, session_id: SessionId, user_id: Option<Uuid>) -> StoreResult<()>;
    /// The live claims among these sessions.
    async fn claims(
        &self,
        session_ids: Vec<SessionId>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Claim>>;
    /// The oldest `In Review` session of these applications that nobody has claimed.
    async fn next_unclaimed(
        &self,
        app_ids: Vec<AppId>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SessionId>>;
    /// Stages (or replaces) the session's decision.
    async fn stage_decision(&self, staged: Staged) -> StoreResult<()>;
    async fn staged_decisions(&self, session_ids: Vec<SessionId>) -> StoreResult<Vec<Staged>>;
    /// Sends the staged decision back to its author; false when none waits.
    async fn reject_staged(
        &self,
        session_id: SessionId,
        by: String,
        note: String,
    ) -> StoreResult<bool>;
    async fn drop_staged(&self, session_id: SessionId) -> StoreResult<()>;
    async fn four_eyes(&self, app_id: AppId) -> StoreResult<bool>;
    /// A live session by id, whatever its application, with its desk's state (one read).
    async fn console_session_desk(
        &self,
        session_id: SessionId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(vouch_core::session::Session, DeskState)>>;
    /// A live session by id, whatever its application.
    async fn console_session(
        &self,
        session_id: SessionId,
    ) -> StoreResult<Option<vouch_core::session::Session>>;
    async fn set_four_eyes(&self, app_id: AppId, on: bool) -> StoreResult<()>;
}
