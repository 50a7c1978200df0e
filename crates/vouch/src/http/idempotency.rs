//! The `Idempotency-Key` header of `POST` requests (§2).

use axum::http::{HeaderMap, StatusCode};
use sha2::{Digest, Sha256};
use vouch_store::IdemKey;

use super::error::ApiError;

pub const HEADER: &str = "idempotency-key";
const MAX_LEN: usize = 255;

/// The key of this request, if it sent one, bound to the application and a fingerprint of the
/// route and body.
pub fn key(
    headers: &HeaderMap,
    app_id: vouch_core::AppId,
    route: &str,
    body: &[u8],
) -> Result<Option<IdemKey>, ApiError> {
    let Some(raw) = headers.get(HEADER) else {
        return Ok(None);
    };
    let invalid = |why: &str| {
        ApiError::detail(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            format!("Idempotency-Key {why}."),
        )
    };
    let key = raw
        .to_str()
        .map_err(|_| invalid("must be printable ASCII"))?;
    if key.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid("must be printable ASCII without spaces"));
    }
    if key.len() > MAX_LEN {
        return Err(invalid("must be at most 255 characters"));
    }
    let mut h = Sha256::new();
    h.update(route.as_bytes());
    h.update([0]);
    h.update(body);
    Ok(Some(IdemKey {
        app_id,
        key: key.to_string(),
        fingerprint: hex::encode(h.finalize()),
        now: crate::clock::now(),
    }))
}
