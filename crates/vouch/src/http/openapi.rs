//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use std::sync::LazyLock;

use serde_json::Value;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// `{"detail": "...", "code": "..."}`: every error that is not about fields.
#[derive(serde::Serialize, ToSchema)]
pub struct ErrorBody {
    /// For people.
    pub detail: String,
    /// For programs: `not_found`, `wrong_current_status`, `service_unavailable`, …
    pub code: &'static str,
}

/// Field-keyed validation errors: `{"field": ["message"], "nested[0].field": ["message"]}`.
pub use vouch_core::FieldErrors as FieldErrorsBody;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))),
        );
    }
}

/// The document's frame; its paths come from the routes (`http::api`).
#[derive(OpenApi)]
#[openapi(
    info(title = "vouch", description = "Identity-verification sessions (Didit v3 Sessions API compatible)."),
    components(schemas(ErrorBody, FieldErrorsBody)),
    modifiers(&Security),
)]
pub struct ApiDoc;

/// The document, made once from the routes.
pub fn document_model() -> &'static utoipa::openapi::OpenApi {
    static DOC: LazyLock<utoipa::openapi::OpenApi> =
        LazyLock::new(|| super::api().split_for_parts().1);
    &DOC
}

pub fn document() -> Value {
    static JSON: LazyLock<Value> =
        LazyLock::new(|| serde_json::to_value(document_model()).unwrap_or(Value::Null));
    JSON.clone()
}
