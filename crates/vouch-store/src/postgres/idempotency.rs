//! Idempotency records, checked and written inside the write's own transaction. A transaction
//! advisory lock on the key makes concurrent retries of one request wait for the first.

use chrono::Duration;
use deadpool_postgres::GenericClient;
use serde_json::Value;

use super::rows::{execute, get, query_opt};
use crate::model::{Idem, IdemKey, Written};
use crate::{StoreError, StoreResult};

/// How long a key is remembered.
pub const WINDOW_HOURS: i64 = 24;

/// The stored response for `key`, if used within the window; `IdempotencyConflict` when it was
/// used with another request.
pub async fn lookup(c: &impl GenericClient, key: &IdemKey) -> StoreResult<Option<Written<()>>> {
    let since = key.now - Duration::hours(WINDOW_HOURS);
    let row = query_opt(
        c,
        "SELECT fingerprint, status_code, response FROM idempotency_keys
         WHERE app_id = $1 AND key = $2 AND created_at >= $3",
        &[&key.app_id, &key.key, &since],
    )
    .await?;
    let Some(row) = row else { return Ok(None) };
    let fingerprint: &str = get(&row, "fingerprint")?;
    if fingerprint != key.fingerprint {
        return Err(StoreError::IdempotencyConflict);
    }
    let status: i32 = get(&row, "status_code")?;
    let body: Value = get(&row, "response")?;
    Ok(Some(Written::Replayed {
        status_code: u16::try_from(status).unwrap_or(200),
        body,
    }))
}

/// Serializes every transaction using this key until it commits.
pub async fn lock(c: &impl GenericClient, key: &IdemKey) -> StoreResult<()> {
    execute(
        c,
        "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))",
        &[&key.app_id.to_string(), &key.key],
    )
    .await
    .map(|_| ())
}

/// Stores the response of the write that used `idem`'s key.
pub async fn record(
    c: &impl GenericClient,
    k: &IdemKey,
    status_code: u16,
    body: &Value,
) -> StoreResult<()> {
    execute(
        c,
        "INSERT INTO idempotency_keys (app_id, key, fingerprint, status_code, response, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (app_id, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,
            status_code = EXCLUDED.status_code, response = EXCLUDED.response,
            created_at = EXCLUDED.created_at",
        &[
            &k.app_id,
            &k.key,
            &k.fingerprint,
            &i32::from(status_code),
            body,
            &k.now,
        ],
    )
    .await
    .map(|_| ())
}

/// Locks the key and answers the earlier response if there is one; `None`: do the work, then
/// `finish`.
pub async fn begin<T>(
    c: &impl GenericClient,
    key: Option<&IdemKey>,
) -> StoreResult<Option<Written<T>>> {
    let Some(key) = key else { return Ok(None) };
    lock(c, key).await?;
    Ok(match lookup(c, key).await? {
        Some(Written::Replayed { status_code, body }) => {
            Some(Written::Replayed { status_code, body })
        }
        _ => None,
    })
}

/// Records the fresh value's response under the key, if any.
pub async fn finish<T>(
    c: &impl GenericClient,
    idem: Option<Idem<T>>,
    value: T,
) -> StoreResult<Written<T>> {
    if let Some(idem) = idem {
        let body = (idem.render)(&value);
        record(c, &idem.key, idem.status_code, &body).await?;
    }
    Ok(Written::Fresh(value))
}
