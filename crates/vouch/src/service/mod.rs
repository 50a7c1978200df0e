//! Use cases: load state, decide with the pure core, apply in one store transaction.

pub mod attempts;
pub mod changes;
pub mod lifecycle;
pub mod reviews;
pub mod update_status;

/// How many times a use case re-decides after losing a race on the session version.
pub const MAX_RETRIES: usize = 32;
