//! A decided change to one session: what the core functions return and the store writes in one
//! transaction, and the state they decide from.

use crate::ids::{AppId, EventId, SessionId};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::attempt::Attempt;
use crate::lifecycle::kyc_expires_at;
use crate::progress::ResubmitInfo;
use crate::review::NewReview;
use crate::session::{Environment, Session};
use crate::workflow::{WorkflowRecord, WorkflowSpec};
use crate::{SessionStatus, WorkflowKind};

/// The events a session change announces; what webhook destinations subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventType {
    /// The session's status changed.
    #[serde(rename = "status.updated")]
    StatusUpdated,
    /// The decision changed while the status stayed (a result recorded after the decision).
    #[serde(rename = "data.updated")]
    DataUpdated,
}

impl EventType {
    pub const ALL: [EventType; 2] = [EventType::StatusUpdated, EventType::DataUpdated];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::StatusUpdated => "status.updated",
            EventType::DataUpdated => "data.updated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// An event name a destination may subscribe to, as Didit documents them: the generic
/// `status.updated` and `data.updated`, the same for one kind of session only
/// (`user.status.updated`, `business.data.updated`, …), and `activity.created` (accepted;
/// vouch records no activity events, so it never fires).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Subscription {
    #[serde(rename = "status.updated")]
    StatusUpdated,
    #[serde(rename = "data.updated")]
    DataUpdated,
    #[serde(rename = "user.status.updated")]
    UserStatusUpdated,
    #[serde(rename = "user.data.updated")]
    UserDataUpdated,
    #[serde(rename = "business.status.updated")]
    BusinessStatusUpdated,
    #[serde(rename = "business.data.updated")]
    BusinessDataUpdated,
    #[serde(rename = "activity.created")]
    ActivityCreated,
}

impl Subscription {
    pub const ALL: [Subscription; 7] = [
        Subscription::StatusUpdated,
        Subscription::DataUpdated,
        Subscription::UserStatusUpdated,
        Subscription::UserDataUpdated,
        Subscription::BusinessStatusUpdated,
        Subscription::BusinessDataUpdated,
        Subscription::ActivityCreated,
    ];

