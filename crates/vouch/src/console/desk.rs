//! Assignment and four-eyes: claiming a session (or an admin assigning it), the next session in
//! the queue, and a second reviewer approving or rejecting a staged decision.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use vouch_core::console::Role;
use vouch_core::SessionId;
use vouch_store::{Claim, SessionBundle, Staged};

use super::decide::{apply, refused, Choices};
use super::session::{text, time};
use super::{acting_on, csrf_ok, forbidden_form, message, unavailable, Reviewer};
use crate::state::AppState;

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

/// The claim, the staged decision and the four-eyes setting of the session.
pub async fn desk(state: &AppState, who: &Reviewer, b: &SessionBundle) -> Result<Desk, Response> {
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

#[derive(Deserialize)]
pub struct DeskForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    action: String,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    note: String,
}

fn claim_for(state: &AppState, user: &vouch_store::ConsoleUser, id: SessionId) -> Claim {
    let now = crate::clock::now();
    let ttl = chrono::Duration::from_std(state.config.console.claim_ttl)
        .unwrap_or(chrono::Duration::minutes(30));
    Claim {
        session_id: id,
        user_id: user.id,
        email: user.email.clone(),
        claimed_at: now,
        expires_at: now + ttl,
    }
}

/// Claim, release, or (an admin) assign to someone.
pub async fn claim(
    State(state): State<AppState>,
    who: Reviewer,
    Path(id): Path<String>,
    Form(f): Form<DeskForm>,
) -> Response {
    let t = who.t;
    let b = match acting_on(&state, &who, &id, f.csrf.as_deref(), false).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let id = b.session.id;
    let admin = who.user.role == Role::Admin;
    let back =
        |flag: &str| Redirect::to(&format!("/console/sessions/{id}?{flag}=1")).into_response();
    match f.action.as_str() {
        "claim" => match state
            .store
            .claim_session(claim_for(&state, &who.user, id), false)
            .await
        {
            Ok(c) if c.user_id == who.user.id => back("claimed"),
            Ok(c) => message(
                t,
                StatusCode::CONFLICT,
                &t.claimed_by_other.replace("{email}", &c.email),
            ),
            Err(e) => unavailable(t, &e),
        },
        "release" => {
            let only = (!admin).then_some(who.user.id);
            match state.store.release_claim(id, only).await {
                Ok(()) => back("released"),
                Err(e) => unavailable(t, &e),
            }
        }
        "assign" if admin => {
            let target = match state
                .store
                .console_user(crate::cli::users::normal_email(&f.assignee))
                .await
            {
                Ok(Some(u))
                    if u.role.may_decide()
                        && u.disabled_at.is_none()
                        && u.sees(b.session.app_id) =>
                {
                    u
                }
                Ok(_) => return message(t, StatusCode::BAD_REQUEST, t.no_such_assignee),
                Err(e) => return unavailable(t, &e),
            };
            match state
                .store
                .claim_session(claim_for(&state, &target, id), true)
                .await
            {
                Ok(_) => back("claimed"),
                Err(e) => unavailable(t, &e),
            }
        }
        _ => message(t, StatusCode::FORBIDDEN, t.not_allowed),
    }
}

/// The oldest unclaimed session in review of the user's applications, claimed for it.
pub async fn next(
    State(state): State<AppState>,
    who: Reviewer,
    Form(f): Form<DeskForm>,
) -> Response {
    let t = who.t;
    if !csrf_ok(&who.login, f.csrf.as_deref()) {
        return forbidden_form(t);
    }
    if !who.user.role.may_decide() {
        return message(t, StatusCode::FORBIDDEN, t.viewer_cannot_decide);
    }
    let apps: Vec<_> = match state.store.list_apps().await {
        Ok(a) => a
            .into_iter()
            .filter(|a| who.user.sees(a.id))
            .map(|a| a.id)
            .collect(),
        Err(e) => return unavailable(t, &e),
    };
    // Another reviewer may take the same one meanwhile: then the next one after it.
    for _ in 0..5 {
        let found = match state
            .store
            .next_unclaimed(apps.clone(), crate::clock::now())
            .await
        {
            Ok(f) => f,
            Err(e) => return unavailable(t, &e),
        };
        let Some(id) = found else {
            return message(t, StatusCode::OK, t.queue_empty);
        };
        match state
            .store
            .claim_session(claim_for(&state, &who.user, id), false)
            .await
        {
            Ok(c) if c.user_id == who.user.id => {
                return Redirect::to(&format!("/console/sessions/{id}?claimed=1")).into_response()
            }
            Ok(_) => continue,
            Err(e) => return unavailable(t, &e),
        }
    }
    message(t, StatusCode::OK, t.queue_empty)
}

/// A second reviewer approves (it takes effect, attributed to both) or rejects (back to its
/// author, with a note) a staged decision; its author can do neither.
pub async fn staged(
    State(state): State<AppState>,
    who: Reviewer,
    Path(id): Path<String>,
    Form(f): Form<DeskForm>,
) -> Response {
    let t = who.t;
    let b = match acting_on(&state, &who, &id, f.csrf.as_deref(), false).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let id = b.session.id;
    let staged = match state.store.staged_decisions(vec![id]).await {
        Ok(s) => s.into_iter().next().filter(|s| s.rejected_by.is_none()),
        Err(e) => return unavailable(t, &e),
    };
    let Some(staged) = staged else {
        return message(t, StatusCode::NOT_FOUND, t.nothing_staged);
    };
    if staged.user_id == who.user.id {
        return message(t, StatusCode::FORBIDDEN, t.own_decision);
    }
    match f.action.as_str() {
        "approve" => {
            let by = t
                .four_eyes_actor
                .replace("{first}", &staged.email)
                .replace("{second}", &who.user.email);
            match apply(&state, &b.session, staged.body.clone(), by, staged.version).await {
                Ok(()) => {
                    let _ = state.store.drop_staged(id).await;
                    let _ = state.store.release_claim(id, None).await;
                    Redirect::to(&format!("/console/sessions/{id}?decided=1")).into_response()
                }
                Err(e) => refused(&state, &who, id, e, Choices::default()).await,
            }
        }
        "reject" => match state
            .store
            .reject_staged(id, who.user.email.clone(), f.note.trim().to_string())
            .await
        {
            Ok(_) => Redirect::to(&format!("/console/sessions/{id}?rejected=1")).into_response(),
            Err(e) => unavailable(t, &e),
        },
        _ => message(t, StatusCode::FORBIDDEN, t.not_allowed),
    }
}
