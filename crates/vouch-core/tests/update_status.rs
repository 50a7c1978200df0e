//! Every rule of API.md §4.6 as a pure decision, plus property tests of the selection.

use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};
use uuid::Uuid;
use vouch_core::attempt::{ActorType, Attempt};
use vouch_core::feature::Feature;
use vouch_core::update_status::{decide, Outcome, Rejection, UpdateContext};
use vouch_core::workflow::{validate_features, FeatureInput, WorkflowSpec};
use vouch_core::{AttemptStatus, SessionId, SessionStatus};

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

fn attempts(wf: &WorkflowSpec, results: &[(&str, AttemptStatus)]) -> Vec<Attempt> {
    results
        .iter()
        .enumerate()
        .map(|(i, (node, status))| Attempt {
            id: Uuid::from_u128(i as u128),
            session_id: SessionId::nil(),
            seq: i as i64 + 1,
            node_id: node.to_string(),
            feature: wf.node(node).unwrap().feature,
            status: *status,
            data: json!({}),
            warnings: json!([]),
            actor_type: ActorType::ApiKey,
            created_at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        })
        .collect()
}

fn now() -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 0).unwrap()
}

fn run(
    status: SessionStatus,
    wf: &WorkflowSpec,
    att: &[Attempt],
    body: Value,
) -> Result<Outcome, Rejection> {
    decide(
        &UpdateContext {
            status,
            workflow: wf,
            attempts: att,
            now: now(),
            last_backend_resubmission: None,
        },
        &body,
    )
}

fn change(r: Result<Outcome, Rejection>) -> vouch_core::update_status::Change {
    match r {
        Ok(Outcome::Change(c)) => c,
        other => panic!("expected a change, got {other:?}"),
    }
}

fn fields(r: Result<Outcome, Rejection>) -> Value {
    match r {
        Err(Rejection::Fields(f)) => serde_json::to_value(f).unwrap(),
        other => panic!("expected field errors, got {other:?}"),
    }
}

use AttemptStatus as A;
use SessionStatus as S;

#[test]
fn current_status_is_checked_before_the_body() {
    let wf = workflow(&["OCR"]);
    for status in [S::NotStarted, S::InProgress, S::Expired, S::AwaitingUser] {
        for body in [
            json!({}),
            json!({"new_status": "Pending"}),
            json!({"new_status": "Approved"}),
            json!([1]),
        ] {
            assert_eq!(
                run(status, &wf, &[], body),
                Err(Rejection::WrongCurrentStatus),
                "{status}"
            );
        }
    }
    for status in [
        S::Approved,
        S::Declined,
        S::InReview,
        S::KycExpired,
        S::Abandoned,
        S::Resubmitted,
    ] {
        assert_ne!(
            run(status, &wf, &[], json!({"new_status": "Pending"})),
            Err(Rejection::WrongCurrentStatus)
        );
    }
}

#[test]
fn only_three_targets_are_accepted() {
    let wf = workflow(&["OCR"]);
    for bad in [
        json!("In Review"),
        json!("Pending"),
        json!("approved"),
        json!(1),
        json!("Kyc Expired"),
    ] {
        let f = fields(run(S::InReview, &wf, &[], json!({"new_status": bad})));
        assert!(
            f["new_status"][0]
                .as_str()
                .unwrap()
                .ends_with("is not a valid choice."),
            "{f}"
        );
    }
    assert_eq!(
        fields(run(S::InReview, &wf, &[], json!({"new_status": "Pending"}))),
        json!({"new_status": ["\"Pending\" is not a valid choice."]})
    );
    assert_eq!(
        fields(run(S::InReview, &wf, &[], json!({}))),
        json!({"new_status": ["This field is required."]})
    );
}

