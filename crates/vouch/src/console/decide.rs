//! The decision form: approve, decline, or resubmit chosen steps (each with its reason),
//! optionally with the email to the person, previewed first; under four-eyes it is staged for a
//! second reviewer instead. Every decision goes through update-status's use case.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::Duration;
use serde_json::{json, Value};
use vouch_core::attempt::ActorType;
use vouch_core::console::Role;
use vouch_core::session::Session;
use vouch_core::workflow::WorkflowSpec;
use vouch_core::SessionId;
use vouch_store::{SessionBundle, Staged};

use super::session::{find, render, text, EmailPreview, Shown};
use super::{csrf_ok, forbidden_form, message, unavailable, Deciding, Reviewer};
use crate::service::preview::{preview, PreviewRequest};
use crate::service::update_status::{update_status, UpdateStatus};
use crate::service::Failure;
use crate::state::AppState;

/// The decision form as it was filled in.
#[derive(Debug, Default, Clone)]
pub struct Choices {
    pub csrf: String,
    pub version: i64,
    pub new_status: String,
    pub comment: String,
    /// Steps chosen to be redone (Resubmitted).
    pub resubmit: Vec<String>,
    pub reasons: Vec<(String, String)>,
    pub send_email: bool,
    pub email_address: String,
    pub email_language: String,
    /// From a preview: the email the change must send.
    pub preview_token: String,
    /// `preview` or `decide`.
    pub action: String,
}

impl Choices {
    pub fn parse(fields: Vec<(String, String)>) -> Choices {
        let mut c = Choices {
            version: -1,
            ..Choices::default()
        };
        for (k, v) in fields {
            match k.as_str() {
                "csrf" => c.csrf = v,
                "version" => c.version = v.parse().unwrap_or(-1),
                "new_status" => c.new_status = v,
                "comment" => c.comment = v,
                "resubmit" => c.resubmit.push(v),
                "send_email" => c.send_email = true,
                "email_address" => c.email_address = v.trim().to_string(),
                "email_language" => c.email_language = v,
                "email_preview_token" => c.preview_token = v,
                "action" => c.action = v,
                _ => {
                    if let Some(node) = k.strip_prefix("reason_") {
                        c.reasons.push((node.to_string(), v));
                    }
                }
            }
        }
        c
    }

    pub fn reason(&self, node: &str) -> String {
        self.reasons
            .iter()
            .find(|(n, _)| n == node)
            .map(|(_, r)| r.trim().to_string())
            .unwrap_or_default()
    }

    /// The update-status body these choices make on this workflow.
    pub fn body(&self, workflow: &WorkflowSpec) -> Value {
        let mut body = json!({ "new_status": self.new_status });
        let comment = self.comment.trim();
        if !comment.is_empty() {
            body["comment"] = json!(comment);
        }
        if self.new_status == "Resubmitted" {
            let nodes: Vec<Value> = self
                .resubmit
                .iter()
                .map(|n| {
                    let feature = workflow.node(n).map(|node| node.feature.name());
                    let mut step = json!({ "node_id": n, "feature": feature });
                    let reason = self.reason(n);
                    if !reason.is_empty() {
                        step["reason"] = json!(reason);
                    }
                    step
                })
                .collect();
            body["nodes_to_resubmit"] = json!(nodes);
        }
        if self.send_email {
            body["send_email"] = json!(true);
            body["email_address"] = json!(self.email_address);
            if !self.email_language.is_empty() {
                body["email_language"] = json!(self.email_language);
            }
            if !self.preview_token.is_empty() {
                body["email_preview_token"] = json!(self.preview_token);
            }
        }
        body
    }

    pub fn is(&self, status: &str) -> bool {
        self.new_status == status
    }
}

