//! The feature vocabulary of API.md §3: workflow names, aliases, kinds and decision arrays.

use serde::{Deserialize, Serialize};

/// Whether a workflow (and so its sessions) verifies a person or a business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkflowKind {
    User,
    Business,
}

impl WorkflowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowKind::User => "user",
            WorkflowKind::Business => "business",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Self::User),
            "business" => Some(Self::Business),
            _ => None,
        }
    }
}

/// Which workflow kinds a feature may appear in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureKind {
    User,
    Business,
    Both,
}

/// A feature as it appears in a workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Feature {
    Ocr,
    Nfc,
    Liveness,
    FaceMatch,
    ProofOfAddress,
    PhoneVerification,
    EmailVerification,
    Aml,
    DatabaseValidation,
    IpAnalysis,
    Questionnaire,
    AgeEstimation,
    FaceSearch,
    DocumentAi,
    KybRegistry,
    KybKeyPeople,
    KybDocuments,
}

/// A feature as named in a request: a workflow feature, one of its aliases, or the `KYB` alias of
/// the KYB parent checks (which names no single workflow feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureRef {
    /// A workflow feature, possibly named by an alias; `via_face` records the `FACE` alias.
    Feature { feature: Feature, via_face: bool },
    /// The `KYB` alias.
    KybParent,
}

impl Feature {
    pub const ALL: [Feature; 17] = [
        Feature::Ocr,
        Feature::Nfc,
        Feature::Liveness,
        Feature::FaceMatch,
        Feature::ProofOfAddress,
        Feature::PhoneVerification,
        Feature::EmailVerification,
        Feature::Aml,
        Feature::DatabaseValidation,
        Feature::IpAnalysis,
        Feature::Questionnaire,
        Feature::AgeEstimation,
        Feature::FaceSearch,
        Feature::DocumentAi,
        Feature::KybRegistry,
        Feature::KybKeyPeople,
        Feature::KybDocuments,
    ];

    /// The workflow name (`"FACE_MATCH"`).
    pub fn name(self) -> &'static str {
        match self {
            Feature::Ocr => "OCR",
            Feature::Nfc => "NFC",
            Feature::Liveness => "LIVENESS",
            Feature::FaceMatch => "FACE_MATCH",
            Feature::ProofOfAddress => "PROOF_OF_ADDRESS",
            Feature::PhoneVerification => "PHONE_VERIFICATION",
            Feature::EmailVerification => "EMAIL_VERIFICATION",
            Feature::Aml => "AML",
            Feature::DatabaseValidation => "DATABASE_VALIDATION",
            Feature::IpAnalysis => "IP_ANALYSIS",
            Feature::Questionnaire => "QUESTIONNAIRE",
            Feature::AgeEstimation => "AGE_ESTIMATION",
            Feature::FaceSearch => "FACE_SEARCH",
            Feature::DocumentAi => "DOCUMENT_AI",
            Feature::KybRegistry => "KYB_REGISTRY",
            Feature::KybKeyPeople => "KYB_KEY_PEOPLE",
            Feature::KybDocuments => "KYB_DOCUMENTS",
        }
    }

    /// Parses a workflow feature name exactly (no aliases): workflows are written with these.
    pub fn from_workflow_name(s: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.name() == s)
    }

    pub fn kind(self) -> FeatureKind {
        use Feature::*;
        match self {
            Ocr | Nfc | Liveness | FaceMatch | ProofOfAddress | DatabaseValidation
            | AgeEstimation | FaceSearch => FeatureKind::User,
            PhoneVerification | EmailVerification | Aml | IpAnalysis | Questionnaire
            | DocumentAi => FeatureKind::Both,
            KybRegistry | KybKeyPeople | KybDocuments => FeatureKind::Business,
        }
    }

    /// The key of the decision array that holds this feature's nodes.
    pub fn decision_array(self) -> &'static str {
        use Feature::*;
        match self {
            Ocr => "id_verifications",
            Nfc => "nfc_verifications",
            Liveness | AgeEstimation => "liveness_checks",
            FaceMatch => "face_matches",
            ProofOfAddress => "poa_verifications",
            PhoneVerification => "phone_verifications",
            EmailVerification => "email_verifications",
            Aml => "aml_screenings",
            DatabaseValidation => "database_validations",
            IpAnalysis => "ip_analyses",
            Questionnaire => "questionnaire_responses",
            FaceSearch => "face_searches",
            DocumentAi => "document_ai_documents",
            KybRegistry => "registry_checks",
            KybKeyPeople => "key_people_checks",
            KybDocuments => "document_verifications",
        }
    }

    /// The name used in a decision's `features` list (OCR is reported as `ID_VERIFICATION`).
    pub fn decision_name(self) -> &'static str {
        match self {
            Feature::Ocr => "ID_VERIFICATION",
            other => other.name(),
        }
    }

    /// Steps the engines re-run on their own: resubmitting only these needs no user action.
    pub fn is_backend_only(self) -> bool {
        matches!(
            self,
            Feature::Aml | Feature::DatabaseValidation | Feature::IpAnalysis
        )
    }

    /// Whether a resubmission without explicit nodes may select this feature (§4.6 rule 6).
    pub fn is_auto_resubmittable(self) -> bool {
        use Feature::*;
        matches!(
            self,
            Ocr | Liveness
                | FaceMatch
                | ProofOfAddress
                | PhoneVerification
                | EmailVerification
                | Aml
                | DatabaseValidation
                | Questionnaire
        )
    }

    /// The lowercase form used in node ids (`feature_face_match_1`).
    pub fn node_prefix(self) -> String {
        format!("feature_{}", self.name().to_ascii_lowercase())
    }
}

