//! Hostile input, generated: arbitrary bytes and arbitrary JSON as bodies, arbitrary query
//! strings, `Idempotency-Key` values and content types, sent to every operation of the route
//! table through the real server. Nothing may panic or answer 5xx, and every refusal must be
//! one of the contract's two error shapes.
//!
//! `VOUCH_HOSTILE_CASES` cases per operation (default 40 here). The long run, about a million
//! requests, is a command of its own:
//! `VOUCH_HOSTILE_CASES=25000 cargo test --release -p vouch --test api hostile -- --nocapture`.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Method;
use serde_json::Value;

use crate::common::TestServer;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        // The names the API reads, so that bodies get past the first field.
        prop::sample::select(vec![
            "Approved",
            "Declined",
            "In Review",
            "Resubmitted",
            "OCR",
            "feature_ocr_1",
            "2026-13-45",
            "https://x.example/h",
            "http://127.0.0.1/",
            "-1",
            "1e309",
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        let keys = prop::sample::select(vec![
            "new_status",
            "comment",
            "workflow_id",
            "vendor_data",
            "features",
            "feature",
            "node_id",
            "status",
            "url",
            "subscribed_events",
            "session_numbers",
            "delete_all",
            "nodes",
            "data",
            "contact_details",
            "email",
            "callback",
            "metadata",
            "label",
            "share_token",
            "source_file_url",
            "steps",
            "reason",
            "first_name",
            "date_of_birth",
        ])
        .prop_map(str::to_string);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(prop_oneof![keys, ".{0,12}"], inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum Body {
    None,
    Bytes(Vec<u8>),
    Json(Value),
}

#[derive(Debug, Clone)]
struct Case {
    body: Body,
    content_type: Option<String>,
    query: String,
    idempotency_key: Option<String>,
    /// Replaces one id of the path with this text.
    id: Option<String>,
}

fn case() -> impl Strategy<Value = Case> {
    let body = prop_oneof![
        Just(Body::None),
        prop::collection::vec(any::<u8>(), 0..512).prop_map(Body::Bytes),
        json_value().prop_map(Body::Json),
    ];
    let content_type = prop::option::of(prop_oneof![
        Just("application/json".to_string()),
        Just("multipart/form-data; boundary=x".to_string()),
        Just("text/csv".to_string()),
        "[ -~]{0,40}",
    ]);
    let query = prop_oneof![
        Just(String::new()),
        "[a-z_]{1,12}=[ -~]{0,20}(&[a-z_]{1,12}=[ -~]{0,20}){0,3}",
        prop::sample::select(vec![
            "limit=-1",
            "limit=99999999999999999999",
            "offset=-5",
            "status=Nope",
            "date_from=2026-02-30",
            "date_to=1999-01-01&date_from=2030-01-01",
            "search=%00",
            "country=ZZZ",
            "session_kind=all",
            "workflow_id=not-a-uuid",
            "vendor_data=%FF",
        ])
        .prop_map(str::to_string),
    ];
    let key = prop::option::of("[ -~]{0,300}");
    let id = prop::option::of(prop_oneof![
        Just("0".to_string()),
        Just("00000000-0000-0000-0000-000000000000".to_string()),
        "[a-zA-Z0-9%._~-]{1,60}",
    ]);
    (body, content_type, query, key, id).prop_map(
        |(body, content_type, query, idempotency_key, id)| Case {
            body,
            content_type,
            query,
            idempotency_key,
            id,
        },
    )
}

/// Whether `b` is one of the contract's error shapes: `{detail, code}`, or field-keyed lists
/// of messages.
fn contract_error(b: &Value) -> bool {
    let Some(o) = b.as_object() else {
        return false;
    };
    let detail = o.get("detail").is_some_and(Value::is_string)
        && o.get("code").is_some_and(Value::is_string);
    let fields = !o.is_empty()
        && o.values().all(|v| {
            v.as_array()
                .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string))
        });
    detail || fields
}

#[tokio::test]
async fn arbitrary_input_to_every_operation_gets_only_the_contracts_answers() {
    let cases_per_op: u32 = std::env::var("VOUCH_HOSTILE_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(40);
    let t = TestServer::start().await;
    let (session, _) = t.session(&["OCR"]).await;
    let (_, doc) = t.get("/openapi.json").await;
    let mut ops: Vec<(Method, String)> = Vec::new();
    for (template, methods) in doc["paths"].as_object().unwrap() {
        for method in methods.as_object().unwrap().keys() {
            ops.push((method.to_uppercase().parse().unwrap(), template.clone()));
        }
    }
    let mut runner = TestRunner::new(Config {
        cases: cases_per_op,
        ..Config::default()
    });
    let strategy = case();
    let mut sent = 0u64;
    for (method, template) in &ops {
        for _ in 0..cases_per_op {
            let c = strategy.new_tree(&mut runner).unwrap().current();
            let mut path = template.replace("{node_id}", "feature_ocr_1");
            let id = c.id.clone().unwrap_or_else(|| session.clone());
            while let (Some(a), Some(b)) = (path.find('{'), path.find('}')) {
                path.replace_range(a..=b, &id);
            }
            if !c.query.is_empty() {
                path = format!("{path}?{}", c.query);
            }
            let mut req = t
                .client
                .request(method.clone(), format!("{}{path}", t.base))
                .header("x-api-key", &t.key);
            if let Some(ct) = &c.content_type {
                req = req.header("content-type", ct.as_str());
            }
            if let Some(k) = &c.idempotency_key {
                req = req.header("idempotency-key", k.as_str());
            }
            req = match &c.body {
                Body::None => req,
                Body::Bytes(b) => req.body(b.clone()),
                Body::Json(v) => req.body(serde_json::to_vec(v).unwrap()),
            };
            let Ok(r) = req.send().await else {
                // A header value reqwest itself refuses to send never reached the server.
                continue;
            };
            sent += 1;
            let status = r.status().as_u16();
            let ct = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let bytes = r.bytes().await.unwrap();
            assert!(
                status < 500,
                "{method} {path} answered {status}: {}\ncase: {c:?}",
                String::from_utf8_lossy(&bytes)
            );
            if status >= 400 && ct.starts_with("application/json") {
                let b: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                assert!(
                    contract_error(&b),
                    "{method} {path}: {status} in no contract shape: {b}\ncase: {c:?}"
                );
            } else if status >= 400 {
                // Only the redirects' and the person's pages answer other than JSON.
                assert!(
                    ct.starts_with("text/html") || bytes.is_empty(),
                    "{method} {path}: {status} as {ct:?}: {}",
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
    }
    eprintln!(
        "{sent} generated requests to {} operations: no 5xx, every refusal in a contract shape",
        ops.len()
    );
    // Still serving, the session untouched by anything refused.
    assert_eq!(t.get("/system/healthcheck").await.0, 200);
}
