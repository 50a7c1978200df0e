//! Step results reported by verification engines (API.md §4.5).

use crate::ids::SessionId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::feature::Feature;
use crate::status::AttemptStatus;

/// Who produced a result or a review row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActorType {
    ApiKey,
    ConsoleUser,
    System,
}

impl ActorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::ApiKey => "API_KEY",
            ActorType::ConsoleUser => "CONSOLE_USER",
            ActorType::System => "SYSTEM",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "API_KEY" => Some(Self::ApiKey),
            "CONSOLE_USER" => Some(Self::ConsoleUser),
            "SYSTEM" => Some(Self::System),
            _ => None,
        }
    }
}

/// One recorded step result. `seq` orders a session's attempts (1, 2, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub id: Uuid,
    pub session_id: SessionId,
    pub seq: i64,
    pub node_id: String,
    pub feature: Feature,
    pub status: AttemptStatus,
    pub data: Value,
    pub warnings: Value,
    pub actor_type: ActorType,
    pub created_at: DateTime<Utc>,
}