/// The words of a refusal, as the API would answer it.
async fn refusal_text(f: Failure) -> String {
    let r = crate::http::error::ApiError::from(f).into_response();
    let bytes = axum::body::to_bytes(r.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    match v.get("detail").and_then(Value::as_str) {
        Some(d) => d.to_string(),
        None => v
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, m)| format!("{k}: {}", text(&m[0])))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// Applies an update-status body as this reviewer (or, under four-eyes, as both), on the
/// session version the page showed.
pub async fn apply(
    state: &AppState,
    session: &Session,
    body: Value,
    actor_display: String,
    version: i64,
) -> Result<(), Failure> {
    update_status(
        state.store.as_ref(),
        UpdateStatus {
            app_id: session.app_id,
            session_id: session.id,
            body: Ok(body),
            actor_type: ActorType::ConsoleUser,
            actor_display,
            expected_version: Some(version),
            public_url: state.config.public_url.clone(),
            link_ttl: Duration::from_std(state.config.sessions.link_ttl).unwrap_or(Duration::MAX),
            send_in_sandbox: state.config.mailer.send_in_sandbox,
            preview_key: state.preview_key.clone(),
        },
    )
    .await
}

/// A refused decision: the page again, as it is now, with why (and the form as filled in).
pub async fn refused(
    state: &AppState,
    who: &Reviewer,
    id: SessionId,
    e: Failure,
    form: Choices,
) -> Response {
    let t = who.t;
    let stale = matches!(e, Failure::Rejected(vouch_core::Rejection::Stale));
    let now = match find(state, who, id).await {
        Ok(Some(b)) => b,
        Ok(None) => return message(t, StatusCode::NOT_FOUND, t.not_found),
        Err(r) => return r,
    };
    let (status, error) = if stale {
        (
            StatusCode::CONFLICT,
            t.stale.replace("{status}", now.session.status.as_str()),
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            format!("{} {}", t.refused, refusal_text(e).await),
        )
    };
    let shown = Shown {
        error: Some(error),
        form,
        ..Shown::default()
    };
    render(state, who, &now, status, shown).await
}

/// The session's live claim, if someone other than `who` holds it and `who` is no admin.
pub async fn held_by_other(
    state: &AppState,
    who: &Reviewer,
    id: SessionId,
) -> Result<Option<String>, Response> {
    let claims = state
        .store
        .claims(vec![id], crate::clock::now())
        .await
        .map_err(|e| unavailable(who.t, &e))?;
    Ok(claims
        .into_iter()
        .find(|c| c.user_id != who.user.id && who.user.role != Role::Admin)
        .map(|c| c.email))
}

pub async fn decide(
    State(state): State<AppState>,
    Deciding { who, id, found }: Deciding,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let t = who.t;
    let form = Choices::parse(fields);
    if !csrf_ok(&who.login, Some(&form.csrf)) {
        return forbidden_form(t);
    }
    if !who.user.role.may_decide() {
        return message(t, StatusCode::FORBIDDEN, t.viewer_cannot_decide);
    }
    let (Some(id), Some((session, desk))) = (id, found) else {
        return message(t, StatusCode::NOT_FOUND, t.not_found);
    };
    let store = &state.store;
    if let Some(c) = desk
        .claim
        .as_ref()
        .filter(|c| c.user_id != who.user.id && who.user.role != Role::Admin)
    {
        let words = t.claimed_by_other.replace("{email}", &c.email);
        return message(t, StatusCode::FORBIDDEN, &words);
    }
    if form.action == "preview" {
        return match find(&state, &who, id).await {
            Ok(Some(b)) => show_preview(&state, &who, &b, form).await,
            Ok(None) => message(t, StatusCode::NOT_FOUND, t.not_found),
            Err(r) => r,
        };
    }
    let workflow = if form.is("Resubmitted") {
        match store
            .get_workflow_version(session.workflow_id, session.workflow_version)
            .await
        {
            Ok(Some(w)) => w.spec,
            Ok(None) => return message(t, StatusCode::NOT_FOUND, t.not_found),
            Err(e) => return unavailable(t, &e),
        }
    } else {
        WorkflowSpec {
            kind: session.kind,
            nodes: Vec::new(),
        }
    };
    if desk.four_eyes {
        if form.version != session.version {
            return refused(&state, &who, id, vouch_core::Rejection::Stale.into(), form).await;
        }
        let staged = Staged {
            session_id: id,
            user_id: who.user.id,
            email: who.user.email.clone(),
            body: form.body(&workflow),
            version: form.version,
            staged_at: crate::clock::now(),
            rejected_by: None,
            note: None,
        };
        if let Err(e) = store.stage_decision(staged).await {
            return unavailable(t, &e);
        }
        return Redirect::to(&format!("/console/sessions/{id}?staged=1")).into_response();
    }
    let body = form.body(&workflow);
    match apply(&state, &session, body, who.user.email.clone(), form.version).await {
        Ok(()) => {
            // The decision ends the claim and any staged decision (kept from before four-eyes
            // was turned off).
            if desk.claim.is_some() {
                let _ = store.release_claim(id, None).await;
            }
            if desk.staged {
                let _ = store.drop_staged(id).await;
            }
            Redirect::to(&format!("/console/sessions/{id}?decided=1")).into_response()
        }
        Err(e) => refused(&state, &who, id, e, form).await,
    }
}

/// The email the decision would send, shown above the same form (now carrying the preview's
/// token, so that what is sent is what was shown).
async fn show_preview(
    state: &AppState,
    who: &Reviewer,
    b: &SessionBundle,
    mut form: Choices,
) -> Response {
    let mut body = form.body(&b.workflow.spec);
    if let Some(o) = body.as_object_mut() {
        o.remove("send_email");
        o.remove("email_preview_token");
        if !form.send_email {
            o.remove("email_address");
        }
    }
    let answer = preview(
        state.store.as_ref(),
        PreviewRequest {
            app_id: b.session.app_id,
            session_id: b.session.id,
            body,
            public_url: state.config.public_url.clone(),
            send_in_sandbox: state.config.mailer.send_in_sandbox,
            key: state.preview_key.clone(),
        },
    )
    .await;
    match answer {
        Ok(p) => {
            form.preview_token = p.token;
            let shown = Shown {
                preview: Some(EmailPreview {
                    recipient: p.plan.recipient.unwrap_or_default(),
                    subject: p.plan.content.subject,
                    text: p.plan.content.text,
                    will_be_sent: p.plan.not_sent_reason.is_none(),
                    not_sent_reason: p
                        .plan
                        .not_sent_reason
                        .map(|r| r.as_str().to_string())
                        .unwrap_or_default(),
                }),
                form,
                ..Shown::default()
            };
            render(state, who, b, StatusCode::OK, shown).await
        }
        Err(e) => refused(state, who, b.session.id, e, form).await,
    }
}
