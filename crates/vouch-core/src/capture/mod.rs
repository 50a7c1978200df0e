//! A step the person submits on the page: its files are recorded and the step goes to its
//! engine in the same change; once nothing is left for the person, the steps that run by
//! themselves (screening, data checks, the face match) go to theirs.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::change::{SessionChange, SessionState};
use crate::engine::{Engine, NewEngineJob, NewMedia};
use crate::ids::EngineJobId;
use crate::person::{screen, FlowStep, Screen, StepState};
use crate::{Rejection, SessionStatus};

/// What the person sent for one step.
#[derive(Debug, Clone)]
pub struct Submission {
    pub node_id: String,
    /// The form's own id, rendered with the page: the engine job's id, so that the same form
    /// sent twice is refused by the store (its job exists already), however close together.
    pub id: EngineJobId,
    pub media: Vec<NewMedia>,
    /// Choices made on the page (the document type).
    pub fields: Map<String, Value>,
}

/// The steps as the page shows them, or `Stale` when the page shows none.
fn steps(state: &SessionState, checking: &[String]) -> Result<Vec<FlowStep>, Rejection> {
    match screen(
        &state.session,
        &state.workflow.spec,
        &state.attempts,
        checking,
        false,
    ) {
        Screen::Steps(s) => Ok(s),
        _ => Err(Rejection::Stale),
    }
}

/// The change a submission makes: its media recorded, its engine job queued, `Not Started`
/// moved to `In Progress`.
pub fn submit(
    state: &SessionState,
    sub: Submission,
    checking: &[String],
    now: DateTime<Utc>,
) -> Result<SessionChange, Rejection> {
    let steps = steps(state, checking)?;
    let step = steps
        .iter()
        .find(|s| s.node_id == sub.node_id && s.state == StepState::ToDo)
        .ok_or(Rejection::Stale)?;
    let mut change = SessionChange::for_session(&state.session, now);
    start(state, &mut change, now);
    let media: Map<String, Value> = sub
        .media
        .iter()
        .map(|m| (m.slot.as_str().to_string(), json!(m.id)))
        .collect();
    let mut first = job(
        state,
        &step.node_id,
        json!({ "media": media, "fields": sub.fields }),
    );
    first.id = sub.id;
    change.engine_jobs.push(first);
    change.media = sub.media;
    then_automatic(state, &mut change, &steps, &step.node_id);
    Ok(change)
}

/// `Not Started` becomes `In Progress` with the person's first submission.
pub fn start(state: &SessionState, change: &mut SessionChange, now: DateTime<Utc>) {
    if state.session.status == SessionStatus::NotStarted && change.status.is_none() {
        change.status = Some(SessionStatus::InProgress);
        change.push_system_transition(SessionStatus::NotStarted, SessionStatus::InProgress, now);
    }
}

fn job(state: &SessionState, node_id: &str, input: Value) -> NewEngineJob {
    let node = state
        .workflow
        .spec
        .node(node_id)
        .expect("a step of the screen is a node of the workflow");
    NewEngineJob {
        id: EngineJobId::generate(),
        node_id: node_id.to_string(),
        feature: node.feature,
        engine: Engine::for_node(&node.config, state.environment),
        input,
    }
}

/// When `finished` was the person's last step to do, the automatic steps not yet run go to
/// their engines, each told which of the person's steps it works from.
pub fn then_automatic(
    state: &SessionState,
    change: &mut SessionChange,
    steps: &[FlowStep],
    finished: &str,
) {
    let left = steps
        .iter()
        .any(|s| s.state == StepState::ToDo && s.node_id != finished);
    if left {
        return;
    }
    let persons: Vec<&str> = steps
        .iter()
        .filter(|s| {
            matches!(
                s.state,
                StepState::ToDo | StepState::Checking | StepState::Done
            )
        })
        .map(|s| s.node_id.as_str())
        .collect();
    for s in steps.iter().filter(|s| s.state == StepState::Automatic) {
        change
            .engine_jobs
            .push(job(state, &s.node_id, json!({ "uses": persons })));
    }
}

/// The person's step recorded outside an engine (a verified code): the automatic steps follow
/// when it was the last.
pub fn after_person_step(
    state: &SessionState,
    change: &mut SessionChange,
    node_id: &str,
    checking: &[String],
) {
    if let Ok(steps) = steps(state, checking) {
        then_automatic(state, change, &steps, node_id);
    }
}

#[cfg(test)]
mod tests;
