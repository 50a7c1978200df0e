//! `PATCH /v3/session/{id}/update-status/` as a pure decision (API.md §4.6).
//!
//! The checks run in the contract's order; the first that fails decides the answer.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::attempt::{ActorType, Attempt};
use crate::change::{NewEvent, SessionChange, SessionState};
use crate::contact::is_valid_email;
use crate::email_plan::{self, Mailing};
use crate::errors::FieldErrors;
use crate::feature::FeatureRef;
use crate::preview;
use crate::progress::{ResubmitInfo, ResubmitStep};
use crate::resubmission::{select, NodeRequest, SelectionError};
use crate::review::{ActivityType, NewReview};
use crate::status::SessionStatus;
use crate::workflow::WorkflowSpec;

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

/// A request body that passed schema validation.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateRequest {
    pub target: Target,
    pub comment: Option<String>,
    pub nodes: Vec<NodeRequest>,
    pub send_email: bool,
    pub email_address: Option<String>,
    pub email_language: String,
    /// From a preview: the change must send exactly the email it showed.
    pub email_preview_token: Option<String>,
}

/// The body of update-status as it arrives: what the parser reads and what the OpenAPI
/// document shows, with the constraints `parse_request` enforces. Fields are read as raw JSON
/// so that every field's error is reported at once, in the contract's words.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateStatusBody {
    /// The decision.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true,
        pattern = "^(Approved|Declined|Resubmitted)$", example = "Approved"))]
    pub new_status: Option<Value>,
    /// Shown on the review trail.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 10000))]
    pub comment: Option<Value>,
    /// Steps to redo (Resubmitted only; checked for every target). Omitted, `null` or `[]`:
    /// the failed steps are chosen. A bare node id string also works.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<NodeToResubmit>>))]
    pub nodes_to_resubmit: Option<Value>,
    /// Queue an email to the person (decision, or the link to redo the steps).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<bool>))]
    pub send_email: Option<Value>,
    /// Required when `send_email` is true.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = "email"))]
    pub email_address: Option<Value>,
    /// Default `en`; unsupported languages fall back to `en`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 16))]
    pub email_language: Option<Value>,
    /// From a preview: refused with `409` unless this change sends exactly that email.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub email_preview_token: Option<Value>,
}

/// One step to send back.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeToResubmit {
    #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1))]
    pub node_id: Option<Value>,
    /// A feature of the vocabulary, or one of its aliases (`FACE`, `KYB`, …).
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "OCR"))]
    pub feature: Option<Value>,
    /// Shown to the person.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 1000))]
    pub reason: Option<Value>,
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

fn choice_error(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\" is not a valid choice."),
        other => format!("\"{other}\" is not a valid choice."),
    }
}

fn parse_nodes(v: Option<&Value>, errors: &mut FieldErrors) -> Vec<NodeRequest> {
    let list = match v {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(list)) => list,
        Some(_) => {
            errors.add("nodes_to_resubmit", "Expected a list of items.");
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let key = |f: &str| format!("nodes_to_resubmit[{i}].{f}");
        match entry {
            Value::String(id) if !id.is_empty() => out.push(NodeRequest {
                node_id: id.clone(),
                feature: None,
                reason: None,
            }),
            Value::String(_) => errors.add(key("node_id"), "This field may not be blank."),
            Value::Object(_) => {
                let m = NodeToResubmit::deserialize(entry).unwrap_or_default();
                let node_id = match &m.node_id {
                    Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                    Some(Value::String(_)) => {
                        errors.add(key("node_id"), "This field may not be blank.");
                        None
                    }
                    None | Some(Value::Null) => {
                        errors.add(key("node_id"), "This field is required.");
                        None
                    }
                    Some(_) => {
                        errors.add(key("node_id"), "Not a valid string.");
                        None
                    }
                };
                let feature = match &m.feature {
                    Some(Value::String(s)) => match FeatureRef::parse(s) {
                        Some(f) => Some(f),
                        None => {
                            errors.add(key("feature"), choice_error(&Value::String(s.clone())));
                            None
                        }
                    },
                    None | Some(Value::Null) => {
                        errors.add(key("feature"), "This field is required.");
                        None
                    }
                    Some(other) => {
                        errors.add(key("feature"), choice_error(other));
                        None
                    }
                };
                let reason = match &m.reason {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) if s.chars().count() <= 1000 => Some(s.clone()),
                    Some(Value::String(_)) => {
                        errors.add(
                            key("reason"),
                            "Ensure this field has no more than 1000 characters.",
                        );
                        None
                    }
                    Some(_) => {
                        errors.add(key("reason"), "Not a valid string.");
                        None
                    }
                };
                if let (Some(node_id), Some(feature)) = (node_id, feature) {
                    out.push(NodeRequest {
                        node_id,
                        feature: Some(feature),
                        reason,
                    });
                }
            }
            _ => errors.add(
                format!("nodes_to_resubmit[{i}]"),
                "Expected an object with node_id and feature, or a node id.",
            ),
        }
    }
    out
}

