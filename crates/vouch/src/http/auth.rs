//! `x-api-key` authentication and per-resource privileges (§1).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use subtle::ConstantTimeEq;
use vouch_core::scopes::{Access, Resource, Scopes};
use vouch_store::App;

use super::error::ApiError;
use crate::apikey;
use crate::state::AppState;

/// The authenticated caller: a valid key and its application.
#[derive(Debug, Clone)]
pub struct Caller {
    pub app: App,
    pub key_id: uuid::Uuid,
    pub key_display: String,
    pub scopes: Scopes,
}

impl Caller {
    /// Fails with `403 permission_denied` unless the key has at least `access` on `resource`.
    pub fn require(&self, resource: Resource, access: Access) -> Result<(), ApiError> {
        if self.scopes.allows(resource, access) {
            Ok(())
        } else {
            Err(ApiError::permission_denied())
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(raw) = parts.headers.get("x-api-key") else {
            return Err(ApiError::not_authenticated());
        };
        // Malformed values are hashed and looked up like any other, so every refusal costs
        // about the same as an acceptance.
        let presented = apikey::hash(&String::from_utf8_lossy(raw.as_bytes()));
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&presented[..8]);
        let candidates = state.store.keys_by_hash_prefix(prefix).await?;
        let mut found = None;
        for (key, app) in candidates {
            if bool::from(key.key_hash.ct_eq(&presented)) {
                found = Some((key, app));
            }
        }
        let Some((key, app)) = found else {
            return Err(ApiError::invalid_key());
        };
        let now = Utc::now();
        if key.revoked_at.is_some() || key.expires_at.is_some_and(|t| t <= now) {
            return Err(ApiError::invalid_key());
        }
        Ok(Caller {
            key_display: format!("{}…{}", key.prefix, key.last4),
            key_id: key.id,
            scopes: key.scopes,
            app,
        })
    }
}
