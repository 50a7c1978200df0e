//! When an Approved session's KYC expires: the document's expiry date or the workflow's validity.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::Value;

use crate::attempt::Attempt;
use crate::change::{SessionChange, SessionState};
use crate::feature::Feature;
use crate::progress::latest_counting;
use crate::workflow::WorkflowSpec;
use crate::SessionStatus;

/// The node config key giving how many days an approval stays valid.
pub const VALIDITY_KEY: &str = "kyc_validity_days";

/// The first moment the approval no longer holds: the day after the latest OCR result's
/// `expiration_date`, or `approved_at` plus any node's `kyc_validity_days`, whichever is first.
pub fn kyc_expires_at(
    workflow: &WorkflowSpec,
    attempts: &[Attempt],
    approved_at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let latest = latest_counting(attempts, None);
    let document = workflow
        .nodes
        .iter()
        .filter(|n| n.feature == Feature::Ocr)
        .filter_map(|n| latest.get(n.node_id.as_str()))
        .filter_map(|a| a.data.get("expiration_date").and_then(Value::as_str))
        .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .filter_map(|d| d.succ_opt()?.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .min();
    let validity = workflow
        .nodes
        .iter()
        .filter_map(|n| n.config.get(VALIDITY_KEY).and_then(Value::as_i64))
        .filter(|d| *d > 0)
        .min()
        .map(|days| approved_at + Duration::days(days));
    match (document, validity) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The lifecycle scheduler's move of a session found due at `scanned_version`, decided again
/// on the state loaded in the write transaction: nothing when the session changed since the
/// scan (the next scan looks again).
pub fn transition(
    b: &SessionState,
    scanned_version: i64,
    to: SessionStatus,
    now: DateTime<Utc>,
) -> Option<SessionChange> {
    let s = &b.session;
    if s.version != scanned_version {
        return None;
    }
    let mut change = SessionChange {
        status: Some(to),
        kyc_expires_at: Some(None),
        ..SessionChange::for_session(s, now)
    };
    change.push_system_transition(s.status, to, now);
    Some(change)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attempt::ActorType;
    use crate::workflow::{validate_features, FeatureInput};
    use crate::AttemptStatus;
    use crate::SessionId;
    use chrono::TimeZone;
    use serde_json::json;
    use uuid::Uuid;

    fn wf(ocr_config: Value) -> WorkflowSpec {
        validate_features(&[
            FeatureInput {
                feature: Some(json!("OCR")),
                config: Some(ocr_config),
                label: None,
            },
            FeatureInput {
                feature: Some(json!("LIVENESS")),
                config: None,
                label: None,
            },
        ])
        .unwrap()
    }

    fn ocr(data: Value) -> Attempt {
        Attempt {
            id: Uuid::nil(),
            session_id: SessionId::nil(),
            seq: 1,
            node_id: "feature_ocr_1".into(),
            feature: Feature::Ocr,
            status: AttemptStatus::Approved,
            data,
            warnings: json!([]),
            actor_type: ActorType::ApiKey,
            created_at: Utc.timestamp_opt(0, 0).unwrap(),
        }
    }

    #[test]
    fn document_expiry_and_validity_take_the_earlier() {
        let approved = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        let doc = ocr(json!({"expiration_date": "2026-03-31"}));
        assert_eq!(
            kyc_expires_at(&wf(json!({})), std::slice::from_ref(&doc), approved),
            Some(Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap())
        );
        assert_eq!(
            kyc_expires_at(&wf(json!({"kyc_validity_days": 30})), &[doc], approved),
            Some(approved + Duration::days(30))
        );
        assert_eq!(
            kyc_expires_at(&wf(json!({})), &[ocr(json!({}))], approved),
            None
        );
        assert_eq!(
            kyc_expires_at(
                &wf(json!({})),
                &[ocr(json!({"expiration_date": "soon"}))],
                approved
            ),
            None
        );
    }
}
