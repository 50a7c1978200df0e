//! `x-api-key` authentication and per-resource privileges (§1).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
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
    pub key_id: vouch_core::KeyId,
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
        let caller = authenticate(parts, state).await;
        match &caller {
            Ok((caller, own_limit)) => {
                super::limits::charge_key(parts, state, caller.key_id, *own_limit).await?
            }
            Err(_) => super::limits::charge_unauthenticated(parts, state).await?,
        }
        caller.map(|(c, _)| c)
    }
}

/// The key of the request and its own rate limit, or why there is none.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<(Caller, Option<u32>), ApiError> {
    {
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
        let now = crate::clock::now();
        if key.revoked_at.is_some() || key.expires_at.is_some_and(|t| t <= now) {
            return Err(ApiError::invalid_key());
        }
        Ok((
            Caller {
                key_display: format!("{}…{}", key.prefix, key.last4),
                key_id: key.id,
                scopes: key.scopes,
                app,
            },
            key.rate_limit,
        ))
    }
}

/// A privilege a handler needs, named by type so that the handler's signature states it.
pub trait Privilege {
    const RESOURCE: Resource;
    const ACCESS: Access;
}

macro_rules! privileges {
    ($($name:ident = $resource:ident $access:ident),* $(,)?) => {$(
        #[doc = concat!("`", stringify!($access), "` on `", stringify!($resource), "`.")]
        pub struct $name;
        impl Privilege for $name {
            const RESOURCE: Resource = Resource::$resource;
            const ACCESS: Access = Access::$access;
        }
    )*};
}
privileges!(
    ReadSessions = Sessions Read,
    WriteSessions = Sessions Write,
    WriteDecisions = Decisions Write,
    ReadWebhooks = Webhooks Read,
    WriteWebhooks = Webhooks Write,
    ReadWorkflows = Workflows Read,
    WriteWorkflows = Workflows Write,
);

/// An authenticated caller holding privilege `P`: `401`/`403` before anything else of the
/// request is looked at (put it before the path and body extractors).
pub struct Can<P: Privilege>(pub Caller, std::marker::PhantomData<P>);

impl<P: Privilege> std::ops::Deref for Can<P> {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl<P: Privilege + Send + Sync> FromRequestParts<AppState> for Can<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(P::RESOURCE, P::ACCESS)?;
        Ok(Can(caller, std::marker::PhantomData))
    }
}

/// The path's `{id}` as the id type `T` (`Id<SessionId>`, `Id<WorkflowId>` …); any other text is
/// answered like an unknown id (`404`).
pub struct Id<T>(pub T);

/// The path's `{delivery}` as a delivery id, likewise.
pub struct DeliveryPath(pub vouch_core::DeliveryId);

/// The path's `{uuid}` (an entry of a session's webhook log), likewise.
pub struct WebhookPath(pub uuid::Uuid);

async fn path_id<T: From<uuid::Uuid>>(
    parts: &mut Parts,
    state: &AppState,
    name: &str,
) -> Result<T, ApiError> {
    let params = axum::extract::RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::not_found())?;
    params
        .iter()
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| uuid::Uuid::parse_str(v).ok())
        .map(T::from)
        .ok_or_else(ApiError::not_found)
}

impl<T: From<uuid::Uuid> + Send> FromRequestParts<AppState> for Id<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        path_id(parts, state, "id").await.map(Id)
    }
}

impl FromRequestParts<AppState> for WebhookPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        path_id(parts, state, "uuid").await.map(WebhookPath)
    }
}

impl FromRequestParts<AppState> for DeliveryPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        path_id(parts, state, "delivery").await.map(DeliveryPath)
    }
}
