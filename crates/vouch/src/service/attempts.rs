//! Recording a step result (§4.5) and the automatic status changes it causes.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;
use vouch_core::attempt::{ActorType, Attempt};
use vouch_core::feature::Feature;
use vouch_core::progress::transitions_after_attempt;
use vouch_core::{AttemptStatus, FieldErrors, SessionStatus};
use vouch_store::{Idem, IdemKey, SessionChange, Store, Written};

use super::changes::{push_data_updated_if_decided, push_system_transition, set_kyc_expiry};
use super::modify;
use crate::http::error::ApiError;

pub struct RecordAttempt {
    pub app_id: Uuid,
    pub session_id: Uuid,
    pub node_id: String,
    pub status: AttemptStatus,
    pub data: Value,
    pub warnings: Value,
    pub actor: ActorType,
}

/// The `201` body; known before the write, so an idempotent retry replays it exactly.
pub fn response(attempt_id: Uuid, r: &RecordAttempt) -> Value {
    json!({
        "attempt_id": attempt_id,
        "session_id": r.session_id,
        "node_id": r.node_id,
        "status": r.status,
    })
}

/// Values copied from an OCR result so sessions can be listed by country and found by name.
fn ocr_denormalized(feature: Feature, data: &Value) -> (Option<String>, Option<String>) {
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

/// Builds the change for one attempt; `Err` for a node outside the pinned workflow.
fn decide(
    bundle: &vouch_store::SessionState,
    r: &RecordAttempt,
    attempt_id: Uuid,
    now: DateTime<Utc>,
) -> Result<SessionChange, ApiError> {
    let s = &bundle.session;
    let node = bundle.workflow.spec.node(&r.node_id).ok_or_else(|| {
        ApiError::Fields(FieldErrors::single(
            "node_id",
            format!(
                "\"{}\" is not a node of this session's workflow.",
                r.node_id
            ),
        ))
    })?;
    let attempt = Attempt {
        id: attempt_id,
        session_id: s.id,
        seq: bundle.attempts.iter().map(|a| a.seq).max().unwrap_or(0) + 1,
        node_id: r.node_id.clone(),
        feature: node.feature,
        status: r.status,
        data: r.data.clone(),
        warnings: r.warnings.clone(),
        actor_type: r.actor,
        created_at: now,
    };
    let mut all = bundle.attempts.clone();
    all.push(attempt.clone());
    let steps = transitions_after_attempt(
        s.status,
        &bundle.workflow.spec,
        &all,
        s.resubmit_info.as_ref(),
    );
    let decided_after_resubmission = s.status == SessionStatus::Resubmitted && !steps.is_empty();
    let (country, full_name) = ocr_denormalized(node.feature, &r.data);
    let mut change = SessionChange {
        status: steps.last().copied(),
        resubmit_info: decided_after_resubmission.then_some(None),
        country,
        full_name,
        attempts: vec![attempt],
        ..SessionChange::for_session(s, now)
    };
    let mut from = s.status;
    for to in &steps {
        push_system_transition(&mut change, from, *to, now);
        from = *to;
    }
    if let Some(last) = steps.last() {
        set_kyc_expiry(&mut change, *last, &bundle.workflow.spec, &all, now);
    }
    push_data_updated_if_decided(&mut change, s.status, !steps.is_empty());
    Ok(change)
}

/// Records the attempt and its consequences in one transaction.
pub async fn record(
    store: &dyn Store,
    r: RecordAttempt,
    idem: Option<IdemKey>,
) -> Result<Written<Value>, ApiError> {
    let attempt_id = Uuid::now_v7();
    let body = response(attempt_id, &r);
    let rendered = body.clone();
    let idem = idem.map(|key| Idem {
        key,
        status_code: 201,
        render: Box::new(move |_: &()| rendered),
    });
    let (app_id, session_id) = (r.app_id, r.session_id);
    modify(store, app_id, session_id, idem, move |state| {
        let change = decide(state, &r, attempt_id, Utc::now())?;
        Ok((Some(change), body))
    })
    .await
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
