//! Checks every case of the shared webhook signature vectors (API §5) byte for byte.
//! The vectors live outside the repo, in the sibling `shared` folder, and are used as they are.

use serde_json::Value;
use vouch_core::webhook::{
    canonical_json, hmac_hex, sign, simple_message, standard_signature, verify_hex,
};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/webhook-signatures.json"
);

/// The headers every case must specify, all of which are checked.
const CHECKED: [&str; 7] = [
    "X-Timestamp",
    "X-Signature",
    "X-Signature-V2",
    "X-Signature-Simple",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

fn load() -> Value {
    let text = std::fs::read_to_string(VECTORS)
        .unwrap_or_else(|e| panic!("cannot read webhook vectors at {VECTORS}: {e}"));
    serde_json::from_str(&text).expect("webhook vectors are valid JSON")
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("missing string field {key:?}"))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    let found: Vec<&str> = headers
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(found.len(), 1, "header {name} must appear exactly once");
    found[0]
}

fn cases(v: &Value) -> &Vec<Value> {
    let cases = v["cases"].as_array().expect("cases array");
    assert!(!cases.is_empty(), "no vector cases");
    cases
}

#[test]
fn every_case_matches_byte_for_byte() {
    let v = load();
    let secret = s(&v, "secret");
    for case in cases(&v) {
        let name = s(case, "name");
        let payload = &case["payload"];
        let want_body = s(case, "canonical_body");
        let want = &case["headers"];

        assert_eq!(
            canonical_json(payload),
            want_body,
            "[{name}] canonical body"
        );

        let d = sign(payload, secret, None, "9.9.9");
        assert_eq!(d.body.as_bytes(), want_body.as_bytes(), "[{name}] body");
        for h in CHECKED {
            assert_eq!(header(&d.headers, h), s(want, h), "[{name}] {h}");
        }
        // No header in the vector goes unchecked.
        for key in want.as_object().expect("headers object").keys() {
            assert!(
                CHECKED.contains(&key.as_str()),
                "[{name}] unchecked header {key}"
            );
        }
        assert_eq!(header(&d.headers, "Content-Type"), "application/json");
        assert_eq!(header(&d.headers, "User-Agent"), "vouch-webhook/9.9.9");
        assert!(
            !d.headers.iter().any(|(k, _)| k.ends_with("-Previous")),
            "[{name}]"
        );
    }
}

#[test]
fn every_case_primitives() {
    let v = load();
    let secret = s(&v, "secret");
    for case in cases(&v) {
        let name = s(case, "name");
        let p = &case["payload"];
        let body = s(case, "canonical_body");
        let want = &case["headers"];
        let ts = p["timestamp"].as_i64().expect("integer timestamp");
        let field = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("");

        let simple = simple_message(
            ts,
            field("session_id"),
            field("status"),
            field("webhook_type"),
        );
        assert_eq!(simple, s(case, "simple_message"), "[{name}] simple message");
        assert_eq!(
            hmac_hex(secret, simple.as_bytes()),
            s(want, "X-Signature-Simple"),
            "[{name}]"
        );
        assert_eq!(
            hmac_hex(secret, body.as_bytes()),
            s(want, "X-Signature"),
            "[{name}]"
        );
        assert_eq!(
            hmac_hex(secret, body.as_bytes()),
            s(want, "X-Signature-V2"),
            "[{name}]"
        );
        assert_eq!(
            standard_signature(secret, field("event_id"), ts, body),
            s(want, "webhook-signature"),
            "[{name}]"
        );
        assert!(
            verify_hex(secret, body.as_bytes(), s(want, "X-Signature")),
            "[{name}]"
        );
        assert!(
            !verify_hex("wrong", body.as_bytes(), s(want, "X-Signature")),
            "[{name}]"
        );
        // Canonical form is a fixed point: re-parsing the body and re-serializing changes nothing.
        let reparsed: Value = serde_json::from_str(body).expect("canonical body parses");
        assert_eq!(canonical_json(&reparsed), body, "[{name}] fixed point");
    }
}

#[test]
fn rotation_keeps_current_signatures_and_adds_previous() {
    let v = load();
    let secret = s(&v, "secret");
    for case in cases(&v) {
        let name = s(case, "name");
        let want = &case["headers"];
        let body = s(case, "canonical_body");
        let d = sign(&case["payload"], secret, Some("old-secret"), "1");
        for h in CHECKED.iter().filter(|h| **h != "webhook-signature") {
            assert_eq!(header(&d.headers, h), s(want, h), "[{name}] {h}");
        }
        let both = header(&d.headers, "webhook-signature");
        let (new, old) = both
            .split_once(' ')
            .expect("two space-separated signatures");
        assert_eq!(new, s(want, "webhook-signature"), "[{name}]");
        let ts = case["payload"]["timestamp"].as_i64().expect("timestamp");
        assert_eq!(
            old,
            standard_signature("old-secret", s(want, "webhook-id"), ts, body)
        );
        let prev = header(&d.headers, "X-Signature-Previous");
        assert_eq!(prev, hmac_hex("old-secret", body.as_bytes()), "[{name}]");
        assert_eq!(
            header(&d.headers, "X-Signature-V2-Previous"),
            prev,
            "[{name}]"
        );
        let simple = s(case, "simple_message");
        assert_eq!(
            header(&d.headers, "X-Signature-Simple-Previous"),
            hmac_hex("old-secret", simple.as_bytes()),
            "[{name}]"
        );
    }
}

#[test]
fn whsec_secret_is_base64_of_secret() {
    use base64::Engine as _;
    let v = load();
    let encoded = base64::engine::general_purpose::STANDARD.encode(s(&v, "secret"));
    assert_eq!(s(&v, "whsec_secret"), format!("whsec_{encoded}"));
}
