//! Which answers are retried, and when (API.md §5).

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How an attempt ended, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    /// Timeout, refused connection, reset: the receiver may be back later.
    Unreachable,
    /// The destination cannot be sent to (not http(s), non-public address): retrying won't help.
    Refused,
}

pub fn is_success(a: Answer) -> bool {
    matches!(a, Answer::Status(s) if (200..300).contains(&s))
}

/// `5xx`, `404`, `408`, `429`, timeouts and connection failures are retried; other `4xx`
/// and `3xx` are not.
pub fn is_retryable(a: Answer) -> bool {
    match a {
        Answer::Status(s) => s >= 500 || matches!(s, 404 | 408 | 429),
        Answer::Unreachable => true,
        Answer::Refused => false,
    }
}

/// Parses `Retry-After`: delta seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    (when - now).to_std().ok()
}

/// The delay before attempt `done + 1`, or `None` when the schedule is exhausted. `unit` is a
/// uniform draw in [0, 1) giving the jitter; `retry_after` is honoured up to twice the delay.
pub fn next_delay(
    schedule: &[u64],
    done: usize,
    jitter: f64,
    unit: f64,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let base = *schedule.get(done)? as f64;
    let jittered = Duration::from_secs_f64((base * (1.0 + jitter * (2.0 * unit - 1.0))).max(0.0));
    Some(match retry_after {
        Some(ra) => jittered.max(ra.min(jittered * 2)),
        None => jittered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULE: [u64; 8] = [0, 5, 300, 1800, 7200, 18000, 36000, 36000];

    #[test]
    fn classification_follows_the_contract() {
        for s in [500, 502, 503, 599, 404, 408, 429] {
            assert!(is_retryable(Answer::Status(s)), "{s}");
        }
        for s in [300, 301, 302, 400, 401, 403, 405, 409, 410, 422] {
            assert!(!is_retryable(Answer::Status(s)), "{s}");
        }
        assert!(is_retryable(Answer::Unreachable));
        assert!(!is_retryable(Answer::Refused));
        assert!(is_success(Answer::Status(204)) && !is_success(Answer::Status(302)));
    }

    #[test]
    fn schedule_with_jitter_and_end() {
        assert_eq!(
            next_delay(&SCHEDULE, 1, 0.2, 0.5, None),
            Some(Duration::from_secs(5))
        );
        let lo = next_delay(&SCHEDULE, 2, 0.2, 0.0, None).unwrap();
        let hi = next_delay(&SCHEDULE, 2, 0.2, 0.999_999, None).unwrap();
        assert_eq!(lo, Duration::from_secs(240));
        assert!(hi > Duration::from_secs(359) && hi <= Duration::from_secs(360));
        assert_eq!(next_delay(&SCHEDULE, 8, 0.2, 0.5, None), None);
    }

    #[test]
    fn retry_after_is_honoured_up_to_twice_the_delay() {
        let d = |ra| next_delay(&SCHEDULE, 1, 0.0, 0.5, Some(Duration::from_secs(ra))).unwrap();
        assert_eq!(d(3), Duration::from_secs(5), "shorter: the schedule wins");
        assert_eq!(d(8), Duration::from_secs(8));
        assert_eq!(
            d(3600),
            Duration::from_secs(10),
            "clamped to twice the delay"
        );
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