#[test]
fn nodes_are_schema_validated_whatever_the_target() {
    let wf = workflow(&["OCR"]);
    for target in ["Approved", "Declined", "Resubmitted"] {
        let f = fields(run(
            S::InReview,
            &wf,
            &[],
            json!({"new_status": target, "nodes_to_resubmit": [{"node_id": "feature_ocr_1", "feature": "SELFIE"}]}),
        ));
        assert_eq!(
            f,
            json!({"nodes_to_resubmit[0].feature": ["\"SELFIE\" is not a valid choice."]}),
            "{target}"
        );
        let f = fields(run(
            S::InReview,
            &wf,
            &[],
            json!({"new_status": target, "nodes_to_resubmit": [{"node_id": "", "feature": "OCR"}]}),
        ));
        assert!(f["nodes_to_resubmit[0].node_id"].is_array(), "{f}");
        let f = fields(run(
            S::InReview,
            &wf,
            &[],
            json!({"new_status": target, "nodes_to_resubmit": [{"feature": "OCR"}]}),
        ));
        assert!(f["nodes_to_resubmit[0].node_id"].is_array(), "{f}");
        let f = fields(run(
            S::InReview,
            &wf,
            &[],
            json!({"new_status": target, "nodes_to_resubmit": [{"node_id": "feature_ocr_1"}]}),
        ));
        assert!(f["nodes_to_resubmit[0].feature"].is_array(), "{f}");
    }
    // Valid entries are ignored for Approved/Declined, even naming unknown nodes.
    let c = change(run(
        S::InReview,
        &wf,
        &[],
        json!({"new_status": "Approved", "nodes_to_resubmit": [{"node_id": "feature_nfc_9", "feature": "NFC"}]}),
    ));
    assert_eq!(c.to, S::Approved);
    assert!(c.resubmit.is_none());
}

#[test]
fn send_email_needs_a_valid_address() {
    let wf = workflow(&["OCR"]);
    assert_eq!(
        fields(run(
            S::InReview,
            &wf,
            &[],
            json!({"new_status": "Approved", "send_email": true})
        )),
        json!({"email_address": ["This field is required when send_email is true."]})
    );
    assert_eq!(
        fields(run(
            S::InReview,
            &wf,
            &[],
            json!({"new_status": "Approved", "email_address": "nope"})
        )),
        json!({"email_address": ["Enter a valid email address."]})
    );
    let hostile = "a@b.co\r\nBcc: evil@x.com";
    assert!(fields(run(
        S::InReview,
        &wf,
        &[],
        json!({"new_status": "Approved", "send_email": true, "email_address": hostile})
    ))["email_address"]
        .is_array());
    let c = change(run(
        S::InReview,
        &wf,
        &[],
        json!({"new_status": "Declined", "send_email": true, "email_address": "p@example.com", "email_language": "es"}),
    ));
    let e = c.email.unwrap();
    assert_eq!(
        (e.address.as_str(), e.language.as_str()),
        ("p@example.com", "es")
    );
    let c = change(run(
        S::InReview,
        &wf,
        &[],
        json!({"new_status": "Declined", "email_address": "p@example.com"}),
    ));
    assert!(c.email.is_none(), "no email unless asked");
}

#[test]
fn comment_is_limited() {
    let wf = workflow(&["OCR"]);
    let long = "x".repeat(10_001);
    assert!(fields(run(
        S::InReview,
        &wf,
        &[],
        json!({"new_status": "Approved", "comment": long})
    ))["comment"]
        .is_array());
    let ok = "x".repeat(10_000);
    assert_eq!(
        change(run(
            S::InReview,
            &wf,
            &[],
            json!({"new_status": "Approved", "comment": ok.clone()})
        ))
        .comment,
        Some(ok)
    );
}

#[test]
fn same_status_is_a_no_op_except_resubmitted() {
    let wf = workflow(&["OCR"]);
    assert_eq!(
        run(S::Approved, &wf, &[], json!({"new_status": "Approved"})),
        Ok(Outcome::NoOp)
    );
    assert_eq!(
        run(
            S::Declined,
            &wf,
            &[],
            json!({"new_status": "Declined", "send_email": true, "email_address": "a@b.co"})
        ),
        Ok(Outcome::NoOp)
    );
    assert_eq!(
        run(
            S::Resubmitted,
            &wf,
            &[],
            json!({"new_status": "Resubmitted"})
        ),
        Err(Rejection::SameStatus)
    );
}

