//! The update-status body: its wire shape (what the OpenAPI document shows) and the schema
//! validation of check 3, reporting every field's error at once in the contract's words.

use serde::Deserialize;
use serde_json::Value;

use super::{Target, MAX_COMMENT};
use crate::contact::is_valid_email;
use crate::errors::FieldErrors;
use crate::feature::FeatureRef;
use crate::resubmission::NodeRequest;

/// A request body that passed schema validation.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateRequest {
    pub target: Target,
    pub comment: Option<String>,
    pub nodes: Vec<NodeRequest>,
    pub send_email: bool,
    pub email_address: Option<String>,
    pub email_language: String,
    /// From a preview: the change must send exactly the email it showed.
    pub email_preview_token: Option<String>,
}

/// The body of update-status as it arrives: what the parser reads and what the OpenAPI
/// document shows, with the constraints `parse_request` enforces. Fields are read as raw JSON
/// so that every field's error is reported at once, in the contract's words.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateStatusBody {
    /// The decision.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true,
        pattern = "^(Approved|Declined|Resubmitted)$", example = "Approved"))]
    pub new_status: Option<Value>,
    /// Shown on the review trail.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 10000))]
    pub comment: Option<Value>,
    /// Steps to redo (Resubmitted only; checked for every target). Omitted, `null` or `[]`:
    /// the failed steps are chosen. A bare node id string also works.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<NodeToResubmit>>))]
    pub nodes_to_resubmit: Option<Value>,
    /// Queue an email to the person (decision, or the link to redo the steps).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<bool>))]
    pub send_email: Option<Value>,
    /// Required when `send_email` is true.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = "email"))]
    pub email_address: Option<Value>,
    /// Default `en`; unsupported languages fall back to `en`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 16))]
    pub email_language: Option<Value>,
    /// From a preview: refused with `409` unless this change sends exactly that email.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub email_preview_token: Option<Value>,
}

/// One step to send back.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeToResubmit {
    #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1))]
    pub node_id: Option<Value>,
    /// A feature of the vocabulary, or one of its aliases (`FACE`, `KYB`, …).
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "OCR"))]
    pub feature: Option<Value>,
    /// Shown to the person.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 1000))]
    pub reason: Option<Value>,
}

fn choice_error(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\" is not a valid choice."),
        other => format!("\"{other}\" is not a valid choice."),
    }
}

fn parse_nodes(v: Option<&Value>, errors: &mut FieldErrors) -> Vec<NodeRequest> {
    let list = match v {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(list)) => list,
        Some(_) => {
            errors.add("nodes_to_resubmit", "Expected a list of items.");
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let key = |f: &str| format!("nodes_to_resubmit[{i}].{f}");
        match entry {
            Value::String(id) if !id.is_empty() => out.push(NodeRequest {
                node_id: id.clone(),
                feature: None,
                reason: None,
            }),
            Value::String(_) => errors.add(key("node_id"), "This field may not be blank."),
            Value::Object(_) => {
                let m = NodeToResubmit::deserialize(entry).unwrap_or_default();
                let node_id = match &m.node_id {
                    Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                    Some(Value::String(_)) => {
                        errors.add(key("node_id"), "This field may not be blank.");
                        None
                    }
                    None | Some(Value::Null) => {
                        errors.add(key("node_id"), "This field is required.");
                        None
                    }
                    Some(_) => {
                        errors.add(key("node_id"), "Not a valid string.");
                        None
                    }
                };
                let feature = match &m.feature {
                    Some(Value::String(s)) => match FeatureRef::parse(s) {
                        Some(f) => Some(f),
                        None => {
                            errors.add(key("feature"), choice_error(&Value::String(s.clone())));
                            None
                        }
                    },
                    None | Some(Value::Null) => {
                        errors.add(key("feature"), "This field is required.");
                        None
                    }
                    Some(other) => {
                        errors.add(key("feature"), choice_error(other));
                        None
                    }
                };
                let reason = match &m.reason {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) if s.chars().count() <= 1000 => Some(s.clone()),
                    Some(Value::String(_)) => {
                        errors.add(
                            key("reason"),
                            "Ensure this field has no more than 1000 characters.",
                        );
                        None
                    }
                    Some(_) => {
                        errors.add(key("reason"), "Not a valid string.");
                        None
                    }
                };
                if let (Some(node_id), Some(feature)) = (node_id, feature) {
                    out.push(NodeRequest {
                        node_id,
                        feature: Some(feature),
                        reason,
                    });
                }
            }
            _ => errors.add(
                format!("nodes_to_resubmit[{i}]"),
                "Expected an object with node_id and feature, or a node id.",
            ),
        }
    }
    out
}

/// Schema validation of the body (check 3).
pub fn parse_request(body: &Value) -> Result<UpdateRequest, FieldErrors> {
    let mut errors = FieldErrors::new();
    if !body.is_object() {
        return Err(FieldErrors::single(
            "non_field_errors",
            "Invalid data. Expected a JSON object.",
        ));
    }
    // Every field is raw JSON, so an object always reads.
    let b = UpdateStatusBody::deserialize(body).unwrap_or_default();
    let target = match b.new_status.as_ref() {
        None | Some(Value::Null) => {
            errors.add("new_status", "This field is required.");
            None
        }
        Some(Value::String(s)) if s == "Approved" => Some(Target::Approved),
        Some(Value::String(s)) if s == "Declined" => Some(Target::Declined),
        Some(Value::String(s)) if s == "Resubmitted" => Some(Target::Resubmitted),
        Some(other) => {
            errors.add("new_status", choice_error(other));
            None
        }
    };
    let comment = match b.comment.as_ref() {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= MAX_COMMENT => Some(s.clone()),
        Some(Value::String(_)) => {
            errors.add(
                "comment",
                format!("Ensure this field has no more than {MAX_COMMENT} characters."),
            );
            None
        }
        Some(_) => {
            errors.add("comment", "Not a valid string.");
            None
        }
    };
    let nodes = parse_nodes(b.nodes_to_resubmit.as_ref(), &mut errors);
    let send_email = match b.send_email.as_ref() {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.add("send_email", "Must be a valid boolean.");
            false
        }
    };
    let email_address = match b.email_address.as_ref() {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) if is_valid_email(s) => Some(s.clone()),
        Some(_) => {
            errors.add("email_address", "Enter a valid email address.");
            None
        }
    };
    let email_language = match b.email_language.as_ref() {
        None | Some(Value::Null) => "en".to_string(),
        Some(Value::String(s)) if s.chars().count() <= 16 => s.clone(),
        Some(_) => {
            errors.add(
                "email_language",
                "Enter a language code of at most 16 characters.",
            );
            "en".to_string()
        }
    };
    let email_preview_token = match b.email_preview_token {
        None => None,
        Some(Value::String(t)) => Some(t),
        Some(_) => {
            errors.add("email_preview_token", "Not a valid string.");
            None
        }
    };
    errors.into_result()?;
    if send_email && email_address.is_none() {
        return Err(FieldErrors::single(
            "email_address",
            "This field is required when send_email is true.",
        ));
    }
    let Some(target) = target else {
        return Err(FieldErrors::single("new_status", "This field is required."));
    };
    Ok(UpdateRequest {
        target,
        comment,
        nodes,
        send_email,
        email_address,
        email_language,
        email_preview_token,
    })
}
