//! Recording a step result (§4.5): the core builds the attempt and the moves it causes.

use chrono::Utc;
use serde_json::{json, Value};
use uuid::Uuid;
use vouch_core::steps::{record_attempt, NewResult};
use vouch_store::{Idem, IdemKey, Store, Written};

use super::{modify, Failure};

pub struct RecordAttempt {
    pub app_id: Uuid,
    pub session_id: Uuid,
    pub result: NewResult,
}

/// The `201` body; known before the write, so an idempotent retry replays it exactly.
pub fn response(attempt_id: Uuid, r: &RecordAttempt) -> Value {
    json!({
        "attempt_id": attempt_id,
        "session_id": r.session_id,
        "node_id": r.result.node_id,
        "status": r.result.status,
    })
}

/// Records the attempt and its consequences in one transaction.
pub async fn record(
    store: &dyn Store,
    r: RecordAttempt,
    idem: Option<IdemKey>,
) -> Result<Written<Value>, Failure> {
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
        let change = record_attempt(state, &r.result, attempt_id, Utc::now())?;
        Ok((Some(change), body))
    })
    .await
}
