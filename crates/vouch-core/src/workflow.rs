//! Workflow validation and node ids (API.md §3).

use crate::ids::{AppId, WorkflowId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::errors::FieldErrors;
use crate::feature::{Feature, FeatureKind, FeatureRef, WorkflowKind};

/// One step of a workflow version, with its stable node id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub node_id: String,
    pub feature: Feature,
    #[serde(default)]
    pub config: Map<String, Value>,
    /// The name the workflow's author gave the step, echoed back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A validated feature list: the kind it implies and its nodes, in workflow order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowSpec {
    pub kind: WorkflowKind,
    pub nodes: Vec<Node>,
}

impl WorkflowSpec {
    pub fn node(&self, node_id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.node_id == node_id)
    }

    /// Index of a node in workflow order (used to order resubmitted steps).
    pub fn position(&self, node_id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.node_id == node_id)
    }

    /// Distinct features in workflow order.
    pub fn features(&self) -> Vec<Feature> {
        let mut out: Vec<Feature> = Vec::new();
        for n in &self.nodes {
            if !out.contains(&n.feature) {
                out.push(n.feature);
            }
        }
        out
    }
}

/// A feature entry as received, before validation (`validate_features` reads it; the OpenAPI
/// document shows it with the names that validation accepts).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeatureInput {
    /// Each feature at most once per workflow.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, pattern = "^(OCR|NFC|LIVENESS|FACE_MATCH|PROOF_OF_ADDRESS|PHONE_VERIFICATION|EMAIL_VERIFICATION|AML|DATABASE_VALIDATION|IP_ANALYSIS|QUESTIONNAIRE|AGE_ESTIMATION|FACE_SEARCH|DOCUMENT_AI|KYB_REGISTRY|KYB_KEY_PEOPLE|KYB_DOCUMENTS)$"))]
    pub feature: Option<Value>,
    /// The step's settings, e.g. `{"kyc_validity_days": 365}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub config: Option<Value>,
    /// A display name for the step (at most 100 characters), echoed back.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 100))]
    pub label: Option<Value>,
}

/// Assigns node ids: `feature_<lowercase feature>_<n>`, `n` counting that feature from 1.
pub fn node_ids(features: &[Feature]) -> Vec<String> {
    let mut seen: Vec<(Feature, usize)> = Vec::new();
    features
        .iter()
        .map(|f| {
            let n = match seen.iter_mut().find(|(g, _)| g == f) {
                Some((_, count)) => {
                    *count += 1;
                    *count
                }
                None => {
                    seen.push((*f, 1));
                    1
                }
            };
            format!("{}_{n}", f.node_prefix())
        })
        .collect()
}

fn is_kyb(f: Feature) -> bool {
    f.kind() == FeatureKind::Business
}

