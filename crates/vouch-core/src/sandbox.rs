//! The sandbox: deterministic outcomes for sandbox applications, so that an integration can be
//! built and tested offline end to end. A step's sandbox result comes from, in order: an outcome
//! armed for that step (`POST /v1/sandbox/sessions/{id}/arm/`), the session's scenario
//! (`sandbox_scenario` at creation), a magic value in `vendor_data` (`vouch-sandbox:<scenario>`,
//! for clients that cannot send the field), and otherwise Approved. Every result says plainly
//! that nothing was verified; the data is the ICAO 9303 specimen person (expiry moved forward).

use serde_json::{json, Map, Value};

use crate::attempt::ActorType;
use crate::feature::Feature;
use crate::steps::NewResult;
use crate::AttemptStatus;

/// One feature's outcome in a scenario, with the warning that explains it.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub feature: Feature,
    pub status: AttemptStatus,
    /// `(risk, short description)`.
    pub warning: Option<(&'static str, &'static str)>,
}

#[derive(Debug)]
pub struct Scenario {
    pub id: &'static str,
    pub description: &'static str,
    /// Features not named are Approved.
    pub outcomes: &'static [Outcome],
}

const fn out(
    feature: Feature,
    status: AttemptStatus,
    risk: &'static str,
    text: &'static str,
) -> Outcome {
    Outcome {
        feature,
        status,
        warning: Some((risk, text)),
    }
}

/// The catalog (`GET /v1/sandbox/scenarios/`).
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        id: "approved",
        description: "Every step Approved.",
        outcomes: &[],
    },
    Scenario {
        id: "document_expired",
        description: "The document has expired: the document step Declined.",
        outcomes: &[out(
            Feature::Ocr,
            AttemptStatus::Declined,
            "DOCUMENT_EXPIRED",
            "The document has expired",
        )],
    },
    Scenario {
        id: "liveness_attack",
        description: "A presentation attack on the selfie: the liveness step Declined.",
        outcomes: &[out(
            Feature::Liveness,
            AttemptStatus::Declined,
            "LIVENESS_FACE_ATTACK",
            "A presentation attack was detected",
        )],
    },
    Scenario {
        id: "face_mismatch_review",
        description:
            "The selfie and the document's portrait barely match: the face match In Review.",
        outcomes: &[out(
            Feature::FaceMatch,
            AttemptStatus::InReview,
            "LOW_FACE_MATCH_SIMILARITY",
            "The faces match with low similarity",
        )],
    },
    Scenario {
        id: "aml_hit",
        description:
            "The screening finds a possible match on a sanctions list: the screening In Review.",
        outcomes: &[out(
            Feature::Aml,
            AttemptStatus::InReview,
            "POSSIBLE_MATCH_FOUND",
            "A possible match was found on a watchlist",
        )],
    },
    Scenario {
        id: "poa_name_mismatch",
        description:
            "The name on the proof of address is not the document's: proof of address In Review.",
        outcomes: &[out(
            Feature::ProofOfAddress,
            AttemptStatus::InReview,
            "POA_NAME_MISMATCH",
            "The name on the document does not match",
        )],
    },
    Scenario {
        id: "declined",
        description: "The document and the selfie both Declined.",
        outcomes: &[
            out(
                Feature::Ocr,
                AttemptStatus::Declined,
                "DOCUMENT_EXPIRED",
                "The document has expired",
            ),
            out(
                Feature::Liveness,
                AttemptStatus::Declined,
                "LIVENESS_FACE_ATTACK",
                "A presentation attack was detected",
            ),
        ],
    },
];

pub fn find(id: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.id == id)
}

/// The scenario a `vendor_data` names with the documented magic prefix.
pub fn magic(vendor_data: Option<&str>) -> Option<&'static Scenario> {
    let v = vendor_data?;
    let at = v.find("vouch-sandbox:")?;
    let rest = &v[at + "vouch-sandbox:".len()..];
    let id: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    find(&id)
}

/// The session's scenario: the one chosen at creation, else the one its `vendor_data` names.
pub fn scenario_for(chosen: Option<&str>, vendor_data: Option<&str>) -> Option<&'static Scenario> {
    chosen.and_then(find).or_else(|| magic(vendor_data))
}

/// An outcome armed for a step's next result, as the arm endpoint stores it.
pub fn armed(status: AttemptStatus, data: Option<&Value>, warnings: Option<&Value>) -> Value {
    json!({
        "status": status,
        "data": data.cloned().unwrap_or_else(|| json!({})),
        "warnings": warnings.cloned().unwrap_or_else(|| json!([])),
    })
}

fn warning_json(feature: Feature, risk: &str, text: &str) -> Value {
    json!({
        "risk": risk,
        "feature": feature.name(),
        "short_description": text,
        "long_description": format!("{text} (a sandbox scenario: nothing was verified)."),
        "log_type": "warning",
    })
}

