//! `[console]` of the configuration.

use std::time::Duration;

use serde::Deserialize;

use crate::config::human;

#[derive(Debug, Clone, Deserialize)]
pub struct ConsoleConfig {
    /// A login unused for this long ends.
    #[serde(with = "human")]
    pub idle_timeout: Duration,
    /// A login ends this long after it began, used or not.
    #[serde(with = "human")]
    pub absolute_timeout: Duration,
    /// Failed logins for one account within `login_window` before its logins wait.
    pub max_failed_logins_per_account: i64,
    /// Failed logins from one client address within `login_window` before its logins wait.
    pub max_failed_logins_per_address: i64,
    #[serde(with = "human")]
    pub login_window: Duration,
    /// A session in review longer than this is flagged overdue in the queue.
    #[serde(with = "human")]
    pub review_deadline: Duration,
    /// A reviewer's claim on a session ends this long after it was taken.
    #[serde(with = "human")]
    pub claim_ttl: Duration,
    /// Logging in through an OpenID Connect provider, when set.
    #[serde(default)]
    pub oidc: Option<super::oidc::OidcConfig>,
}

impl ConsoleConfig {
    pub fn throttle(&self) -> vouch_core::console::Throttle {
        vouch_core::console::Throttle {
            per_account: self.max_failed_logins_per_account,
            per_address: self.max_failed_logins_per_address,
            window: chrono::Duration::from_std(self.login_window)
                .unwrap_or(chrono::Duration::minutes(15)),
        }
    }
}