/// Validates a feature list (field `features`) and builds the spec, or names every offending index.
pub fn validate_features(inputs: &[FeatureInput]) -> Result<WorkflowSpec, FieldErrors> {
    let mut errors = FieldErrors::new();
    if inputs.is_empty() {
        errors.add("features", "At least one feature is required.");
        return Err(errors);
    }
    let mut parsed: Vec<Option<(Feature, Map<String, Value>)>> = Vec::with_capacity(inputs.len());
    let mut labels: Vec<Option<String>> = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let key = format!("features[{i}].feature");
        let feature = match &input.feature {
            None | Some(Value::Null) => {
                errors.add(key, "This field is required.");
                None
            }
            Some(Value::String(name)) => match FeatureRef::parse(name) {
                Some(FeatureRef::Feature { feature, .. }) => Some(feature),
                Some(FeatureRef::KybParent) | None => {
                    errors.add(key, format!("\"{name}\" is not a valid choice."));
                    None
                }
            },
            Some(_) => {
                errors.add(key, "Not a valid string.");
                None
            }
        };
        let config = match &input.config {
            None | Some(Value::Null) => Some(Map::new()),
            Some(Value::Object(m)) => Some(m.clone()),
            Some(_) => {
                errors.add(format!("features[{i}].config"), "Must be a JSON object.");
                None
            }
        };
        labels.push(match &input.label {
            None | Some(Value::Null) => None,
            Some(Value::String(l)) if l.chars().count() <= 100 => {
                Some(l.trim().to_string()).filter(|l| !l.is_empty())
            }
            Some(Value::String(_)) => {
                errors.add(
                    format!("features[{i}].label"),
                    "Ensure this field has no more than 100 characters.",
                );
                None
            }
            Some(_) => {
                errors.add(format!("features[{i}].label"), "Not a valid string.");
                None
            }
        });
        parsed.push(feature.zip(config));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let list: Vec<(Feature, Map<String, Value>)> = parsed.into_iter().flatten().collect();
    let features: Vec<Feature> = list.iter().map(|(f, _)| *f).collect();

    let kind = if features.iter().any(|f| is_kyb(*f)) {
        WorkflowKind::Business
    } else {
        WorkflowKind::User
    };
    for (i, f) in features.iter().enumerate() {
        let earlier = &features[..i];
        let key = format!("features[{i}].feature");
        let needs = |req: &[Feature]| req.iter().any(|r| earlier.contains(r));
        match f {
            Feature::FaceMatch | Feature::Nfc | Feature::DatabaseValidation
                if !needs(&[Feature::Ocr]) =>
            {
                errors.add(&key, format!("{} requires an earlier OCR step.", f.name()));
            }
            Feature::Aml if !needs(&[Feature::Ocr, Feature::KybRegistry, Feature::DocumentAi]) => {
                errors.add(
                    &key,
                    "AML requires an earlier OCR, KYB_REGISTRY or DOCUMENT_AI step.",
                );
            }
            Feature::KybDocuments | Feature::KybKeyPeople if !needs(&[Feature::KybRegistry]) => {
                errors.add(
                    &key,
                    format!("{} requires an earlier KYB_REGISTRY step.", f.name()),
                );
            }
            _ => {}
        }
        if kind == WorkflowKind::Business && f.kind() == FeatureKind::User {
            errors.add(
                &key,
                format!(
                    "{} cannot be combined with KYB features: a workflow is either user (KYC) or business (KYB).",
                    f.name()
                ),
            );
        }
    }
    errors.into_result()?;

    let ids = node_ids(&features);
    let nodes = list
        .into_iter()
        .zip(ids)
        .zip(labels)
        .map(|(((feature, config), node_id), label)| Node {
            node_id,
            feature,
            config,
            label,
        })
        .collect();
    Ok(WorkflowSpec { kind, nodes })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkflowStatus {
    Draft,
    Published,
}

impl WorkflowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::Draft => "draft",
            WorkflowStatus::Published => "published",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "draft" => Some(Self::Draft),
            "published" => Some(Self::Published),
            _ => None,
        }
    }
}

/// A workflow's settings beyond its steps, stored and echoed as given. Only
/// `session_expiration_time` changes what vouch does: it is the link lifetime, in seconds, of the
/// sessions created on the workflow (the server's `sessions.link_ttl` when absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_expiration_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retry_attempts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_window_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_white_label_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_desktop_allowed: Option<bool>,
}

/// Bounds of `session_expiration_time`: a minute to a year.
pub const SESSION_EXPIRATION_SECONDS: std::ops::RangeInclusive<i64> = 60..=31_536_000;

impl WorkflowSettings {
    /// The link lifetime this workflow's sessions get, when it sets one.
    pub fn link_ttl(&self) -> Option<chrono::Duration> {
        self.session_expiration_time.map(chrono::Duration::seconds)
    }

    /// These settings with every field `patch` gives replaced.
    pub fn patched(&self, patch: &WorkflowSettings) -> WorkflowSettings {
        WorkflowSettings {
            session_expiration_time: patch
                .session_expiration_time
                .or(self.session_expiration_time),
            max_retry_attempts: patch.max_retry_attempts.or(self.max_retry_attempts),
            retry_window_days: patch.retry_window_days.or(self.retry_window_days),
            is_white_label_enabled: patch.is_white_label_enabled.or(self.is_white_label_enabled),
            is_desktop_allowed: patch.is_desktop_allowed.or(self.is_desktop_allowed),
        }
    }
}

