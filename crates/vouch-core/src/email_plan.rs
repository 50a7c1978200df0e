//! What email a change would send: rendered content, recipient and whether it is sent. Shared
//! by update-status (which queues it) and the previews (which show it), so both are identical.

use crate::ids::SessionId;
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::change::{EmailKind, NewEmailJob, NotSentReason, SessionState};
use crate::email::{render, Branding, EmailContent, EmailModel, StepLine};
use crate::preview::PreviewClaims;
use crate::session::Environment;
use crate::update_status::Change;

pub struct EmailPlan {
    pub kind: EmailKind,
    pub content: EmailContent,
    pub recipient: Option<String>,
    /// `None` when it will be sent.
    pub not_sent_reason: Option<NotSentReason>,
    pub requires_user_action: bool,
}

/// Where the email's link points and whether sandbox email is sent: the server's settings.
#[derive(Debug, Clone, Copy)]
pub struct Mailing<'a> {
    pub public_url: &'a str,
    pub send_in_sandbox: bool,
}

pub fn plan(
    b: &SessionState,
    m: Mailing<'_>,
    c: &Change,
    recipient: Option<&str>,
    language: &str,
) -> EmailPlan {
    let (kind, model) = match &c.resubmit {
        Some(r) => (
            EmailKind::Resubmission,
            EmailModel::Resubmission {
                link: b.session.url(m.public_url),
                steps: r
                    .steps
                    .iter()
                    .map(|st| StepLine {
                        feature: st.feature,
                        reason: st.reason.clone(),
                    })
                    .collect(),
            },
        ),
        None => (EmailKind::Decision, EmailModel::Decision { status: c.to }),
    };
    let content = render(
        &model,
        language,
        &Branding {
            brand_name: b.app_name.clone(),
        },
    );
    let requires_user_action = c.resubmit.is_some() && !c.backend_only;
    let not_sent_reason = if c.backend_only {
        Some(NotSentReason::NoUserAction)
    } else if recipient.is_none() {
        Some(NotSentReason::NoRecipient)
    } else if b.environment == Environment::Sandbox && !m.send_in_sandbox {
        Some(NotSentReason::Sandbox)
    } else {
        None
    };
    EmailPlan {
        kind,
        content,
        recipient: recipient.map(String::from),
        not_sent_reason,
        requires_user_action,
    }
}

/// The email job of a change that asked for one, rendered now so that what is sent is exactly
/// what a preview showed. Backend-only resubmissions and sandbox applications record it as not
/// sent.
pub fn job(b: &SessionState, m: Mailing<'_>, c: &Change, review_uuid: Uuid) -> Option<NewEmailJob> {
    let e = c.email.as_ref()?;
    let p = plan(b, m, c, Some(&e.address), &e.language);
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
        not_sent_reason: p.not_sent_reason,
    })
}

/// What a preview token binds: the steps, the recipient and the language.
pub fn claims(
    session_id: SessionId,
    c: &Change,
    p: &EmailPlan,
    now: DateTime<Utc>,
) -> PreviewClaims {
    PreviewClaims {
        session_id,
        status: c.to.as_str().to_string(),
        steps: c
            .resubmit
            .iter()
            .flat_map(|r| {
                r.steps
                    .iter()
                    .map(|st| format!("{}: {}", st.node_id, st.reason))
            })
            .collect(),
        recipient: p.recipient.clone(),
        language: p.content.language.to_string(),
        issued_at: now.timestamp(),
    }
}