    /// The events it names, and the kind of session they must be of (`None`: any).
    fn names(self) -> Option<(EventType, Option<WorkflowKind>)> {
        use Subscription::*;
        match self {
            StatusUpdated => Some((EventType::StatusUpdated, None)),
            DataUpdated => Some((EventType::DataUpdated, None)),
            UserStatusUpdated => Some((EventType::StatusUpdated, Some(WorkflowKind::User))),
            UserDataUpdated => Some((EventType::DataUpdated, Some(WorkflowKind::User))),
            BusinessStatusUpdated => Some((EventType::StatusUpdated, Some(WorkflowKind::Business))),
            BusinessDataUpdated => Some((EventType::DataUpdated, Some(WorkflowKind::Business))),
            ActivityCreated => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        use Subscription::*;
        match self {
            StatusUpdated => "status.updated",
            DataUpdated => "data.updated",
            UserStatusUpdated => "user.status.updated",
            UserDataUpdated => "user.data.updated",
            BusinessStatusUpdated => "business.status.updated",
            BusinessDataUpdated => "business.data.updated",
            ActivityCreated => "activity.created",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether an event of a session of `kind` is one this subscription names.
    pub fn matches(self, event: EventType, kind: WorkflowKind) -> bool {
        self.names()
            .is_some_and(|(e, k)| e == event && k.is_none_or(|k| k == kind))
    }
}

/// Whether a stored subscription name names an event of a session of `kind`.
pub fn subscription_matches(subscription: &str, event: EventType, kind: WorkflowKind) -> bool {
    Subscription::parse(subscription).is_some_and(|s| s.matches(event, kind))
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an email was recorded but deliberately not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotSentReason {
    /// A backend-only resubmission: the person has nothing to do.
    NoUserAction,
    /// No address was given and the session has none.
    NoRecipient,
    /// A sandbox application, and the server does not send sandbox email.
    Sandbox,
    /// No SMTP server is configured.
    SmtpNotConfigured,
}

impl NotSentReason {
    pub const ALL: [NotSentReason; 4] = [
        NotSentReason::NoUserAction,
        NotSentReason::NoRecipient,
        NotSentReason::Sandbox,
        NotSentReason::SmtpNotConfigured,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotSentReason::NoUserAction => "no_user_action",
            NotSentReason::NoRecipient => "no_recipient",
            NotSentReason::Sandbox => "sandbox",
            NotSentReason::SmtpNotConfigured => "smtp_not_configured",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
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
    pub workflow: Arc<WorkflowRecord>,
    pub attempts: Vec<Attempt>,
    /// When the last backend-only resubmission was requested (from the review trail).
    pub last_backend_resubmission: Option<DateTime<Utc>>,
}

/// A new outbox event announcing a change.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_id: EventId,
    pub event_type: EventType,
    pub status: SessionStatus,
    pub previous_status: Option<SessionStatus>,
}

/// A decided change to one session, applied atomically with its trail and events.
#[derive(Debug, Clone)]
pub struct SessionChange {
    pub app_id: AppId,
    pub session_id: SessionId,
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
    /// Files the person's page captured for this change.
    pub media: Vec<crate::engine::NewMedia>,
    /// Steps handed to verification engines.
    pub engine_jobs: Vec<crate::engine::NewEngineJob>,
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
            media: Vec::new(),
            engine_jobs: Vec::new(),
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
    pub not_sent_reason: Option<NotSentReason>,
}

impl EmailKind {
    pub fn parse(s: &str) -> Option<Self> {
        [EmailKind::Decision, EmailKind::Resubmission]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

impl NewEvent {
    /// A `status.updated` event for a move from `from` to `to`.
    pub fn status_updated(from: SessionStatus, to: SessionStatus) -> Self {
        Self {
            event_id: EventId::generate(),
            event_type: EventType::StatusUpdated,
            status: to,
            previous_status: Some(from),
        }
    }
}

impl SessionChange {
    /// Adds an automatic move from `from` to `to`: a SYSTEM review row and its event.
    pub fn push_system_transition(
        &mut self,
        from: SessionStatus,
        to: SessionStatus,
        now: DateTime<Utc>,
    ) {
        self.reviews.push(NewReview::system_status_change(
            Uuid::now_v7(),
            from,
            to,
            now,
        ));
        self.events.push(NewEvent::status_updated(from, to));
    }

    /// Adds each automatic move of `steps`, starting from `from`, and sets the KYC expiry of
    /// the last one.
    pub fn push_system_transitions(
        &mut self,
        from: SessionStatus,
        steps: &[SessionStatus],
        workflow: &WorkflowSpec,
        attempts: &[Attempt],
        now: DateTime<Utc>,
    ) {
        let mut at = from;
        for to in steps {
            self.push_system_transition(at, *to, now);
            at = *to;
        }
        if let Some(last) = steps.last() {
            self.set_kyc_expiry(*last, workflow, attempts, now);
        }
    }

    /// A `data.updated` event when the session's data changed outside the flow: a result
    /// recorded on a session that already has a decision keeps the status but changes the
    /// decision object.
    pub fn push_data_updated_if_decided(&mut self, status: SessionStatus, moved: bool) {
        let in_flow = matches!(
            status,
            SessionStatus::NotStarted | SessionStatus::InProgress | SessionStatus::Resubmitted
        );
        if !moved && !in_flow {
            self.events.push(NewEvent {
                event_id: EventId::generate(),
                event_type: EventType::DataUpdated,
                status,
                previous_status: Some(status),
            });
        }
    }

    /// Sets or clears the KYC expiry to match the session's final status `to`.
    pub fn set_kyc_expiry(
        &mut self,
        to: SessionStatus,
        workflow: &WorkflowSpec,
        attempts: &[Attempt],
        now: DateTime<Utc>,
    ) {
        self.kyc_expires_at = Some(if to == SessionStatus::Approved {
            kyc_expires_at(workflow, attempts, now)
        } else {
            None
        });
    }
}

#[cfg(test)]
mod subscription_tests {
    use super::*;

    #[test]
    fn kind_specific_subscriptions_match_only_their_kind() {
        let (user, business) = (WorkflowKind::User, WorkflowKind::Business);
        assert!(subscription_matches(
            "status.updated",
            EventType::StatusUpdated,
            business
        ));
        assert!(subscription_matches(
            "user.status.updated",
            EventType::StatusUpdated,
            user
        ));
        assert!(!subscription_matches(
            "user.status.updated",
            EventType::StatusUpdated,
            business
        ));
        assert!(subscription_matches(
            "business.data.updated",
            EventType::DataUpdated,
            business
        ));
        assert!(!subscription_matches(
            "business.data.updated",
            EventType::StatusUpdated,
            business
        ));
        for e in EventType::ALL {
            assert!(!subscription_matches("activity.created", e, user));
        }
        for sub in Subscription::ALL {
            assert_eq!(Subscription::parse(sub.as_str()), Some(sub));
        }
        assert!(!subscription_matches(
            "session.created",
            EventType::StatusUpdated,
            user
        ));
    }
}
