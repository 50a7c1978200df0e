//! Idempotency records, checked and written inside the write's own transaction. On PostgreSQL a
//! transaction lock on the key makes concurrent retries of one request wait for the first; on
//! SQLite the single writer does.

use chrono::Duration;
use serde_json::Value;

use crate::model::{Idem, IdemKey, Written};
use crate::sql::Db;
use crate::{stmt, StoreError, StoreResult};

/// How long a key is remembered.
pub const WINDOW_HOURS: i64 = 24;

/// The stored response for `key`, if used within the window; `IdempotencyConflict` when it was
/// used with another request.
pub async fn lookup(db: &impl Db, key: &IdemKey) -> StoreResult<Option<Written<()>>> {
    let since = key.now - Duration::hours(WINDOW_HOURS);
    let row = db
        .query_opt(
            stmt!(
                "SELECT fingerprint, status_code, response FROM idempotency_keys
                 WHERE app_id = $1 AND key = $2 AND created_at >= $3",
                key.app_id,
                &key.key,
                since
            ),
            |r| {
                Ok((
                    r.text("fingerprint")?,
                    r.int("status_code")?,
                    r.json("response")?,
                ))
            },
        )
        .await?;
    match row {
        None => Ok(None),
        Some((fp, _, _)) if fp != key.fingerprint => Err(StoreError::IdempotencyConflict),
        Some((_, status, body)) => Ok(Some(Written::Replayed {
            status_code: u16::try_from(status).unwrap_or(200),
            body,
        })),
    }
}

/// Locks the key and answers the earlier response if there is one; `None`: do the work, then
/// `finish`.
pub async fn begin<T>(db: &impl Db, key: Option<&IdemKey>) -> StoreResult<Option<Written<T>>> {
    let Some(key) = key else { return Ok(None) };
    db.lock(format!("{}/{}", key.app_id, key.key)).await?;
    Ok(match lookup(db, key).await? {
        Some(Written::Replayed { status_code, body }) => {
            Some(Written::Replayed { status_code, body })
        }
        _ => None,
    })
}

/// Stores the response of the write that used `k`.
pub async fn record(db: &impl Db, k: &IdemKey, status_code: u16, body: &Value) -> StoreResult<()> {
    db.execute(stmt!(
        "INSERT INTO idempotency_keys (app_id, key, fingerprint, status_code, response, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (app_id, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,
            status_code = EXCLUDED.status_code, response = EXCLUDED.response,
            created_at = EXCLUDED.created_at",
        k.app_id,
        &k.key,
        &k.fingerprint,
        status_code,
        body,
        k.now
    ))
    .await
    .map(|_| ())
}

/// Records the fresh value's response under the key, if any.
pub async fn finish<T>(db: &impl Db, idem: Option<Idem<T>>, value: T) -> StoreResult<Written<T>> {
    if let Some(idem) = idem {
        let body = (idem.render)(&value);
        record(db, &idem.key, idem.status_code, &body).await?;
    }
    Ok(Written::Fresh(value))
}

/// Runs `work` unless the key was used already, and records its response.
pub async fn run<D: Db, T>(
    db: &D,
    idem: Option<Idem<T>>,
    work: impl AsyncFnOnce(&D) -> StoreResult<T>,
) -> StoreResult<Written<T>> {
    if let Some(replayed) = begin(db, idem.as_ref().map(|i| &i.key)).await? {
        return Ok(replayed);
    }
    let value = work(db).await?;
    finish(db, idem, value).await
}
