//! `PATCH /v3/session/{id}/update-status/` as a pure decision (API.md §4.6).
//!
//! The checks run in the contract's order; the first that fails decides the answer.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::attempt::{ActorType, Attempt};
use crate::change::{NewEvent, SessionChange, SessionState};
use crate::email_plan::{self, Mailing};
use crate::preview;
use crate::progress::{ResubmitInfo, ResubmitStep};
use crate::resubmission::{select, SelectionError};
use crate::review::{ActivityType, NewReview};
use crate::status::SessionStatus;
use crate::workflow::WorkflowSpec;

mod body;
pub use body::{parse_request, NodeToResubmit, UpdateRequest, UpdateStatusBody};

/// Longest accepted `comment`.
pub const MAX_COMMENT: usize = 10_000;
/// A backend-only resubmission may not be repeated sooner than this.
pub const BACKEND_RESUBMIT_COOLDOWN_SECS: i64 = 30;

/// The targets a reviewer may choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Approved,
    Declined,
    Resubmitted,
}

impl Target {
    pub fn status(self) -> SessionStatus {
        match self {
            Target::Approved => SessionStatus::Approved,
            Target::Declined => SessionStatus::Declined,
            Target::Resubmitted => SessionStatus::Resubmitted,
        }
    }
}

/// Everything the decision depends on.
pub struct UpdateContext<'a> {
    pub status: SessionStatus,
    pub workflow: &'a WorkflowSpec,
    pub attempts: &'a [Attempt],
    pub now: DateTime<Utc>,
    /// When the last backend-only resubmission of this session was requested, if any.
    pub last_backend_resubmission: Option<DateTime<Utc>>,
}

pub use crate::errors::Rejection;

/// The email to queue with the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailRequest {
    pub address: String,
    pub language: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub from: SessionStatus,
    pub to: SessionStatus,
    pub comment: Option<String>,
    /// Set when the target is Resubmitted.
    pub resubmit: Option<ResubmitInfo>,
    /// Every reopened step is re-run by the engines; the person has nothing to do, so no email
    /// is sent even when one was asked for.
    pub backend_only: bool,
    pub email_asked: bool,
    pub email: Option<EmailRequest>,
    /// The preview token quoted with the request.
    pub preview_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Same status: answer 200 and write nothing.
    NoOp,
    Change(Change),
}

/// Statuses a reviewer may act on.
pub fn is_reviewable(s: SessionStatus) -> bool {
    matches!(
        s,
        SessionStatus::Approved
            | SessionStatus::Declined
            | SessionStatus::InReview
            | SessionStatus::KycExpired
            | SessionStatus::Abandoned
            | SessionStatus::Resubmitted
    )
}

/// Decides an update-status request.
pub fn decide(ctx: &UpdateContext<'_>, body: &Value) -> Result<Outcome, Rejection> {
    if !is_reviewable(ctx.status) {
        return Err(Rejection::WrongCurrentStatus);
    }
    let req = parse_request(body).map_err(Rejection::Fields)?;
    let to = req.target.status();
    if to == ctx.status {
        return match req.target {
            Target::Resubmitted => Err(Rejection::SameStatus),
            _ => Ok(Outcome::NoOp),
        };
    }
    let email = |asked: bool| {
        req.email_address
            .clone()
            .filter(|_| asked)
            .map(|address| EmailRequest {
                address,
                language: req.email_language.clone(),
            })
    };
    if req.target != Target::Resubmitted {
        return Ok(Outcome::Change(Change {
            from: ctx.status,
            to,
            comment: req.comment.clone(),
            resubmit: None,
            backend_only: false,
            email_asked: req.send_email,
            email: email(req.send_email),
            preview_token: req.email_preview_token.clone(),
        }));
    }
    let steps: Vec<ResubmitStep> =
        select(ctx.workflow, ctx.attempts, &req.nodes).map_err(|e| match e {
            SelectionError::Fields(f) => Rejection::Fields(f),
            SelectionError::NothingToResubmit => Rejection::NothingToResubmit,
        })?;
    let backend_only = steps.iter().all(|s| s.feature.is_backend_only());
    if backend_only {
        if let Some(last) = ctx.last_backend_resubmission {
            let elapsed = ctx.now - last;
            let cooldown = Duration::seconds(BACKEND_RESUBMIT_COOLDOWN_SECS);
            if elapsed < cooldown {
                let left = (cooldown - elapsed).num_milliseconds();
                return Err(Rejection::TooSoon {
                    retry_after_secs: ((left + 999) / 1000).max(1),
                });
            }
        }
    }
    let after_seq = ctx.attempts.iter().map(|a| a.seq).max().unwrap_or(0);
    Ok(Outcome::Change(Change {
        from: ctx.status,
        to,
        comment: req.comment.clone(),
        resubmit: Some(ResubmitInfo {
            nodes: steps.iter().map(|s| s.node_id.clone()).collect(),
            steps,
            requested_at: ctx.now,
            after_seq,
        }),
        backend_only,
        email_asked: req.send_email,
        // Asked for, it is recorded even when every step is backend-only (then as not sent).
        email: email(req.send_email),
        preview_token: req.email_preview_token.clone(),
    }))
}

