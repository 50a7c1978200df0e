//! One session: its header, steps and review trail, and the decision form.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::Duration;
use serde::Deserialize;
use serde_json::{json, Value};
use vouch_core::attempt::ActorType;
use vouch_core::SessionId;
use vouch_store::SessionBundle;

use super::lang::Text;
use super::{csrf_ok, forbidden_form, html, message, unavailable, Reviewer};
use crate::service::update_status::{update_status, UpdateStatus};
use crate::service::Failure;
use crate::state::AppState;

pub struct Step {
    pub node_id: String,
    pub name: String,
    pub status: String,
    pub fields: Vec<(String, String)>,
    pub warnings: Vec<String>,
}

pub struct TrailRow {
    pub at: String,
    pub activity: String,
    pub actor: String,
    pub change: String,
    pub comment: String,
}

#[derive(Template)]
#[template(path = "console/session.html")]
struct SessionPage<'a> {
    t: &'a Text,
    who: &'a Reviewer,
    id: String,
    number: i64,
    status: &'static str,
    kind: String,
    workflow: String,
    vendor_data: String,
    environment: String,
    created: String,
    expires: String,
    steps: Vec<Step>,
    trail: Vec<TrailRow>,
    trail_ok: bool,
    version: i64,
    may_decide: bool,
    notice: Option<String>,
    error: Option<String>,
}

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The session, if it is one of the user's applications'.
async fn find(
    state: &AppState,
    who: &Reviewer,
    id: SessionId,
) -> Result<Option<SessionBundle>, Response> {
    let apps = state
        .store
        .list_apps()
        .await
        .map_err(|e| unavailable(who.t, &e))?;
    for app in apps.into_iter().filter(|a| who.user.sees(a.id)) {
        let b = state
            .store
            .session_bundle(app.id, id)
            .await
            .map_err(|e| unavailable(who.t, &e))?;
        if b.is_some() {
            return Ok(b);
        }
    }
    Ok(None)
}

async fn render(
    state: &AppState,
    who: &Reviewer,
    b: &SessionBundle,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let t = who.t;
    let s = &b.session;
    let mut latest: std::collections::HashMap<&str, &vouch_core::attempt::Attempt> =
        Default::default();
    for a in &b.attempts {
        if latest.get(a.node_id.as_str()).is_none_or(|p| p.seq < a.seq) {
            latest.insert(a.node_id.as_str(), a);
        }
    }
    let steps = b
        .workflow
        .spec
        .nodes
        .iter()
        .map(|n| {
            let a = latest.get(n.node_id.as_str());
            let fields = a
                .and_then(|a| a.data.as_object())
                .map(|o| {
                    o.iter()
                        .filter(|(_, v)| !v.is_object() && !v.is_array())
                        .map(|(k, v)| (k.clone(), text(v)))
                        .collect()
                })
                .unwrap_or_default();
            let warnings = a
                .and_then(|a| a.warnings.as_array())
                .map(|w| {
                    w.iter()
                        .map(|w| {
                            w.get("short_description")
                                .or_else(|| w.get("risk"))
                                .map_or_else(|| w.to_string(), text)
                        })
                        .collect()
                })
                .unwrap_or_default();
            Step {
                node_id: n.node_id.clone(),
                name: n
                    .label
                    .clone()
                    .unwrap_or_else(|| n.feature.name().to_string()),
                status: a.map_or_else(|| t.not_done.to_string(), |a| a.status.as_str().into()),
                fields,
                warnings,
            }
        })
        .collect();
    let trail_ok = match state.store.verify_reviews(Some(s.id)).await {
        Ok((_, broken)) => broken.is_empty(),
        Err(e) => return unavailable(t, &e),
    };
    let trail = b
        .reviews
        .iter()
        .map(|r| TrailRow {
            at: time(r.created_at),
            activity: text(&json!(r.activity_type)),
            actor: format!("{} ({})", r.actor_display, r.actor_type.as_str()),
            change: match (r.previous_status, r.new_status) {
                (Some(a), Some(b)) if a != b => format!("{} → {}", a.as_str(), b.as_str()),
                _ => String::new(),
            },
            comment: r.comment.clone().unwrap_or_default(),
        })
        .collect();
    let page = SessionPage {
        t,
        who,
        id: s.id.to_string(),
        number: s.number,
        status: s.status.as_str(),
        kind: text(&json!(s.kind)),
        workflow: format!("{} v{}", b.workflow.label, s.workflow_version),
        vendor_data: s.vendor_data.clone().unwrap_or_default(),
        environment: text(&json!(b.environment)),
        created: time(s.created_at),
        expires: time(s.expires_at),
        steps,
        trail,
        trail_ok,
        version: s.version,
        may_decide: who.user.role.may_decide(),
        notice,
        error,
    };
    html(status, page.render())
}

