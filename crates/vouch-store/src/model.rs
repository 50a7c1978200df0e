//! Row types shared by every backend.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;
use vouch_core::attempt::Attempt;
use vouch_core::progress::ResubmitInfo;
use vouch_core::review::{NewReview, Review};
use vouch_core::scopes::Scopes;
use vouch_core::session::{CallbackMethod, Environment, Session};
use vouch_core::workflow::WorkflowSpec;
use vouch_core::{SessionStatus, WorkflowKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct App {
    pub id: Uuid,
    pub name: String,
    pub mode: Environment,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub id: Uuid,
    pub app_id: Uuid,
    pub name: Option<String>,
    pub key_hash: [u8; 32],
    pub prefix: String,
    pub last4: String,
    pub scopes: Scopes,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkflowStatus {
    Draft,
    Published,
}

impl WorkflowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::Draft => "draft",
            WorkflowStatus::Published => "published",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "draft" => Some(Self::Draft),
            "published" => Some(Self::Published),
            _ => None,
        }
    }
}

/// One version of a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRecord {
    pub id: Uuid,
    pub version: i64,
    pub app_id: Uuid,
    pub label: String,
    pub status: WorkflowStatus,
    pub is_default: bool,
    pub spec: WorkflowSpec,
    pub created_at: DateTime<Utc>,
}

impl WorkflowRecord {
    pub fn kind(&self) -> WorkflowKind {
        self.spec.kind
    }

    /// This version after `u`; a new feature list makes it the next version.
    pub fn updated(&self, u: WorkflowUpdate) -> WorkflowRecord {
        let mut next = self.clone();
        if let Some(label) = u.label {
            next.label = label;
        }
        if let Some(status) = u.status {
            next.status = status;
        }
        if let Some(d) = u.is_default {
            next.is_default = d;
        }
        if let Some(spec) = u.spec {
            next.spec = spec;
            next.version = self.version + 1;
            next.created_at = u.now;
        }
        next
    }
}

#[derive(Debug, Clone)]
pub struct WorkflowUpdate {
    pub app_id: Uuid,
    pub id: Uuid,
    pub label: Option<String>,
    pub status: Option<WorkflowStatus>,
    pub is_default: Option<bool>,
    /// A new feature list: writes a new version.
    pub spec: Option<WorkflowSpec>,
    pub now: DateTime<Utc>,
}

/// A session to create; the store assigns `number` (and reuses an unfinished session when asked).
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: Uuid,
    pub app_id: Uuid,
    pub token: String,
    /// When `None`, the application's default published workflow is used.
    pub workflow_id: Option<Uuid>,
    pub vendor_data: Option<String>,
    pub metadata: Value,
    pub callback: Option<String>,
    pub callback_method: Option<CallbackMethod>,
    pub language: Option<String>,
    pub contact_details: Value,
    pub expected_details: Value,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
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
            expires_at: self.expires_at,
        }
    }
}

/// Everything needed to decide about a session.
#[derive(Debug, Clone)]
pub struct SessionBundle {
    pub session: Session,
    pub environment: Environment,
    /// The brand shown in emails: the application's `email_brand`, else its name.
    pub app_name: String,
    pub email_sender_name: Option<String>,
    pub workflow: std::sync::Arc<WorkflowRecord>,
    pub attempts: Vec<Attempt>,
    pub reviews: Vec<Review>,
}

/// What a read-decide-write needs: the session, its pinned workflow and its attempts.
#[derive(Debug, Clone)]
pub struct SessionState {
    pub session: Session,
    pub environment: Environment,
    /// The brand shown in emails: the application's `email_brand`, else its name.
    pub app_name: String,
    /// The application's sender display name for emails, if it overrides the server's.
    pub email_sender_name: Option<String>,
    pub workflow: std::sync::Arc<WorkflowRecord>,
    pub attempts: Vec<Attempt>,
    /// When the last backend-only resubmission was requested (from the review trail).
    pub last_backend_resubmission: Option<DateTime<Utc>>,
}

