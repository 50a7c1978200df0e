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

/// Every error answer: field-keyed errors (`400`), or `{detail, code}`. A `400` is either.
#[derive(serde::Serialize, ToSchema)]
#[serde(untagged)]
pub enum ErrorAnswer {
    Fields(FieldErrorsBody),
    Detail(ErrorBody),
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
    components(schemas(ErrorBody, FieldErrorsBody, ErrorAnswer)),
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
    static JSON: LazyLock<Value> = LazyLock::new(|| {
        let mut doc = serde_json::to_value(document_model()).unwrap_or(Value::Null);
        camel_case_links(&mut doc);
        server_limits(&mut doc);
        doc
    });
    JSON.clone()
}

/// What any operation may answer because of the server's limits rather than its own rules:
/// `429` past a rate limit (§7) for every operation that takes a key, `503` when the request
/// was not answered in time or the database is unavailable, `408` for a body that stalls.
fn server_limits(doc: &mut Value) {
    let error = serde_json::json!({"$ref": "#/components/schemas/ErrorBody"});
    let int_header = |description: &str| serde_json::json!({"description": description, "schema": {"type": "integer"}});
    let limited = serde_json::json!({
        "description": "A rate limit of the key (or of the client address, without a valid key) is spent: `rate_limited`",
        "headers": {
            "Retry-After": int_header("Seconds until one more request is allowed"),
            "X-RateLimit-Limit": int_header("Requests allowed per window by the counter that refused"),
            "X-RateLimit-Remaining": int_header("Requests left in the window (0)"),
            "X-RateLimit-Reset": int_header("When the current window ends, in seconds since the epoch"),
        },
        "content": {"application/json": {"schema": error}},
    });
    let unavailable = serde_json::json!({
        "description": "Not answered in time (`request_timeout`) or the database is unavailable (`service_unavailable`); retry after `Retry-After`",
        "headers": {"Retry-After": int_header("Seconds to wait before retrying")},
        "content": {"application/json": {"schema": error}},
    });
    let stalled = serde_json::json!({
        "description": "The request body stopped arriving (`request_timeout`)",
        "content": {"application/json": {"schema": error}},
    });
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for op in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|ops| ops.values_mut())
        .filter_map(Value::as_object_mut)
    {
        let keyed = op.contains_key("security");
        let has_body = op.contains_key("requestBody");
        let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
            continue;
        };
        if keyed {
            responses.entry("429").or_insert_with(|| limited.clone());
        }
        if has_body {
            responses.entry("408").or_insert_with(|| stalled.clone());
        }
        responses
            .entry("503")
            .or_insert_with(|| unavailable.clone());
    }
}

/// utoipa 5 writes a link's fields in snake case; OpenAPI names them `operationId`,
/// `operationRef` and `requestBody`.
fn camel_case_links(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let links = paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|ops| ops.values_mut())
        .filter_map(|op| op.get_mut("responses").and_then(Value::as_object_mut))
        .flat_map(|responses| responses.values_mut())
        .filter_map(|r| r.get_mut("links").and_then(Value::as_object_mut))
        .flat_map(|links| links.values_mut())
        .filter_map(Value::as_object_mut);
    for link in links {
        for (from, to) in [
            ("operation_id", "operationId"),
            ("operation_ref", "operationRef"),
            ("request_body", "requestBody"),
        ] {
            if let Some(v) = link.remove(from) {
                link.insert(to.to_string(), v);
            }
        }
    }
}
