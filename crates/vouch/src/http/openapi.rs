//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use std::sync::LazyLock;

use serde_json::Value;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// `{"detail": "...", "code": "..."}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    detail: String,
    code: String,
}

/// Field-keyed validation errors: `{"field": ["message"], "nested[0].field": ["message"]}`.
#[derive(ToSchema)]
#[schema(value_type = Object, example = json!({"new_status": ["\"Pending\" is not a valid choice."]}))]
#[allow(dead_code)]
pub struct FieldErrorsBody(std::collections::BTreeMap<String, Vec<String>>);

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
