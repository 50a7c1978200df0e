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
        exact_rules(&mut doc);
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

/// Rules the handlers' annotations cannot state, written into the document so that a client (or
/// a fuzzer) generating requests from it sends only what the server accepts:
/// - `date_from`/`date_to` take a date or a date-time (an empty value is no bound);
/// - a batch deletion names at least one session number, or says `delete_all: true`;
/// - an import sends its `file` as multipart, or a `source_file_url` as JSON;
/// - an update (PATCH) of a destination or a workflow may have no body: it changes nothing; a
///   session created without one is on the default workflow;
/// - a sandbox scenario is one of the catalog's; a share names the receiving application;
/// - a step to resubmit may be given as its bare node id.
fn exact_rules(doc: &mut Value) {
    use serde_json::json;
    let day_or_time = json!({"type": "string",
        "anyOf": [{"format": "date"}, {"format": "date-time"}, {"maxLength": 0}]});
    let list = at(doc, "/v3/sessions/", "get", "/parameters").and_then(Value::as_array_mut);
    for p in list.into_iter().flatten() {
        if matches!(p["name"].as_str(), Some("date_from" | "date_to")) {
            p["schema"] = day_or_time.clone();
        }
    }
    let json_body = "/requestBody/content/application~1json/schema";
    if let Some(s) = at(doc, "/v3/sessions/delete/", "post", json_body) {
        let numbers = json!({"required": ["session_numbers"],
            "properties": {"session_numbers": {"type": "array", "minItems": 1,
                "items": {"minimum": 1, "maximum": i64::MAX}},
                "delete_all": {"enum": [false, null]}}});
        let all = json!({"required": ["delete_all"], "properties": {"delete_all": {"const": true},
            "session_numbers": {"type": ["array", "null"], "maxItems": 0}}});
        *s = json!({"allOf": [s.take(), {"oneOf": [numbers, all]}]});
    }
    for (media, field) in [
        ("multipart~1form-data", "file"),
        ("application~1json", "source_file_url"),
    ] {
        let schema = format!("/requestBody/content/{media}/schema");
        if let Some(s) = at(doc, "/v3/session/imports/", "post", &schema) {
            let required = json!({"required": [field], "properties": {field: {"minLength": 1}}});
            let required = if field == "source_file_url" {
                json!({"required": [field], "properties": {field: {"format": "uri"}}})
            } else {
                required
            };
            *s = json!({"allOf": [s.take(), required]});
        }
    }
    for (path, method) in [
        ("/v3/webhook/destinations/{id}/", "patch"),
        ("/v3/workflows/{id}/", "patch"),
        ("/v3/session/", "post"),
    ] {
        if let Some(body) = at(doc, path, method, "/requestBody") {
            body["required"] = json!(false);
        }
    }
    let scenarios: Vec<&str> = vouch_core::sandbox::SCENARIOS
        .iter()
        .map(|s| s.id)
        .collect();
    if let Some(s) =
        doc.pointer_mut("/components/schemas/CreateSessionBody/properties/sandbox_scenario")
    {
        s["enum"] = json!(scenarios);
    }
    // The receiving application, under either of its two names.
    if let Some(s) = doc.pointer_mut("/components/schemas/ShareBody") {
        s["anyOf"] =
            json!([{"required": ["for_application_id"]}, {"required": ["partner_client_id"]}]);
    }
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for schema in schemas.values_mut() {
            // A step to resubmit is an object, or its bare node id.
            if let Some(items) = schema.pointer_mut("/properties/nodes_to_resubmit/items") {
                *items = json!({"anyOf": [items.take(), {"type": "string", "minLength": 1}]});
            }
        }
    }
    // An empty workflow_id is the default workflow.
    for schema in ["CreateSessionBody", "CreateImportBody"] {
        let at = format!("/components/schemas/{schema}/properties/workflow_id");
        if let Some(s) = doc.pointer_mut(&at) {
            s["pattern"] = json!(format!("^({})?$", &UUID[1..UUID.len() - 1]));
        }
    }
    // An empty limit or offset is the default, as every empty query parameter is no parameter.
    let ops = doc.get_mut("paths").and_then(Value::as_object_mut);
    for op in ops
        .into_iter()
        .flat_map(|p| p.values_mut())
        .filter_map(Value::as_object_mut)
    {
        let params = op.values_mut().filter_map(|o| o.get_mut("parameters"));
        for p in params.filter_map(Value::as_array_mut).flatten() {
            if p["in"] == "query" && matches!(p["name"].as_str(), Some("limit" | "offset")) {
                let s = p["schema"].take();
                p["schema"] = json!({"anyOf": [s, {"type": "string", "maxLength": 0}]});
            }
        }
    }
    patterns_for_formats(doc);
}

/// Every `uuid`, `date` and `uri` string also states its pattern: generators that do not know a
/// format (and send `""` for it) then still send only what the server reads. The date pattern
/// leaves out February 29, the one day whose validity depends on the year; the URI one is an
/// http(s) URL of RFC 3986's characters (the server's `is_uri_text`) with a host name or IPv4
/// address.
///
/// A field that "may not be blank" says so with `\S` in its attribute; the document spells that
/// out as the characters the server trims (Rust's `char::is_whitespace`), since regex engines
/// disagree on `\s` (ECMA leaves out U+0085, Python's `re.ASCII` everything beyond ASCII).
fn patterns_for_formats(v: &mut Value) {
    const URL: &str = "^https?://[A-Za-z0-9._-]+(:[0-9]{1,4})?([/?]([A-Za-z0-9._~:/?@!$&'()*+,;=-]|%[0-9A-Fa-f]{2})*)?(#([A-Za-z0-9._~:/?@!$&'()*+,;=-]|%[0-9A-Fa-f]{2})*)?$";
    const NOT_BLANK: &str =
        "[^\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
    const DATE: &str = "^[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))$";
    match v {
        Value::Object(map) => {
            let pattern = match map.get("format").and_then(Value::as_str) {
                Some("uuid") => Some(UUID),
                Some("date") => Some(DATE),
                Some("uri") => Some(URL),
                _ => None,
            };
            if let Some(p) = pattern {
                map.entry("pattern").or_insert_with(|| Value::from(p));
            }
            if map.get("pattern").and_then(Value::as_str) == Some("\\S") {
                map.insert("pattern".into(), Value::from(NOT_BLANK));
            }
            map.values_mut().for_each(patterns_for_formats);
        }
        Value::Array(items) => items.iter_mut().for_each(patterns_for_formats),
        _ => {}
    }
}

const UUID: &str = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// The part `rest` (a JSON pointer) of the operation `method path`.
fn at<'a>(doc: &'a mut Value, path: &str, method: &str, rest: &str) -> Option<&'a mut Value> {
    let path = path.replace('~', "~0").replace('/', "~1");
    doc.pointer_mut(&format!("/paths/{path}/{method}{rest}"))
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
