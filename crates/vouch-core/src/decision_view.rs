//! The decision object of API.md §4.2, also embedded in webhook payloads.

use serde_json::{json, Map, Value};

use crate::attempt::Attempt;
use crate::review::{review_json, Review};
use crate::session::{Environment, Session};
use crate::workflow::WorkflowSpec;

/// Everything the decision is built from.
pub struct DecisionInputs<'a> {
    pub session: &'a Session,
    pub environment: Environment,
    pub workflow: &'a WorkflowSpec,
    /// All attempts of the session, any order.
    pub attempts: &'a [Attempt],
    /// Review rows, oldest first.
    pub reviews: &'a [Review],
    pub public_base_url: &'a str,
}

fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    crate::time::wire(t)
}

/// One node's entry in its feature array: the latest attempt's data flattened, then the fields
/// vouch owns (which data cannot override).
fn node_entry(node_id: &str, feature: &str, latest: Option<&Attempt>) -> Value {
    let mut obj = Map::new();
    match latest {
        Some(a) => {
            if let Value::Object(data) = &a.data {
                obj.extend(data.clone());
            }
            obj.insert("node_id".into(), json!(node_id));
            obj.insert("feature".into(), json!(feature));
            obj.insert("status".into(), json!(a.status));
            obj.insert("attempt_id".into(), json!(a.id));
            obj.insert("warnings".into(), a.warnings.clone());
            obj.insert("created_at".into(), json!(ts(a.created_at)));
        }
        None => {
            obj.insert("node_id".into(), json!(node_id));
            obj.insert("feature".into(), json!(feature));
            obj.insert("status".into(), Value::Null);
        }
    }
    Value::Object(obj)
}

/// Builds the §4.2 object.
pub fn decision_json(i: &DecisionInputs<'_>) -> Value {
    let s = i.session;
    let mut latest: std::collections::HashMap<&str, &Attempt> = Default::default();
    for a in i.attempts {
        match latest.get(a.node_id.as_str()) {
            Some(prev) if prev.seq > a.seq => {}
            _ => {
                latest.insert(a.node_id.as_str(), a);
            }
        }
    }
    let mut features: Vec<&str> = Vec::new();
    for f in i.workflow.features() {
        if !features.contains(&f.decision_name()) {
            features.push(f.decision_name());
        }
    }
    let mut out = Map::new();
    out.insert("session_id".into(), json!(s.id));
    out.insert("session_number".into(), json!(s.number));
    out.insert("session_kind".into(), json!(s.kind));
    out.insert("session_url".into(), json!(s.url(i.public_base_url)));
    out.insert("status".into(), json!(s.status));
    out.insert("environment".into(), json!(i.environment));
    out.insert("workflow_id".into(), json!(s.workflow_id));
    out.insert("workflow_version".into(), json!(s.workflow_version));
    out.insert("features".into(), json!(features));
    out.insert("vendor_data".into(), json!(s.vendor_data));
    out.insert("metadata".into(), s.metadata.clone());
    out.insert("callback".into(), json!(s.callback));
    out.insert("contact_details".into(), s.contact_details.clone());
    out.insert("expected_details".into(), s.expected_details.clone());
    out.insert("created_at".into(), json!(ts(s.created_at)));
    out.insert("updated_at".into(), json!(ts(s.updated_at)));
    out.insert("expires_at".into(), json!(ts(s.expires_at)));
    out.insert(
        "resubmit_info".into(),
        s.resubmit_info
            .as_ref()
            .map_or(Value::Null, |r| r.public_json()),
    );

    let mut warnings = Vec::new();
    for node in &i.workflow.nodes {
        let key = node.feature.decision_array();
        let entry = node_entry(
            &node.node_id,
            node.feature.name(),
            latest.get(node.node_id.as_str()).copied(),
        );
        if let Some(a) = latest.get(node.node_id.as_str()) {
            if let Value::Array(ws) = &a.warnings {
                warnings.extend(ws.iter().cloned());
            }
        }
        let slot = out.entry(key).or_insert(Value::Array(Vec::new()));
        if let Value::Array(v) = slot {
            v.push(entry);
        }
    }
    // An array whose nodes have no attempt yet is empty: never null (API.md §4.2; the Python
    // SDK's models reject null there).
    for node in &i.workflow.nodes {
        let key = node.feature.decision_array();
        let attempted =
            i.workflow.nodes.iter().any(|n| {
                n.feature.decision_array() == key && latest.contains_key(n.node_id.as_str())
            });
        if !attempted {
            out.insert(key.into(), Value::Array(Vec::new()));
        }
    }
    out.insert(
        "reviews".into(),
        Value::Array(i.reviews.iter().map(review_json).collect()),
    );
    out.insert("warnings".into(), Value::Array(warnings));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::{validate_features, FeatureInput};
    use chrono::TimeZone;

    #[test]
    fn feature_arrays_are_empty_before_a_first_attempt_and_absent_outside_the_workflow() {
        let inputs: Vec<FeatureInput> = ["OCR", "LIVENESS", "AML"]
            .iter()
            .map(|f| serde_json::from_value(json!({ "feature": f })).unwrap())
            .collect();
        let spec = validate_features(&inputs).unwrap();
        let t = chrono::Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let session = crate::session::test_session(crate::SessionStatus::Abandoned, t);
        let d = decision_json(&DecisionInputs {
            session: &session,
            environment: Environment::Live,
            workflow: &spec,
            attempts: &[],
            reviews: &[],
            public_base_url: "http://localhost",
        });
        for key in ["id_verifications", "liveness_checks", "aml_screenings"] {
            assert_eq!(d[key], json!([]), "{key}: {d}");
        }
        assert!(d.get("face_matches").is_none(), "{d}");
        assert!(d.get("email_verifications").is_none(), "{d}");
    }
}