/// The settings a request body gives (each absent or `null` field left as it is), or the
/// field-keyed errors of those out of range.
pub fn validate_settings(
    session_expiration_time: Option<&Value>,
    max_retry_attempts: Option<&Value>,
    retry_window_days: Option<&Value>,
    is_white_label_enabled: Option<&Value>,
    is_desktop_allowed: Option<&Value>,
) -> Result<WorkflowSettings, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut int = |field: &str, v: Option<&Value>, range: std::ops::RangeInclusive<i64>| {
        let v = v.filter(|v| !v.is_null())?;
        match v.as_i64().or_else(|| {
            v.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        }) {
            Some(n) if range.contains(&n) => Some(n),
            Some(_) => {
                errors.add(
                    field,
                    format!(
                        "Ensure this value is between {} and {}.",
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
            None => {
                errors.add(field, "A valid integer is required.");
                None
            }
        }
    };
    let session_expiration_time = int(
        "session_expiration_time",
        session_expiration_time,
        SESSION_EXPIRATION_SECONDS,
    );
    let max_retry_attempts = int("max_retry_attempts", max_retry_attempts, 0..=100);
    let retry_window_days = int("retry_window_days", retry_window_days, 0..=3650);
    let mut boolean = |field: &str, v: Option<&Value>| match v {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            errors.add(field, "Must be a valid boolean.");
            None
        }
    };
    let settings = WorkflowSettings {
        session_expiration_time,
        max_retry_attempts,
        retry_window_days,
        is_white_label_enabled: boolean("is_white_label_enabled", is_white_label_enabled),
        is_desktop_allowed: boolean("is_desktop_allowed", is_desktop_allowed),
    };
    errors.into_result().map(|()| settings)
}

/// One version of a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRecord {
    pub id: WorkflowId,
    pub version: i64,
    pub app_id: AppId,
    pub label: String,
    pub status: WorkflowStatus,
    pub is_default: bool,
    pub spec: WorkflowSpec,
    #[serde(default)]
    pub settings: WorkflowSettings,
    /// When the workflow was archived (`DELETE /v3/workflows/{id}/`): its sessions go on, new
    /// ones are refused.
    #[serde(default)]
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl WorkflowRecord {
    pub fn kind(&self) -> WorkflowKind {
        self.spec.kind
    }

    /// This version after `u`; a new feature list makes it the next version.
    pub fn updated(&self, u: WorkflowUpdate) -> WorkflowRecord {
        let mut next = self.clone();
        if let Some(label) = u.label {
            next.label = label;
        }
        if let Some(status) = u.status {
            next.status = status;
        }
        if let Some(d) = u.is_default {
            next.is_default = d;
        }
        next.settings = self.settings.patched(&u.settings);
        if let Some(spec) = u.spec {
            next.spec = spec;
            next.version = self.version + 1;
            next.created_at = u.now;
        }
        next
    }
}

#[derive(Debug, Clone)]
pub struct WorkflowUpdate {
    pub app_id: AppId,
    pub id: WorkflowId,
    pub label: Option<String>,
    pub status: Option<WorkflowStatus>,
    pub is_default: Option<bool>,
    /// The settings given (each present field replaces the stored one).
    pub settings: WorkflowSettings,
    /// A new feature list: writes a new version.
    pub spec: Option<WorkflowSpec>,
    pub now: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn input(names: &[&str]) -> Vec<FeatureInput> {
        names
            .iter()
            .map(|n| FeatureInput {
                feature: Some(json!(n)),
                config: None,
                label: None,
            })
            .collect()
    }

    fn errors_of(names: &[&str]) -> FieldErrors {
        validate_features(&input(names)).unwrap_err()
    }

    #[test]
    fn node_ids_count_per_feature() {
        let spec = validate_features(&input(&["OCR", "AML", "LIVENESS", "AML"])).unwrap();
        let ids: Vec<_> = spec.nodes.iter().map(|n| n.node_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "feature_ocr_1",
                "feature_aml_1",
                "feature_liveness_1",
                "feature_aml_2"
            ]
        );
        assert_eq!(spec.kind, WorkflowKind::User);
    }

    #[test]
    fn empty_list_is_rejected() {
        assert_eq!(
            errors_of(&[]).get("features").unwrap(),
            ["At least one feature is required."]
        );
    }

    #[test]
    fn unknown_feature_names_its_index() {
        let e = errors_of(&["OCR", "SELFIE"]);
        assert_eq!(
            e.get("features[1].feature").unwrap(),
            ["\"SELFIE\" is not a valid choice."]
        );
        assert!(errors_of(&["KYB"]).get("features[0].feature").is_some());
    }

    #[test]
    fn aliases_are_normalized() {
        let spec = validate_features(&input(&["ID_VERIFICATION", "FACE", "POA"])).unwrap();
        let f: Vec<_> = spec.nodes.iter().map(|n| n.feature).collect();
        assert_eq!(
            f,
            [Feature::Ocr, Feature::Liveness, Feature::ProofOfAddress]
        );
        assert_eq!(spec.nodes[1].node_id, "feature_liveness_1");
    }

    #[test]
    fn ocr_must_come_before_its_dependants() {
        for dep in ["FACE_MATCH", "NFC", "DATABASE_VALIDATION"] {
            assert!(
                errors_of(&[dep, "OCR"])
                    .get("features[0].feature")
                    .is_some(),
                "{dep}"
            );
            assert!(validate_features(&input(&["OCR", dep])).is_ok(), "{dep}");
        }
    }

    #[test]
    fn aml_needs_an_identity_source_earlier() {
        assert!(errors_of(&["AML"]).get("features[0].feature").is_some());
        assert!(errors_of(&["LIVENESS", "AML"])
            .get("features[1].feature")
            .is_some());
        for src in ["OCR", "KYB_REGISTRY", "DOCUMENT_AI"] {
            assert!(validate_features(&input(&[src, "AML"])).is_ok(), "{src}");
        }
    }

    #[test]
    fn kyb_children_need_registry_earlier() {
        for child in ["KYB_DOCUMENTS", "KYB_KEY_PEOPLE"] {
            assert!(errors_of(&[child]).get("features[0].feature").is_some());
            let spec = validate_features(&input(&["KYB_REGISTRY", child])).unwrap();
            assert_eq!(spec.kind, WorkflowKind::Business);
        }
    }

    #[test]
    fn kyb_cannot_mix_with_user_only_features() {
        let e = errors_of(&["KYB_REGISTRY", "LIVENESS"]);
        assert!(e.get("features[1].feature").is_some());
        let ok = validate_features(&input(&["KYB_REGISTRY", "AML", "PHONE_VERIFICATION"])).unwrap();
        assert_eq!(ok.kind, WorkflowKind::Business);
    }

    #[test]
    fn config_must_be_an_object() {
        let e = validate_features(&[FeatureInput {
            feature: Some(json!("OCR")),
            config: Some(json!([1])),
            label: None,
        }])
        .unwrap_err();
        assert!(e.get("features[0].config").is_some());
    }

    fn any_feature() -> impl Strategy<Value = Feature> {
        proptest::sample::select(Feature::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn node_ids_are_unique_and_well_formed(fs in proptest::collection::vec(any_feature(), 0..20)) {
            let ids = node_ids(&fs);
            let mut sorted = ids.clone();
            sorted.sort();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), ids.len());
            for (f, id) in fs.iter().zip(&ids) {
                let prefix = format!("{}_", f.node_prefix());
                prop_assert!(id.starts_with(&prefix));
                let n: usize = id[prefix.len()..].parse().unwrap();
                let count_before = fs.iter().take_while(|g| !std::ptr::eq(*g, f)).filter(|g| *g == f).count();
                prop_assert_eq!(n, count_before + 1);
            }
        }

        #[test]
        fn accepted_workflows_satisfy_every_rule(fs in proptest::collection::vec(any_feature(), 1..8)) {
            let names: Vec<&str> = fs.iter().map(|f| f.name()).collect();
            if let Ok(spec) = validate_features(&input(&names)) {
                let kyb = fs.iter().any(|f| is_kyb(*f));
                prop_assert_eq!(spec.kind == WorkflowKind::Business, kyb);
                for (i, f) in fs.iter().enumerate() {
                    let earlier = &fs[..i];
                    if matches!(f, Feature::FaceMatch | Feature::Nfc | Feature::DatabaseValidation) {
                        prop_assert!(earlier.contains(&Feature::Ocr));
                    }
                    if *f == Feature::Aml {
                        prop_assert!(earlier.iter().any(|e| matches!(e, Feature::Ocr | Feature::KybRegistry | Feature::DocumentAi)));
                    }
                    if kyb {
                        prop_assert!(f.kind() != FeatureKind::User);
                    }
                }
            }
        }
    }
}