/// Who asks for a status change and under which server settings.
pub struct Reviewer<'a> {
    pub actor_type: ActorType,
    pub actor_display: &'a str,
    pub mailing: Mailing<'a>,
    /// How long a reopened session's link stays valid at least.
    pub link_ttl: Duration,
    /// The key a quoted `email_preview_token` is checked with.
    pub preview_key: &'a [u8],
}

/// update-status as one decision on the loaded state: `Ok(None)` for a same-status no-op,
/// else the change to write (status, review row, event, email job, KYC expiry, link). A body
/// that could not be read (`Err`) is refused after the current status is checked, as a
/// readable one is.
pub fn change(
    b: &SessionState,
    body: Result<&Value, &Rejection>,
    who: &Reviewer<'_>,
    now: DateTime<Utc>,
) -> Result<Option<SessionChange>, Rejection> {
    let body = match body {
        Ok(v) => v,
        Err(_) if !is_reviewable(b.session.status) => return Err(Rejection::WrongCurrentStatus),
        Err(r) => return Err(r.clone()),
    };
    let outcome = decide(
        &UpdateContext {
            status: b.session.status,
            workflow: &b.workflow.spec,
            attempts: &b.attempts,
            now,
            last_backend_resubmission: b.last_backend_resubmission,
        },
        body,
    )?;
    let Outcome::Change(c) = outcome else {
        return Ok(None);
    };
    if let Some(token) = &c.preview_token {
        check_preview(b, &c, who.mailing, token, who.preview_key, now)?;
    }
    Ok(Some(build(b, c, who, now)))
}

/// A quoted preview token must describe exactly the email this change would send.
fn check_preview(
    b: &SessionState,
    c: &Change,
    m: Mailing<'_>,
    token: &str,
    key: &[u8],
    now: DateTime<Utc>,
) -> Result<(), Rejection> {
    let (recipient, language) = match &c.email {
        Some(e) => (Some(e.address.as_str()), e.language.as_str()),
        None => (None, "en"),
    };
    let p = email_plan::plan(b, m, c, recipient, language);
    let expected = email_plan::claims(b.session.id, c, &p, now);
    preview::verify(key, token, &expected, now).map_err(Rejection::Preview)
}

fn build(b: &SessionState, c: Change, who: &Reviewer<'_>, now: DateTime<Utc>) -> SessionChange {
    let s = &b.session;
    let review_uuid = Uuid::now_v7();
    let metadata = json!({
        "nodes_to_resubmit": c.resubmit.as_ref().map(|r| r.nodes.clone()).unwrap_or_default(),
        "send_email": c.email_asked,
        "email_queued": c.email.is_some() && !c.backend_only,
        "backend_only": c.backend_only,
    });
    let mut change = SessionChange {
        status: Some(c.to),
        backend_resubmission: c.backend_only,
        ..SessionChange::for_session(s, now)
    };
    change
        .emails
        .extend(email_plan::job(b, who.mailing, &c, review_uuid));
    change.reviews.push(NewReview {
        uuid: review_uuid,
        activity_type: ActivityType::StatusChange,
        actor_type: who.actor_type,
        actor_display: who.actor_display.to_string(),
        previous_status: Some(c.from),
        new_status: Some(c.to),
        comment: c.comment.clone(),
        metadata,
        created_at: now,
    });
    change.events.push(NewEvent::status_updated(c.from, c.to));
    change.set_kyc_expiry(c.to, &b.workflow.spec, &b.attempts, now);
    match c.resubmit {
        Some(r) => {
            // The person redoes the steps through the same link, which must stay valid.
            change.expires_at = Some(s.expires_at.max(now + who.link_ttl));
            change.resubmit_info = Some(Some(r));
        }
        None if s.resubmit_info.is_some() => change.resubmit_info = Some(None),
        None => {}
    }
    change
}
