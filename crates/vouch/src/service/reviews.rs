//! Step overrides and review notes (§4.7), decided by the core inside the write.

use serde_json::{json, Value};
use uuid::Uuid;
use vouch_core::attempt::ActorType;
use vouch_core::corrections::{correct, parse_correction, Target};
use vouch_core::review::Review;
use vouch_core::steps::{
    add_note as note_change, override_step, parse_note, parse_step_override, require_object, Actor,
};
use vouch_core::{AppId, SessionId};
use vouch_store::{Store, StoreError};

use super::{fresh, modify, Failure};

pub struct StepUpdate {
    pub app_id: AppId,
    pub session_id: SessionId,
    pub node_id: String,
    pub body: Value,
    /// `API_KEY` through the API, `CONSOLE_USER` through the console.
    pub actor_type: ActorType,
    pub actor_display: String,
}

/// Records a reviewer's result for one step; answers the `200` body.
pub async fn update_step(store: &dyn Store, u: StepUpdate) -> Result<Value, Failure> {
    require_object(&u.body)?;
    let parsed = parse_step_override(&u.body);
    let (app_id, session_id) = (u.app_id, u.session_id);
    let done = modify(store, app_id, session_id, None, move |b| {
        let who = Actor {
            actor_type: u.actor_type,
            display: &u.actor_display,
        };
        let new_status = parsed.as_ref().ok().map(|o| o.new_status);
        let (change, step) = override_step(b, &u.node_id, parsed, who, crate::clock::now())?;
        let answer = json!({
            "session_id": b.session.id,
            "node_id": step.node_id,
            "feature_type": step.feature.name(),
            "new_status": new_status,
        });
        Ok((Some(change), answer))
    })
    .await?;
    fresh(done)
}

/// Appends a note to the trail; it never changes the status. Answers the new row.
pub async fn add_note(
    store: &dyn Store,
    app_id: AppId,
    session_id: SessionId,
    body: &Value,
    actor_type: ActorType,
    actor_display: &str,
) -> Result<Review, Failure> {
    require_object(body)?;
    let parsed = parse_note(body);
    let uuid = Uuid::now_v7();
    let actor = actor_display.to_string();
    let done = modify(store, app_id, session_id, None, move |b| {
        let who = Actor {
            actor_type,
            display: &actor,
        };
        Ok((
            Some(note_change(b, parsed, uuid, who, crate::clock::now())?),
            (),
        ))
    })
    .await?;
    fresh(done)?;
    store
        .reviews(session_id)
        .await?
        .into_iter()
        .find(|r| r.uuid == uuid)
        .ok_or_else(|| StoreError::Internal("the note was not stored".into()).into())
}

/// A reviewer's correction of a step's data (`update-data`, `update-poa-data`); answers the
/// `200` body: the step and each changed field, before and after.
pub async fn correct_data(
    store: &dyn Store,
    app_id: AppId,
    session_id: SessionId,
    target: Target,
    body: Value,
    actor_display: String,
) -> Result<Value, Failure> {
    require_object(&body)?;
    let parsed = parse_correction(target, &body);
    let done = modify(store, app_id, session_id, None, move |b| {
        let who = Actor {
            actor_type: ActorType::ApiKey,
            display: &actor_display,
        };
        let (change, node_id, changes) = correct(b, parsed, who, crate::clock::now())?;
        let answer = json!({
            "session_id": b.session.id,
            "node_id": node_id,
            "changed": changes.iter().map(|c| json!({
                "field": c.field, "before": c.before, "after": c.after,
            })).collect::<Vec<_>>(),
        });
        Ok((change, answer))
    })
    .await?;
    fresh(done)
}
