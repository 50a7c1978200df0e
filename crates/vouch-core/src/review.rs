//! The review trail: append-only rows chained by hashes so tampering is detectable.

use crate::ids::SessionId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::attempt::ActorType;
use crate::status::SessionStatus;
use crate::time::WireTime;

/// The hash a session's first row chains to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a review row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActivityType {
    /// The session's status changed (by a reviewer or automatically).
    StatusChange,
    /// A reviewer overrode one step's result.
    StepStatusChange,
    /// A reviewer's note; it never changes the status.
    Note,
    /// A reviewer corrected a step's data (`update-data`, `update-poa-data`).
    DataUpdate,
    /// The session was shared with another application, or that application imported it.
    Share,
    /// The session was imported from another application's shared session.
    Import,
}

impl ActivityType {
    pub const ALL: [ActivityType; 6] = [
        ActivityType::StatusChange,
        ActivityType::StepStatusChange,
        ActivityType::Note,
        ActivityType::DataUpdate,
        ActivityType::Share,
        ActivityType::Import,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActivityType::StatusChange => "STATUS_CHANGE",
            ActivityType::StepStatusChange => "STEP_STATUS_CHANGE",
            ActivityType::Note => "NOTE",
            ActivityType::DataUpdate => "DATA_UPDATE",
            ActivityType::Share => "SHARE",
            ActivityType::Import => "IMPORT",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A review row of §4.7 plus its place in the session's chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub uuid: Uuid,
    pub session_id: SessionId,
    pub seq: i64,
    pub activity_type: ActivityType,
    pub actor_type: ActorType,
    pub actor_display: String,
    pub previous_status: Option<SessionStatus>,
    pub new_status: Option<SessionStatus>,
    pub comment: Option<String>,
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    /// Digest of the personal fields (`comment`, `metadata`); the chain hashes this, so erasing
    /// those fields on deletion (`redacted`) keeps the chain verifiable.
    pub personal_digest: String,
    pub redacted: bool,
    pub prev_hash: String,
    pub hash: String,
}

/// A review row before it is placed in the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReview {
    pub uuid: Uuid,
    pub activity_type: ActivityType,
    pub actor_type: ActorType,
    pub actor_display: String,
    pub previous_status: Option<SessionStatus>,
    pub new_status: Option<SessionStatus>,
    pub comment: Option<String>,
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
}

impl NewReview {
    /// An automatic status change.
    pub fn system_status_change(
        uuid: Uuid,
        from: SessionStatus,
        to: SessionStatus,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            uuid,
            activity_type: ActivityType::StatusChange,
            actor_type: ActorType::System,
            actor_display: "vouch".into(),
            previous_status: Some(from),
            new_status: Some(to),
            comment: None,
            metadata: json!({}),
            created_at: now,
        }
    }

    /// Places the row after `prev_hash` as number `seq` of the session's chain.
    pub fn chain(self, session_id: SessionId, seq: i64, prev_hash: &str) -> Review {
        let mut r = Review {
            uuid: self.uuid,
            session_id,
            seq,
            activity_type: self.activity_type,
            actor_type: self.actor_type,
            actor_display: self.actor_display,
            previous_status: self.previous_status,
            new_status: self.new_status,
            comment: self.comment,
            metadata: self.metadata,
            created_at: self.created_at,
            personal_digest: String::new(),
            redacted: false,
            prev_hash: prev_hash.to_string(),
            hash: String::new(),
        };
        r.personal_digest = personal_digest(r.comment.as_deref(), &r.metadata);
        r.hash = row_hash(&r);
        r
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 of the personal fields of a row.
pub fn personal_digest(comment: Option<&str>, metadata: &Value) -> String {
    sha256_hex(json!([comment, metadata]).to_string().as_bytes())
}

/// SHA-256 over the previous hash and every field of the row, in a fixed layout.
pub fn row_hash(r: &Review) -> String {
    let content = json!([
        r.prev_hash,
        r.session_id.to_string(),
        r.seq,
        r.uuid.to_string(),
        r.activity_type.as_str(),
        r.actor_type.as_str(),
        r.actor_display,
        r.previous_status.map(SessionStatus::as_str),
        r.new_status.map(SessionStatus::as_str),
        r.personal_digest,
        crate::time::wire(r.created_at),
    ]);
    sha256_hex(content.to_string().as_bytes())
}

/// Why a chain does not verify, naming the first bad row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub seq: i64,
    pub uuid: Uuid,
    pub reason: String,
}

