//! What the person who opens a session's link is shown: a pure function of the session, its
//! workflow and its attempts. The hosted page renders it; nothing here knows about HTML.

use crate::attempt::Attempt;
use crate::feature::Feature;
use crate::progress::latest_counting;
use crate::session::Session;
use crate::workflow::WorkflowSpec;
use crate::{AttemptStatus, SessionStatus};

/// The page a link leads to.
#[derive(Debug, Clone, PartialEq)]
pub enum Screen {
    /// Steps remain for the person.
    Steps(Vec<FlowStep>),
    /// Nothing left to do: the session is being reviewed or decided. The page says so and, when
    /// the session has a `callback`, sends the person back.
    Outcome(SessionStatus),
    /// The link no longer works (answered `410 Gone`).
    Ended(Ended),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Expired,
    Abandoned,
    Deleted,
}

/// One step of the workflow as the person sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowStep {
    pub node_id: String,
    pub feature: Feature,
    pub state: StepState,
    /// Why the step is asked again (a resubmission's reason).
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    /// The person has this to do.
    ToDo,
    /// Submitted; an engine is checking it.
    Checking,
    /// Done; it cannot be redone from the page.
    Done,
    /// Runs by itself once the person has finished (screening, data and connection checks).
    Automatic,
    /// Part of the workflow but not something this page can capture (questionnaires, company
    /// steps, chip reading): said plainly instead of showing a broken step.
    NotAvailable,
}

/// How the page can take part in a feature.
pub fn capture_of(feature: Feature, spec: &WorkflowSpec) -> StepState {
    match feature {
        Feature::Ocr
        | Feature::Liveness
        | Feature::ProofOfAddress
        | Feature::EmailVerification
        | Feature::PhoneVerification => StepState::ToDo,
        // The face match compares the selfie with the document: its own capture only when the
        // workflow takes no selfie otherwise.
        Feature::FaceMatch if spec.nodes.iter().any(|n| n.feature == Feature::Liveness) => {
            StepState::Automatic
        }
        Feature::FaceMatch => StepState::ToDo,
        Feature::Aml
        | Feature::DatabaseValidation
        | Feature::IpAnalysis
        | Feature::AgeEstimation
        | Feature::FaceSearch => StepState::Automatic,
        Feature::Nfc
        | Feature::Questionnaire
        | Feature::DocumentAi
        | Feature::KybRegistry
        | Feature::KybKeyPeople
        | Feature::KybDocuments => StepState::NotAvailable,
    }
}

/// A step's state from its latest counting attempt and whether an engine job is pending on it.
fn state_of(
    node: &crate::workflow::Node,
    latest: Option<&&Attempt>,
    checking: &[String],
    spec: &WorkflowSpec,
) -> StepState {
    match latest {
        Some(a) if a.status != AttemptStatus::NotFinished => StepState::Done,
        _ if checking.contains(&node.node_id) => StepState::Checking,
        _ => capture_of(node.feature, spec),
    }
}

