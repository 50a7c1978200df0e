//! Commands on a session's steps, each one decision on the loaded state: recording an engine's
//! result (§4.5), a reviewer's step override and a review note (§4.7).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::attempt::{ActorType, Attempt};
use crate::change::{SessionChange, SessionState};
use crate::errors::{FieldErrors, Rejection};
use crate::feature::Feature;
use crate::progress::{latest_counting, transitions_after_attempt};
use crate::review::{ActivityType, NewReview};
use crate::update_status::MAX_COMMENT;
use crate::workflow::Node;
use crate::{AttemptStatus, SessionStatus};

/// A step result to record, as the engine sent it.
#[derive(Debug, Clone)]
pub struct NewResult {
    pub node_id: String,
    pub status: AttemptStatus,
    pub data: Value,
    pub warnings: Value,
    pub actor: ActorType,
}

/// Who acts on the trail.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub actor_type: ActorType,
    pub display: &'a str,
}

/// Records one attempt and the automatic moves it causes; refused for a node outside the
/// session's pinned workflow.
pub fn record_attempt(
    b: &SessionState,
    r: &NewResult,
    attempt_id: Uuid,
    now: DateTime<Utc>,
) -> Result<SessionChange, Rejection> {
    let node = b.workflow.spec.node(&r.node_id).ok_or_else(|| {
        FieldErrors::single(
            "node_id",
            format!(
                "\"{}\" is not a node of this session's workflow.",
                r.node_id
            ),
        )
    })?;
    let attempt = next_attempt(b, node, r.status, attempt_id, now);
    let attempt = Attempt {
        data: r.data.clone(),
        warnings: r.warnings.clone(),
        actor_type: r.actor,
        ..attempt
    };
    let (country, full_name) = ocr_denormalized(node.feature, &r.data);
    let mut change = after_attempt(b, attempt, now);
    change.country = country;
    change.full_name = full_name;
    Ok(change)
}

/// A reviewer's override of one step (`new_status` final), answered with the step it changed.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOverride {
    pub new_status: AttemptStatus,
    pub comment: Option<String>,
}

/// The body of a step override as it arrives (read by `parse_step_override`, shown by the
/// OpenAPI document).
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepStatusBody {
    /// The step's new result.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true,
        pattern = "^(Approved|Declined|In Review)$", example = "Approved"))]
    pub new_status: Option<Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 10000))]
    pub comment: Option<Value>,
}

/// Validates the body of a step override.
pub fn parse_step_override(body: &Value) -> Result<StepOverride, FieldErrors> {
    let mut errors = FieldErrors::new();
    require_object(body)?;
    let b = StepStatusBody::deserialize(body).unwrap_or_default();
    let new_status = match &b.new_status {
        None | Some(Value::Null) => {
            errors.add("new_status", "This field is required.");
            None
        }
        Some(v) => match v
            .as_str()
            .and_then(AttemptStatus::parse)
            .filter(|s| s.is_final())
        {
            Some(s) => Some(s),
            None => {
                errors.add("new_status", choice(v));
                None
            }
        },
    };
    let comment = parse_comment(b.comment.as_ref(), false, &mut errors);
    errors.into_result()?;
    Ok(StepOverride {
        new_status: new_status
            .ok_or_else(|| FieldErrors::single("new_status", "This field is required."))?,
        comment,
    })
}

/// The step an override changed, for the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct OverriddenStep {
    pub node_id: String,
    pub feature: Feature,
}

/// Overrides the step `node_id`: a new attempt by the reviewer, its trail row and the moves
/// it causes. A step not in the workflow is `NotFound` (before the body is judged); the
/// same result again is `SameStatus`.
pub fn override_step(
    b: &SessionState,
    node_id: &str,
    body: Result<StepOverride, FieldErrors>,
    who: Actor<'_>,
    now: DateTime<Utc>,
) -> Result<(SessionChange, OverriddenStep), Rejection> {
    let node = b.workflow.spec.node(node_id).ok_or(Rejection::NotFound)?;
    let o = body?;
    let s = &b.session;
    let previous = latest_counting(&b.attempts, None)
        .get(node.node_id.as_str())
        .map(|a| a.status);
    if previous == Some(o.new_status) {
        return Err(Rejection::SameStatus);
    }
    let attempt = Attempt {
        actor_type: who.actor_type,
        ..next_attempt(b, node, o.new_status, Uuid::now_v7(), now)
    };
    let mut change = after_attempt(b, attempt, now);
    // The override's own row comes before the automatic moves it causes.
    change.reviews.insert(
        0,
        NewReview {
            uuid: Uuid::now_v7(),
            activity_type: ActivityType::StepStatusChange,
            actor_type: who.actor_type,
            actor_display: who.display.to_string(),
            previous_status: Some(s.status),
            new_status: Some(s.status),
            comment: o.comment,
            metadata: json!({
                "node_id": node.node_id,
                "feature": node.feature.name(),
                "previous_step_status": previous,
                "new_step_status": o.new_status,
            }),
            created_at: now,
        },
    );
    let step = OverriddenStep {
        node_id: node.node_id.clone(),
        feature: node.feature,
    };
    Ok((change, step))
}

/// A review note: `comment` required, `new_status` optional and only recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub comment: Option<String>,
    pub new_status: Option<SessionStatus>,
}

