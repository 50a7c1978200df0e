//! Session and attempt statuses with the contract's exact, case-sensitive spellings.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SessionStatus {
    #[serde(rename = "Not Started")]
    NotStarted,
    #[serde(rename = "In Progress")]
    InProgress,
    #[serde(rename = "In Review")]
    InReview,
    Approved,
    Declined,
    Resubmitted,
    Expired,
    Abandoned,
    #[serde(rename = "Kyc Expired")]
    KycExpired,
    #[serde(rename = "Awaiting User")]
    AwaitingUser,
}

impl SessionStatus {
    pub const ALL: [SessionStatus; 10] = [
        SessionStatus::NotStarted,
        SessionStatus::InProgress,
        SessionStatus::InReview,
        SessionStatus::Approved,
        SessionStatus::Declined,
        SessionStatus::Resubmitted,
        SessionStatus::Expired,
        SessionStatus::Abandoned,
        SessionStatus::KycExpired,
        SessionStatus::AwaitingUser,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::NotStarted => "Not Started",
            SessionStatus::InProgress => "In Progress",
            SessionStatus::InReview => "In Review",
            SessionStatus::Approved => "Approved",
            SessionStatus::Declined => "Declined",
            SessionStatus::Resubmitted => "Resubmitted",
            SessionStatus::Expired => "Expired",
            SessionStatus::Abandoned => "Abandoned",
            SessionStatus::KycExpired => "Kyc Expired",
            SessionStatus::AwaitingUser => "Awaiting User",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Unfinished sessions may be reused by a create with the same `vendor_data` (§4.1).
    pub fn is_unfinished(self) -> bool {
        matches!(
            self,
            SessionStatus::NotStarted
                | SessionStatus::InProgress
                | SessionStatus::Resubmitted
                | SessionStatus::AwaitingUser
        )
    }

    /// Statuses whose webhook payload carries the full decision (§5).
    pub fn carries_decision(self) -> bool {
        matches!(
            self,
            SessionStatus::Approved
                | SessionStatus::Declined
                | SessionStatus::InReview
                | SessionStatus::Abandoned
        )
    }
}

impl std::fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result an engine reports for one step (§4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AttemptStatus {
    Approved,
    Declined,
    #[serde(rename = "In Review")]
    InReview,
    #[serde(rename = "Not Finished")]
    NotFinished,
    Expired,
}

impl AttemptStatus {
    pub const ALL: [AttemptStatus; 5] = [
        AttemptStatus::Approved,
        AttemptStatus::Declined,
        AttemptStatus::InReview,
        AttemptStatus::NotFinished,
        AttemptStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttemptStatus::Approved => "Approved",
            AttemptStatus::Declined => "Declined",
            AttemptStatus::InReview => "In Review",
            AttemptStatus::NotFinished => "Not Finished",
            AttemptStatus::Expired => "Expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Final results decide a session; `Not Finished` and `Expired` do not.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            AttemptStatus::Approved | AttemptStatus::Declined | AttemptStatus::InReview
        )
    }
}

impl std::fmt::Display for AttemptStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_through_serde_and_parse() {
        for s in SessionStatus::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(SessionStatus::parse(s.as_str()), Some(s));
        }
        for s in AttemptStatus::ALL {
            assert_eq!(AttemptStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(SessionStatus::parse("approved"), None);
        assert_eq!(SessionStatus::parse("KYC Expired"), None);
    }
}