#[test]
fn approved_and_declined_overturn_each_other() {
    let wf = workflow(&["OCR"]);
    let c = change(run(
        S::Approved,
        &wf,
        &[],
        json!({"new_status": "Declined", "comment": "fraud"}),
    ));
    assert_eq!(
        (c.from, c.to, c.comment.as_deref()),
        (S::Approved, S::Declined, Some("fraud"))
    );
    let c = change(run(
        S::Declined,
        &wf,
        &[],
        json!({"new_status": "Approved"}),
    ));
    assert_eq!((c.from, c.to), (S::Declined, S::Approved));
    for from in [S::InReview, S::KycExpired, S::Abandoned, S::Resubmitted] {
        assert_eq!(
            change(run(from, &wf, &[], json!({"new_status": "Approved"}))).to,
            S::Approved
        );
    }
}

#[test]
fn kyb_parent_checks_cannot_be_resubmitted() {
    let wf = workflow(&["KYB_REGISTRY", "KYB_KEY_PEOPLE", "KYB_DOCUMENTS"]);
    for (node, feature) in [
        ("feature_kyb_registry_1", "KYB_REGISTRY"),
        ("feature_kyb_key_people_1", "KYB_KEY_PEOPLE"),
        ("feature_kyb_registry_1", "KYB"),
    ] {
        let f = fields(run(
            S::InReview,
            &wf,
            &[],
            json!({"new_status": "Resubmitted", "nodes_to_resubmit": [{"node_id": node, "feature": feature}]}),
        ));
        assert!(
            f["nodes_to_resubmit[0].feature"].is_array(),
            "{feature}: {f}"
        );
    }
    let c = change(run(
        S::InReview,
        &wf,
        &[],
        json!({"new_status": "Resubmitted", "nodes_to_resubmit": [{"node_id": "feature_kyb_documents_1", "feature": "KYB_DOCUMENTS"}]}),
    ));
    assert_eq!(c.resubmit.unwrap().nodes, ["feature_kyb_documents_1"]);
}

#[test]
fn explicit_nodes_must_exist_and_match_their_feature_or_an_alias() {
    let wf = workflow(&["OCR", "LIVENESS", "PROOF_OF_ADDRESS"]);
    let f = fields(run(
        S::Declined,
        &wf,
        &[],
        json!({"new_status": "Resubmitted", "nodes_to_resubmit": [{"node_id": "feature_nfc_1", "feature": "NFC"}]}),
    ));
    assert_eq!(
        f,
        json!({"nodes_to_resubmit[0].node_id": ["\"feature_nfc_1\" is not a node of this session's workflow."]})
    );
    let f = fields(run(
        S::Declined,
        &wf,
        &[],
        json!({"new_status": "Resubmitted", "nodes_to_resubmit": [{"node_id": "feature_ocr_1", "feature": "LIVENESS"}]}),
    ));
    assert!(f["nodes_to_resubmit[0].feature"].is_array());
    for (node, alias) in [
        ("feature_ocr_1", "ID_VERIFICATION"),
        ("feature_ocr_1", "OCR_BACK"),
        ("feature_liveness_1", "FACE"),
        ("feature_proof_of_address_1", "POA"),
    ] {
        let c = change(run(
            S::Declined,
            &wf,
            &[],
            json!({"new_status": "Resubmitted", "nodes_to_resubmit": [{"node_id": node, "feature": alias}]}),
        ));
        assert_eq!(c.resubmit.unwrap().nodes, [node], "{alias}");
    }
    // The bare-string form, duplicates collapsing, workflow order and reasons.
    let c = change(run(
        S::Declined,
        &wf,
        &[],
        json!({"new_status": "Resubmitted", "nodes_to_resubmit": [
        {"node_id": "feature_proof_of_address_1", "feature": "PROOF_OF_ADDRESS", "reason": "Blurry bill"},
        "feature_ocr_1",
        {"node_id": "feature_ocr_1", "feature": "OCR", "reason": "second"}]}),
    ));
    let r = c.resubmit.unwrap();
    assert_eq!(r.nodes, ["feature_ocr_1", "feature_proof_of_address_1"]);
    assert_eq!(r.steps[1].reason, "Blurry bill");
    assert_eq!(
        r.steps[0].reason,
        vouch_core::resubmission::default_reason(Feature::Ocr)
    );
    let f = fields(run(
        S::Declined,
        &wf,
        &[],
        json!({"new_status": "Resubmitted", "nodes_to_resubmit": ["feature_nope_1"]}),
    ));
    assert!(f["nodes_to_resubmit[0].node_id"].is_array());
}

