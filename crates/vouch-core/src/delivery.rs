//! The delivery state machines of the two queues, as pure functions: which webhook answers are
//! retried and when (API.md §5), the state each outcome leaves a webhook delivery or an email
//! job in, and the rule that disables a destination failing for too long.

use std::collections::HashMap;
use std::time::Duration;

use crate::ids::DestinationId;
use chrono::{DateTime, Utc};

use crate::change::NotSentReason;

/// Where a webhook delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Due at its `next_attempt_at`.
    Pending,
    Succeeded,
    /// Refused for good, retries exhausted, or its destination disabled.
    Failed,
    /// Its session or destination was deleted; it is never sent.
    Dropped,
}

/// Where an email job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailState {
    Pending,
    Sent,
    Failed,
    /// Recorded but deliberately not sent (`not_sent_reason` says why).
    NotSent,
    /// Its session was deleted.
    Dropped,
}

macro_rules! wire_names {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$v),)* _ => None }
            }
        }
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}
wire_names!(DeliveryState {
    Pending => "pending",
    Succeeded => "succeeded",
    Failed => "failed",
    Dropped => "dropped",
});
wire_names!(EmailState {
    Pending => "pending",
    Sent => "sent",
    Failed => "failed",
    NotSent => "not_sent",
    Dropped => "dropped",
});

/// What one webhook attempt decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Succeeded,
    Retry { at: DateTime<Utc> },
    Failed,
}

impl DeliveryOutcome {
    /// The attempt's outcome from the receiver's answer: success, a retry on the schedule
    /// (`done` attempts made, this one included; `unit` a uniform draw in [0, 1) for the
    /// jitter), or failure when the answer is final or the schedule is exhausted.
    pub fn of(
        answer: Answer,
        retry_after: Option<Duration>,
        schedule: &[Duration],
        done: usize,
        jitter: f64,
        unit: f64,
        now: DateTime<Utc>,
    ) -> Self {
        if is_success(answer) {
            return DeliveryOutcome::Succeeded;
        }
        if !is_retryable(answer) {
            return DeliveryOutcome::Failed;
        }
        match next_delay(schedule, done, jitter, unit, retry_after) {
            Some(delay) => DeliveryOutcome::Retry {
                at: now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX),
            },
            None => DeliveryOutcome::Failed,
        }
    }

    /// The delivery's state after this outcome and when it is next due. A delivery dropped
    /// meanwhile stays dropped (the store keeps that guard, as it races with deletion).
    pub fn settle(self, now: DateTime<Utc>) -> (DeliveryState, DateTime<Utc>) {
        match self {
            DeliveryOutcome::Succeeded => (DeliveryState::Succeeded, now),
            DeliveryOutcome::Retry { at } => (DeliveryState::Pending, at),
            DeliveryOutcome::Failed => (DeliveryState::Failed, now),
        }
    }
}

/// What one try of an email decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailOutcome {
    Sent,
    /// A temporary failure: try again at `at`.
    Retry {
        at: DateTime<Utc>,
        error: String,
    },
    /// A permanent refusal, or retries exhausted.
    Failed {
        error: String,
    },
    /// Deliberately not sent.
    NotSent {
        reason: NotSentReason,
    },
}

/// An email job's new row values: state, next due time, error and not-sent reason to record.
pub struct EmailSettled<'a> {
    pub state: EmailState,
    pub next_attempt_at: DateTime<Utc>,
    pub error: Option<&'a str>,
    pub not_sent_reason: Option<NotSentReason>,
}

impl EmailOutcome {
    pub fn settle(&self, now: DateTime<Utc>) -> EmailSettled<'_> {
        let (state, next_attempt_at, error, not_sent_reason) = match self {
            EmailOutcome::Sent => (EmailState::Sent, now, None, None),
            EmailOutcome::Retry { at, error } => (EmailState::Pending, *at, Some(error), None),
            EmailOutcome::Failed { error } => (EmailState::Failed, now, Some(error), None),
            EmailOutcome::NotSent { reason } => (EmailState::NotSent, now, None, Some(*reason)),
        };
        EmailSettled {
            state,
            next_attempt_at,
            error: error.map(String::as_str),
            not_sent_reason,
        }
    }
}

/// What a batch of attempts says about a destination's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Its last attempt succeeded: it is not failing.
    Healthy,
    /// A success in the batch was followed by failures only, the first at this time: it is
    /// failing since then.
    FailingSince(DateTime<Utc>),
    /// Every attempt in the batch failed, the first at this time: it is failing since then,
    /// unless it was already failing since earlier.
    Failing(DateTime<Utc>),
}