/// Schema validation of the body (check 3).
pub fn parse_request(body: &Value) -> Result<UpdateRequest, FieldErrors> {
    let mut errors = FieldErrors::new();
    if !body.is_object() {
        return Err(FieldErrors::single(
            "non_field_errors",
            "Invalid data. Expected a JSON object.",
        ));
    }
    // Every field is raw JSON, so an object always reads.
    let b = UpdateStatusBody::deserialize(body).unwrap_or_default();
    let target = match b.new_status.as_ref() {
        None | Some(Value::Null) => {
            errors.add("new_status", "This field is required.");
            None
        }
        Some(Value::String(s)) if s == "Approved" => Some(Target::Approved),
        Some(Value::String(s)) if s == "Declined" => Some(Target::Declined),
        Some(Value::String(s)) if s == "Resubmitted" => Some(Target::Resubmitted),
        Some(other) => {
            errors.add("new_status", choice_error(other));
            None
        }
    };
    let comment = match b.comment.as_ref() {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= MAX_COMMENT => Some(s.clone()),
        Some(Value::String(_)) => {
            errors.add(
                "comment",
                format!("Ensure this field has no more than {MAX_COMMENT} characters."),
            );
            None
        }
        Some(_) => {
            errors.add("comment", "Not a valid string.");
            None
        }
    };
    let nodes = parse_nodes(b.nodes_to_resubmit.as_ref(), &mut errors);
    let send_email = match b.send_email.as_ref() {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.add("send_email", "Must be a valid boolean.");
            false
        }
    };
    let email_address = match b.email_address.as_ref() {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) if is_valid_email(s) => Some(s.clone()),
        Some(_) => {
            errors.add("email_address", "Enter a valid email address.");
            None
        }
    };
    let email_language = match b.email_language.as_ref() {
        None | Some(Value::Null) => "en".to_string(),
        Some(Value::String(s)) if s.chars().count() <= 16 => s.clone(),
        Some(_) => {
            errors.add(
                "email_language",
                "Enter a language code of at most 16 characters.",
            );
            "en".to_string()
        }
    };
    let email_preview_token = match b.email_preview_token {
        None => None,
        Some(Value::String(t)) => Some(t),
        Some(_) => {
            errors.add("email_preview_token", "Not a valid string.");
            None
        }
    };
    errors.into_result()?;
    if send_email && email_address.is_none() {
        return Err(FieldErrors::single(
            "email_address",
            "This field is required when send_email is true.",
        ));
    }
    let Some(target) = target else {
        return Err(FieldErrors::single("new_status", "This field is required."));
    };
    Ok(UpdateRequest {
        target,
        comment,
        nodes,
        send_email,
        email_address,
        email_language,
        email_preview_token,
    })
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
