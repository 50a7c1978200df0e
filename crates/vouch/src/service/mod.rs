//! Use cases: load state, decide with the pure core, apply in one store transaction.

pub mod attempts;
pub mod changes;
pub mod email_plan;
pub mod lifecycle;
pub mod preview;
pub mod reviews;
pub mod update_status;

use std::sync::{Arc, Mutex};

use uuid::Uuid;
use vouch_store::{Idem, Modified, SessionChange, SessionState, Store, Written};

use crate::http::error::ApiError;

/// What a use case decided: the change to write (if any) and what to answer.
pub type Decision<T> = Result<(Option<SessionChange>, T), ApiError>;

/// Runs `decide` on the session's current state inside the store's write transaction and
/// applies its change there, so concurrent requests on one session serialize. `404` when the
/// session is not the application's.
pub async fn modify<T: Send + 'static>(
    store: &dyn Store,
    app_id: Uuid,
    session_id: Uuid,
    idem: Option<Idem<()>>,
    decide: impl FnOnce(&SessionState) -> Decision<T> + Send + 'static,
) -> Result<Written<T>, ApiError> {
    let answer: Arc<Mutex<Option<Result<T, ApiError>>>> = Arc::new(Mutex::new(None));
    let slot = answer.clone();
    let modified = store
        .modify_session(
            app_id,
            session_id,
            Box::new(move |state| {
                let (change, result) = match decide(state) {
                    Ok((change, t)) => (change, Ok(t)),
                    Err(e) => (None, Err(e)),
                };
                if let Ok(mut s) = slot.lock() {
                    *s = Some(result);
                }
                change
            }),
            idem,
        )
        .await?;
    match modified {
        Modified::NotFound => Err(ApiError::not_found()),
        Modified::Replayed { status_code, body } => Ok(Written::Replayed { status_code, body }),
        Modified::Applied | Modified::Unchanged => {
            let taken = answer.lock().ok().and_then(|mut s| s.take());
            match taken {
                Some(r) => r.map(Written::Fresh),
                None => {
                    Err(vouch_store::StoreError::Internal("the decision did not run".into()).into())
                }
            }
        }
    }
}

/// The answer of a use case that never replays.
pub fn fresh<T>(w: Written<T>) -> Result<T, ApiError> {
    match w {
        Written::Fresh(t) => Ok(t),
        Written::Replayed { .. } => {
            Err(vouch_store::StoreError::Internal("unexpected replay".into()).into())
        }
    }
}
