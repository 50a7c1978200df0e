//! Email previews (§6): what update-status would send, without changing or sending anything,
//! with a token binding it to those steps, that recipient and that language.

use std::sync::Arc;
use vouch_core::{AppId, SessionId};

use serde_json::{Map, Value};
use vouch_core::email_plan::{claims, plan, EmailPlan, Mailing};
use vouch_core::preview::issue;
use vouch_core::update_status::{decide, Outcome, UpdateContext};
use vouch_core::Rejection;
use vouch_store::{SessionState, Store};

use super::Failure;

pub struct PreviewRequest {
    pub app_id: AppId,
    pub session_id: SessionId,
    /// The update-status body to preview (`new_status` set by the endpoint).
    pub body: Value,
    pub public_url: String,
    pub send_in_sandbox: bool,
    pub key: Arc<Vec<u8>>,
}

/// The email update-status would send, and the token that binds a later change to it.
pub struct Preview {
    pub plan: EmailPlan,
    pub token: String,
}

pub async fn preview(store: &dyn Store, r: PreviewRequest) -> Result<Preview, Failure> {
    let b = store
        .session_bundle(r.app_id, r.session_id)
        .await?
        .ok_or(Rejection::NotFound)?;
    let state = SessionState {
        session: b.session,
        environment: b.environment,
        app_name: b.app_name,
        email_sender_name: b.email_sender_name,
        workflow: b.workflow,
        attempts: b.attempts,
        last_backend_resubmission: None,
    };
    // The preview shows the email, so it asks for one whenever a recipient is given.
    let mut body: Map<String, Value> = r.body.as_object().cloned().unwrap_or_default();
    let recipient = body
        .get("email_address")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
        .map(String::from);
    body.insert("send_email".into(), Value::Bool(recipient.is_some()));
    let now = crate::clock::now();
    let outcome = decide(
        &UpdateContext {
            status: state.session.status,
            workflow: &state.workflow.spec,
            attempts: &state.attempts,
            now,
            last_backend_resubmission: None,
        },
        &Value::Object(body.clone()),
    )?;
    let Outcome::Change(c) = outcome else {
        return Err(Rejection::SameStatus.into());
    };
    let language = body
        .get("email_language")
        .and_then(Value::as_str)
        .unwrap_or("en");
    let mailing = Mailing {
        public_url: &r.public_url,
        send_in_sandbox: r.send_in_sandbox,
    };
    let p = plan(&state, mailing, &c, recipient.as_deref(), language);
    let token = issue(&r.key, &claims(state.session.id, &c, &p, now));
    Ok(Preview { plan: p, token })
}
