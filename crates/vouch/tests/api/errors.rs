//! §2 and §7: error shapes, limits, redirects, request ids, health, metrics, OpenAPI.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{status_json, TestServer};

#[tokio::test]
async fn malformed_json_is_a_parse_error() {
    let t = TestServer::start().await;
    for raw in ["{bad", "{\"workflow_label\": }", "[1,", "\u{0}"] {
        let r = t
            .client
            .post(format!("{}/v3/workflows/", t.base))
            .header("x-api-key", &t.key)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        let (s, b) = status_json(r).await;
        assert_eq!(s, 400, "{raw}");
        assert_eq!(b["code"], "parse_error");
        assert!(
            b["detail"]
                .as_str()
                .unwrap()
                .starts_with("JSON parse error - "),
            "{b}"
        );
    }
    let r = t
        .client
        .post(format!("{}/v3/session/", t.base))
        .header("x-api-key", &t.key)
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    let (s, b) = status_json(r).await;
    assert_eq!(s, 400);
    assert!(b["non_field_errors"].is_array(), "{b}");
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let t = TestServer::start().await;
    let big =
        json!({"workflow_label": "x".repeat(1024 * 1024 + 10), "features": [{"feature": "OCR"}]});
    let r = t
        .request(Method::POST, "/v3/workflows/", Some(&t.key), Some(big))
        .await;
    let (s, b) = status_json(r).await;
    assert_eq!((s, b["code"].as_str()), (413, Some("payload_too_large")));
    let small = TestServer::start_with(|c| c.body_limit_bytes = 64).await;
    let r = small
        .request(
            Method::POST,
            "/v3/session/",
            Some(&small.key),
            Some(json!({"vendor_data": "y".repeat(100)})),
        )
        .await;
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn missing_trailing_slash_redirects_keeping_the_query() {
    let t = TestServer::start().await;
    let r = t
        .request(
            Method::GET,
            "/v3/sessions?status=Approved&limit=5",
            Some(&t.key),
            None,
        )
        .await;
    assert_eq!(r.status(), 301);
    assert_eq!(
        r.headers()["location"],
        "/v3/sessions/?status=Approved&limit=5"
    );
    let id = uuid::Uuid::new_v4();
    let r = t
        .request(
            Method::GET,
            &format!("/v3/session/{id}/decision"),
            Some(&t.key),
            None,
        )
        .await;
    assert_eq!(r.status(), 301);
    assert_eq!(
        r.headers()["location"],
        format!("/v3/session/{id}/decision/")
    );
    let r = t
        .request(Method::POST, "/v3/session", Some(&t.key), Some(json!({})))
        .await;
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], "/v3/session/");
    let r = t
        .request(Method::HEAD, "/v3/workflows", Some(&t.key), None)
        .await;
    assert_eq!(r.status(), 301);
    // Following the redirect works end to end.
    let follow = reqwest::Client::new();
    let r = follow
        .get(format!("{}/v3/sessions", t.base))
        .header("x-api-key", &t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let t = TestServer::start().await;
    for path in ["/v3/nothing/", "/v3/nothing", "/", "/v3/session/x/y/z/"] {
        let (s, b) = t.get(path).await;
        assert_eq!(
            (s, b),
            (404, json!({"detail": "Not found.", "code": "not_found"})),
            "{path}"
        );
    }
    let (s, b) = t.call(Method::PUT, "/v3/sessions/", Some(json!({}))).await;
    assert_eq!((s, b["code"].as_str()), (405, Some("method_not_allowed")));
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let t = TestServer::start().await;
    for (method, path, key) in [
        (Method::GET, "/system/healthcheck", None),
        (Method::GET, "/v3/sessions/", None),
        (Method::GET, "/v3/sessions/", Some(t.key.as_str())),
        (Method::GET, "/v3/nowhere/", None),
    ] {
        let r = t.request(method, path, key, None).await;
        let id = r
            .headers()
            .get("x-request-id")
            .expect("x-request-id")
            .to_str()
            .unwrap();
        assert!(!id.is_empty());
    }
    let r = t
        .client
        .get(format!("{}/system/healthcheck", t.base))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-me-42");
}

