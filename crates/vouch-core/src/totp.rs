//! Time-based one-time passwords (RFC 6238) as authenticator apps compute them: HMAC-SHA1 over
//! the 30-second step, six digits, the secret in base32.

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Seconds per step.
pub const STEP: i64 = 30;
/// Steps either side of now a code is accepted in (clock drift between the phone and the server).
pub const DRIFT: i64 = 1;

/// The six-digit code of one step (RFC 4226's dynamic truncation).
pub fn code(secret: &[u8], step: i64) -> String {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(&(step as u64).to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = (h[19] & 0x0f) as usize;
    let bin = u32::from_be_bytes([
        h[offset] & 0x7f,
        h[offset + 1],
        h[offset + 2],
        h[offset + 3],
    ]);
    format!("{:06}", bin % 1_000_000)
}

/// The step of a time (Unix seconds).
pub fn step_at(unix: i64) -> i64 {
    unix.div_euclid(STEP)
}

/// The step whose code `given` is, within `DRIFT` of `unix` and after `last_used` (a code is
/// good once); `None` otherwise.
pub fn accept(secret: &[u8], given: &str, unix: i64, last_used: Option<i64>) -> Option<i64> {
    let given: String = given.chars().filter(|c| !c.is_whitespace()).collect();
    if given.len() != 6 || !given.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix);
    (now - DRIFT..=now + DRIFT)
        .filter(|s| last_used.is_none_or(|l| *s > l))
        .find(|s| {
            use subtle_eq::eq;
            eq(code(secret, *s).as_bytes(), given.as_bytes())
        })
}

/// A secret in the form people type into an app (RFC 4648 base32, no padding).
pub fn encode_secret(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

pub fn decode_secret(text: &str) -> Option<Vec<u8>> {
    data_encoding::BASE32_NOPAD
        .decode(text.trim().to_ascii_uppercase().as_bytes())
        .ok()
}

/// The `otpauth://` URI an app reads (as a QR code or pasted).
pub fn uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period=30",
        enc(issuer),
        enc(account),
        encode_secret(secret),
        enc(issuer)
    )
}

mod subtle_eq {
    /// Equal, in time that does not depend on where they differ.
    pub fn eq(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, with the last six digits of each eight-digit value.
    #[test]
    fn the_rfc_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59, "287082"),
            (1111111109, "081804"),
            (1111111111, "050471"),
            (1234567890, "005924"),
            (2000000000, "279037"),
            (20000000000, "353130"),
        ] {
            assert_eq!(code(secret, step_at(time)), expected, "T = {time}");
        }
    }

    #[test]
    fn a_code_is_accepted_once_within_the_drift() {
        let secret = b"12345678901234567890";
        let t = 1111111111;
        let c = code(secret, step_at(t));
        assert_eq!(accept(secret, &c, t, None), Some(step_at(t)));
        assert_eq!(accept(secret, &c, t + 30, None), Some(step_at(t)));
        assert_eq!(accept(secret, &c, t + 90, None), None, "too old");
        assert_eq!(
            accept(secret, &c, t, Some(step_at(t))),
            None,
            "used already"
        );
        assert_eq!(accept(secret, "12345", t, None), None);
        assert_eq!(accept(secret, "abcdef", t, None), None);
        let spaced = format!("{} {}", &c[..3], &c[3..]);
        assert!(accept(secret, &spaced, t, None).is_some());
    }

    #[test]
    fn secrets_and_uris_are_what_apps_read() {
        let secret = b"12345678901234567890";
        assert_eq!(encode_secret(secret), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            decode_secret("gezdgnbvgy3tqojqgezdgnbvgy3tqojq").unwrap(),
            secret
        );
        let u = uri("vouch", "rita@acme.example", secret);
        assert_eq!(u, "otpauth://totp/vouch:rita@acme.example?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=vouch&algorithm=SHA1&digits=6&period=30");
    }
}
