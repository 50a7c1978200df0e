//! What email a change would send: rendered content, recipient and whether it is sent. Shared
//! by update-status (which queues it) and the previews (which show it), so both are identical.

use chrono::{DateTime, Utc};
use vouch_core::email::{render, Branding, EmailContent, EmailModel, StepLine};
use vouch_core::preview::PreviewClaims;
use vouch_core::session::{Environment, Session};
use vouch_core::update_status::Change;
use vouch_store::EmailKind;

pub struct EmailPlan {
    pub kind: EmailKind,
    pub content: EmailContent,
    pub recipient: Option<String>,
    /// `no_user_action`, `no_recipient` or `sandbox`; `None` when it will be sent.
    pub not_sent_reason: Option<&'static str>,
    pub requires_user_action: bool,
}

pub struct Sender<'a> {
    pub session: &'a Session,
    pub environment: Environment,
    pub app_name: &'a str,
    pub public_url: &'a str,
    pub send_in_sandbox: bool,
}

pub fn plan(s: &Sender<'_>, c: &Change, recipient: Option<&str>, language: &str) -> EmailPlan {
    let (kind, model) = match &c.resubmit {
        Some(r) => (
            EmailKind::Resubmission,
            EmailModel::Resubmission {
                link: s.session.url(s.public_url),
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
            brand_name: s.app_name.to_string(),
        },
    );
    let requires_user_action = c.resubmit.is_some() && !c.backend_only;
    let not_sent_reason = if c.backend_only {
        Some("no_user_action")
    } else if recipient.is_none() {
        Some("no_recipient")
    } else if s.environment == Environment::Sandbox && !s.send_in_sandbox {
        Some("sandbox")
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

/// What a preview token binds: the steps, the recipient and the language.
pub fn claims(
    session_id: uuid::Uuid,
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
