//! Helpers for the SQLite code that still runs rusqlite directly: the shared row mappers
//! (`crate::rows`) lifted into rusqlite's closure type, and the store's time format.

pub use super::driver::{db_err, ts};
use crate::sql::Row;
use crate::StoreResult;

/// A shared mapper as a rusqlite row closure.
pub fn via<T>(
    f: impl Fn(&Row) -> StoreResult<T>,
) -> impl Fn(&rusqlite::Row) -> rusqlite::Result<T> {
    move |r| f(&Row(r)).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}
