//! Webhook payload signing (API §5): canonical JSON, the three HMAC-SHA256 hex signatures
//! (`X-Signature`, `X-Signature-V2`, `X-Signature-Simple`) and the Standard Webhooks headers.
//!
//! The canonical form matches what the reference receivers get from Python
//! `json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` after turning
//! whole floats into integers, so the body vouch sends is byte-identical to their re-serialization.
//! Pure: no I/O, no clock, no randomness.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Number, Value};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// SHA-256 block size: HMAC keys up to this length are zero-padded, longer ones hashed first.
const BLOCK: usize = 64;

/// Canonical JSON: keys sorted by code point, no whitespace, UTF-8 kept, Python-style escapes and
/// floats (whole floats as integers, others as Python `repr`).
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Byte order of UTF-8 strings is code point order, which is how Python sorts str.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// Escapes like Python's `json.dumps(..., ensure_ascii=False)`: `"` `\` and the C0 controls only.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn number(n: &Number) -> String {
    if n.is_u64() || n.is_i64() {
        return n.to_string();
    }
    match n.as_f64() {
        Some(x) if n.is_f64() => float(x),
        // Only reachable with `arbitrary_precision`: an integer too large for 64 bits, kept as is.
        _ => n.to_string(),
    }
}

/// A float as the reference receivers write it: whole values as Python `int(x)` (exact decimal
/// expansion, `-0.0` -> `0`), others as Python `repr(x)`.
fn float(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        // -0.0 -> 0 like Python's int(); NaN and infinities cannot occur in a serde_json Value.
        return if x == 0.0 { "0" } else { "null" }.into();
    }
    if x.fract() == 0.0 {
        // Rust prints the exact decimal value of the double with `{:.0}`, like Python's int().
        return format!("{x:.0}");
    }
    python_repr(x)
}

/// Python `repr(float)` for a finite, non-whole value: shortest round-trip digits, positional
/// when the decimal exponent is in [-4, 16), otherwise `d.ddde-XX` (at least two exponent digits).
fn python_repr(x: f64) -> String {
    // `{:e}` gives the shortest round-trip digits as `d.ddde<exp>`.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if x < 0.0 { "-" } else { "" };
    if !(-4..16).contains(&exp) {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.unsigned_abs());
    }
    // Position of the decimal point relative to the digit string.
    let point = exp + 1;
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else {
        let point = point as usize;
        if point >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point - digits.len()))
        } else {
            format!("{}.{}", &digits[..point], &digits[point..])
        }
    };
    format!("{sign}{body}")
}

/// HMAC-SHA256 keyed with `key`. Built from a block-sized key (zero-padded, or the SHA-256 of a
/// longer key, exactly as RFC 2104 does), which makes construction infallible.
fn mac(key: &[u8]) -> HmacSha256 {
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    <HmacSha256 as hmac::digest::KeyInit>::new(&block.into())
}

fn hmac_bytes(secret: &str, message: &[u8]) -> Vec<u8> {
    let mut m = mac(secret.as_bytes());
    m.update(message);
    m.finalize().into_bytes().to_vec()
}

/// Lowercase hex HMAC-SHA256 keyed with the secret's UTF-8 bytes.
pub fn hmac_hex(secret: &str, message: &[u8]) -> String {
    hex::encode(hmac_bytes(secret, message))
}

/// The message of X-Signature-Simple: "{timestamp}:{session_id}:{status}:{webhook_type}".
pub fn simple_message(
    timestamp: i64,
    session_id: &str,
    status: &str,
    webhook_type: &str,
) -> String {
    format!("{timestamp}:{session_id}:{status}:{webhook_type}")
}

/// Standard Webhooks signature value "v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">".
pub fn standard_signature(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let message = format!("{id}.{timestamp}.{body}");
    let sig =
        base64::engine::general_purpose::STANDARD.encode(hmac_bytes(secret, message.as_bytes()));
    format!("v1,{sig}")
}

/// Everything a delivery carries: the exact body bytes and the headers, in sending order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDelivery {
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl SignedDelivery {
    /// The first header with this name (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn str_field<'a>(payload: &'a Value, key: &str) -> &'a str {
    payload.get(key).and_then(Value::as_str).unwrap_or("")
}

fn timestamp_field(payload: &Value) -> i64 {
    match payload.get("timestamp") {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .unwrap_or(0),
        _ => 0,
    }
}

