//! Which steps a resubmission reopens (API.md §4.6 rule 6).

use std::collections::HashSet;

use crate::attempt::Attempt;
use crate::errors::FieldErrors;
use crate::feature::{Feature, FeatureRef};
use crate::progress::{latest_counting, ResubmitStep};
use crate::status::AttemptStatus;
use crate::workflow::WorkflowSpec;

/// A step named in `nodes_to_resubmit`, after schema validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRequest {
    pub node_id: String,
    /// `None` for the bare-string form: the node's own feature.
    pub feature: Option<FeatureRef>,
    pub reason: Option<String>,
}

/// Why a resubmission could not select its steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectionError {
    Fields(FieldErrors),
    NothingToResubmit,
}

/// The reason shown to the person when the reviewer gave none.
pub fn default_reason(feature: Feature) -> &'static str {
    use Feature::*;
    match feature {
        Ocr => "Please take new photos of your identity document.",
        Nfc => "Please scan your document's chip again.",
        Liveness => "Please retake the selfie video.",
        FaceMatch => "Please retake your selfie so it can be matched with your document.",
        ProofOfAddress => "Please upload a recent proof of address.",
        PhoneVerification => "Please verify your phone number again.",
        EmailVerification => "Please verify your email address again.",
        Aml => "The screening will be run again.",
        DatabaseValidation => "Your details will be checked again.",
        IpAnalysis => "Your connection will be checked again.",
        Questionnaire => "Please answer the questionnaire again.",
        AgeEstimation => "Please retake the selfie for age estimation.",
        FaceSearch => "Please retake your selfie.",
        DocumentAi => "Please upload the requested document again.",
        KybRegistry => "The company registry check will be run again.",
        KybKeyPeople => "The key people checks will be run again.",
        KybDocuments => "Please upload the company documents again.",
    }
}

/// Latest-attempt statuses that make a step eligible for automatic selection.
fn needs_redo(s: AttemptStatus) -> bool {
    matches!(
        s,
        AttemptStatus::Declined
            | AttemptStatus::InReview
            | AttemptStatus::NotFinished
            | AttemptStatus::Expired
    )
}

fn step(node_id: &str, feature: Feature, reason: Option<String>) -> ResubmitStep {
    ResubmitStep {
        node_id: node_id.to_string(),
        feature,
        reason: reason
            .filter(|r| !r.trim().is_empty())
            .unwrap_or_else(|| default_reason(feature).to_string()),
    }
}

/// Selects the steps to reopen, in workflow order.
pub fn select(
    workflow: &WorkflowSpec,
    attempts: &[Attempt],
    requested: &[NodeRequest],
) -> Result<Vec<ResubmitStep>, SelectionError> {
    let mut chosen: Vec<ResubmitStep> = if requested.is_empty() {
        auto_select(workflow, attempts)
    } else {
        explicit(workflow, requested)?
    };
    if chosen.is_empty() {
        return Err(SelectionError::NothingToResubmit);
    }
    chosen.sort_by_key(|s| workflow.position(&s.node_id).unwrap_or(usize::MAX));
    Ok(chosen)
}

fn auto_select(workflow: &WorkflowSpec, attempts: &[Attempt]) -> Vec<ResubmitStep> {
    let latest = latest_counting(attempts, None);
    workflow
        .nodes
        .iter()
        .filter(|n| n.feature.is_auto_resubmittable())
        .filter(|n| {
            latest
                .get(n.node_id.as_str())
                .is_some_and(|a| needs_redo(a.status))
        })
        .map(|n| step(&n.node_id, n.feature, None))
        .collect()
}

fn explicit(
    workflow: &WorkflowSpec,
    requested: &[NodeRequest],
) -> Result<Vec<ResubmitStep>, SelectionError> {
    let mut errors = FieldErrors::new();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, r) in requested.iter().enumerate() {
        let kyb_parent = match r.feature {
            Some(FeatureRef::KybParent) => true,
            Some(FeatureRef::Feature { feature, .. }) => {
                matches!(feature, Feature::KybRegistry | Feature::KybKeyPeople)
            }
            None => false,
        };
        if kyb_parent {
            errors.add(
                format!("nodes_to_resubmit[{i}].feature"),
                "KYB_REGISTRY, KYB_KEY_PEOPLE and KYB cannot be resubmitted: they are recomputed from the key people's own KYC sessions.",
            );
            continue;
        }
        let Some(node) = workflow.node(&r.node_id) else {
            errors.add(
                format!("nodes_to_resubmit[{i}].node_id"),
                format!(
                    "\"{}\" is not a node of this session's workflow.",
                    r.node_id
                ),
            );
            continue;
        };
        if matches!(node.feature, Feature::KybRegistry | Feature::KybKeyPeople) {
            errors.add(
                format!("nodes_to_resubmit[{i}].node_id"),
                "KYB_REGISTRY, KYB_KEY_PEOPLE and KYB cannot be resubmitted: they are recomputed from the key people's own KYC sessions.",
            );
            continue;
        }
        if let Some(f) = r.feature {
            if !f.matches(node.feature) {
                errors.add(
                    format!("nodes_to_resubmit[{i}].feature"),
                    format!(
                        "Node \"{}\" is a {} step, not the feature given.",
                        r.node_id,
                        node.feature.name()
                    ),
                );
                continue;
            }
        }
        if seen.insert(node.node_id.clone()) {
            out.push(step(&node.node_id, node.feature, r.reason.clone()));
        }
    }
    errors.into_result().map_err(SelectionError::Fields)?;
    Ok(out)
}
