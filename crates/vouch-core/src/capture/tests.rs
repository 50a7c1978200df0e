use std::sync::Arc;

use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::engine::Slot;
use crate::feature::Feature;
use crate::ids::{AppId, EngineJobId, MediaId, WorkflowId};
use crate::media::MediaType;
use crate::session::Environment;
use crate::workflow::{validate_features, FeatureInput, WorkflowRecord, WorkflowStatus};

fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 0).unwrap()
}

fn state(features: &[&str], status: SessionStatus, environment: Environment) -> SessionState {
    let inputs: Vec<FeatureInput> = features
        .iter()
        .map(|f| serde_json::from_value(json!({ "feature": f })).unwrap())
        .collect();
    let spec = validate_features(&inputs).unwrap();
    SessionState {
        session: crate::session::test_session(status, now()),
        environment,
        app_name: "Acme".into(),
        email_sender_name: None,
        workflow: Arc::new(WorkflowRecord {
            settings: Default::default(),
            archived_at: None,
            id: WorkflowId::from_u128(7),
            version: 1,
            app_id: AppId::from_u128(1),
            label: "kyc".into(),
            status: WorkflowStatus::Published,
            is_default: true,
            spec,
            created_at: now(),
        }),
        attempts: Vec::new(),
        last_backend_resubmission: None,
    }
}

fn node(s: &SessionState, f: Feature) -> String {
    s.workflow
        .spec
        .nodes
        .iter()
        .find(|n| n.feature == f)
        .unwrap()
        .node_id
        .clone()
}

fn sub(node_id: &str, slot: Slot) -> Submission {
    Submission {
        node_id: node_id.into(),
        id: EngineJobId::from_u128(77),
        media: vec![NewMedia {
            id: MediaId::from_u128(9),
            node_id: node_id.into(),
            slot,
            media_type: MediaType::Jpeg,
            bytes: 1000,
            width: 1200,
            height: 800,
            sha256: "00".into(),
        }],
        fields: Map::new(),
    }
}

#[test]
fn the_first_submission_starts_the_session_and_queues_its_engine() {
    let s = state(
        &["OCR", "LIVENESS", "AML"],
        SessionStatus::NotStarted,
        Environment::Sandbox,
    );
    let ocr = node(&s, Feature::Ocr);
    let ch = submit(&s, sub(&ocr, Slot::Front), &[], now()).unwrap();
    assert_eq!(ch.status, Some(SessionStatus::InProgress));
    assert_eq!(
        ch.events.len(),
        1,
        "status.updated Not Started → In Progress"
    );
    assert_eq!(ch.media.len(), 1);
    assert_eq!(ch.engine_jobs.len(), 1, "AML waits for the selfie");
    let j = &ch.engine_jobs[0];
    assert_eq!(
        (j.node_id.as_str(), j.engine),
        (ocr.as_str(), Engine::Sandbox)
    );
    assert_eq!(j.input["media"]["front"], json!(MediaId::from_u128(9)));
}

#[test]
fn the_last_step_of_the_person_sends_the_automatic_steps_to_their_engines() {
    let s = state(
        &["OCR", "LIVENESS", "FACE_MATCH", "AML"],
        SessionStatus::InProgress,
        Environment::Live,
    );
    let (ocr, live) = (node(&s, Feature::Ocr), node(&s, Feature::Liveness));
    let ch = submit(
        &s,
        sub(&live, Slot::Selfie),
        std::slice::from_ref(&ocr),
        now(),
    )
    .unwrap();
    assert_eq!(ch.status, None, "already In Progress");
    let jobs: Vec<(Feature, Engine)> = ch
        .engine_jobs
        .iter()
        .map(|j| (j.feature, j.engine))
        .collect();
    assert_eq!(
        jobs,
        vec![
            (Feature::Liveness, Engine::Manual),
            (Feature::FaceMatch, Engine::Manual),
            (Feature::Aml, Engine::Manual),
        ],
        "a live application's default engine is a reviewer"
    );
    assert_eq!(ch.engine_jobs[1].input["uses"], json!([ocr, live]));
}

#[test]
fn a_step_no_longer_to_do_is_refused_and_the_form_names_its_job() {
    let s = state(
        &["OCR", "LIVENESS"],
        SessionStatus::InProgress,
        Environment::Sandbox,
    );
    let ocr = node(&s, Feature::Ocr);
    // The form's id names the engine job (the store refuses a second job of that id).
    let ch = submit(&s, sub(&ocr, Slot::Front), &[], now()).unwrap();
    assert_eq!(ch.engine_jobs[0].id, EngineJobId::from_u128(77));
    // Being checked already: the step is no longer to do.
    let again = sub(&ocr, Slot::Front);
    assert_eq!(
        submit(&s, again, std::slice::from_ref(&ocr), now()).unwrap_err(),
        Rejection::Stale
    );
    let decided = state(&["OCR"], SessionStatus::InReview, Environment::Sandbox);
    let n = node(&decided, Feature::Ocr);
    assert_eq!(
        submit(&decided, sub(&n, Slot::Front), &[], now()).unwrap_err(),
        Rejection::Stale
    );
}
