//! Automatic status rules driven by step results (API.md §4.5).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::attempt::Attempt;
use crate::feature::Feature;
use crate::status::{AttemptStatus, SessionStatus};
use crate::workflow::WorkflowSpec;

/// The steps sent back to the person by a resubmission, stored on the session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResubmitInfo {
    /// Node ids in workflow order.
    pub nodes: Vec<String>,
    pub steps: Vec<ResubmitStep>,
    pub requested_at: chrono::DateTime<chrono::Utc>,
    /// Only attempts with a greater `seq` count for the reopened nodes.
    #[serde(default)]
    pub after_seq: i64,
}

impl ResubmitInfo {
    /// The public shape (decision and webhooks): `{nodes, steps: [{node_id, feature, reason}],
    /// requested_at}`.
    pub fn public_json(&self) -> serde_json::Value {
        serde_json::json!({
            "nodes": self.nodes,
            "steps": self.steps.iter().map(|st| serde_json::json!({
                "node_id": st.node_id, "feature": st.feature.name(), "reason": st.reason,
            })).collect::<Vec<_>>(),
            "requested_at": crate::time::wire(self.requested_at),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResubmitStep {
    pub node_id: String,
    pub feature: Feature,
    pub reason: String,
}

/// The overall result of a set of final step results: any Declined → Declined, else any
/// In Review → In Review, else Approved.
pub fn aggregate(results: impl IntoIterator<Item = AttemptStatus>) -> SessionStatus {
    let mut out = SessionStatus::Approved;
    for r in results {
        match r {
            AttemptStatus::Declined => return SessionStatus::Declined,
            AttemptStatus::InReview => out = SessionStatus::InReview,
            _ => {}
        }
    }
    out
}

/// The latest attempt of each node that counts now: for nodes reopened by a resubmission, only
/// attempts recorded after it. Nodes without such an attempt are absent.
pub fn latest_counting<'a>(
    attempts: &'a [Attempt],
    resubmit: Option<&ResubmitInfo>,
) -> HashMap<&'a str, &'a Attempt> {
    let mut latest: HashMap<&str, &Attempt> = HashMap::new();
    for a in attempts {
        if let Some(r) = resubmit {
            if a.seq <= r.after_seq && r.nodes.iter().any(|n| n == &a.node_id) {
                continue;
            }
        }
        match latest.get(a.node_id.as_str()) {
            Some(prev) if prev.seq > a.seq => {}
            _ => {
                latest.insert(a.node_id.as_str(), a);
            }
        }
    }
    latest
}

/// The status changes, in order, that recording an attempt causes. `attempts` already includes
/// the new one. Empty when the status stays.
pub fn transitions_after_attempt(
    current: SessionStatus,
    workflow: &WorkflowSpec,
    attempts: &[Attempt],
    resubmit: Option<&ResubmitInfo>,
) -> Vec<SessionStatus> {
    let mut steps = Vec::new();
    let mut status = current;
    if status == SessionStatus::NotStarted {
        status = SessionStatus::InProgress;
        steps.push(status);
    }
    if !matches!(
        status,
        SessionStatus::InProgress | SessionStatus::Resubmitted
    ) {
        return steps;
    }
    let counting = if status == SessionStatus::Resubmitted {
        resubmit
    } else {
        None
    };
    let latest = latest_counting(attempts, counting);
    let mut finals = Vec::with_capacity(workflow.nodes.len());
    for node in &workflow.nodes {
        match latest.get(node.node_id.as_str()) {
            Some(a) if a.status.is_final() => finals.push(a.status),
            _ => return steps,
        }
    }
    steps.push(aggregate(finals));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attempt::ActorType;
    use crate::workflow::{validate_features, FeatureInput};
    use crate::SessionId;
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;
    use serde_json::json;
    use uuid::Uuid;

    fn workflow(names: &[&str]) -> WorkflowSpec {
        let inputs: Vec<FeatureInput> = names
            .iter()
            .map(|n| FeatureInput {
                feature: Some(json!(n)),
                config: None,
                label: None,
            })
            .collect();
        validate_features(&inputs).unwrap()
    }

    fn attempt(wf: &WorkflowSpec, seq: i64, node: &str, status: AttemptStatus) -> Attempt {
        Attempt {
            id: Uuid::nil(),
            session_id: SessionId::nil(),
            seq,
            node_id: node.into(),
            feature: wf.node(node).unwrap().feature,
            status,
            data: json!({}),
            warnings: json!([]),
            actor_type: ActorType::ApiKey,
            created_at: Utc.timestamp_opt(0, 0).unwrap(),
        }
    }

    use AttemptStatus::*;

    #[test]
    fn aggregation_precedence() {
        assert_eq!(aggregate([Approved, Approved]), SessionStatus::Approved);
        assert_eq!(aggregate([Approved, InReview]), SessionStatus::InReview);
        assert_eq!(
            aggregate([InReview, Declined, Approved]),
            SessionStatus::Declined
        );
    }

    #[test]
    fn first_attempt_starts_and_last_final_decides() {
        let wf = workflow(&["OCR", "LIVENESS"]);
        let a1 = vec![attempt(&wf, 1, "feature_ocr_1", Approved)];
        assert_eq!(
            transitions_after_attempt(SessionStatus::NotStarted, &wf, &a1, None),
            [SessionStatus::InProgress]
        );
        let mut a2 = a1.clone();
        a2.push(attempt(&wf, 2, "feature_liveness_1", NotFinished));
        assert!(transitions_after_attempt(SessionStatus::InProgress, &wf, &a2, None).is_empty());
        a2.push(attempt(&wf, 3, "feature_liveness_1", InReview));
        assert_eq!(
            transitions_after_attempt(SessionStatus::InProgress, &wf, &a2, None),
            [SessionStatus::InReview]
        );
    }

    #[test]
    fn single_step_workflow_goes_through_in_progress() {
        let wf = workflow(&["OCR"]);
        let a = vec![attempt(&wf, 1, "feature_ocr_1", Declined)];
        assert_eq!(
            transitions_after_attempt(SessionStatus::NotStarted, &wf, &a, None),
            [SessionStatus::InProgress, SessionStatus::Declined]
        );
    }

    #[test]
    fn decided_sessions_do_not_move() {
        let wf = workflow(&["OCR"]);
        let a = vec![attempt(&wf, 1, "feature_ocr_1", Declined)];
        for s in [
            SessionStatus::Approved,
            SessionStatus::Declined,
            SessionStatus::InReview,
            SessionStatus::Expired,
            SessionStatus::Abandoned,
            SessionStatus::KycExpired,
        ] {
            assert!(
                transitions_after_attempt(s, &wf, &a, None).is_empty(),
                "{s}"
            );
        }
    }

    #[test]
    fn resubmitted_waits_for_new_attempts_on_reopened_nodes() {
        let wf = workflow(&["OCR", "LIVENESS"]);
        let mut a = vec![
            attempt(&wf, 1, "feature_ocr_1", Approved),
            attempt(&wf, 2, "feature_liveness_1", Declined),
        ];
        let r = ResubmitInfo {
            nodes: vec!["feature_liveness_1".into()],
            steps: vec![],
            requested_at: Utc.timestamp_opt(0, 0).unwrap(),
            after_seq: 2,
        };
        assert!(
            transitions_after_attempt(SessionStatus::Resubmitted, &wf, &a, Some(&r)).is_empty()
        );
        a.push(attempt(&wf, 3, "feature_liveness_1", Approved));
        assert_eq!(
            transitions_after_attempt(SessionStatus::Resubmitted, &wf, &a, Some(&r)),
            [SessionStatus::Approved]
        );
    }

    fn any_status() -> impl Strategy<Value = AttemptStatus> {
        proptest::sample::select(AttemptStatus::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn aggregate_matches_the_rule(rs in proptest::collection::vec(any_status(), 1..10)) {
            let finals: Vec<_> = rs.iter().copied().filter(|r| r.is_final()).collect();
            prop_assume!(!finals.is_empty());
            let got = aggregate(finals.clone());
            let expected = if finals.contains(&Declined) {
                SessionStatus::Declined
            } else if finals.contains(&InReview) {
                SessionStatus::InReview
            } else {
                SessionStatus::Approved
            };
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn in_progress_decides_only_when_every_node_is_final(
            picks in proptest::collection::vec((0usize..3, any_status()), 1..12)
        ) {
            let wf = workflow(&["OCR", "LIVENESS", "FACE_MATCH"]);
            let attempts: Vec<Attempt> = picks.iter().enumerate()
                .map(|(i, (n, s))| attempt(&wf, i as i64 + 1, &wf.nodes[*n].node_id, *s))
                .collect();
            let t = transitions_after_attempt(SessionStatus::InProgress, &wf, &attempts, None);
            let latest = latest_counting(&attempts, None);
            let all_final = wf.nodes.iter().all(|n| latest.get(n.node_id.as_str()).is_some_and(|a| a.status.is_final()));
            prop_assert_eq!(t.len(), usize::from(all_final));
            if all_final {
                prop_assert_eq!(t[0], aggregate(wf.nodes.iter().map(|n| latest[n.node_id.as_str()].status)));
            }
        }
    }
}
