//! Assignment and four-eyes: claiming a session (or an admin assigning it), the next session in
//! the queue, and a second reviewer approving or rejecting a staged decision.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use vouch_core::console::Role;
use vouch_core::SessionId;
use vouch_store::Claim;

use super::decide::{apply, refused, Choices};
use super::session::find;
use super::{csrf_ok, forbidden_form, message, unavailable, Reviewer};
use crate::state::AppState;

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
            match apply(&state, &b, staged.body.clone(), by, staged.version).await {
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
