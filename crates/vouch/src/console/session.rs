//! One session: its header, steps and review trail, and the decision form.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};
use vouch_core::console::Role;
use vouch_core::SessionId;
use vouch_store::{Claim, SessionBundle, Staged};

use super::decide::Choices;
use super::lang::Text;
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

/// Who holds the session, and what waits for a second reviewer.
pub struct Desk {
    pub claim: Option<Claim>,
    pub mine: bool,
    /// The user may decide now: its role allows it, and nobody else holds the session (or it
    /// is an admin).
    pub may_decide_now: bool,
    pub four_eyes: bool,
    /// An admin's choice of users to assign the session to.
    pub assignees: Vec<String>,
    /// Who holds the session, in a sentence.
    pub claim_line: String,
    /// The staged decision, in a sentence (empty when none).
    pub staged_line: String,
    /// The staged decision waits, and this user may approve or reject it.
    pub may_second: bool,
}

/// One captured file, as the viewer shows it.
pub struct Shot {
    pub label: String,
    pub url: String,
    pub is_image: bool,
    pub width: i64,
    pub height: i64,
}

/// The viewer's state, from the URL: zoom (1–3), a quarter-turn rotation, and whether the
/// document's front and the selfie are shown side by side.
pub struct Viewer {
    pub zoom: u8,
    pub rotate: u16,
    pub compare: Option<(Shot, Shot)>,
    pub shots: Vec<Shot>,
}

impl Viewer {
    /// The page's URL with one of the viewer's settings changed.
    pub fn link(&self, zoom: u8, rotate: u16) -> String {
        format!("?zoom={zoom}&rotate={rotate}#media-heading")
    }

    pub fn zoom_in(&self) -> String {
        self.link((self.zoom + 1).min(3), self.rotate)
    }

    pub fn zoom_out(&self) -> String {
        self.link(self.zoom.saturating_sub(1).max(1), self.rotate)
    }

    pub fn turn(&self) -> String {
        self.link(self.zoom, (self.rotate + 90) % 360)
    }
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
    form: Choices,
    preview: Option<EmailPreview>,
    languages: &'a [&'static str],
}

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The claim, the staged decision and the four-eyes setting of the session.
async fn desk(state: &AppState, who: &Reviewer, b: &SessionBundle) -> Result<Desk, Response> {
    let t = who.t;
    let id = b.session.id;
    let now = crate::clock::now();
    let store = &state.store;
    let claim = store
        .claims(vec![id], now)
        .await
        .map_err(|e| unavailable(t, &e))?
        .into_iter()
        .next();
    let staged = store
        .staged_decisions(vec![id])
        .await
        .map_err(|e| unavailable(t, &e))?
        .into_iter()
        .next();
    let four_eyes = store
        .four_eyes(b.session.app_id)
        .await
        .map_err(|e| unavailable(t, &e))?;
    let admin = who.user.role == Role::Admin;
    let assignees = if admin {
        store
            .console_users()
            .await
            .map_err(|e| unavailable(t, &e))?
            .into_iter()
            .filter(|u| u.role.may_decide() && u.disabled_at.is_none() && u.sees(b.session.app_id))
            .map(|u| u.email)
            .collect()
    } else {
        Vec::new()
    };
    let mine = claim.as_ref().is_some_and(|c| c.user_id == who.user.id);
    let held_by_other = claim.is_some() && !mine;
    let claim_line = match &claim {
        None => t.unclaimed.to_string(),
        Some(c) if mine => t.claimed_by_you.replace("{until}", &time(c.expires_at)),
        Some(c) => t
            .claimed_by
            .replace("{email}", &c.email)
            .replace("{until}", &time(c.expires_at)),
    };
    let staged_by_me = staged.as_ref().is_some_and(|s| s.user_id == who.user.id);
    let staged_line = match &staged {
        None => String::new(),
        Some(s) => match (&s.rejected_by, staged_by_me) {
            (Some(by), true) => t
                .staged_rejected
                .replace("{email}", by)
                .replace("{note}", s.note.as_deref().unwrap_or("")),
            (Some(_), false) => String::new(),
            (None, true) => t.staged_yours.replace("{decision}", &summary(s)),
            (None, false) => t
                .staged_by
                .replace("{email}", &s.email)
                .replace("{decision}", &summary(s)),
        },
    };
    let may_second = who.user.role.may_decide()
        && !staged_by_me
        && staged.as_ref().is_some_and(|s| s.rejected_by.is_none());
    Ok(Desk {
        may_decide_now: who.user.role.may_decide() && (!held_by_other || admin),
        claim_line,
        staged_line,
        may_second,
        claim,
        mine,
        four_eyes,
        assignees,
    })
}

/// The session's captured files, with URLs signed for the viewer.
fn viewer(state: &AppState, b: &SessionBundle, zoom: u8, rotate: u16) -> Viewer {
    use vouch_core::engine::Slot;
    let now = crate::clock::now();
    let shot = |m: &vouch_store::MediaRecord| {
        let step = b.workflow.spec.node(&m.node_id).map_or_else(
            || m.node_id.clone(),
            |n| n.label.clone().unwrap_or_else(|| n.feature.name().into()),
        );
        Shot {
            label: format!("{step}: {}", m.slot.as_str()),
            url: state
                .media
                .url("", m.id, crate::media::Variant::Display, now),
            is_image: m.media_type != vouch_core::media::MediaType::Pdf,
            width: m.width,
            height: m.height,
        }
    };
    // The latest file of each slot of each step.
    let mut latest: Vec<&vouch_store::MediaRecord> = Vec::new();
    for m in &b.media {
        latest.retain(|l| !(l.node_id == m.node_id && l.slot == m.slot));
        latest.push(m);
    }
    let find = |slot: Slot| {
        latest
            .iter()
            .rev()
            .find(|m| m.slot == slot)
            .map(|m| shot(m))
    };
    let compare = find(Slot::Front).zip(find(Slot::Selfie));
    Viewer {
        zoom: zoom.clamp(1, 3),
        rotate: rotate % 360 / 90 * 90,
        compare,
        shots: latest.into_iter().map(shot).collect(),
    }
}

/// A staged decision in a line: its status, the steps to redo, its comment.
fn summary(s: &Staged) -> String {
    let mut out = text(&s.body["new_status"]);
    if let Some(nodes) = s.body["nodes_to_resubmit"].as_array() {
        let list: Vec<String> = nodes
            .iter()
            .map(|n| format!("{} ({})", text(&n["node_id"]), text(&n["reason"])))
            .collect();
        out.push_str(&format!(": {}", list.join(", ")));
    }
    if let Some(c) = s.body["comment"].as_str() {
        out.push_str(&format!(" — {c}"));
    }
    out
}

/// The session, if it is one of the user's applications'.
pub async fn find(
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