/// Checks one session's rows (ordered by `seq`): consecutive numbers from 1, each linking to the
/// previous hash, each hash matching its content.
pub fn verify_chain(rows: &[Review]) -> Result<(), BrokenLink> {
    let mut prev = GENESIS_HASH.to_string();
    for (i, r) in rows.iter().enumerate() {
        let broken = |reason: String| BrokenLink {
            seq: r.seq,
            uuid: r.uuid,
            reason,
        };
        let expected_seq = i as i64 + 1;
        if r.seq != expected_seq {
            return Err(broken(format!(
                "sequence number {} where {expected_seq} was expected (a row is missing)",
                r.seq
            )));
        }
        if r.prev_hash != prev {
            return Err(broken("does not link to the previous row".into()));
        }
        if !r.redacted && personal_digest(r.comment.as_deref(), &r.metadata) != r.personal_digest {
            return Err(broken("comment or metadata altered".into()));
        }
        if row_hash(r) != r.hash {
            return Err(broken(
                "content does not match its hash (row altered)".into(),
            ));
        }
        prev = r.hash.clone();
    }
    Ok(())
}

/// The public shape of a review row (§4.7).
// Borrowed from the row: serialized once, straight into the answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewRow<'a> {
    pub uuid: Uuid,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "STATUS_CHANGE"))]
    pub activity_type: ActivityType,
    /// `API_KEY`, `CONSOLE_USER` or `SYSTEM`.
    pub actor_type: &'static str,
    pub actor_display: &'a str,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub previous_status: Option<SessionStatus>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub new_status: Option<SessionStatus>,
    pub comment: Option<&'a str>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: &'a Value,
    pub created_at: WireTime,
}

impl<'a> From<&'a Review> for ReviewRow<'a> {
    fn from(r: &'a Review) -> Self {
        ReviewRow {
            uuid: r.uuid,
            activity_type: r.activity_type,
            actor_type: r.actor_type.as_str(),
            actor_display: &r.actor_display,
            previous_status: r.previous_status,
            new_status: r.new_status,
            comment: r.comment.as_deref(),
            metadata: &r.metadata,
            created_at: WireTime(r.created_at),
        }
    }
}

/// [`ReviewRow`] as a JSON value (inside the decision object).
pub fn review_json(r: &Review) -> Value {
    serde_json::to_value(ReviewRow::from(r)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn chain_of(n: usize) -> Vec<Review> {
        let sid = crate::SessionId::from_u128(7);
        let mut prev = GENESIS_HASH.to_string();
        (0..n)
            .map(|i| {
                let r = NewReview::system_status_change(
                    Uuid::from_u128(i as u128),
                    SessionStatus::NotStarted,
                    SessionStatus::InProgress,
                    Utc.timestamp_opt(1_700_000_000 + i as i64, 0).unwrap(),
                )
                .chain(sid, i as i64 + 1, &prev);
                prev = r.hash.clone();
                r
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify_chain(&chain_of(5)), Ok(()));
    }

    #[test]
    fn altered_removed_or_relinked_rows_are_found() {
        let mut altered = chain_of(4);
        altered[2].comment = Some("edited".into());
        assert_eq!(verify_chain(&altered).unwrap_err().seq, 3);

        let mut missing = chain_of(4);
        missing.remove(1);
        assert_eq!(verify_chain(&missing).unwrap_err().seq, 3);

        let mut redacted = chain_of(3);
        redacted[1].comment = None;
        redacted[1].redacted = true;
        assert_eq!(verify_chain(&redacted), Ok(()));

        let mut rehashed = chain_of(4);
        rehashed[1].actor_display = "edited".into();
        rehashed[1].hash = row_hash(&rehashed[1]);
        let e = verify_chain(&rehashed).unwrap_err();
        assert_eq!(e.seq, 3, "{e:?}");
    }
}