pub async fn page(
    State(state): State<AppState>,
    who: Reviewer,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let Ok(id) = id.parse::<SessionId>() else {
        return message(who.t, StatusCode::NOT_FOUND, who.t.not_found);
    };
    let b = match find(&state, &who, id).await {
        Ok(Some(b)) => b,
        Ok(None) => return message(who.t, StatusCode::NOT_FOUND, who.t.not_found),
        Err(r) => return r,
    };
    let notice = q
        .as_deref()
        .is_some_and(|q| q.split('&').any(|p| p == "decided=1"))
        .then(|| who.t.decided.to_string());
    render(&state, &who, &b, StatusCode::OK, notice, None).await
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    new_status: String,
    #[serde(default)]
    comment: String,
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

pub async fn decide(
    State(state): State<AppState>,
    who: Reviewer,
    Path(id): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Response {
    let t = who.t;
    if !csrf_ok(&who.login, f.csrf.as_deref()) {
        return forbidden_form(t);
    }
    if !who.user.role.may_decide() {
        return message(t, StatusCode::FORBIDDEN, t.viewer_cannot_decide);
    }
    let Ok(id) = id.parse::<SessionId>() else {
        return message(t, StatusCode::NOT_FOUND, t.not_found);
    };
    let b = match find(&state, &who, id).await {
        Ok(Some(b)) => b,
        Ok(None) => return message(t, StatusCode::NOT_FOUND, t.not_found),
        Err(r) => return r,
    };
    let comment = f.comment.trim();
    let mut body = json!({ "new_status": f.new_status });
    if !comment.is_empty() {
        body["comment"] = json!(comment);
    }
    let done = update_status(
        state.store.as_ref(),
        UpdateStatus {
            app_id: b.session.app_id,
            session_id: id,
            body: Ok(body),
            actor_type: ActorType::ConsoleUser,
            actor_display: who.user.email.clone(),
            expected_version: Some(f.version.unwrap_or(-1)),
            public_url: state.config.public_url.clone(),
            link_ttl: Duration::from_std(state.config.sessions.link_ttl).unwrap_or(Duration::MAX),
            send_in_sandbox: state.config.mailer.send_in_sandbox,
            preview_key: state.preview_key.clone(),
        },
    )
    .await;
    match done {
        Ok(()) => Redirect::to(&format!("/console/sessions/{id}?decided=1")).into_response(),
        Err(e) => {
            let stale = matches!(e, Failure::Rejected(vouch_core::Rejection::Stale));
            let now = match find(&state, &who, id).await {
                Ok(Some(b)) => b,
                Ok(None) => return message(t, StatusCode::NOT_FOUND, t.not_found),
                Err(r) => return r,
            };
            let error = if stale {
                t.stale.replace("{status}", now.session.status.as_str())
            } else {
                format!("{} {}", t.refused, refusal_text(e).await)
            };
            let status = if stale {
                StatusCode::CONFLICT
            } else {
                StatusCode::BAD_REQUEST
            };
            render(&state, &who, &now, status, None, Some(error)).await
        }
    }
}