#[test]
fn auto_selection_follows_the_rules() {
    let wf = workflow(&[
        "OCR",
        "NFC",
        "LIVENESS",
        "FACE_MATCH",
        "IP_ANALYSIS",
        "AGE_ESTIMATION",
        "PROOF_OF_ADDRESS",
        "QUESTIONNAIRE",
    ]);
    let att = attempts(
        &wf,
        &[
            ("feature_ocr_1", A::Declined),
            ("feature_nfc_1", A::Declined),      // never auto-selected
            ("feature_liveness_1", A::Approved), // approved: not selected
            ("feature_face_match_1", A::InReview),
            ("feature_ip_analysis_1", A::Declined), // never auto-selected
            ("feature_age_estimation_1", A::Expired), // never auto-selected
            ("feature_questionnaire_1", A::Approved),
            ("feature_questionnaire_1", A::NotFinished), // the latest counts
        ],
    );
    let c = change(run(
        S::Declined,
        &wf,
        &att,
        json!({"new_status": "Resubmitted"}),
    ));
    let r = c.resubmit.unwrap();
    assert_eq!(
        r.nodes,
        [
            "feature_ocr_1",
            "feature_face_match_1",
            "feature_questionnaire_1"
        ]
    );
    assert_eq!(r.after_seq, 8);
    assert!(!c.backend_only);
    // `null` and `[]` select automatically too; never-attempted steps are not selected.
    for nodes in [Value::Null, json!([])] {
        let c = change(run(
            S::Declined,
            &wf,
            &att,
            json!({"new_status": "Resubmitted", "nodes_to_resubmit": nodes}),
        ));
        assert_eq!(c.resubmit.unwrap().nodes.len(), 3);
    }
}

#[test]
fn nothing_selected_is_400_even_with_nothing_approved() {
    let wf = workflow(&["OCR", "LIVENESS"]);
    assert_eq!(
        run(S::InReview, &wf, &[], json!({"new_status": "Resubmitted"})),
        Err(Rejection::NothingToResubmit)
    );
    let all_ok = attempts(
        &wf,
        &[
            ("feature_ocr_1", A::Approved),
            ("feature_liveness_1", A::Approved),
        ],
    );
    assert_eq!(
        run(
            S::Approved,
            &wf,
            &all_ok,
            json!({"new_status": "Resubmitted"})
        ),
        Err(Rejection::NothingToResubmit)
    );
}

#[test]
fn backend_only_resubmission_sends_no_email_and_is_rate_limited() {
    let wf = workflow(&["OCR", "AML", "DATABASE_VALIDATION"]);
    let att = attempts(
        &wf,
        &[
            ("feature_ocr_1", A::Approved),
            ("feature_aml_1", A::Declined),
            ("feature_database_validation_1", A::InReview),
        ],
    );
    let body =
        json!({"new_status": "Resubmitted", "send_email": true, "email_address": "p@example.com"});
    let c = change(run(S::Declined, &wf, &att, body.clone()));
    assert!(
        c.backend_only,
        "no user action: the email is recorded as not sent"
    );
    assert!(c.email_asked && c.email.is_some());
    let ctx = |last: Option<i64>| UpdateContext {
        status: S::Declined,
        workflow: &wf,
        attempts: &att,
        now: now(),
        last_backend_resubmission: last.map(|s| now() - Duration::seconds(s)),
    };
    assert_eq!(
        decide(&ctx(Some(10)), &body),
        Err(Rejection::TooSoon {
            retry_after_secs: 20
        })
    );
    assert_eq!(
        decide(&ctx(Some(0)), &body),
        Err(Rejection::TooSoon {
            retry_after_secs: 30
        })
    );
    assert!(matches!(
        decide(&ctx(Some(30)), &body),
        Ok(Outcome::Change(_))
    ));
    // A resubmission with a user step is not limited and emails.
    let mixed = json!({"new_status": "Resubmitted", "send_email": true, "email_address": "p@example.com",
        "nodes_to_resubmit": [{"node_id": "feature_aml_1", "feature": "AML"}, {"node_id": "feature_ocr_1", "feature": "OCR"}]});
    match decide(&ctx(Some(1)), &mixed) {
        Ok(Outcome::Change(c)) => assert!(!c.backend_only && c.email.is_some()),
        other => panic!("{other:?}"),
    }
}