/// Folds a batch of attempts, in the order they were made, into one health update per
/// destination: `(destination, succeeded, started_at)`.
pub fn destination_health(
    attempts: impl IntoIterator<Item = (DestinationId, bool, DateTime<Utc>)>,
) -> Vec<(DestinationId, Health)> {
    let mut by_dest: HashMap<DestinationId, Health> = HashMap::new();
    let mut order = Vec::new();
    for (dest, ok, started) in attempts {
        let next = match (by_dest.get(&dest), ok) {
            (_, true) => Health::Healthy,
            (None, false) => Health::Failing(started),
            (Some(Health::Healthy), false) => Health::FailingSince(started),
            (Some(h), false) => *h,
        };
        if by_dest.insert(dest, next).is_none() {
            order.push(dest);
        }
    }
    order.into_iter().map(|d| (d, by_dest[&d])).collect()
}

/// A destination failing continuously since `failing_since` is disabled once that is longer
/// ago than `disable_after`; answers the reason recorded on it.
pub fn disable_reason(
    failing_since: DateTime<Utc>,
    disable_after: chrono::Duration,
    now: DateTime<Utc>,
) -> Option<String> {
    (failing_since < now - disable_after).then(|| {
        format!(
            "failing continuously since {}",
            crate::time::wire(failing_since)
        )
    })
}

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
    schedule: &[Duration],
    done: usize,
    jitter: f64,
    unit: f64,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let base = schedule.get(done)?.as_secs_f64();
    let jittered = Duration::from_secs_f64((base * (1.0 + jitter * (2.0 * unit - 1.0))).max(0.0));
    Some(match retry_after {
        Some(ra) => jittered.max(ra.min(jittered * 2)),
        None => jittered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn outcomes_and_the_states_they_leave() {
        let now = at("2026-01-01T00:00:00Z");
        let of = |a, done| DeliveryOutcome::of(a, None, &SCHEDULE, done, 0.0, 0.5, now);
        assert_eq!(of(Answer::Status(200), 1), DeliveryOutcome::Succeeded);
        assert_eq!(of(Answer::Status(400), 1), DeliveryOutcome::Failed);
        assert_eq!(of(Answer::Refused, 1), DeliveryOutcome::Failed);
        let retry = of(Answer::Status(503), 1);
        assert_eq!(
            retry,
            DeliveryOutcome::Retry {
                at: now + chrono::Duration::seconds(5)
            }
        );
        assert_eq!(
            of(Answer::Unreachable, 8),
            DeliveryOutcome::Failed,
            "exhausted"
        );
        assert_eq!(
            retry.settle(now),
            (DeliveryState::Pending, now + chrono::Duration::seconds(5))
        );
        assert_eq!(
            DeliveryOutcome::Succeeded.settle(now).0,
            DeliveryState::Succeeded
        );
        for s in ["pending", "succeeded", "failed", "dropped"] {
            assert_eq!(DeliveryState::parse(s).unwrap().as_str(), s);
        }
        for s in ["pending", "sent", "failed", "not_sent", "dropped"] {
            assert_eq!(EmailState::parse(s).unwrap().as_str(), s);
        }
        let e = EmailOutcome::NotSent {
            reason: NotSentReason::SmtpNotConfigured,
        };
        let settled = e.settle(now);
        assert_eq!(settled.state, EmailState::NotSent);
        assert_eq!(
            settled.not_sent_reason,
            Some(NotSentReason::SmtpNotConfigured)
        );
    }

    #[test]
    fn a_destination_fails_from_its_first_failure_after_its_last_success() {
        let (a, b, c) = (
            DestinationId::from_u128(1),
            DestinationId::from_u128(2),
            DestinationId::from_u128(3),
        );
        let t = |s| at("2026-01-01T00:00:00Z") + chrono::Duration::seconds(s);
        let h = destination_health([
            (a, false, t(1)),
            (b, false, t(2)),
            (a, false, t(3)),
            (b, true, t(4)),
            (a, true, t(5)),
            (a, false, t(6)),
            (a, false, t(7)),
            (c, false, t(8)),
            (c, false, t(9)),
        ]);
        assert_eq!(
            h,
            [
                (a, Health::FailingSince(t(6))),
                (b, Health::Healthy),
                (c, Health::Failing(t(8)))
            ]
        );
        let day = chrono::Duration::days(1);
        assert_eq!(disable_reason(t(0), day, t(86_400)), None, "exactly a day");
        assert_eq!(
            disable_reason(t(0), day, t(86_401)).as_deref(),
            Some("failing continuously since 2026-01-01T00:00:00.000000Z")
        );
    }

    const SCHEDULE: [Duration; 8] = {
        const fn s(n: u64) -> Duration {
            Duration::from_secs(n)
        }
        [
            s(0),
            s(5),
            s(300),
            s(1800),
            s(7200),
            s(18000),
            s(36000),
            s(36000),
        ]
    };

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
