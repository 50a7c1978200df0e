//! `PATCH /v3/session/{id}/update-status/` (§4.6): load, decide in core, apply atomically.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use uuid::Uuid;
use vouch_core::attempt::ActorType;
use vouch_core::preview::{verify, PreviewError};
use vouch_core::review::NewReview;
use vouch_core::update_status::{decide, Change, Outcome, UpdateContext};
use vouch_store::{NewEmailJob, SessionChange, SessionState, Store};

use super::email_plan::{claims, plan, Sender};

use super::changes::{set_kyc_expiry, status_event};
use super::{fresh, modify};
use crate::http::error::ApiError;

pub struct UpdateStatus {
    pub app_id: Uuid,
    pub session_id: Uuid,
    pub body: Value,
    pub actor_display: String,
    pub public_url: String,
    pub link_ttl: Duration,
    /// Send emails for sandbox applications too.
    pub send_in_sandbox: bool,
    /// `email_preview_token` of the request, checked against the email the change would send.
    pub preview_token: Option<String>,
    pub preview_key: std::sync::Arc<Vec<u8>>,
}

/// The email job of a change that asked for one: rendered now, so what is sent is exactly what
/// a preview showed. Backend-only resubmissions and sandbox applications record it as not sent.
fn email_job(
    b: &SessionState,
    c: &Change,
    review_uuid: Uuid,
    u: &UpdateStatus,
) -> Option<NewEmailJob> {
    let e = c.email.as_ref()?;
    let p = plan(&sender(b, u), c, Some(&e.address), &e.language);
    let id = Uuid::now_v7();
    Some(NewEmailJob {
        id,
        review_uuid,
        kind: p.kind,
        status: c.to,
        recipient: e.address.clone(),
        language: e.language.clone(),
        payload: json!({
            "subject": p.content.subject,
            "text": p.content.text,
            "html": p.content.html,
            "language": p.content.language,
            "from_name": b.email_sender_name,
        }),
        message_id: format!("<{id}@vouch>"),
        not_sent_reason: p.not_sent_reason.map(String::from),
    })
}

fn sender<'a>(b: &'a SessionState, u: &'a UpdateStatus) -> Sender<'a> {
    Sender {
        session: &b.session,
        environment: b.environment,
        app_name: &b.app_name,
        public_url: &u.public_url,
        send_in_sandbox: u.send_in_sandbox,
    }
}

/// A quoted preview token must describe exactly the email this change would send.
fn check_preview(
    b: &SessionState,
    c: &Change,
    u: &UpdateStatus,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let Some(token) = &u.preview_token else {
        return Ok(());
    };
    let (recipient, language) = match &c.email {
        Some(e) => (Some(e.address.as_str()), e.language.as_str()),
        None => (None, "en"),
    };
    let p = plan(&sender(b, u), c, recipient, language);
    let expected = claims(b.session.id, c, &p, now);
    verify(&u.preview_key, token, &expected, now).map_err(|e| {
        let (code, detail) = match e {
            PreviewError::Expired => (
                "preview_expired",
                "The email preview is older than 15 minutes; preview again.",
            ),
            PreviewError::Mismatch => (
                "preview_mismatch",
                "The email preview was for other steps, another recipient or another language.",
            ),
            PreviewError::Malformed | PreviewError::BadSignature => {
                ("preview_invalid", "The email preview token is not valid.")
            }
        };
        ApiError::detail(StatusCode::CONFLICT, code, detail)
    })
}

fn build(b: &SessionState, c: Change, u: &UpdateStatus, now: DateTime<Utc>) -> SessionChange {
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
    change.emails.extend(email_job(b, &c, review_uuid, u));
    change.reviews.push(NewReview {
        uuid: review_uuid,
        activity_type: "STATUS_CHANGE".into(),
        actor_type: ActorType::ApiKey,
        actor_display: u.actor_display.clone(),
        previous_status: Some(c.from),
        new_status: Some(c.to),
        comment: c.comment.clone(),
        metadata,
        created_at: now,
    });
    change.events.push(status_event(c.from, c.to));
    set_kyc_expiry(&mut change, c.to, &b.workflow.spec, &b.attempts, now);
    match c.resubmit {
        Some(r) => {
            // The person redoes the steps through the same link, which must stay valid.
            change.expires_at = Some(s.expires_at.max(now + u.link_ttl));
            change.resubmit_info = Some(Some(r));
        }
        None if s.resubmit_info.is_some() => change.resubmit_info = Some(None),
        None => {}
    }
    change
}

/// Applies the request; `Ok` means answer `200 {"session_id"}` (a same-status no-op included).
pub async fn update_status(store: &dyn Store, u: UpdateStatus) -> Result<(), ApiError> {
    let (app_id, session_id) = (u.app_id, u.session_id);
    let done = modify(store, app_id, session_id, None, move |b| {
        let now = Utc::now();
        let outcome = decide(
            &UpdateContext {
                status: b.session.status,
                workflow: &b.workflow.spec,
                attempts: &b.attempts,
                now,
                last_backend_resubmission: b.last_backend_resubmission,
            },
            &u.body,
        )?;
        Ok(match outcome {
            Outcome::Change(c) => {
                check_preview(b, &c, &u, now)?;
                (Some(build(b, c, &u, now)), ())
            }
            Outcome::NoOp => (None, ()),
        })
    })
    .await?;
    fresh(done)
}
