//! Who may do what in the reviewer's console: roles, and the login throttle's rule.

use chrono::{DateTime, Duration, Utc};

/// A console user's role (`vouch users create --role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Decides, and manages what reviewers do.
    Admin,
    /// Decides the sessions of its applications.
    Reviewer,
    /// Reads, never decides.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Reviewer, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn may_decide(self) -> bool {
        matches!(self, Role::Admin | Role::Reviewer)
    }
}

/// The login throttle: at most `per_account` failed logins for one account, and `per_address`
/// from one client address, within `window`; past either, logins wait until the window ends.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    pub per_account: i64,
    pub per_address: i64,
    pub window: Duration,
}

/// Failed logins counted in the current window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Failures {
    /// For the account, since its last successful login.
    pub by_account: i64,
    pub by_address: i64,
    /// The oldest failure counted (the window ends `window` after it).
    pub oldest: Option<DateTime<Utc>>,
}

impl Throttle {
    /// When logins may be tried again, if they are locked now.
    pub fn locked_until(&self, f: &Failures, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if f.by_account < self.per_account && f.by_address < self.per_address {
            return None;
        }
        let until = f.oldest.unwrap_or(now) + self.window;
        (until > now).then_some(until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_only_viewers_never_decide() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
        assert!(Role::Admin.may_decide() && Role::Reviewer.may_decide());
        assert!(!Role::Viewer.may_decide());
    }

    #[test]
    fn the_throttle_locks_past_either_limit_until_the_window_ends() {
        let t = Throttle {
            per_account: 5,
            per_address: 20,
            window: Duration::minutes(15),
        };
        let now = DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let oldest = Some(now - Duration::minutes(5));
        let f = |a, b| Failures {
            by_account: a,
            by_address: b,
            oldest,
        };
        assert_eq!(t.locked_until(&f(4, 19), now), None);
        assert_eq!(
            t.locked_until(&f(5, 0), now),
            Some(now + Duration::minutes(10))
        );
        assert_eq!(
            t.locked_until(&f(0, 20), now),
            Some(now + Duration::minutes(10))
        );
        let old = Failures {
            oldest: Some(now - Duration::minutes(15)),
            ..f(9, 0)
        };
        assert_eq!(t.locked_until(&old, now), None);
    }
}
