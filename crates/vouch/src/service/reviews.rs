//! Step overrides and review notes (§4.7).

use chrono::Utc;
use serde_json::{json, Value};
use uuid::Uuid;
use vouch_core::attempt::{ActorType, Attempt};
use vouch_core::progress::{latest_counting, transitions_after_attempt};
use vouch_core::review::{NewReview, Review};
use vouch_core::update_status::MAX_COMMENT;
use vouch_core::{AttemptStatus, FieldErrors, SessionStatus};
use vouch_store::{SessionChange, Store, StoreError};

use super::changes::{push_data_updated_if_decided, push_system_transition, set_kyc_expiry};
use super::{fresh, modify};
use crate::http::error::ApiError;

fn parse_comment(body: &Value, required: bool, errors: &mut FieldErrors) -> Option<String> {
    match body.get("comment") {
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

pub struct StepUpdate {
    pub app_id: Uuid,
    pub session_id: Uuid,
    pub node_id: String,
    pub body: Value,
    pub actor_display: String,
}

/// Records a reviewer's result for one step; answers the `200` body.
pub async fn update_step(store: &dyn Store, u: StepUpdate) -> Result<Value, ApiError> {
    let mut errors = FieldErrors::new();
    if !u.body.is_object() {
        return Err(FieldErrors::single(
            "non_field_errors",
            "Invalid data. Expected a JSON object.",
        )
        .into());
    }
    let new_status = match u.body.get("new_status") {
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
    let comment = parse_comment(&u.body, false, &mut errors);
    let (app_id, session_id) = (u.app_id, u.session_id);
    let done = modify(store, app_id, session_id, None, move |b| {
        let node = b
            .workflow
            .spec
            .node(&u.node_id)
            .ok_or_else(ApiError::not_found)?
            .clone();
        errors.into_result()?;
        let Some(new_status) = new_status else {
            return Err(ApiError::field("new_status", "This field is required."));
        };
        let s = &b.session;
        let previous = latest_counting(&b.attempts, None)
            .get(node.node_id.as_str())
            .map(|a| a.status);
        if previous == Some(new_status) {
            return Err(ApiError::same_status());
        }
        let now = Utc::now();
        let attempt = Attempt {
            id: Uuid::now_v7(),
            session_id: s.id,
            seq: b.attempts.iter().map(|a| a.seq).max().unwrap_or(0) + 1,
            node_id: node.node_id.clone(),
            feature: node.feature,
            status: new_status,
            data: json!({}),
            warnings: json!([]),
            actor_type: ActorType::ApiKey,
            created_at: now,
        };
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
        change.reviews.push(NewReview {
            uuid: Uuid::now_v7(),
            activity_type: "STEP_STATUS_CHANGE".into(),
            actor_type: ActorType::ApiKey,
            actor_display: u.actor_display.clone(),
            previous_status: Some(s.status),
            new_status: Some(s.status),
            comment: comment.clone(),
            metadata: json!({
                "node_id": node.node_id,
                "feature": node.feature.name(),
                "previous_step_status": previous,
                "new_step_status": new_status,
            }),
            created_at: now,
        });
        let mut from = s.status;
        for to in &steps {
            push_system_transition(&mut change, from, *to, now);
            from = *to;
        }
        if let Some(last) = steps.last() {
            set_kyc_expiry(&mut change, *last, &b.workflow.spec, &all, now);
        }
        push_data_updated_if_decided(&mut change, s.status, !steps.is_empty());
        let answer = json!({
            "session_id": s.id,
            "node_id": node.node_id,
            "feature_type": node.feature.name(),
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
    app_id: Uuid,
    session_id: Uuid,
    body: &Value,
    actor_display: &str,
) -> Result<Review, ApiError> {
    let mut errors = FieldErrors::new();
    if !body.is_object() {
        return Err(FieldErrors::single(
            "non_field_errors",
            "Invalid data. Expected a JSON object.",
        )
        .into());
    }
    let comment = parse_comment(body, true, &mut errors);
    let new_status = match body.get("new_status") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_str().and_then(SessionStatus::parse) {
            Some(s) => Some(s),
            None => {
                errors.add("new_status", choice(v));
                None
            }
        },
    };
    let uuid = Uuid::now_v7();
    let actor = actor_display.to_string();
    let done = modify(store, app_id, session_id, None, move |b| {
        errors.into_result()?;
        let now = Utc::now();
        let mut change = SessionChange::for_session(&b.session, now);
        change.reviews.push(NewReview {
            uuid,
            activity_type: "NOTE".into(),
            actor_type: ActorType::ApiKey,
            actor_display: actor,
            previous_status: Some(b.session.status),
            new_status,
            comment,
            metadata: json!({}),
            created_at: now,
        });
        Ok((Some(change), ()))
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
