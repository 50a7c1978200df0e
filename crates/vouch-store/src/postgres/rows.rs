//! The PostgreSQL driver's error mapping, and the few helpers start-up and migrations use on a
//! raw client.

use crate::{StoreError, StoreResult};
use deadpool_postgres::GenericClient;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::Row;

pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Maps a driver error: lost connections, overload and serialization failures may be retried
/// (503), anything else is internal.
pub fn db_err(e: tokio_postgres::Error) -> StoreError {
    let message = match e.as_db_error() {
        Some(d) => format!("{}: {}", d.code().code(), d.message()),
        None => e.to_string(),
    };
    match e.code() {
        Some(c)
            if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::TOO_MANY_CONNECTIONS
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
                || *c == SqlState::QUERY_CANCELED =>
        {
            StoreError::Unavailable(message)
        }
        // Out of disk (53100) or of memory (53200): refused, nothing written, retried later.
        Some(c) if *c == SqlState::DISK_FULL || *c == SqlState::OUT_OF_MEMORY => {
            StoreError::Full(message)
        }
        Some(_) => StoreError::Internal(message),
        // No SQL state: the connection broke or could not be made, or (a defect of ours) a
        // value did not convert.
        None if connection_trouble(&e) => StoreError::Unavailable(e.to_string()),
        None => StoreError::Internal(e.to_string()),
    }
}

fn connection_trouble(e: &tokio_postgres::Error) -> bool {
    use std::error::Error;
    e.is_closed()
        || e.source().is_some_and(|s| s.is::<std::io::Error>())
        || e.to_string().contains("timeout")
}

pub fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

pub async fn query_one(c: &impl GenericClient, sql: &str, params: Params<'_>) -> StoreResult<Row> {
    let st = c.prepare_cached(sql).await.map_err(db_err)?;
    c.query_one(&st, params).await.map_err(db_err)
}

pub async fn execute(c: &impl GenericClient, sql: &str, params: Params<'_>) -> StoreResult<u64> {
    let st = c.prepare_cached(sql).await.map_err(db_err)?;
    c.execute(&st, params).await.map_err(db_err)
}

/// A column's value; a type mismatch is a defect of ours, reported as internal.
pub fn get<'a, T: FromSql<'a>>(row: &'a Row, col: &str) -> StoreResult<T> {
    row.try_get(col)
        .map_err(|e| StoreError::Internal(format!("column {col}: {e}")))
}