impl FeatureRef {
    /// Parses a feature as named in a request: workflow names and every alias of §3.
    pub fn parse(s: &str) -> Option<FeatureRef> {
        let plain = |feature| FeatureRef::Feature {
            feature,
            via_face: false,
        };
        match s {
            "ID_VERIFICATION" | "OCR_BACK" => Some(plain(Feature::Ocr)),
            "FACE" => Some(FeatureRef::Feature {
                feature: Feature::Liveness,
                via_face: true,
            }),
            "POA" => Some(plain(Feature::ProofOfAddress)),
            "PHONE" => Some(plain(Feature::PhoneVerification)),
            "EMAIL" => Some(plain(Feature::EmailVerification)),
            "KYB" => Some(FeatureRef::KybParent),
            other => Feature::from_workflow_name(other).map(plain),
        }
    }

    /// Whether this reference names the given workflow feature.
    pub fn matches(self, feature: Feature) -> bool {
        match self {
            FeatureRef::Feature { feature: f, .. } => f == feature,
            FeatureRef::KybParent => {
                matches!(feature, Feature::KybRegistry | Feature::KybKeyPeople)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workflow_name_round_trips() {
        for f in Feature::ALL {
            assert_eq!(Feature::from_workflow_name(f.name()), Some(f));
            assert!(FeatureRef::parse(f.name()).unwrap().matches(f));
        }
    }

    #[test]
    fn aliases_resolve_to_their_feature() {
        let cases = [
            ("ID_VERIFICATION", Feature::Ocr),
            ("OCR_BACK", Feature::Ocr),
            ("FACE", Feature::Liveness),
            ("POA", Feature::ProofOfAddress),
            ("PHONE", Feature::PhoneVerification),
            ("EMAIL", Feature::EmailVerification),
        ];
        for (alias, feature) in cases {
            let r = FeatureRef::parse(alias).unwrap();
            assert!(r.matches(feature), "{alias}");
            for other in Feature::ALL.into_iter().filter(|f| *f != feature) {
                assert!(!r.matches(other), "{alias} must not match {other:?}");
            }
        }
        assert!(FeatureRef::parse("KYB")
            .unwrap()
            .matches(Feature::KybRegistry));
        assert!(FeatureRef::parse("KYB")
            .unwrap()
            .matches(Feature::KybKeyPeople));
        assert!(!FeatureRef::parse("KYB")
            .unwrap()
            .matches(Feature::KybDocuments));
    }

    #[test]
    fn aliases_are_not_workflow_names_and_case_matters() {
        assert_eq!(Feature::from_workflow_name("FACE"), None);
        assert_eq!(Feature::from_workflow_name("POA"), None);
        assert_eq!(FeatureRef::parse("ocr"), None);
        assert_eq!(FeatureRef::parse("SELFIE"), None);
    }

    #[test]
    fn age_estimation_lands_in_liveness_checks() {
        assert_eq!(Feature::AgeEstimation.decision_array(), "liveness_checks");
        assert_eq!(Feature::Ocr.decision_name(), "ID_VERIFICATION");
        assert_eq!(Feature::FaceMatch.node_prefix(), "feature_face_match");
    }
}
