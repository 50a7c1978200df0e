//! How a submitted step reaches a verification engine, and what the built-in engines answer.
//!
//! A step the person submits on the page becomes an engine job (queued in the same transaction
//! as the submission); the job's result enters through the same core function as a result
//! posted to `POST /v3/session/{id}/attempts/` (`steps::record_attempt`). What a result says it
//! checked is exactly what was checked: the sandbox checks nothing and says so; the manual
//! engine hands the step to a reviewer.

use serde_json::{json, Map, Value};

use crate::attempt::ActorType;
use crate::feature::Feature;
use crate::ids::{EngineJobId, MediaId};
use crate::session::Environment;
use crate::steps::NewResult;
use crate::AttemptStatus;

/// Where a node's submissions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Deterministic outcomes for sandbox applications; verifies nothing.
    Sandbox,
    /// The step goes to `In Review` with its captured media, for a reviewer to judge.
    Manual,
    /// An outside engine: vouch POSTs it a signed job and records its reply (or the engine
    /// reports later through the attempts API with its own key).
    Http,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Sandbox => "sandbox",
            Engine::Manual => "manual",
            Engine::Http => "http",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sandbox" => Some(Engine::Sandbox),
            "manual" => Some(Engine::Manual),
            "http" => Some(Engine::Http),
            _ => None,
        }
    }

    /// The node's `config.engine`, else the application's default: sandbox applications get
    /// the sandbox, live ones a reviewer. A live application never gets sandbox outcomes.
    pub fn for_node(config: &Map<String, Value>, environment: Environment) -> Self {
        let asked = config
            .get("engine")
            .and_then(Value::as_str)
            .and_then(Self::parse);
        match (environment, asked) {
            (Environment::Live, Some(Engine::Sandbox)) | (Environment::Live, None) => {
                Engine::Manual
            }
            (Environment::Sandbox, None) => Engine::Sandbox,
            (_, Some(e)) => e,
        }
    }
}

/// Where a captured file sits in its step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// A document's front.
    Front,
    Back,
    Selfie,
    /// A proof-of-address document.
    Document,
}

impl Slot {
    pub const ALL: [Slot; 4] = [Slot::Front, Slot::Back, Slot::Selfie, Slot::Document];

    pub fn as_str(self) -> &'static str {
        match self {
            Slot::Front => "front",
            Slot::Back => "back",
            Slot::Selfie => "selfie",
            Slot::Document => "document",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The field of the decision's feature entry that carries the file's URL, as Didit names
    /// it.
    pub fn decision_field(self, feature: Feature) -> &'static str {
        match (self, feature) {
            (Slot::Front, _) => "front_image",
            (Slot::Back, _) => "back_image",
            (Slot::Selfie, Feature::FaceMatch) => "target_image",
            (Slot::Selfie, _) => "selfie_image",
            (Slot::Document, _) => "poa_document",
        }
    }
}

/// A stored file, recorded with the submission that brought it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMedia {
    pub id: MediaId,
    pub node_id: String,
    pub slot: Slot,
    pub media_type: crate::media::MediaType,
    pub bytes: i64,
    pub width: i64,
    pub height: i64,
    /// Of the original, hex.
    pub sha256: String,
}

/// A job queued for an engine.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEngineJob {
    pub id: EngineJobId,
    pub node_id: String,
    pub feature: Feature,
    pub engine: Engine,
    /// What the engine works from: `{"media": {slot: id}, "fields": {...}}`.
    pub input: Value,
}

/// The result an engine gives a job; the sandbox's follows the session's plan (`armed`, its
/// `scenario`: `sandbox::result`).
pub fn result(
    engine: Engine,
    node_id: &str,
    feature: Feature,
    input: &Value,
    armed: Option<&Value>,
    scenario: Option<&crate::sandbox::Scenario>,
) -> NewResult {
    let (status, data, warnings) = match engine {
        Engine::Sandbox => {
            return crate::sandbox::result(node_id, feature, input, armed, scenario);
        }
        Engine::Http => return unavailable(node_id, feature, "its reply is recorded instead"),
        Engine::Manual => (
            AttemptStatus::InReview,
            json!({ "engine": "manual", "checks": [] }),
            json!([{
                "risk": "MANUAL_REVIEW_REQUIRED",
                "feature": feature.name(),
                "short_description": "A reviewer is to judge this step",
                "long_description": "No automatic check ran on this step: its captured media wait for a reviewer's decision.",
                "log_type": "information",
            }]),
        ),
    };
    NewResult {
        node_id: node_id.to_string(),
        status,
        data,
        warnings,
        actor: ActorType::System,
    }
}

