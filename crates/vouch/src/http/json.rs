//! Request bodies: size limit, JSON parse errors and type errors in the contract's shapes.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use vouch_core::{FieldErrors, Rejection};

use super::error::ApiError;
use crate::state::AppState;

/// The raw body, read up to the configured limit (`413` beyond it).
pub struct Body(pub Bytes);

impl FromRequest<AppState> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit = state.config.body_limit_bytes;
        axum::body::to_bytes(req.into_body(), limit)
            .await
            .map(Body)
            .map_err(|e| body_error(&e, limit))
    }
}

/// Why a body could not be read: over `limit` (`413`), stalled past `http.body_read_timeout`
/// (`408`), or cut off or malformed by the client (`400`).
pub fn body_error(e: &axum::Error, limit: usize) -> ApiError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return too_large(limit);
        }
        if c.is::<tower_http::timeout::TimeoutError>() {
            return ApiError::detail(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "The request body was not received in time.",
            );
        }
        cause = c.source();
    }
    ApiError::detail(
        StatusCode::BAD_REQUEST,
        "unreadable_body",
        "The request body could not be read.",
    )
}

/// A typed answer as the JSON value stored for idempotent replays and sent.
pub fn to_json(v: impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

pub fn too_large(limit: usize) -> ApiError {
    ApiError::detail(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("Request body is larger than {limit} bytes."),
    )
}

/// Reads the body as JSON without interpreting it (an empty body is `{}`); malformed JSON is
/// a `parse_error`.
pub fn json_value(bytes: &[u8]) -> Result<serde_json::Value, Rejection> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes)
        .map_err(|e| Rejection::Malformed(format!("JSON parse error - {e}")))
}

/// As Django REST framework's text fields; PostgreSQL cannot store a NUL in text.
pub const NULL_CHARACTERS: &str = "Null characters are not allowed.";

/// Parses a JSON body into `T`: malformed JSON → `parse_error`; a value of the wrong type →
/// a field-keyed 400 naming its path. An empty body is read as `{}`.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value = json_value(bytes)?;
    if !value.is_object() {
        return Err(ApiError::field(
            "non_field_errors",
            "Invalid data. Expected a JSON object.",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "non_field_errors".to_string()
        } else {
            path
        };
        let inner = e.into_inner().to_string();
        let message = if inner.starts_with("invalid type") {
            let expected = inner.rsplit("expected ").next().unwrap_or("another type");
            format!("Invalid type: expected {expected}.")
        } else if inner.starts_with("unknown variant") {
            let got = inner.split('`').nth(1).unwrap_or("");
            format!("\"{got}\" is not a valid choice.")
        } else {
            inner
        };
        ApiError::Fields(FieldErrors::single(field, message))
    })
}

/// Declares a resource's two request bodies from one field list: the creation body, where the
/// fields marked `= required(true)` must be present (and the document says so), and the update body,
/// where every field is optional. Both read the same fields with the same constraints, and the
/// creation body converts into the update body, which the handlers validate.
macro_rules! create_and_update_bodies {
    (
        $(#[$new_meta:meta])* create $new:ident;
        $(#[$upd_meta:meta])* update $upd:ident;
        { $( $(#[$fmeta:meta])* $field:ident : $ty:ty $(= required($req:literal))? ),* $(,)? }
    ) => {
        $(#[$new_meta])*
        #[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
        pub struct $new {
            $( $(#[$fmeta])* $(#[schema(required = $req, nullable = false)])? $field: $ty, )*
        }

        $(#[$upd_meta])*
        #[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
        pub struct $upd {
            $( $(#[$fmeta])* $field: $ty, )*
        }

        impl From<$new> for $upd {
            fn from(b: $new) -> Self {
                $upd { $( $field: b.$field, )* }
            }
        }
    };
}
pub(crate) use create_and_update_bodies;
