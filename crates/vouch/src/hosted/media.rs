//! `GET /media/{id}/{variant}?expires=…&signature=…`: a captured file, for whoever holds a
//! signed URL from a decision (or an engine job). Nothing else opens it: no key, no cookie.
//! A URL past its expiry, or not signed by this server, answers 403; a file of an erased
//! session (its key destroyed) answers 404.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use vouch_core::MediaId;

use super::param;
use crate::media::Variant;
use crate::state::AppState;

pub async fn get(
    State(state): State<AppState>,
    Path((id, variant)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let q = query.as_deref();
    let (Ok(id), Some(variant)) = (id.parse::<uuid::Uuid>(), Variant::parse(&variant)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let id = MediaId::from_uuid(id);
    let expires = param(q, "expires").and_then(|e| e.parse::<i64>().ok());
    let signature = param(q, "signature").unwrap_or_default();
    let signed = expires.is_some_and(|e| {
        state
            .media
            .url_is_valid(id, variant, e, &signature, crate::clock::now())
    });
    if !signed {
        return StatusCode::FORBIDDEN.into_response();
    }
    let found = match state.store.media(id).await {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %e, "reading a media record");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let Some((record, wrapped)) = found else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let bytes = match state
        .media
        .read(record.session_id, id, variant, &wrapped)
        .await
    {
        Ok(Some(b)) => b,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "reading a media file");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(record.media_type.mime()),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}
