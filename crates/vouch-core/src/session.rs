//! A verification session as stored (API.md §4).

use crate::ids::{AppId, SessionId, WorkflowId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::feature::WorkflowKind;
use crate::progress::ResubmitInfo;
use crate::status::SessionStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallbackMethod {
    Initiator,
    Completer,
    Both,
}

impl CallbackMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackMethod::Initiator => "initiator",
            CallbackMethod::Completer => "completer",
            CallbackMethod::Both => "both",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "initiator" => Some(Self::Initiator),
            "completer" => Some(Self::Completer),
            "both" => Some(Self::Both),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Live,
    Sandbox,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Sandbox => "sandbox",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "live" => Some(Self::Live),
            "sandbox" => Some(Self::Sandbox),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub app_id: AppId,
    pub number: i64,
    pub kind: WorkflowKind,
    pub token: String,
    pub status: SessionStatus,
    pub workflow_id: WorkflowId,
    pub workflow_version: i64,
    pub vendor_data: Option<String>,
    pub metadata: Value,
    pub callback: Option<String>,
    pub callback_method: Option<CallbackMethod>,
    pub language: Option<String>,
    pub contact_details: Value,
    pub expected_details: Value,
    pub resubmit_info: Option<ResubmitInfo>,
    /// Incremented by every write; stale writers re-decide.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Session {
    /// `<public_base_url>/session/<session_token>`.
    pub fn url(&self, public_base_url: &str) -> String {
        format!(
            "{}/session/{}",
            public_base_url.trim_end_matches('/'),
            self.token
        )
    }
}

/// A session for core's unit tests: ids 1 (session), 2 (application), 3 (workflow), times at
/// `at`, everything optional unset.
#[cfg(test)]
pub(crate) fn test_session(status: crate::SessionStatus, at: DateTime<Utc>) -> Session {
    Session {
        id: SessionId::from_u128(1),
        app_id: AppId::from_u128(2),
        number: 1,
        kind: crate::WorkflowKind::User,
        token: "t".into(),
        status,
        workflow_id: WorkflowId::from_u128(3),
        workflow_version: 1,
        vendor_data: None,
        metadata: Value::Object(Default::default()),
        callback: None,
        callback_method: None,
        language: None,
        contact_details: Value::Object(Default::default()),
        expected_details: Value::Object(Default::default()),
        resubmit_info: None,
        version: 1,
        created_at: at,
        updated_at: at,
        expires_at: at,
    }
}
