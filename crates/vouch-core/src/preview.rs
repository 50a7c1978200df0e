//! Email preview tokens: what a preview showed (steps, recipient, language), signed, so an
//! update-status that quotes the token is refused if it would send something else.

use crate::ids::SessionId;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// How long a preview token is honoured.
pub const PREVIEW_TTL_MINUTES: i64 = 15;

/// What the email of a change is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewClaims {
    pub session_id: SessionId,
    /// The target status (`Approved`, `Declined`, `Resubmitted`).
    pub status: String,
    /// `node_id: reason` for each reopened step, in workflow order (empty for decisions).
    pub steps: Vec<String>,
    pub recipient: Option<String>,
    /// The template language actually used.
    pub language: String,
    pub issued_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreviewError {
    Malformed,
    BadSignature,
    Expired,
    /// The change would send something other than what was previewed.
    Mismatch,
}

fn mac(key: &[u8], payload: &str) -> Vec<u8> {
    // HMAC accepts keys of any length.
    let mut m = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    m.update(payload.as_bytes());
    m.finalize().into_bytes().to_vec()
}

pub fn issue(key: &[u8], claims: &PreviewClaims) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let sig = URL_SAFE_NO_PAD.encode(mac(key, &payload));
    format!("{payload}.{sig}")
}

/// Checks the signature and age, then that `expected` (what the change would send) matches.
pub fn verify(
    key: &[u8],
    token: &str,
    expected: &PreviewClaims,
    now: DateTime<Utc>,
) -> Result<(), PreviewError> {
    let (payload, sig) = token.split_once('.').ok_or(PreviewError::Malformed)?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| PreviewError::Malformed)?;
    let good = mac(key, payload);
    if good.is_empty() || subtle_eq(&good, &sig) == 0 {
        return Err(PreviewError::BadSignature);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| PreviewError::Malformed)?;
    let claims: PreviewClaims =
        serde_json::from_slice(&bytes).map_err(|_| PreviewError::Malformed)?;
    let issued = DateTime::from_timestamp(claims.issued_at, 0).ok_or(PreviewError::Malformed)?;
    if now - issued > Duration::minutes(PREVIEW_TTL_MINUTES) || issued > now + Duration::minutes(1)
    {
        return Err(PreviewError::Expired);
    }
    let same = PreviewClaims {
        issued_at: claims.issued_at,
        ..expected.clone()
    };
    if claims != same {
        return Err(PreviewError::Mismatch);
    }
    Ok(())
}

/// Constant-time equality of two byte strings.
fn subtle_eq(a: &[u8], b: &[u8]) -> u8 {
    if a.len() != b.len() {
        return 0;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    u8::from(diff == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn claims() -> PreviewClaims {
        PreviewClaims {
            session_id: SessionId::from_u128(1),
            status: "Resubmitted".into(),
            steps: vec!["feature_ocr_1: blurry".into()],
            recipient: Some("p@example.com".into()),
            language: "en".into(),
            issued_at: 1_800_000_000,
        }
    }

    #[test]
    fn a_token_verifies_only_for_the_same_email_within_its_lifetime() {
        let now = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        let key = b"secret";
        let t = issue(key, &claims());
        assert_eq!(
            verify(key, &t, &claims(), now + Duration::minutes(14)),
            Ok(())
        );
        assert_eq!(
            verify(key, &t, &claims(), now + Duration::minutes(16)),
            Err(PreviewError::Expired)
        );
        assert_eq!(
            verify(b"other", &t, &claims(), now),
            Err(PreviewError::BadSignature)
        );
        let mut other = claims();
        other.recipient = Some("q@example.com".into());
        assert_eq!(verify(key, &t, &other, now), Err(PreviewError::Mismatch));
        let mut other = claims();
        other.language = "fr".into();
        assert_eq!(verify(key, &t, &other, now), Err(PreviewError::Mismatch));
        let mut other = claims();
        other.steps.push("feature_liveness_1: dark".into());
        assert_eq!(verify(key, &t, &other, now), Err(PreviewError::Mismatch));
        let tampered = format!("{}x", t);
        assert!(verify(key, &tampered, &claims(), now).is_err());
        assert_eq!(
            verify(key, "garbage", &claims(), now),
            Err(PreviewError::Malformed)
        );
    }
}