/// The specimen data of a feature's result.
fn specimen(feature: Feature, input: &Value) -> Value {
    match feature {
        Feature::Ocr => json!({
            "document_type": input["fields"]["document_type"].as_str().unwrap_or("P"),
            "issuing_state": input["fields"]["issuing_state"].as_str().unwrap_or("UTO"),
            "first_name": "ANNA MARIA",
            "last_name": "ERIKSSON",
            "full_name": "ANNA MARIA ERIKSSON",
            "document_number": "L898902C3",
            "date_of_birth": "1974-08-12",
            "expiration_date": "2034-04-15",
            "gender": "F",
            "nationality": "UTO",
        }),
        Feature::FaceMatch => json!({ "score": 100 }),
        Feature::Liveness => json!({ "score": 100, "method": "PASSIVE" }),
        Feature::ProofOfAddress => json!({
            "document_type": "UTILITY_BILL",
            "issuing_state": "UTO",
            "name_on_document": "ANNA MARIA ERIKSSON",
            "address": "1 SPECIMEN STREET, UTOPIA",
        }),
        Feature::Aml => json!({ "total_hits": 0, "hits": [], "score": 0 }),
        _ => json!({}),
    }
}

/// A step's sandbox result: armed (`{"status", "data", "warnings"}`), else the scenario's
/// outcome for the feature, else Approved.
pub fn result(
    node_id: &str,
    feature: Feature,
    input: &Value,
    armed: Option<&Value>,
    scenario: Option<&Scenario>,
) -> NewResult {
    let mut data = specimen(feature, input);
    let (status, warnings) = match armed {
        Some(a) => {
            if let (Value::Object(d), Some(Value::Object(extra))) = (&mut data, a.get("data")) {
                d.extend(extra.clone());
            }
            (
                a.get("status")
                    .and_then(Value::as_str)
                    .and_then(AttemptStatus::parse)
                    .unwrap_or(AttemptStatus::Approved),
                a.get("warnings").cloned().unwrap_or_else(|| json!([])),
            )
        }
        None => match scenario.and_then(|s| s.outcomes.iter().find(|o| o.feature == feature)) {
            Some(o) => (
                o.status,
                Value::Array(
                    o.warning
                        .map(|(risk, text)| warning_json(feature, risk, text))
                        .into_iter()
                        .collect(),
                ),
            ),
            None => (AttemptStatus::Approved, json!([])),
        },
    };
    if feature == Feature::Aml && status != AttemptStatus::Approved {
        data = json!({"total_hits": 1, "score": 86, "hits": [{
            "name": "ANNA MARIA ERIKSSON", "match_score": 86, "datasets": ["Sanctions (specimen)"],
        }]});
    }
    if let Value::Object(m) = &mut data {
        m.insert("engine".into(), json!("sandbox"));
        m.insert(
            "checks".into(),
            json!(["sandbox outcome: nothing was verified"]),
        );
    }
    NewResult {
        node_id: node_id.to_string(),
        status,
        data,
        warnings,
        actor: ActorType::System,
    }
}

/// What a registered sandbox test number plays on the person's phone step, as Didit's phone
/// test numbers do (`POST /v3/phone/sandbox/numbers/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneOutcome {
    /// The code is "sent"; the fixed code (any well-formed one if none was set) verifies.
    Verified,
    /// As `Verified`: the code a silent check fell back to.
    SilentFallback,
    /// Verified at once, without a code.
    SilentMatch,
    /// Declined at once.
    SilentMismatch,
    /// Declined at once: the message never arrived.
    NotDelivered,
    /// The number is blocked: Declined at once.
    Blocked,
    /// The code is sent, but has expired when it is checked.
    Expired,
}

/// What the page does when the person asks for a code to a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhonePlay {
    /// A code (the number's fixed one, or `None`: any well-formed code) stands, nothing is sent;
    /// `expired`: it has already expired.
    Code { code: Option<String>, expired: bool },
    /// The step is decided at once.
    Decided { approved: bool },
}

