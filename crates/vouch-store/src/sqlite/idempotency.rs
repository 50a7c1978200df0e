//! Idempotency records, checked and written inside the write's own transaction.

use chrono::Duration;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use super::rows::{db_err, ts};
use crate::model::{Idem, IdemKey, Written};
use crate::{StoreError, StoreResult};

/// How long a key is remembered.
pub const WINDOW_HOURS: i64 = 24;

/// The stored response for `key`, if used within the window; `IdempotencyConflict` when it was
/// used with another request.
pub fn lookup(conn: &Connection, key: &IdemKey) -> StoreResult<Option<Written<()>>> {
    let since = ts(key.now - Duration::hours(WINDOW_HOURS));
    let row: Option<(String, i64, String)> = conn
        .query_row(
            "SELECT fingerprint, status_code, response FROM idempotency_keys
             WHERE app_id = ?1 AND key = ?2 AND created_at >= ?3",
            params![key.app_id.to_string(), key.key, since],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(db_err)?;
    match row {
        None => Ok(None),
        Some((fp, _, _)) if fp != key.fingerprint => Err(StoreError::IdempotencyConflict),
        Some((_, status, body)) => Ok(Some(Written::Replayed {
            status_code: u16::try_from(status).unwrap_or(200),
            body: serde_json::from_str(&body).unwrap_or(Value::Null),
        })),
    }
}

/// Runs `work` unless the key was already used; records its response in the same transaction.
pub fn run<T>(
    conn: &Connection,
    idem: Option<Idem<T>>,
    work: impl FnOnce() -> StoreResult<T>,
) -> StoreResult<Written<T>> {
    let Some(idem) = idem else {
        return work().map(Written::Fresh);
    };
    if let Some(Written::Replayed { status_code, body }) = lookup(conn, &idem.key)? {
        return Ok(Written::Replayed { status_code, body });
    }
    let value = work()?;
    let body = (idem.render)(&value);
    let k = &idem.key;
    conn.execute(
        "INSERT OR REPLACE INTO idempotency_keys
            (app_id, key, fingerprint, status_code, response, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            k.app_id.to_string(),
            k.key,
            k.fingerprint,
            idem.status_code,
            body.to_string(),
            ts(k.now)
        ],
    )
    .map_err(db_err)?;
    Ok(Written::Fresh(value))
}
