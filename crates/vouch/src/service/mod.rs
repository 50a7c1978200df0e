//! Use cases: load the state, decide with a core function inside the store's write
//! transaction, apply. Nothing here knows HTTP; `Failure` becomes a response in `http::error`.

pub mod attempts;
pub mod lifecycle;
pub mod preview;
pub mod reviews;
pub mod update_status;

use std::sync::{Arc, Mutex};
use vouch_core::{AppId, SessionId};

use vouch_core::{FieldErrors, Rejection};
use vouch_store::{Idem, Modified, SessionChange, SessionState, Store, StoreError, Written};

/// Why a use case did not do what was asked.
#[derive(Debug)]
pub enum Failure {
    /// The core refused the command.
    Rejected(Rejection),
    Store(StoreError),
}

impl From<Rejection> for Failure {
    fn from(r: Rejection) -> Self {
        Failure::Rejected(r)
    }
}

impl From<FieldErrors> for Failure {
    fn from(f: FieldErrors) -> Self {
        Failure::Rejected(Rejection::Fields(f))
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

/// Runs `decide` on the session's current state inside the store's write transaction and
/// applies its change there, so concurrent requests on one session serialize. `decide` also
/// yields the answer; a session that is not the application's is `NotFound`.
pub async fn modify<T: Send + 'static>(
    store: &dyn Store,
    app_id: AppId,
    session_id: SessionId,
    idem: Option<Idem<()>>,
    decide: impl FnOnce(&SessionState) -> Result<(Option<SessionChange>, T), Rejection> + Send + 'static,
) -> Result<Written<T>, Failure> {
    let answer: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
    let slot = answer.clone();
    let modified = store
        .modify_session(
            app_id,
            session_id,
            Box::new(move |state| {
                let (change, t) = decide(state)?;
                if let Ok(mut s) = slot.lock() {
                    *s = Some(t);
                }
                Ok(change)
            }),
            idem,
        )
        .await?;
    match modified {
        Modified::NotFound => Err(Rejection::NotFound.into()),
        Modified::Rejected(r) => Err(r.into()),
        Modified::Replayed { status_code, body } => Ok(Written::Replayed { status_code, body }),
        Modified::Applied | Modified::Unchanged => answer
            .lock()
            .ok()
            .and_then(|mut s| s.take())
            .map(Written::Fresh)
            .ok_or_else(|| StoreError::Internal("the decision did not run".into()).into()),
    }
}

/// The answer of a use case that never replays.
pub fn fresh<T>(w: Written<T>) -> Result<T, Failure> {
    match w {
        Written::Fresh(t) => Ok(t),
        Written::Replayed { .. } => Err(StoreError::Internal("unexpected replay".into()).into()),
    }
}
