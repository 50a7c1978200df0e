//! A reviewer's result for one step, and notes on the trail: the same use cases as
//! `PATCH /v3/session/{id}/features/{node_id}/update-status/` and `POST …/reviews/`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use serde_json::json;
use vouch_core::attempt::ActorType;

use super::decide::{refused, Choices};
use super::{acting_on, Reviewer};
use crate::service::reviews::{add_note, update_step, StepUpdate};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct StepForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    new_status: String,
    #[serde(default)]
    comment: String,
}

pub async fn step_status(
    State(state): State<AppState>,
    who: Reviewer,
    Path((id, node)): Path<(String, String)>,
    Form(f): Form<StepForm>,
) -> Response {
    let b = match acting_on(&state, &who, &id, f.csrf.as_deref(), true).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut body = json!({ "new_status": f.new_status });
    if !f.comment.trim().is_empty() {
        body["comment"] = json!(f.comment.trim());
    }
    let done = update_step(
        state.store.as_ref(),
        StepUpdate {
            app_id: b.session.app_id,
            session_id: b.session.id,
            node_id: node,
            body,
            actor_type: ActorType::ConsoleUser,
            actor_display: who.user.email.clone(),
        },
    )
    .await;
    match done {
        Ok(_) => Redirect::to(&format!("/console/sessions/{id}?step=1")).into_response(),
        Err(e) => refused(&state, &who, b.session.id, e, Choices::default()).await,
    }
}

pub async fn note(
    State(state): State<AppState>,
    who: Reviewer,
    Path(id): Path<String>,
    Form(f): Form<StepForm>,
) -> Response {
    let b = match acting_on(&state, &who, &id, f.csrf.as_deref(), true).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let body = json!({ "comment": f.comment });
    let done = add_note(
        state.store.as_ref(),
        b.session.app_id,
        b.session.id,
        &body,
        ActorType::ConsoleUser,
        &who.user.email,
    )
    .await;
    match done {
        Ok(_) => Redirect::to(&format!("/console/sessions/{id}?noted=1")).into_response(),
        Err(e) => refused(&state, &who, b.session.id, e, Choices::default()).await,
    }
}
