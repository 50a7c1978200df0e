//! The OpenAPI 3.1 document, generated from the handlers' annotations.

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

#[derive(OpenApi)]
#[openapi(
    info(title = "vouch", description = "Identity-verification sessions (Didit v3 Sessions API compatible)."),
    paths(
        super::workflows::create, super::workflows::list, super::workflows::retrieve, super::workflows::update,
        super::sessions::create, super::sessions::decision, super::sessions::list, super::sessions::remove,
        super::attempts::create,
        super::review::session_status, super::review::step_status, super::review::list_reviews,
        super::review::create_note,
        super::destinations::create, super::destinations::list, super::destinations::retrieve,
        super::destinations::update, super::destinations::remove, super::destinations::rotate,
        super::deliveries::list, super::deliveries::retrieve, super::deliveries::resend,
        super::deliveries::session_log, super::emails::list,
        super::emails::resubmission_preview, super::emails::decision_preview,
        super::system::healthcheck, super::system::metrics, super::system::openapi,
    ),
    components(schemas(ErrorBody, FieldErrorsBody)),
    modifiers(&Security),
)]
struct ApiDoc;

pub fn document() -> Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null)
}