/// The body of a review note as it arrives.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoteBody {
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true,
        min_length = 1, max_length = 10000, pattern = "\\S"))]
    pub comment: Option<Value>,
    /// Recorded on the row; the session's status does not change.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "In Review"))]
    pub new_status: Option<Value>,
}

pub fn parse_note(body: &Value) -> Result<Note, FieldErrors> {
    let mut errors = FieldErrors::new();
    require_object(body)?;
    let b = NoteBody::deserialize(body).unwrap_or_default();
    let comment = parse_comment(b.comment.as_ref(), true, &mut errors);
    let new_status = match &b.new_status {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_str().and_then(SessionStatus::parse) {
            Some(s) => Some(s),
            None => {
                errors.add("new_status", choice(v));
                None
            }
        },
    };
    errors.into_result()?;
    Ok(Note {
        comment,
        new_status,
    })
}

/// Appends a note to the trail as row `uuid`; it never changes the status. The body is
/// judged after the session was found.
pub fn add_note(
    b: &SessionState,
    note: Result<Note, FieldErrors>,
    uuid: Uuid,
    who: Actor<'_>,
    now: DateTime<Utc>,
) -> Result<SessionChange, Rejection> {
    let note = note?;
    let mut change = SessionChange::for_session(&b.session, now);
    change.reviews.push(NewReview {
        uuid,
        activity_type: ActivityType::Note,
        actor_type: who.actor_type,
        actor_display: who.display.to_string(),
        previous_status: Some(b.session.status),
        new_status: note.new_status,
        comment: note.comment,
        metadata: json!({}),
        created_at: now,
    });
    Ok(change)
}

/// The session's next attempt on `node`, with empty data.
fn next_attempt(
    b: &SessionState,
    node: &Node,
    status: AttemptStatus,
    id: Uuid,
    now: DateTime<Utc>,
) -> Attempt {
    Attempt {
        id,
        session_id: b.session.id,
        seq: b.attempts.iter().map(|a| a.seq).max().unwrap_or(0) + 1,
        node_id: node.node_id.clone(),
        feature: node.feature,
        status,
        data: json!({}),
        warnings: json!([]),
        actor_type: ActorType::ApiKey,
        created_at: now,
    }
}

/// The change that records `attempt`, with the automatic moves it causes and the
/// `data.updated` event of a decided session.
fn after_attempt(b: &SessionState, attempt: Attempt, now: DateTime<Utc>) -> SessionChange {
    let s = &b.session;
    let mut all = b.attempts.clone();
    all.push(attempt.clone());
    let steps =
        transitions_after_attempt(s.status, &b.workflow.spec, &all, s.resubmit_info.as_ref());
    let mut change = SessionChange {
        status: steps.last().copied(),
        resubmit_info: (s.status == SessionStatus::Resubmitted && !steps.is_empty())
            .then_some(None),
        attempts: vec![attempt],
        ..SessionChange::for_session(s, now)
    };
    change.push_system_transitions(s.status, &steps, &b.workflow.spec, &all, now);
    change.push_data_updated_if_decided(s.status, !steps.is_empty());
    change
}

/// Values copied from an OCR result so sessions can be listed by country and found by name.
pub fn ocr_denormalized(feature: Feature, data: &Value) -> (Option<String>, Option<String>) {
    if feature != Feature::Ocr {
        return (None, None);
    }
    let text = |k: &str| {
        data.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let country = ["issuing_state", "country", "nationality"]
        .iter()
        .find_map(|k| text(k))
        .filter(|c| c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic()))
        .map(str::to_ascii_uppercase);
    let name = text("full_name").map(String::from).or_else(|| {
        match (text("first_name"), text("last_name")) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (Some(f), None) => Some(f.to_string()),
            (None, Some(l)) => Some(l.to_string()),
            _ => None,
        }
    });
    (country, name)
}

/// Bodies that are not JSON objects are refused before anything is read.
pub fn require_object(body: &Value) -> Result<(), FieldErrors> {
    if body.is_object() {
        Ok(())
    } else {
        Err(FieldErrors::single(
            "non_field_errors",
            "Invalid data. Expected a JSON object.",
        ))
    }
}

fn parse_comment(
    value: Option<&Value>,
    required: bool,
    errors: &mut FieldErrors,
) -> Option<String> {
    match value {
        None | Some(Value::Null) if required => {
            errors.add("comment", "This field is required.");
            None
        }
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if required && s.trim().is_empty() => {
            errors.add("comment", "This field may not be blank.");
            None
        }
        Some(Value::String(s)) if s.chars().count() > MAX_COMMENT => {
            errors.add(
                "comment",
                format!("Ensure this field has no more than {MAX_COMMENT} characters."),
            );
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.add("comment", "Not a valid string.");
            None
        }
    }
}

fn choice(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\" is not a valid choice."),
        other => format!("\"{other}\" is not a valid choice."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ocr_results_fill_country_and_name() {
        let (c, n) = ocr_denormalized(
            Feature::Ocr,
            &json!({"issuing_state": "esp", "first_name": "Ana", "last_name": "Gil"}),
        );
        assert_eq!(c.as_deref(), Some("ESP"));
        assert_eq!(n.as_deref(), Some("Ana Gil"));
        assert_eq!(
            ocr_denormalized(Feature::Liveness, &json!({"country": "ESP"})),
            (None, None)
        );
        assert_eq!(
            ocr_denormalized(Feature::Ocr, &json!({"country": "Spain"})).0,
            None
        );
    }
}