/// The screen for a session (`checking`: the nodes with an engine job pending; `deleted`: the
/// session was erased).
pub fn screen(
    session: &Session,
    spec: &WorkflowSpec,
    attempts: &[Attempt],
    checking: &[String],
    deleted: bool,
) -> Screen {
    if deleted {
        return Screen::Ended(Ended::Deleted);
    }
    match session.status {
        SessionStatus::Expired => Screen::Ended(Ended::Expired),
        SessionStatus::Abandoned => Screen::Ended(Ended::Abandoned),
        SessionStatus::InReview
        | SessionStatus::Approved
        | SessionStatus::Declined
        | SessionStatus::KycExpired => Screen::Outcome(session.status),
        SessionStatus::Resubmitted => {
            let Some(info) = &session.resubmit_info else {
                return Screen::Outcome(session.status);
            };
            let latest = latest_counting(attempts, Some(info));
            // Only the reopened steps, in workflow order, each with its reason.
            let steps: Vec<FlowStep> = spec
                .nodes
                .iter()
                .filter_map(|n| {
                    let asked = info.steps.iter().find(|s| s.node_id == n.node_id)?;
                    let state = state_of(n, latest.get(n.node_id.as_str()), checking, spec);
                    Some(FlowStep {
                        node_id: n.node_id.clone(),
                        feature: n.feature,
                        state,
                        reason: Some(asked.reason.clone()),
                    })
                })
                .collect();
            Screen::Steps(steps)
        }
        SessionStatus::NotStarted | SessionStatus::InProgress | SessionStatus::AwaitingUser => {
            let latest = latest_counting(attempts, None);
            let steps = spec
                .nodes
                .iter()
                .map(|n| FlowStep {
                    node_id: n.node_id.clone(),
                    feature: n.feature,
                    state: state_of(n, latest.get(n.node_id.as_str()), checking, spec),
                    reason: None,
                })
                .collect();
            Screen::Steps(steps)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attempt::ActorType;
    use crate::progress::{ResubmitInfo, ResubmitStep};
    use crate::workflow::{validate_features, FeatureInput};
    use chrono::{TimeZone, Utc};

    fn spec(features: &[&str]) -> WorkflowSpec {
        let inputs: Vec<FeatureInput> = features
            .iter()
            .map(|f| serde_json::from_value(serde_json::json!({ "feature": f })).unwrap())
            .collect();
        validate_features(&inputs).unwrap()
    }

    fn session(status: SessionStatus) -> Session {
        crate::session::test_session(status, Utc.timestamp_opt(1_700_000_000, 0).unwrap())
    }

    fn attempt(node: &str, seq: i64, status: AttemptStatus) -> Attempt {
        Attempt {
            id: uuid::Uuid::from_u128(seq as u128),
            session_id: crate::SessionId::from_u128(1),
            seq,
            node_id: node.into(),
            feature: Feature::Ocr,
            status,
            data: serde_json::Value::Null,
            warnings: serde_json::Value::Null,
            actor_type: ActorType::ApiKey,
            created_at: Utc.timestamp_opt(1_700_000_000 + seq, 0).unwrap(),
        }
    }

    fn states(s: &Screen) -> Vec<(String, StepState, Option<String>)> {
        match s {
            Screen::Steps(steps) => steps
                .iter()
                .map(|s| (s.node_id.clone(), s.state, s.reason.clone()))
                .collect(),
            other => panic!("not steps: {other:?}"),
        }
    }

    #[test]
    fn a_new_session_shows_every_step_in_workflow_order() {
        let wf = spec(&["OCR", "LIVENESS", "FACE_MATCH", "EMAIL_VERIFICATION", "AML"]);
        let s = screen(&session(SessionStatus::NotStarted), &wf, &[], &[], false);
        let got = states(&s);
        let order: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
        let want: Vec<&str> = wf.nodes.iter().map(|n| n.node_id.as_str()).collect();
        assert_eq!(order, want);
        let by_feature: Vec<StepState> = got.iter().map(|g| g.1).collect();
        assert_eq!(
            by_feature,
            vec![
                StepState::ToDo,
                StepState::ToDo,
                // Uses the selfie and the document: nothing of its own to capture.
                StepState::Automatic,
                StepState::ToDo,
                StepState::Automatic
            ]
        );
    }

    #[test]
    fn face_match_captures_a_selfie_when_there_is_no_liveness_step() {
        let wf = spec(&["OCR", "FACE_MATCH"]);
        let s = screen(&session(SessionStatus::NotStarted), &wf, &[], &[], false);
        assert_eq!(states(&s)[1].1, StepState::ToDo);
    }

    #[test]
    fn finished_steps_are_done_and_steps_it_cannot_capture_say_so() {
        let wf = spec(&["OCR", "LIVENESS", "QUESTIONNAIRE"]);
        let ocr = wf.nodes[0].node_id.clone();
        let s = screen(
            &session(SessionStatus::InProgress),
            &wf,
            &[attempt(&ocr, 1, AttemptStatus::Approved)],
            &[],
            false,
        );
        let got: Vec<StepState> = states(&s).iter().map(|g| g.1).collect();
        assert_eq!(
            got,
            vec![StepState::Done, StepState::ToDo, StepState::NotAvailable]
        );
    }

    #[test]
    fn a_resubmitted_session_shows_only_its_reopened_steps_with_their_reasons() {
        let wf = spec(&["OCR", "LIVENESS", "PROOF_OF_ADDRESS"]);
        let (ocr, live, poa) = (
            wf.nodes[0].node_id.clone(),
            wf.nodes[1].node_id.clone(),
            wf.nodes[2].node_id.clone(),
        );
        let mut s = session(SessionStatus::Resubmitted);
        s.resubmit_info = Some(ResubmitInfo {
            nodes: vec![poa.clone(), ocr.clone()],
            steps: vec![
                ResubmitStep {
                    node_id: poa.clone(),
                    feature: Feature::ProofOfAddress,
                    reason: "The bill is older than three months.".into(),
                },
                ResubmitStep {
                    node_id: ocr.clone(),
                    feature: Feature::Ocr,
                    reason: "The photo is blurred.".into(),
                },
            ],
            requested_at: Utc.timestamp_opt(1_700_000_100, 0).unwrap(),
            after_seq: 3,
        });
        let attempts = [
            attempt(&ocr, 1, AttemptStatus::Declined),
            attempt(&live, 2, AttemptStatus::Approved),
            attempt(&poa, 3, AttemptStatus::Declined),
            // The document again, after the resubmission: done.
            attempt(&ocr, 4, AttemptStatus::Approved),
        ];
        let got = states(&screen(&s, &wf, &attempts, &[], false));
        assert_eq!(
            got,
            vec![
                (
                    ocr,
                    StepState::Done,
                    Some("The photo is blurred.".to_string())
                ),
                (
                    poa,
                    StepState::ToDo,
                    Some("The bill is older than three months.".to_string())
                ),
            ],
            "workflow order, the liveness step not shown"
        );
    }

    #[test]
    fn decided_and_ended_sessions_have_no_steps() {
        let wf = spec(&["OCR"]);
        for st in [
            SessionStatus::InReview,
            SessionStatus::Approved,
            SessionStatus::Declined,
            SessionStatus::KycExpired,
        ] {
            assert_eq!(
                screen(&session(st), &wf, &[], &[], false),
                Screen::Outcome(st)
            );
        }
        assert_eq!(
            screen(&session(SessionStatus::Expired), &wf, &[], &[], false),
            Screen::Ended(Ended::Expired)
        );
        assert_eq!(
            screen(&session(SessionStatus::Abandoned), &wf, &[], &[], false),
            Screen::Ended(Ended::Abandoned)
        );
        assert_eq!(
            screen(&session(SessionStatus::InProgress), &wf, &[], &[], true),
            Screen::Ended(Ended::Deleted)
        );
    }
}
