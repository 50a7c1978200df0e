//! The flat webhook payload of API.md §5.

use crate::ids::EventId;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::session::{Environment, Session};
use crate::SessionStatus;

/// What an outbox event says happened.
pub struct EventFacts<'a> {
    pub event_id: EventId,
    pub webhook_type: &'a str,
    pub status: SessionStatus,
    pub previous_status: Option<SessionStatus>,
    pub resubmit_info: Option<&'a Value>,
    pub created_at: DateTime<Utc>,
}

/// The payload without its send-time `timestamp`. `decision` is the §4.2 object; it is kept
/// only for the statuses that carry one.
pub fn payload(
    e: &EventFacts<'_>,
    session: &Session,
    environment: Environment,
    decision: Option<Value>,
) -> Value {
    json!({
        "event_id": e.event_id,
        "webhook_type": e.webhook_type,
        "session_id": session.id,
        "session_kind": session.kind,
        "status": e.status,
        "previous_status": e.previous_status,
        "vendor_data": session.vendor_data,
        "workflow_id": session.workflow_id,
        "metadata": session.metadata,
        "environment": environment,
        "created_at": e.created_at.timestamp(),
        "resubmit_info": e.resubmit_info.cloned().unwrap_or(Value::Null),
        "decision": decision.filter(|_| e.status.carries_decision()).unwrap_or(Value::Null),
    })
}

/// The payload as sent at `now`: the stored payload with the send time as `timestamp`.
pub fn at_send_time(mut stored: Value, now: DateTime<Utc>) -> Value {
    if let Value::Object(m) = &mut stored {
        m.insert("timestamp".into(), json!(now.timestamp()));
    }
    stored
}

#[cfg(test)]
mod tests {
    use super::*;

    use chrono::TimeZone;

    fn session() -> Session {
        let t = Utc.timestamp_opt(1_764_115_200, 0).unwrap();
        Session {
            vendor_data: Some("user-123".into()),
            metadata: json!({"k": 1}),
            ..crate::session::test_session(SessionStatus::Approved, t)
        }
    }

    #[test]
    fn decided_statuses_carry_the_decision_and_others_do_not() {
        let s = session();
        let facts = |status| EventFacts {
            event_id: EventId::from_u128(9),
            webhook_type: "status.updated",
            status,
            previous_status: Some(SessionStatus::InReview),
            resubmit_info: None,
            created_at: Utc.timestamp_opt(1_764_115_200, 0).unwrap(),
        };
        let p = payload(
            &facts(SessionStatus::Approved),
            &s,
            Environment::Live,
            Some(json!({"status": "Approved"})),
        );
        assert_eq!(p["decision"]["status"], "Approved");
        assert_eq!(p["created_at"], 1_764_115_200);
        assert_eq!(p["previous_status"], "In Review");
        assert_eq!(p["vendor_data"], "user-123");
        let p = payload(
            &facts(SessionStatus::Resubmitted),
            &s,
            Environment::Sandbox,
            Some(json!({})),
        );
        assert_eq!(p["decision"], Value::Null);
        assert_eq!(p["environment"], "sandbox");
        assert!(p.get("timestamp").is_none());
        let sent = at_send_time(p, Utc.timestamp_opt(1_764_115_260, 0).unwrap());
        assert_eq!(sent["timestamp"], 1_764_115_260);
    }
}
