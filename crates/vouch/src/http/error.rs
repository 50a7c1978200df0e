//! The one place where errors become HTTP responses, in the contract's two shapes (§2).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use vouch_core::preview::PreviewError;
use vouch_core::update_status::BACKEND_RESUBMIT_COOLDOWN_SECS;
use vouch_core::{FieldErrors, Rejection};
use vouch_store::StoreError;

use super::openapi::{ErrorAnswer, ErrorBody};
use crate::service::Failure;

#[derive(Debug)]
pub enum ApiError {
    /// `400` keyed by field.
    Fields(FieldErrors),
    /// `{detail, code}` with the given status.
    Detail {
        status: StatusCode,
        code: &'static str,
        detail: String,
    },
    /// `429` with `Retry-After`.
    TooSoon {
        code: &'static str,
        detail: String,
        retry_after_secs: i64,
    },
    /// A store failure: `503` when it may pass, else `500` (cause logged, not shown).
    Store(StoreError),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn detail(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Detail {
            status,
            code,
            detail: detail.into(),
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Fields(FieldErrors::single(field, message))
    }

    pub fn not_found() -> Self {
        Self::detail(StatusCode::NOT_FOUND, "not_found", "Not found.")
    }

    pub fn same_status() -> Self {
        Self::detail(
            StatusCode::BAD_REQUEST,
            "same_status",
            "The new status is the same as the current status.",
        )
    }

    pub fn not_authenticated() -> Self {
        Self::detail(
            StatusCode::FORBIDDEN,
            "not_authenticated",
            "Authentication credentials were not provided.",
        )
    }

    pub fn invalid_key() -> Self {
        Self::detail(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            "Invalid API key.",
        )
    }

    pub fn permission_denied() -> Self {
        Self::detail(
            StatusCode::FORBIDDEN,
            "permission_denied",
            "You do not have permission to perform this action.",
        )
    }
}

impl From<FieldErrors> for ApiError {
    fn from(e: FieldErrors) -> Self {
        ApiError::Fields(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::IdempotencyConflict => ApiError::detail(
                StatusCode::CONFLICT,
                "idempotency_conflict",
                "This Idempotency-Key was already used with a different request.",
            ),
            other => ApiError::Store(other),
        }
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        match r {
            Rejection::NotFound => ApiError::not_found(),
            Rejection::Malformed(detail) => {
                ApiError::detail(StatusCode::BAD_REQUEST, "parse_error", detail)
            }
            Rejection::Preview(e) => {
                let (code, detail) = match e {
                    PreviewError::Expired => (
                        "preview_expired",
                        "The email preview is older than 15 minutes; preview again.",
                    ),
                    PreviewError::Mismatch => (
                        "preview_mismatch",
                        "The email preview was for other steps, another recipient or another language.",
                    ),
                    PreviewError::Malformed | PreviewError::BadSignature => {
                        ("preview_invalid", "The email preview token is not valid.")
                    }
                };
                ApiError::detail(StatusCode::CONFLICT, code, detail)
            }
            Rejection::WrongCurrentStatus => ApiError::detail(
                StatusCode::BAD_REQUEST,
                "wrong_current_status",
                "Wrong Current Status",
            ),
            Rejection::Fields(f) => ApiError::Fields(f),
            Rejection::Stale => ApiError::detail(
                StatusCode::CONFLICT,
                "stale",
                "The session changed since this was sent.",
            ),
            Rejection::SameStatus => ApiError::same_status(),
            Rejection::NothingToResubmit => ApiError::detail(
                StatusCode::BAD_REQUEST,
                "nothing_to_resubmit",
                "No features found that need resubmission",
            ),
            Rejection::TooSoon { retry_after_secs } => ApiError::TooSoon {
                code: "resubmission_too_soon",
                detail: format!(
                    "A backend-only resubmission of this session was requested less than {BACKEND_RESUBMIT_COOLDOWN_SECS} seconds ago."
                ),
                retry_after_secs,
            },
        }
    }
}

impl From<Failure> for ApiError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Rejected(r) => r.into(),
            Failure::Store(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::TooSoon {
                code,
                detail,
                retry_after_secs,
            } => {
                let mut r = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(ErrorBody { detail, code }),
                )
                    .into_response();
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
            ApiError::Fields(f) => {
                (StatusCode::BAD_REQUEST, Json(ErrorAnswer::Fields(f))).into_response()
            }
            ApiError::Detail {
                status,
                code,
                detail,
            } => (
                status,
                Json(ErrorAnswer::Detail(ErrorBody { detail, code })),
            )
                .into_response(),
            ApiError::Store(StoreError::Overloaded(cause)) => {
                tracing::debug!(%cause, "shed");
                let mut r = unavailable(
                    "overloaded",
                    "The server is at capacity; retry shortly.".into(),
                );
                r.extensions_mut()
                    .insert(crate::metrics::Shed("overloaded"));
                r
            }
            ApiError::Store(StoreError::Full(cause)) => {
                tracing::error!(%cause, "the database is full");
                let mut r = unavailable(
                    "storage_full",
                    "The server's storage is full; nothing was written. Retry later.".into(),
                );
                r.extensions_mut()
                    .insert(crate::metrics::Shed("storage_full"));
                r
            }
            ApiError::Store(StoreError::Unavailable(cause)) => {
                tracing::warn!(%cause, "store unavailable");
                let mut r = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(ErrorBody {
                        detail: "Service temporarily unavailable, retry shortly.".into(),
                        code: "service_unavailable",
                    }),
                )
                    .into_response();
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                r
            }
            ApiError::Store(e) => {
                tracing::error!(error = %e, "internal error");
                internal_error()
            }
        }
    }
}

/// `503` with `Retry-After: 1` and `{detail, code}`.
fn unavailable(code: &'static str, detail: String) -> Response {
    let mut r = (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(ErrorBody { detail, code }),
    )
        .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

pub fn internal_error() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(ErrorBody {
            detail: "Internal server error.".into(),
            code: "internal_error",
        }),
    )
        .into_response()
}
