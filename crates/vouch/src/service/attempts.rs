//! Recording a step result (§4.5): the core builds the attempt and the moves it causes.

use uuid::Uuid;
use vouch_core::steps::{record_attempt, NewResult};
use vouch_core::{AppId, SessionId};
use vouch_store::{Idem, Store, Written};

use super::{modify, Failure};

pub struct RecordAttempt {
    pub app_id: AppId,
    pub session_id: SessionId,
    /// Chosen by the caller, so that its answer (stored with an idempotency key) names it.
    pub attempt_id: Uuid,
    pub result: NewResult,
}

/// Records the attempt and its consequences in one transaction.
pub async fn record(
    store: &dyn Store,
    r: RecordAttempt,
    idem: Option<Idem<()>>,
) -> Result<Written<()>, Failure> {
    let (app_id, session_id) = (r.app_id, r.session_id);
    modify(store, app_id, session_id, idem, move |state| {
        let change = record_attempt(state, &r.result, r.attempt_id, crate::clock::now())?;
        Ok((Some(change), ()))
    })
    .await
}
