//! Row types shared by every backend.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;
use vouch_core::attempt::Attempt;
use vouch_core::review::Review;
use vouch_core::scopes::Scopes;
use vouch_core::session::{CallbackMethod, Environment, Session};
use vouch_core::{AppId, EventId, KeyId, SessionId, WorkflowId};
use vouch_core::{Rejection, SessionStatus, WorkflowKind};

pub use vouch_core::change::{
    EmailKind, EventType, NewEmailJob, NewEvent, NotSentReason, SessionChange, SessionState,
};
pub use vouch_core::workflow::{WorkflowRecord, WorkflowStatus, WorkflowUpdate};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct App {
    pub id: AppId,
    pub name: String,
    pub mode: Environment,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub id: KeyId,
    pub app_id: AppId,
    pub name: Option<String>,
    pub key_hash: [u8; 32],
    pub prefix: String,
    pub last4: String,
    pub scopes: Scopes,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Requests per rate-limit window for this key; `None` is the configured default.
    pub rate_limit: Option<u32>,
}

/// A session to create; the store assigns `number` (and reuses an unfinished session when asked).
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub app_id: AppId,
    pub token: String,
    /// When `None`, the application's default published workflow is used.
    pub workflow_id: Option<WorkflowId>,
    pub vendor_data: Option<String>,
    pub metadata: Value,
    pub callback: Option<String>,
    pub callback_method: Option<CallbackMethod>,
    pub language: Option<String>,
    pub contact_details: Value,
    pub expected_details: Value,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// A sandbox application's scenario for the session (`vouch_core::sandbox`).
    pub sandbox_scenario: Option<String>,
}

impl NewSession {
    /// The session as first stored: `Not Started`, version 1, pinned to `wf`.
    pub fn into_session(self, number: i64, wf: &WorkflowRecord) -> Session {
        Session {
            id: self.id,
            app_id: self.app_id,
            number,
            kind: wf.kind(),
            token: self.token,
            status: SessionStatus::NotStarted,
            workflow_id: wf.id,
            workflow_version: wf.version,
            vendor_data: self.vendor_data,
            metadata: self.metadata,
            callback: self.callback,
            callback_method: self.callback_method,
            language: self.language,
            contact_details: self.contact_details,
            expected_details: self.expected_details,
            resubmit_info: None,
            version: 1,
            created_at: self.now,
            updated_at: self.now,
            // The workflow's own link lifetime, when it sets one.
            expires_at: wf
                .settings
                .link_ttl()
                .map_or(self.expires_at, |ttl| self.now + ttl),
        }
    }
}

/// The session a person's link names. A deleted session is still answered, so that its page can
/// say the link has ended rather than that it never existed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkTarget {
    pub app_id: AppId,
    pub session_id: SessionId,
    pub deleted: bool,
}

/// Everything needed to decide about a session.
#[derive(Debug, Clone)]
pub struct SessionBundle {
    pub session: Session,
    pub environment: Environment,
    /// The brand shown in emails: the application's `email_brand`, else its name.
    pub app_name: String,
    pub email_sender_name: Option<String>,
    /// Origins allowed to frame the person's page (`vouch apps update --allowed-domains`).
    pub allowed_domains: Vec<String>,
    pub workflow: std::sync::Arc<WorkflowRecord>,
    pub attempts: Vec<Attempt>,
    pub reviews: Vec<Review>,
    /// The files the person's page captured, oldest first (read with the rest, in one round).
    pub media: Vec<MediaRecord>,
}

/// Decides, from the current state, what to write: a core function. `Ok(None)` writes nothing;
/// a rejection writes nothing and is answered as `Modified::Rejected`.
pub type Decide = Box<dyn FnOnce(&SessionState) -> Result<Option<SessionChange>, Rejection> + Send>;

