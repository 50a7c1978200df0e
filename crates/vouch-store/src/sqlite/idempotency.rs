//! The shared idempotency records (`crate::queries::idempotency`) for rusqlite closures on the
//! writer thread.

use rusqlite::Connection;

use super::driver::{ready, Lite};
use crate::model::{Idem, IdemKey, Written};
use crate::queries::idempotency as shared;
use crate::StoreResult;

pub fn lookup(conn: &Connection, key: &IdemKey) -> StoreResult<Option<Written<()>>> {
    ready(shared::lookup(&Lite(conn), key))
}

/// Runs `work` unless the key was already used; records its response in the same transaction.
pub fn run<T>(
    conn: &Connection,
    idem: Option<Idem<T>>,
    work: impl FnOnce() -> StoreResult<T>,
) -> StoreResult<Written<T>> {
    let db = Lite(conn);
    if let Some(replayed) = ready(shared::begin(&db, idem.as_ref().map(|i| &i.key)))? {
        return Ok(replayed);
    }
    let value = work()?;
    ready(shared::finish(&db, idem, value))
}
