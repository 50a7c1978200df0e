//! One session: its header, steps and review trail, and the decision form.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};
use vouch_core::SessionId;
use vouch_store::SessionBundle;

use super::decide::Choices;
use super::desk::{desk, Desk};
use super::lang::Text;
use super::viewer::{viewer, Viewer};
use super::{html, message, unavailable, Reviewer};
use crate::state::AppState;

pub struct Step {
    pub node_id: String,
    pub name: String,
    pub status: String,
    pub fields: Vec<(String, String)>,
    pub warnings: Vec<String>,
    /// Chosen to be redone in the form being shown, with its reason.
    pub resubmit: bool,
    pub reason: String,
}

/// One row of the session's webhook log or email list.
pub struct LogRow {
    pub at: String,
    pub what: String,
    pub to: String,
    pub outcome: String,
}

/// What the email of the decision being prepared would be.
pub struct EmailPreview {
    pub recipient: String,
    pub subject: String,
    pub text: String,
    pub will_be_sent: bool,
    pub not_sent_reason: String,
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
    desk: Desk,
    viewer: Viewer,
    deliveries: Vec<LogRow>,
    emails: Vec<LogRow>,
    /// The sessions before and after this one in the queue (in review, oldest first).
    previous: Option<String>,
    next: Option<String>,
    form: Choices,
    preview: Option<EmailPreview>,
    languages: &'a [&'static str],
}

pub fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The session alone (no steps, trail or files), if it is one of the user's applications'.
pub async fn find_session(
    state: &AppState,
    who: &Reviewer,
    id: SessionId,
) -> Result<Option<vouch_core::session::Session>, Response> {
    let s = state
        .store
        .console_session(id)
        .await
        .map_err(|e| unavailable(who.t, &e))?;
    Ok(s.filter(|s| who.user.sees(s.app_id)))
}

/// The session, if it is one of the user's applications'.
pub async fn find(
    state: &AppState,
    who: &Reviewer,
    id: SessionId,
) -> Result<Option<SessionBundle>, Response> {
    let Some(s) = find_session(state, who, id).await? else {
        return Ok(None);
    };
    state
        .store
        .session_bundle(s.app_id, id)
        .await
        .map_err(|e| unavailable(who.t, &e))
}

/// What a page shows beside the session: a notice or an error, and the decision form as it was
/// filled in (with the preview of its email, if one was asked for).
#[derive(Default)]
pub struct Shown {
    /// The viewer's settings (`zoom`, `rotate`), from the page's URL.
    pub zoom: u8,
    pub rotate: u16,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub form: Choices,
    pub preview: Option<EmailPreview>,
}

pub async fn render(
    state: &AppState,
    who: &Reviewer,
    b: &SessionBundle,
    status: StatusCode,
    shown: Shown,
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
                resubmit: shown.form.resubmit.contains(&n.node_id),
                reason: shown.form.reason(&n.node_id),
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
    let viewer = viewer(state, b, shown.zoom, shown.rotate);
    let neighbour = |after: bool| {
        let filter = vouch_store::SessionFilter {
            kind: Some(vouch_store::KindFilter::All),
            statuses: vec![vouch_core::SessionStatus::InReview],
            after_number: after.then_some(s.number),
            before_number: (!after).then_some(s.number),
            oldest_first: after,
            no_count: true,
            ..Default::default()
        };
        async move {
            let one = vouch_store::Page {
                limit: 1,
                offset: 0,
            };
            state.store.list_sessions(s.app_id, &filter, one).await
        }
    };
    let (previous, next) = match tokio::try_join!(neighbour(false), neighbour(true)) {
        Ok(((p, _), (n, _))) => (
            p.first().map(|x| x.id.to_string()),
            n.first().map(|x| x.id.to_string()),
        ),
        Err(e) => return unavailable(t, &e),
    };
    let page20 = vouch_store::Page {
        limit: 20,
        offset: 0,
    };
    let (deliveries, emails) = match tokio::try_join!(
        state.store.session_webhook_attempts(s.app_id, s.id, page20),
        state.store.email_jobs(s.id)
    ) {
        Ok(((attempts, _), jobs)) => (
            attempts
                .into_iter()
                .map(|a| LogRow {
                    at: time(a.started_at),
                    what: format!("{} #{}", a.event_type.as_str(), a.attempt),
                    to: a.url,
                    outcome: match (a.response_status, a.error) {
                        (Some(code), _) => format!("HTTP {code} ({} ms)", a.duration_ms),
                        (None, Some(e)) => e,
                        (None, None) => String::new(),
                    },
                })
                .collect(),
            jobs.into_iter()
                .rev()
                .map(|j| LogRow {
                    at: time(j.created_at),
                    what: format!("{} ({})", j.kind.as_str(), j.language),
                    to: j.recipient.unwrap_or_default(),
                    outcome: match j.not_sent_reason {
                        Some(r) => format!("{}: {}", j.state.as_str(), r.as_str()),
                        None => j.state.as_str().to_string(),
                    },
                })
                .collect(),
        ),
        Err(e) => return unavailable(t, &e),
    };
    let desk = match desk(state, who, b).await {
        Ok(d) => d,
        Err(r) => return r,
    };
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
        notice: shown.notice,
        error: shown.error,
        desk,
        viewer,
        deliveries,
        emails,
        previous,
        next,
        form: shown.form,
        preview: shown.preview,
        languages: &vouch_core::email::LANGUAGES,
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
    let said = |flag: &str| {
        q.as_deref()
            .is_some_and(|q| q.split('&').any(|p| p == flag))
    };
    let t = who.t;
    let notice = [
        ("decided=1", t.decided),
        ("staged=1", t.staged_notice),
        ("claimed=1", t.claimed_notice),
        ("released=1", t.released_notice),
        ("rejected=1", t.rejected_notice),
        ("step=1", t.step_notice),
        ("noted=1", t.noted_notice),
    ]
    .into_iter()
    .find(|(flag, _)| said(flag))
    .map(|(_, words)| words.to_string());
    let number = |name: &str| {
        url::form_urlencoded::parse(q.as_deref().unwrap_or("").as_bytes())
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse::<u16>().ok())
    };
    let shown = Shown {
        notice,
        zoom: number("zoom").unwrap_or(1).min(3) as u8,
        rotate: number("rotate").unwrap_or(0),
        ..Shown::default()
    };
    render(&state, &who, &b, StatusCode::OK, shown).await
}