/// The outcome of `Store::modify_session`.
#[derive(Debug, Clone, PartialEq)]
pub enum Modified {
    /// No such live session in the application.
    NotFound,
    /// The decision wrote nothing.
    Unchanged,
    /// The decision refused the command; nothing was written.
    Rejected(Rejection),
    Applied,
    /// The idempotency key was used before: its stored answer.
    Replayed {
        status_code: u16,
        body: Value,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxEvent {
    pub seq: i64,
    pub event_id: EventId,
    pub app_id: AppId,
    pub session_id: SessionId,
    pub session_kind: WorkflowKind,
    pub event_type: EventType,
    pub status: SessionStatus,
    pub previous_status: Option<SessionStatus>,
    pub resubmit_info: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub dropped: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmailJob {
    pub id: Uuid,
    pub app_id: AppId,
    pub session_id: SessionId,
    pub review_uuid: Uuid,
    pub kind: EmailKind,
    pub status: SessionStatus,
    pub recipient: Option<String>,
    pub language: String,
    pub payload: Value,
    pub state: vouch_core::delivery::EmailState,
    pub not_sent_reason: Option<NotSentReason>,
    pub message_id: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A lifecycle timer that has come due for a session.
#[derive(Debug, Clone, PartialEq)]
pub struct DueTransition {
    pub session: Session,
    pub to: SessionStatus,
}

/// Thresholds for the lifecycle scheduler's scan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LifecycleQuery {
    pub now: DateTime<Utc>,
    /// `Not Started` sessions created before this expire.
    pub not_started_before: DateTime<Utc>,
    /// `In Progress`/`Resubmitted` sessions without activity since this are abandoned.
    pub idle_before: DateTime<Utc>,
    pub limit: i64,
}

/// An `Idempotency-Key` scoped to its application, with a fingerprint of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdemKey {
    pub app_id: AppId,
    pub key: String,
    pub fingerprint: String,
    pub now: DateTime<Utc>,
}

/// Records the response of an idempotent write in the same transaction as the write.
pub struct Idem<T> {
    pub key: IdemKey,
    pub status_code: u16,
    pub render: Box<dyn FnOnce(&T) -> Value + Send>,
}

/// The outcome of an idempotent write: done now, or replayed from an earlier request.
#[derive(Debug, Clone, PartialEq)]
pub enum Written<T> {
    Fresh(T),
    Replayed { status_code: u16, body: Value },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindFilter {
    User,
    Business,
    All,
}

#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub kind: Option<KindFilter>,
    pub statuses: Vec<SessionStatus>,
    pub vendor_data: Option<String>,
    pub workflow_ids: Vec<WorkflowId>,
    pub country: Option<String>,
    /// Inclusive `YYYY-MM-DD` bounds on `created_at`.
    pub date_from: Option<chrono::NaiveDate>,
    pub date_to: Option<chrono::NaiveDate>,
    /// Exact inclusive bounds on `created_at` (RFC 3339 date-times in the query).
    pub time_from: Option<DateTime<Utc>>,
    pub time_to: Option<DateTime<Utc>>,
    /// Prefix of `vendor_data` or of the name read from the document.
    pub search: Option<String>,
    /// The session of this number (the console's search).
    pub number: Option<i64>,
    /// Numbers above / below this one (the console's next and previous session).
    pub after_number: Option<i64>,
    pub before_number: Option<i64>,
    /// The page only: the count answered is the page's length (no counting of every match).
    pub no_count: bool,
    /// Oldest first (the console's queue) instead of newest first.
    pub oldest_first: bool,
    /// Claimed in the console at that time by that user (`Some`), or by nobody (`None`).
    pub claimed: Option<(Option<uuid::Uuid>, DateTime<Utc>)>,
}

/// One stored file the person captured (`vouch_core::engine::NewMedia` once written).
#[derive(Debug, Clone, PartialEq)]
pub struct MediaRecord {
    pub id: vouch_core::MediaId,
    pub session_id: SessionId,
    pub node_id: String,
    pub slot: vouch_core::engine::Slot,
    pub media_type: vouch_core::media::MediaType,
    pub bytes: i64,
    pub width: i64,
    pub height: i64,
    pub sha256: String,
    pub created_at: DateTime<Utc>,
}

/// A submitted step leased to the runner that sends it to its engine.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineJob {
    pub id: vouch_core::EngineJobId,
    pub app_id: AppId,
    pub session_id: SessionId,
    pub node_id: String,
    pub feature: vouch_core::Feature,
    pub engine: vouch_core::engine::Engine,
    pub input: Value,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
}

/// A sandbox session's plan: its scenario and the outcomes armed for its steps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SandboxPlan {
    pub scenario: Option<String>,
    /// node id -> `{"status", "data", "warnings"}`.
    pub arms: serde_json::Map<String, Value>,
}