/// The three hex signatures (`X-Signature`, `X-Signature-V2`, `X-Signature-Simple`) for one secret.
fn hex_signatures(secret: &str, body: &str, simple: &str) -> [String; 3] {
    let body_sig = hmac_hex(secret, body.as_bytes());
    // The body is the canonical form, so V2 covers the same bytes as X-Signature.
    [
        body_sig.clone(),
        body_sig,
        hmac_hex(secret, simple.as_bytes()),
    ]
}

/// Signs a payload (whose "timestamp" is already the send time). Headers in order: Content-Type,
/// User-Agent, X-Timestamp, X-Signature, X-Signature-V2, X-Signature-Simple, webhook-id,
/// webhook-timestamp, webhook-signature, then with a previous secret X-Signature-Previous,
/// X-Signature-V2-Previous, X-Signature-Simple-Previous; webhook-signature then holds
/// "v1,<new> v1,<old>".
pub fn sign(
    payload: &Value,
    secret: &str,
    previous_secret: Option<&str>,
    user_agent_version: &str,
) -> SignedDelivery {
    let body = canonical_json(payload);
    let timestamp = timestamp_field(payload);
    let event_id = str_field(payload, "event_id");
    let simple = simple_message(
        timestamp,
        str_field(payload, "session_id"),
        str_field(payload, "status"),
        str_field(payload, "webhook_type"),
    );
    let [sig, sig_v2, sig_simple] = hex_signatures(secret, &body, &simple);
    let mut standard = standard_signature(secret, event_id, timestamp, &body);
    let previous = previous_secret.map(|old| {
        standard.push(' ');
        standard.push_str(&standard_signature(old, event_id, timestamp, &body));
        hex_signatures(old, &body, &simple)
    });
    let mut headers: Vec<(String, String)> = [
        ("Content-Type", "application/json".to_string()),
        ("User-Agent", format!("vouch-webhook/{user_agent_version}")),
        ("X-Timestamp", timestamp.to_string()),
        ("X-Signature", sig),
        ("X-Signature-V2", sig_v2),
        ("X-Signature-Simple", sig_simple),
        ("webhook-id", event_id.to_string()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", standard),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some([old, old_v2, old_simple]) = previous {
        headers.push(("X-Signature-Previous".into(), old));
        headers.push(("X-Signature-V2-Previous".into(), old_v2));
        headers.push(("X-Signature-Simple-Previous".into(), old_simple));
    }
    SignedDelivery { body, headers }
}

/// Verifies a received X-Signature (hex, either case) over `body` in constant time.
pub fn verify_hex(secret: &str, body: &[u8], signature_hex: &str) -> bool {
    let Ok(expected) = hex::decode(signature_hex) else {
        return false;
    };
    let mut m = mac(secret.as_bytes());
    m.update(body);
    m.verify_slice(&expected).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_match_python() {
        // `x=want` pairs; want is Python's json.dumps(int(x) if x.is_integer() else x).
        let table = "0.1=0.1 1e-7=1e-07 1.5e-7=1.5e-07 1.5e-10=1.5e-10 1e-5=1e-05 0.0001=0.0001 \
            -0.0001=-0.0001 0.00012345=0.00012345 1.2345678901234567e-5=1.2345678901234568e-05 \
            1e22=10000000000000000000000 -2.5=-2.5 3.0=3 2.0=2 -0.0=0 0.0=0 -31.0=-31 \
            1e16=10000000000000000 1.5e16=15000000000000000 123456789.123=123456789.123 \
            123456.789=123456.789 1000000000000000.5=1000000000000000.5 97.25=97.25 \
            0.3333333333333333=0.3333333333333333 5e-324=5e-324 -1e-300=-1e-300 \
            6.666666666666667e-06=6.666666666666667e-06 9007199254740993.0=9007199254740992";
        for pair in table.split_whitespace() {
            let (x, want) = pair.split_once('=').unwrap();
            let x: f64 = x.parse().unwrap();
            assert_eq!(canonical_json(&json!(x)), want, "float {x:?}");
        }
    }

    #[test]
    fn huge_whole_floats_are_exact_integers() {
        // Python: int(1e300)
        let want = "1000000000000000052504760255204420248704468581108159154915854115511802457988908195786371375080447864043704443832883878176942523235360430575644792184786706982848387200926575803737830233794788090059368953234970799945081119038967640880074652742780142494579258788820056842838115669472196386865459400540160";
        assert_eq!(canonical_json(&json!(1e300)), want);
        assert_eq!(canonical_json(&json!(-1e300)), format!("-{want}"));
    }

    #[test]
    fn integers_kept() {
        assert_eq!(
            canonical_json(&json!([0, -1, u64::MAX, i64::MIN])),
            format!("[0,-1,{},{}]", u64::MAX, i64::MIN)
        );
    }

    #[test]
    fn escaping_like_json_dumps() {
        let s = "a\"b\\c/d\n\r\t\u{08}\u{0c}\u{00}\u{1f}\u{7f}é日😀\u{2028}";
        let want = "\"a\\\"b\\\\c/d\\n\\r\\t\\b\\f\\u0000\\u001f\u{7f}é日😀\u{2028}\"";
        assert_eq!(canonical_json(&json!(s)), want);
        assert_eq!(canonical_json(&json!("\u{1b}")), "\"\\u001b\"");
    }

    #[test]
    fn keys_sorted_by_code_point() {
        // U+FF5E before U+1F600: code point order, not UTF-16 order (which would invert them).
        let v = json!({"é": 1, "z": 2, "Z": 3, "日": 4, "a": {"b": [], "a": {}}, "😀": 5,
                       "\u{ff}": 6, "\u{ff5e}": 7});
        // Python: json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert_eq!(
            canonical_json(&v),
            "{\"Z\":3,\"a\":{\"a\":{},\"b\":[]},\"z\":2,\"é\":1,\"\u{ff}\":6,\"日\":4,\"\u{ff5e}\":7,\"😀\":5}"
        );
    }

    #[test]
    fn rotation_headers() {
        let payload = json!({"event_id": "e1", "timestamp": 1700000000, "session_id": "s",
                             "status": "Approved", "webhook_type": "status.updated"});
        let d = sign(&payload, "new", Some("old"), "1.2.3");
        let names: Vec<&str> = d.headers.iter().map(|(k, _)| k.as_str()).collect();
        let want = "Content-Type User-Agent X-Timestamp X-Signature X-Signature-V2 \
            X-Signature-Simple webhook-id webhook-timestamp webhook-signature \
            X-Signature-Previous X-Signature-V2-Previous X-Signature-Simple-Previous";
        assert_eq!(names.join(" "), want);
        assert_eq!(d.header("user-agent"), Some("vouch-webhook/1.2.3"));
        let simple = "1700000000:s:Approved:status.updated";
        assert_eq!(
            d.header("X-Signature-Previous"),
            Some(hmac_hex("old", d.body.as_bytes()).as_str())
        );
        assert_eq!(
            d.header("X-Signature-V2-Previous"),
            d.header("X-Signature-Previous")
        );
        assert_eq!(
            d.header("X-Signature-Simple-Previous"),
            Some(hmac_hex("old", simple.as_bytes()).as_str())
        );
        assert_eq!(
            d.header("X-Signature-Simple"),
            Some(hmac_hex("new", simple.as_bytes()).as_str())
        );
        let both = format!(
            "{} {}",
            standard_signature("new", "e1", 1700000000, &d.body),
            standard_signature("old", "e1", 1700000000, &d.body)
        );
        assert_eq!(d.header("webhook-signature"), Some(both.as_str()));

        let single = sign(&payload, "new", None, "1.2.3");
        assert_eq!(single.headers.len(), 9);
        assert_eq!(single.header("webhook-signature"), both.split(' ').next());
        assert_eq!(single.headers[..8], d.headers[..8]);
    }

    #[test]
    fn missing_fields_are_empty() {
        let d = sign(&json!({"timestamp": 5}), "k", None, "0");
        assert_eq!(d.header("webhook-id"), Some(""));
        assert_eq!(
            d.header("X-Signature-Simple"),
            Some(hmac_hex("k", b"5:::").as_str())
        );
    }

    #[test]
    fn hmac_known_answer_and_long_keys() {
        // RFC 4231 test case 2; then a key longer than the block (hashed first), checked against
        // the hmac crate's own key handling.
        assert_eq!(
            hmac_hex("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let long = "\u{aa}".repeat(131);
        let mut m = <HmacSha256 as Mac>::new_from_slice(long.as_bytes()).unwrap();
        m.update(b"msg");
        assert_eq!(
            hmac_hex(&long, b"msg"),
            hex::encode(m.finalize().into_bytes())
        );
    }

    #[test]
    fn verify_rejects_bad_input() {
        let sig = hmac_hex("k", b"body");
        assert!(verify_hex("k", b"body", &sig));
        assert!(verify_hex("k", b"body", &sig.to_uppercase()));
        assert!(!verify_hex("k", b"body!", &sig));
        assert!(!verify_hex("k2", b"body", &sig));
        assert!(!verify_hex("k", b"body", "zz"));
        assert!(!verify_hex("k", b"body", &sig[..62]));
    }
}