/// Decides, from the current state, what to write; `None` writes nothing.
pub type Decide = Box<dyn FnOnce(&SessionState) -> Option<SessionChange> + Send>;

/// The outcome of `Store::modify_session`.
#[derive(Debug, Clone, PartialEq)]
pub enum Modified {
    /// No such live session in the application.
    NotFound,
    /// The decision wrote nothing.
    Unchanged,
    Applied,
    /// The idempotency key was used before: its stored answer.
    Replayed {
        status_code: u16,
        body: Value,
    },
}

/// A new outbox event announcing a change.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub status: SessionStatus,
    pub previous_status: Option<SessionStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxEvent {
    pub seq: i64,
    pub event_id: Uuid,
    pub app_id: Uuid,
    pub session_id: Uuid,
    pub session_kind: WorkflowKind,
    pub event_type: String,
    pub status: SessionStatus,
    pub previous_status: Option<SessionStatus>,
    pub resubmit_info: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub dropped: bool,
}

/// A decided change to one session, applied atomically with its trail and events.
#[derive(Debug, Clone)]
pub struct SessionChange {
    pub app_id: Uuid,
    pub session_id: Uuid,
    pub kind: WorkflowKind,
    pub expected_version: i64,
    pub now: DateTime<Utc>,
    pub status: Option<SessionStatus>,
    /// `Some(None)` clears it.
    pub resubmit_info: Option<Option<ResubmitInfo>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Values copied from OCR results for list filters.
    pub country: Option<String>,
    pub full_name: Option<String>,
    /// When an Approved session turns Kyc Expired; `Some(None)` clears it.
    pub kyc_expires_at: Option<Option<DateTime<Utc>>>,
    /// Records a backend-only resubmission requested now.
    pub backend_resubmission: bool,
    pub attempts: Vec<Attempt>,
    pub reviews: Vec<NewReview>,
    pub events: Vec<NewEvent>,
    pub emails: Vec<NewEmailJob>,
}

impl SessionChange {
    /// A change to `session` that writes nothing yet; fill in what happens.
    pub fn for_session(session: &Session, now: DateTime<Utc>) -> Self {
        Self {
            app_id: session.app_id,
            session_id: session.id,
            kind: session.kind,
            expected_version: session.version,
            now,
            status: None,
            resubmit_info: None,
            expires_at: None,
            country: None,
            full_name: None,
            kyc_expires_at: None,
            backend_resubmission: false,
            attempts: Vec::new(),
            reviews: Vec::new(),
            events: Vec::new(),
            emails: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailKind {
    Decision,
    Resubmission,
}

impl EmailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailKind::Decision => "decision",
            EmailKind::Resubmission => "resubmission",
        }
    }
}

/// An email to the person, queued with the change that asks for it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEmailJob {
    pub id: Uuid,
    /// The review row of the change (links the email to the trail).
    pub review_uuid: Uuid,
    pub kind: EmailKind,
    pub status: SessionStatus,
    pub recipient: String,
    pub language: String,
    /// The rendered email: `{"subject", "text", "html", "language"}`, sent exactly as stored.
    pub payload: Value,
    /// One Message-ID for every try of this email.
    pub message_id: String,
    /// Recorded but deliberately not sent (`no_user_action`, `sandbox`).
    pub not_sent_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmailJob {
    pub id: Uuid,
    pub app_id: Uuid,
    pub session_id: Uuid,
    pub review_uuid: Uuid,
    pub kind: EmailKind,
    pub status: SessionStatus,
    pub recipient: Option<String>,
    pub language: String,
    pub payload: Value,
    pub state: String,
    pub not_sent_reason: Option<String>,
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
    pub app_id: Uuid,
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
    pub workflow_ids: Vec<Uuid>,
    pub country: Option<String>,
    /// Inclusive `YYYY-MM-DD` bounds on `created_at`.
    pub date_from: Option<chrono::NaiveDate>,
    pub date_to: Option<chrono::NaiveDate>,
    /// Prefix of `vendor_data` or of the name read from the document.
    pub search: Option<String>,
}
