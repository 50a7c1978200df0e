//! One-time codes the person's page sends to prove an address: 6 digits, valid 5 minutes, 3
//! tries per code, one resend after 30 seconds. Only a keyed hash of the code is stored.

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::SessionId;

pub const DIGITS: usize = 6;
pub const TRIES: i64 = 3;
/// Sends of a code for one step: the first and one resend.
pub const SENDS: i64 = 2;

pub fn valid_for() -> Duration {
    Duration::minutes(5)
}

pub fn resend_after() -> Duration {
    Duration::seconds(30)
}

/// The code sent for one step of one session, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Challenge {
    pub session_id: SessionId,
    pub node_id: String,
    /// Where the code went (an email address).
    pub destination: String,
    /// `hash(key, session, node, code)`.
    pub code_hash: String,
    pub sent_at: DateTime<Utc>,
    /// Codes entered against this one so far.
    pub tries: i64,
    /// Codes sent for this step so far (a resend replaces the code and its tries).
    pub sends: i64,
}

/// The keyed hash a code is stored as: without the key, a stolen table reveals nothing.
pub fn hash(key: &[u8], session: SessionId, node_id: &str, code: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(session.to_string().as_bytes());
    mac.update(b"\0");
    mac.update(node_id.as_bytes());
    mac.update(b"\0");
    mac.update(code.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Why a code is not sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendRefused {
    /// A resend comes no sooner than 30 s after the last code: wait this many seconds.
    Wait(i64),
    /// The one resend was used.
    NoMoreSends,
}

/// Whether a code may be sent now; answers the count of sends it makes.
pub fn may_send(existing: Option<&Challenge>, now: DateTime<Utc>) -> Result<i64, SendRefused> {
    let Some(c) = existing else { return Ok(1) };
    if c.sends >= SENDS {
        return Err(SendRefused::NoMoreSends);
    }
    let ready = c.sent_at + resend_after();
    if now < ready {
        let wait = (ready - now).num_milliseconds();
        return Err(SendRefused::Wait((wait + 999) / 1000));
    }
    Ok(c.sends + 1)
}

/// What an entered code proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    Verified,
    /// Wrong; this many tries remain for this code.
    Wrong(i64),
    /// Not six digits: not counted as a try.
    Malformed,
    Expired,
    /// The code's tries are used up: a new code is needed.
    NoTriesLeft,
    /// No code was sent for this step.
    NoCode,
}

/// The lengths a code may have: vouch's own are six digits; a sandbox test number's fixed code
/// has 4 to 8, as Didit's do.
pub const LIVE_LENGTHS: std::ops::RangeInclusive<usize> = DIGITS..=DIGITS;
pub const SANDBOX_LENGTHS: std::ops::RangeInclusive<usize> = 4..=8;

/// Stored instead of a code's hash: a sandbox test number registered without a code accepts
/// any well-formed one.
pub const ANY_CODE: &str = "sandbox:any";

/// The entered code with spaces and dashes removed, if it is six digits.
pub fn normalize(entered: &str) -> Option<String> {
    normalize_in(entered, LIVE_LENGTHS)
}

/// As `normalize`, for codes of the given lengths.
pub fn normalize_in(entered: &str, lengths: std::ops::RangeInclusive<usize>) -> Option<String> {
    let digits: String = entered
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    (lengths.contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(digits)
}

/// Judges an entered code before its try is counted (`Malformed`, `Expired`, `NoTriesLeft`
/// and `NoCode` count nothing); `None` means "count the try, then `verify`".
pub fn precheck(c: Option<&Challenge>, entered: &str, now: DateTime<Utc>) -> Option<Checked> {
    precheck_in(c, entered, now, LIVE_LENGTHS)
}

pub fn precheck_in(
    c: Option<&Challenge>,
    entered: &str,
    now: DateTime<Utc>,
    lengths: std::ops::RangeInclusive<usize>,
) -> Option<Checked> {
    let Some(c) = c else {
        return Some(Checked::NoCode);
    };
    if normalize_in(entered, lengths).is_none() {
        return Some(Checked::Malformed);
    }
    if c.tries >= TRIES {
        return Some(Checked::NoTriesLeft);
    }
    if now > c.sent_at + valid_for() {
        return Some(Checked::Expired);
    }
    None
}

/// The verdict on a counted try (`tries_after` includes it), in constant time.
pub fn verify(key: &[u8], c: &Challenge, entered: &str, tries_after: i64) -> Checked {
    verify_in(key, c, entered, tries_after, LIVE_LENGTHS)
}

pub fn verify_in(
    key: &[u8],
    c: &Challenge,
    entered: &str,
    tries_after: i64,
    lengths: std::ops::RangeInclusive<usize>,
) -> Checked {
    let Some(code) = normalize_in(entered, lengths) else {
        return Checked::Malformed;
    };
    if c.code_hash == ANY_CODE {
        return Checked::Verified;
    }
    let want = c.code_hash.as_bytes();
    let got = hash(key, c.session_id, &c.node_id, &code);
    let same = want.len() == got.len()
        && want
            .iter()
            .zip(got.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Checked::Verified
    } else {
        Checked::Wrong((TRIES - tries_after).max(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const KEY: &[u8] = b"test key";

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    fn challenge(code: &str) -> Challenge {
        let session_id = SessionId::from_u128(9);
        Challenge {
            session_id,
            node_id: "feature_email_verification_1".into(),
            destination: "ann@example.com".into(),
            code_hash: hash(KEY, session_id, "feature_email_verification_1", code),
            sent_at: at(0),
            tries: 0,
            sends: 1,
        }
    }

    #[test]
    fn the_right_code_verifies_and_a_wrong_one_counts_down() {
        let c = challenge("123456");
        assert_eq!(precheck(Some(&c), "123456", at(10)), None);
        assert_eq!(verify(KEY, &c, "123 456", 1), Checked::Verified);
        assert_eq!(verify(KEY, &c, "654321", 1), Checked::Wrong(2));
        assert_eq!(verify(KEY, &c, "654321", 3), Checked::Wrong(0));
        assert_eq!(verify(b"other key", &c, "123456", 1), Checked::Wrong(2));
    }

    #[test]
    fn malformed_expired_and_used_up_codes_count_no_try() {
        let mut c = challenge("123456");
        assert_eq!(precheck(Some(&c), "12345", at(1)), Some(Checked::Malformed));
        assert_eq!(
            precheck(Some(&c), "12345a", at(1)),
            Some(Checked::Malformed)
        );
        assert_eq!(
            precheck(Some(&c), "1234567", at(1)),
            Some(Checked::Malformed)
        );
        assert_eq!(
            precheck(Some(&c), "123456", at(300)),
            None,
            "valid for 5 minutes"
        );
        assert_eq!(
            precheck(Some(&c), "123456", at(301)),
            Some(Checked::Expired)
        );
        c.tries = 3;
        assert_eq!(
            precheck(Some(&c), "123456", at(1)),
            Some(Checked::NoTriesLeft)
        );
        assert_eq!(precheck(None, "123456", at(1)), Some(Checked::NoCode));
    }

    #[test]
    fn one_resend_after_thirty_seconds() {
        let c = challenge("123456");
        assert_eq!(may_send(None, at(0)), Ok(1));
        assert_eq!(may_send(Some(&c), at(1)), Err(SendRefused::Wait(29)));
        assert_eq!(may_send(Some(&c), at(29)), Err(SendRefused::Wait(1)));
        assert_eq!(may_send(Some(&c), at(30)), Ok(2));
        let resent = Challenge {
            sends: 2,
            sent_at: at(30),
            ..c
        };
        assert_eq!(
            may_send(Some(&resent), at(100)),
            Err(SendRefused::NoMoreSends)
        );
    }

    #[test]
    fn codes_are_six_digits_after_spaces_and_dashes() {
        assert_eq!(normalize(" 12-34 56 "), Some("123456".into()));
        assert_eq!(normalize("١٢٣٤٥٦"), None, "ASCII digits only");
        assert_eq!(normalize(""), None);
    }
}