/// The step handed to a reviewer because its engine gave no result (not configured, or no
/// answer after every retry): said so in a warning.
pub fn unavailable(node_id: &str, feature: Feature, why: &str) -> NewResult {
    NewResult {
        node_id: node_id.to_string(),
        status: AttemptStatus::InReview,
        data: json!({ "engine": "http", "checks": [] }),
        warnings: json!([{
            "risk": "ENGINE_UNAVAILABLE",
            "feature": feature.name(),
            "short_description": "The verification engine gave no result",
            "long_description": format!("No engine result for this step ({why}): a reviewer is to judge it."),
            "log_type": "warning",
        }]),
        actor: ActorType::System,
    }
}

/// An outside engine's reply, read as strictly as `POST /v3/session/{id}/attempts/` reads a
/// result: `status` (Approved, Declined, In Review), `data` an object, `warnings` a list.
pub fn parse_reply(node_id: &str, reply: &Value) -> Result<NewResult, String> {
    let status = match reply.get("status").and_then(Value::as_str) {
        Some(s) => match AttemptStatus::parse(s) {
            Some(
                st @ (AttemptStatus::Approved | AttemptStatus::Declined | AttemptStatus::InReview),
            ) => st,
            _ => {
                return Err(format!(
                    "status {s:?} is not Approved, Declined or In Review"
                ))
            }
        },
        None => return Err("the reply has no status".into()),
    };
    let data = match reply.get("data") {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => return Err("data is not an object".into()),
    };
    let warnings = match reply.get("warnings") {
        None | Some(Value::Null) => json!([]),
        Some(v @ Value::Array(_)) => v.clone(),
        Some(_) => return Err("warnings is not a list".into()),
    };
    Ok(NewResult {
        node_id: node_id.to_string(),
        status,
        data,
        warnings,
        actor: ActorType::System,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_applications_never_get_sandbox_outcomes() {
        let asks = |e: &str| {
            let mut m = Map::new();
            m.insert("engine".into(), json!(e));
            m
        };
        assert_eq!(
            Engine::for_node(&asks("sandbox"), Environment::Live),
            Engine::Manual
        );
        assert_eq!(
            Engine::for_node(&Map::new(), Environment::Sandbox),
            Engine::Sandbox
        );
        assert_eq!(
            Engine::for_node(&asks("manual"), Environment::Sandbox),
            Engine::Manual
        );
        assert_eq!(
            Engine::for_node(&asks("nonsense"), Environment::Live),
            Engine::Manual
        );
    }

    #[test]
    fn an_outside_engines_reply_is_read_strictly() {
        let ok = parse_reply("n", &json!({"status": "Declined", "data": {"x": 1}})).unwrap();
        assert_eq!(
            (ok.status, ok.data["x"].as_i64()),
            (AttemptStatus::Declined, Some(1))
        );
        for bad in [
            json!({}),
            json!({"status": "Expired"}),
            json!({"status": "Approved", "data": 3}),
            json!({"status": "Approved", "warnings": {}}),
        ] {
            assert!(parse_reply("n", &bad).is_err(), "{bad}");
        }
        let u = unavailable("n", Feature::Ocr, "no answer");
        assert_eq!(
            (u.status, u.warnings[0]["risk"].as_str()),
            (AttemptStatus::InReview, Some("ENGINE_UNAVAILABLE"))
        );
        let mut http = Map::new();
        http.insert("engine".into(), json!("http"));
        assert_eq!(Engine::for_node(&http, Environment::Live), Engine::Http);
    }

    #[test]
    fn results_say_what_was_checked() {
        let r = result(Engine::Sandbox, "ocr", Feature::Ocr, &json!({}), None, None);
        assert_eq!(r.status, AttemptStatus::Approved);
        assert_eq!(
            r.data["checks"],
            json!(["sandbox outcome: nothing was verified"])
        );
        assert_eq!(r.data["document_number"], "L898902C3");
        let m = result(
            Engine::Manual,
            "live",
            Feature::Liveness,
            &json!({}),
            None,
            None,
        );
        assert_eq!(m.status, AttemptStatus::InReview);
        assert_eq!(m.data["checks"], json!([]));
        assert_eq!(m.warnings[0]["risk"], "MANUAL_REVIEW_REQUIRED");
    }
}
