//! Per-resource key privileges (API.md §1).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    None,
    Read,
    Write,
}

impl Access {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Access::None => "none",
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Sessions,
    Decisions,
    Webhooks,
    Workflows,
    /// Captured images and documents: `read` puts signed URLs to them in decisions.
    Media,
}

/// What a key may do, per resource. `write` implies `read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scopes {
    pub sessions: Access,
    pub decisions: Access,
    pub webhooks: Access,
    pub workflows: Access,
    /// `none` or `read`.
    pub media: Access,
}

impl Scopes {
    pub fn all(access: Access) -> Self {
        Self {
            sessions: access,
            decisions: access,
            webhooks: access,
            workflows: access,
            media: access.min(Access::Read),
        }
    }

    pub fn get(&self, r: Resource) -> Access {
        match r {
            Resource::Sessions => self.sessions,
            Resource::Decisions => self.decisions,
            Resource::Webhooks => self.webhooks,
            Resource::Workflows => self.workflows,
            Resource::Media => self.media,
        }
    }

    /// "At least that access on that resource".
    pub fn allows(&self, r: Resource, needed: Access) -> bool {
        self.get(r) >= needed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_implies_read_and_none_allows_nothing() {
        let s = Scopes {
            sessions: Access::Write,
            decisions: Access::Read,
            webhooks: Access::None,
            workflows: Access::None,
            media: Access::None,
        };
        assert!(s.allows(Resource::Sessions, Access::Read));
        assert!(s.allows(Resource::Sessions, Access::Write));
        assert!(s.allows(Resource::Decisions, Access::Read));
        assert!(!s.allows(Resource::Decisions, Access::Write));
        assert!(!s.allows(Resource::Webhooks, Access::Read));
    }
}