fn any_feature_name() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec![
        "OCR",
        "NFC",
        "LIVENESS",
        "FACE_MATCH",
        "PROOF_OF_ADDRESS",
        "PHONE_VERIFICATION",
        "EMAIL_VERIFICATION",
        "AML",
        "DATABASE_VALIDATION",
        "IP_ANALYSIS",
        "QUESTIONNAIRE",
        "AGE_ESTIMATION",
        "FACE_SEARCH",
        "DOCUMENT_AI",
    ])
}

fn any_attempt_status() -> impl Strategy<Value = AttemptStatus> {
    proptest::sample::select(AttemptStatus::ALL.to_vec())
}

fn any_session_status() -> impl Strategy<Value = SessionStatus> {
    proptest::sample::select(SessionStatus::ALL.to_vec())
}

proptest! {
    #[test]
    fn selection_is_in_workflow_order_and_never_picks_forbidden_or_unattempted_nodes(
        mut names in proptest::collection::vec(any_feature_name(), 1..10),
        picks in proptest::collection::vec((0usize..10, any_attempt_status()), 0..20),
        explicit in proptest::collection::vec(0usize..10, 0..6),
        status in any_session_status(),
    ) {
        names.insert(0, "OCR"); // keeps every feature's prerequisites satisfied
        let wf = workflow(&names);
        let n = wf.nodes.len();
        let results: Vec<(&str, AttemptStatus)> = picks.iter().map(|(i, s)| (wf.nodes[i % n].node_id.as_str(), *s)).collect();
        let att = attempts(&wf, &results);
        let requested: Vec<Value> = explicit.iter().rev().map(|i| {
            let node = &wf.nodes[i % n];
            json!({"node_id": node.node_id, "feature": node.feature.name()})
        }).collect();
        let body = json!({"new_status": "Resubmitted", "nodes_to_resubmit": requested});
        let out = run(status, &wf, &att, body);
        if let Ok(Outcome::Change(c)) = &out {
            let r = c.resubmit.as_ref().unwrap();
            let positions: Vec<usize> = r.nodes.iter().map(|id| wf.position(id).unwrap()).collect();
            prop_assert!(positions.windows(2).all(|w| w[0] < w[1]), "workflow order, no duplicates: {:?}", r.nodes);
            if requested.is_empty() {
                for id in &r.nodes {
                    let node = wf.node(id).unwrap();
                    prop_assert!(node.feature.is_auto_resubmittable());
                    prop_assert!(att.iter().any(|a| &a.node_id == id), "never-attempted node {id} selected");
                }
            }
        }
        if !vouch_core::update_status::is_reviewable(status) {
            prop_assert_eq!(out, Err(Rejection::WrongCurrentStatus));
        }
    }

    #[test]
    fn a_same_status_request_never_produces_a_change(
        status in proptest::sample::select(vec![S::Approved, S::Declined]),
        comment in proptest::option::of("[a-z ]{0,20}"),
        send in any::<bool>(),
    ) {
        let wf = workflow(&["OCR"]);
        let body = json!({"new_status": status.as_str(), "comment": comment, "send_email": send, "email_address": "a@b.co"});
        prop_assert_eq!(run(status, &wf, &[], body), Ok(Outcome::NoOp));
    }
}