impl PhoneOutcome {
    pub const ALL: [PhoneOutcome; 7] = [
        PhoneOutcome::Verified,
        PhoneOutcome::SilentFallback,
        PhoneOutcome::SilentMatch,
        PhoneOutcome::SilentMismatch,
        PhoneOutcome::NotDelivered,
        PhoneOutcome::Blocked,
        PhoneOutcome::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PhoneOutcome::Verified => "verified",
            PhoneOutcome::SilentFallback => "silent_fallback",
            PhoneOutcome::SilentMatch => "silent_match",
            PhoneOutcome::SilentMismatch => "silent_mismatch",
            PhoneOutcome::NotDelivered => "not_delivered",
            PhoneOutcome::Blocked => "blocked",
            PhoneOutcome::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    pub fn play(self, code: Option<&str>) -> PhonePlay {
        let code = code.map(String::from);
        match self {
            PhoneOutcome::Verified | PhoneOutcome::SilentFallback => PhonePlay::Code {
                code,
                expired: false,
            },
            PhoneOutcome::Expired => PhonePlay::Code {
                code,
                expired: true,
            },
            PhoneOutcome::SilentMatch => PhonePlay::Decided { approved: true },
            PhoneOutcome::SilentMismatch | PhoneOutcome::NotDelivered | PhoneOutcome::Blocked => {
                PhonePlay::Decided { approved: false }
            }
        }
    }
}

/// The code every sandbox email code step (and every phone number not registered) uses.
pub const SANDBOX_CODE: &str = "000000";

/// The catalog as the API shows it.
pub fn catalog_json() -> Value {
    let scenarios: Vec<Value> = SCENARIOS
        .iter()
        .map(|s| {
            let mut outcomes = Map::new();
            for f in Feature::ALL {
                let o = s.outcomes.iter().find(|o| o.feature == f);
                outcomes.insert(
                    f.name().to_string(),
                    json!({
                        "status": o.map_or(AttemptStatus::Approved, |o| o.status),
                        "warnings": o.and_then(|o| o.warning)
                            .map(|(risk, text)| vec![warning_json(f, risk, text)])
                            .unwrap_or_default(),
                    }),
                );
            }
            json!({
                "id": s.id,
                "description": s.description,
                "magic_vendor_data": format!("vouch-sandbox:{}", s.id),
                "outcomes": outcomes,
                "data": {
                    "OCR": specimen(Feature::Ocr, &json!({})),
                    "PROOF_OF_ADDRESS": specimen(Feature::ProofOfAddress, &json!({})),
                },
            })
        })
        .collect();
    json!({
        "scenarios": scenarios,
        "precedence": ["armed", "sandbox_scenario", "magic vendor_data", "Approved"],
        "email_code": SANDBOX_CODE,
        "phone": {
            "unregistered_code": SANDBOX_CODE,
            "outcomes": PhoneOutcome::ALL.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn armed_wins_then_the_scenario_then_approved() {
        let expired = find("document_expired");
        let r = result("ocr", Feature::Ocr, &json!({}), None, expired);
        assert_eq!(r.status, AttemptStatus::Declined);
        assert_eq!(r.warnings[0]["risk"], "DOCUMENT_EXPIRED");
        let arm = armed(
            AttemptStatus::InReview,
            Some(&json!({"first_name": "ZOE"})),
            None,
        );
        let r = result("ocr", Feature::Ocr, &json!({}), Some(&arm), expired);
        assert_eq!(
            (r.status, r.data["first_name"].as_str()),
            (AttemptStatus::InReview, Some("ZOE"))
        );
        let r = result("live", Feature::Liveness, &json!({}), None, expired);
        assert_eq!(
            r.status,
            AttemptStatus::Approved,
            "a feature the scenario does not name"
        );
        assert_eq!(
            r.data["checks"],
            json!(["sandbox outcome: nothing was verified"])
        );
    }

    #[test]
    fn phone_test_numbers_play_as_didit_documents() {
        assert_eq!(
            PhoneOutcome::Verified.play(Some("1234")),
            PhonePlay::Code {
                code: Some("1234".into()),
                expired: false
            }
        );
        assert_eq!(
            PhoneOutcome::Expired.play(None),
            PhonePlay::Code {
                code: None,
                expired: true
            }
        );
        assert_eq!(
            PhoneOutcome::SilentMatch.play(None),
            PhonePlay::Decided { approved: true }
        );
        for o in [
            PhoneOutcome::SilentMismatch,
            PhoneOutcome::NotDelivered,
            PhoneOutcome::Blocked,
        ] {
            assert_eq!(
                o.play(None),
                PhonePlay::Decided { approved: false },
                "{o:?}"
            );
        }
        for o in PhoneOutcome::ALL {
            assert_eq!(PhoneOutcome::parse(o.as_str()), Some(o));
        }
    }

    #[test]
    fn magic_values_name_scenarios_and_the_catalog_lists_every_one() {
        assert_eq!(
            magic(Some("user-7 vouch-sandbox:aml_hit")).map(|s| s.id),
            Some("aml_hit")
        );
        assert!(magic(Some("vouch-sandbox:nonsense")).is_none());
        assert!(magic(Some("user-7")).is_none());
        let c = catalog_json();
        assert_eq!(c["scenarios"].as_array().unwrap().len(), SCENARIOS.len());
        assert_eq!(c["scenarios"][4]["outcomes"]["AML"]["status"], "In Review");
        assert_eq!(c["scenarios"][4]["outcomes"]["OCR"]["status"], "Approved");
        let aml = result("aml", Feature::Aml, &json!({}), None, find("aml_hit"));
        assert_eq!(aml.data["total_hits"], 1);
    }
}