#[tokio::test]
async fn healthcheck_metrics_and_openapi() {
    let t = TestServer::start().await;
    let (s, b) = status_json(
        t.request(Method::GET, "/system/healthcheck", None, None)
            .await,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["status"], "ok");
    assert!(b["timestamp"].is_string());
    t.get("/v3/sessions/").await;
    let r = t.request(Method::GET, "/metrics", None, None).await;
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    assert!(
        text.contains("# TYPE vouch_http_requests_total counter"),
        "{text}"
    );
    assert!(
        text.contains(
            r#"vouch_http_requests_total{method="GET",route="/v3/sessions/",status="200"} 1"#
        ),
        "{text}"
    );

    let (s, doc) = status_json(t.request(Method::GET, "/openapi.json", None, None).await).await;
    assert_eq!(s, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for (path, method, codes) in [
        ("/v3/workflows/", "post", &["201", "400", "401", "403"][..]),
        ("/v3/workflows/", "get", &["200", "401", "403"][..]),
        ("/v3/workflows/{id}/", "get", &["200", "404"][..]),
        ("/v3/workflows/{id}/", "patch", &["200", "400", "404"][..]),
        (
            "/v3/session/",
            "post",
            &["201", "400", "401", "403", "409", "413"][..],
        ),
        ("/v3/session/{id}/decision/", "get", &["200", "404"][..]),
        ("/v3/session/{id}/delete/", "delete", &["204", "404"][..]),
        (
            "/v3/session/{id}/attempts/",
            "post",
            &["201", "400", "404", "409"][..],
        ),
        ("/v3/sessions/", "get", &["200", "400"][..]),
        (
            "/v3/session/{id}/update-status/",
            "patch",
            &["200", "400", "401", "403", "404", "429"][..],
        ),
        (
            "/v3/session/{id}/features/{node_id}/update-status/",
            "patch",
            &["200", "400", "404"][..],
        ),
        ("/v3/sessions/{id}/reviews/", "get", &["200", "404"][..]),
        (
            "/v3/sessions/{id}/reviews/",
            "post",
            &["201", "400", "404"][..],
        ),
        ("/system/healthcheck", "get", &["200"][..]),
        ("/metrics", "get", &["200"][..]),
        ("/openapi.json", "get", &["200"][..]),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} missing from the document");
        for code in codes {
            assert!(
                op["responses"][code].is_object(),
                "{method} {path} lacks {code}"
            );
        }
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    // Operation ids are unique, and every link names one of them (so a schema-driven client
    // can follow create -> get/update/delete).
    let mut ids = std::collections::BTreeSet::new();
    for ops in doc["paths"].as_object().unwrap().values() {
        for op in ops.as_object().unwrap().values() {
            let id = op["operationId"]
                .as_str()
                .expect("every operation has an id");
            assert!(ids.insert(id.to_string()), "operationId {id} is used twice");
        }
    }
    let mut links = 0;
    for ops in doc["paths"].as_object().unwrap().values() {
        for op in ops.as_object().unwrap().values() {
            for r in op["responses"].as_object().unwrap().values() {
                for link in r["links"].as_object().into_iter().flat_map(|l| l.values()) {
                    let target = link["operationId"]
                        .as_str()
                        .expect("links name an operationId");
                    assert!(ids.contains(target), "link to unknown operation {target}");
                    links += 1;
                }
            }
        }
    }
    assert!(
        links >= 15,
        "create operations link to what they enable ({links} links)"
    );
    // The router and the document come from one declaration: every documented operation is
    // served (an unknown id answers 404 from the handler, never 405 from the router), and its
    // path without the trailing slash is redirected to it.
    let id = uuid::Uuid::new_v4().to_string();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let concrete: String = path
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') {
                    id.as_str()
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in ops.as_object().unwrap().keys() {
            let m = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            let body = (m != Method::GET && m != Method::DELETE).then(|| json!({}));
            let (status, b) = t.call(m.clone(), &concrete, body).await;
            assert_ne!(
                status, 405,
                "{method} {path} is documented but not served: {b}"
            );
        }
        if let Some(bare) = concrete.strip_suffix('/') {
            let (status, b) = t.call(Method::GET, bare, None).await;
            if vouch::http::SLASHLESS.contains(&path.trim_end_matches('/')) {
                // Didit's own form of the path, served as it is.
                assert_ne!(status, 301, "{bare} is served without the slash: {b}");
            } else {
                assert_eq!(status, 301, "{bare} should redirect to {concrete}");
            }
        }
    }
    let _: Value = doc;
}

/// Found by schemathesis: the largest offset the document allows was a `500` (an overflow
/// computing the next page's link). Every list answers it as an empty page.
#[tokio::test]
async fn the_largest_offset_is_an_empty_page() {
    let t = TestServer::start().await;
    let wf = t.workflow(&["OCR"]).await;
    let wid = wf["uuid"].as_str().unwrap();
    let dest = wid; // any id: an unknown destination answers 404, not 500
    for path in [
        "/v3/sessions/".to_string(),
        "/v3/workflows/".to_string(),
        "/v3/webhook/destinations/".to_string(),
    ] {
        let (s, b) = t
            .get(&format!("{path}?limit=100&offset=9223372036854775807"))
            .await;
        assert_eq!(s, 200, "{path}: {b}");
        assert_eq!(b["results"], json!([]), "{path}");
        assert_eq!(b["next"], Value::Null, "{path}");
    }
    let (s, _) = t
        .get(&format!(
            "/v3/webhook/destinations/{dest}/deliveries/?offset=9223372036854775807"
        ))
        .await;
    assert_eq!(s, 404);
}

/// Found by schemathesis: a label of U+0085 alone matched the document's `\S` under its ASCII
/// reading, and the server (which trims every Unicode space) answered "may not be blank". The
/// document now spells out the characters the server trims; both agree on each of them.
#[tokio::test]
async fn a_blank_field_is_blank_for_the_document_and_the_server_alike() {
    let t = TestServer::start().await;
    let (_, doc) = t.get("/openapi.json").await;
    let schema = &doc["components"]["schemas"]["NewDestinationBody"]["properties"]["label"];
    let pattern = regex::Regex::new(schema["pattern"].as_str().unwrap()).unwrap();
    let spaces: Vec<char> = (0..=0x10FFFF_u32)
        .filter_map(char::from_u32)
        .filter(|c| c.is_whitespace())
        .collect();
    assert_eq!(spaces.len(), 25);
    for c in spaces {
        let label = format!("{c}{c}");
        assert!(!pattern.is_match(&label), "U+{:04X}", c as u32);
        let (s, b) = t
            .post(
                "/v3/webhook/destinations/",
                json!({"label": label, "url": "https://example.com/hook"}),
            )
            .await;
        assert_eq!(s, 400, "U+{:04X}: {b}", c as u32);
        assert_eq!(b["label"], json!(["This field may not be blank."]));
    }
    for label in ["a", " a ", "\u{1c}", "\u{feff}", "\u{200b}"] {
        assert!(pattern.is_match(label), "{label:?}");
    }
    let (s, b) = t
        .post(
            "/v3/webhook/destinations/",
            json!({"label": "\u{85}x", "url": "https://example.com/hook"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
}
