//! Reviewer corrections of a step's data (`PATCH …/update-data/` for the identity document,
//! `…/update-poa-data/` for the proof of address): each field validated, the step's latest
//! result written again as a new attempt with the corrected data (the earlier one stays in the
//! history), a review row naming each changed field with its value before and after, and a
//! `data.updated` event — one change, applied in one transaction.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::attempt::Attempt;
use crate::change::{EventType, NewEvent, SessionChange, SessionState};
use crate::errors::{FieldErrors, Rejection};
use crate::feature::Feature;
use crate::ids::EventId;
use crate::review::{ActivityType, NewReview};
use crate::steps::{ocr_denormalized, require_object, Actor};

/// Which step's data a correction is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The identity document (`OCR`): `update-data`.
    Document,
    /// The proof of address: `update-poa-data`.
    ProofOfAddress,
}

impl Target {
    fn feature(self) -> Feature {
        match self {
            Target::Document => Feature::Ocr,
            Target::ProofOfAddress => Feature::ProofOfAddress,
        }
    }
}

/// How a field is checked.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Text(usize),
    Date,
    /// An ISO 3166-1 alpha-3 country code, stored upper-case.
    Country,
    Choice(&'static [&'static str]),
    Object,
}

const DOCUMENT_TYPES: &[&str] = &[
    "P", "DL", "ID", "RP", "SSC", "HIC", "WP", "TC", "VISA", "PSC", "BC", "OTHER",
];
const GENDERS: &[&str] = &["M", "F", "U", "X"];
const MARITAL: &[&str] = &["SINGLE", "MARRIED", "DIVORCED", "WIDOWED", "UNKNOWN"];
const POA_TYPES: &[&str] = &[
    "UTILITY_BILL",
    "BANK_STATEMENT",
    "GOVERNMENT_ISSUED_DOCUMENT",
    "OTHER_POA_DOCUMENT",
    "UNKNOWN",
];

/// The fields `update-data` corrects.
pub(crate) const DOCUMENT_FIELDS: &[(&str, Kind)] = &[
    ("first_name", Kind::Text(200)),
    ("last_name", Kind::Text(200)),
    ("full_name", Kind::Text(400)),
    ("document_type", Kind::Choice(DOCUMENT_TYPES)),
    ("document_subtype", Kind::Text(100)),
    ("document_number", Kind::Text(100)),
    ("personal_number", Kind::Text(100)),
    ("date_of_birth", Kind::Date),
    ("date_of_issue", Kind::Date),
    ("expiration_date", Kind::Date),
    ("issuing_state", Kind::Country),
    ("nationality", Kind::Country),
    ("gender", Kind::Choice(GENDERS)),
    ("marital_status", Kind::Choice(MARITAL)),
    ("address", Kind::Text(1000)),
    ("place_of_birth", Kind::Text(200)),
    ("parsed_address", Kind::Object),
    ("extra_fields", Kind::Object),
];

/// The fields `update-poa-data` corrects.
const POA_FIELDS: &[(&str, Kind)] = &[
    ("issuing_state", Kind::Country),
    ("document_type", Kind::Choice(POA_TYPES)),
    ("document_language", Kind::Text(16)),
    ("issuer", Kind::Text(300)),
    ("issue_date", Kind::Date),
    ("poa_address", Kind::Text(1000)),
    ("name_on_document", Kind::Text(300)),
    ("poa_parsed_address", Kind::Object),
    ("extra_fields", Kind::Object),
];

/// A validated correction.
#[derive(Debug, Clone, PartialEq)]
pub struct Correction {
    pub target: Target,
    /// The step, when the workflow has more than one of the feature (default: the first).
    pub node_id: Option<String>,
    /// Field → corrected value; `extra_fields` merged in at the top level.
    pub fields: Map<String, Value>,
    pub comment: Option<String>,
}

/// One field as it was and as it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: String,
    pub before: Value,
    pub after: Value,
}

pub(crate) fn check(field: &str, kind: Kind, v: &Value, errors: &mut FieldErrors) -> Option<Value> {
    if v.is_null() {
        // `null` clears a text field.
        return match kind {
            Kind::Object => {
                errors.add(field, "Must be a JSON object.");
                None
            }
            _ => Some(Value::Null),
        };
    }
    match kind {
        Kind::Object => match v {
            Value::Object(_) => Some(v.clone()),
            _ => {
                errors.add(field, "Must be a JSON object.");
                None
            }
        },
        _ => {
            let Some(s) = v.as_str() else {
                errors.add(field, "Not a valid string.");
                return None;
            };
            let s = s.trim();
            match kind {
                Kind::Text(max) if s.chars().count() > max => {
                    errors.add(
                        field,
                        format!("Ensure this field has no more than {max} characters."),
                    );
                    None
                }
                Kind::Text(_) => Some(json!(s)),
                Kind::Date => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                    Ok(d) => Some(json!(d.format("%Y-%m-%d").to_string())),
                    Err(_) => {
                        errors.add(field, "Date has wrong format. Use YYYY-MM-DD.");
                        None
                    }
                },
                Kind::Country if s.len() == 3 && s.chars().all(|c| c.is_ascii_alphabetic()) => {
                    Some(json!(s.to_ascii_uppercase()))
                }
                Kind::Country => {
                    errors.add(
                        field,
                        "Enter an ISO 3166-1 alpha-3 country code (e.g. ESP).",
                    );
                    None
                }
                Kind::Choice(options) => match options.iter().find(|o| o.eq_ignore_ascii_case(s)) {
                    Some(o) => Some(json!(o)),
                    None => {
                        errors.add(field, format!("\"{s}\" is not a valid choice."));
                        None
                    }
                },
                Kind::Object => unreachable!(),
            }
        }
    }
}

/// Validates a correction's body: every known field checked (unknown ones ignored), at least
/// one given.
pub fn parse_correction(target: Target, body: &Value) -> Result<Correction, FieldErrors> {
    require_object(body)?;
    let mut errors = FieldErrors::new();
    let known = match target {
        Target::Document => DOCUMENT_FIELDS,
        Target::ProofOfAddress => POA_FIELDS,
    };
    let mut fields = Map::new();
    for (name, kind) in known {
        let Some(v) = body.get(*name) else { continue };
        if let Some(v) = check(name, *kind, v, &mut errors) {
            if *name == "extra_fields" {
                for (k, x) in v.as_object().into_iter().flatten() {
                    if known.iter().any(|(n, _)| n == k) || k == "node_id" {
                        errors.add(
                            format!("extra_fields.{k}"),
                            "Correct this field by its own name.",
                        );
                    } else {
                        fields.insert(k.clone(), x.clone());
                    }
                }
            } else {
                fields.insert(name.to_string(), v);
            }
        }
    }
    let node_id = match body.get("node_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(_) => {
            errors.add("node_id", "Not a valid string.");
            None
        }
    };
    let comment = match body.get("comment") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) if c.chars().count() <= crate::update_status::MAX_COMMENT => {
            Some(c.clone())
        }
        Some(Value::String(_)) => {
            errors.add(
                "comment",
                "Ensure this field has no more than 10000 characters.",
            );
            None
        }
        Some(_) => {
            errors.add("comment", "Not a valid string.");
            None
        }
    };
    if fields.is_empty() && errors.is_empty() {
        let names: Vec<&str> = known.iter().map(|(n, _)| *n).collect();
        errors.add(
            "non_field_errors",
            format!("Give at least one field to correct: {}.", names.join(", ")),
        );
    }
    errors.into_result()?;
    Ok(Correction {
        target,
        node_id,
        fields,
        comment,
    })
}

/// Applies a correction: the step's latest result again with the corrected data, its trail row
/// and a `data.updated` event. Nothing that differs from what is there: nothing written
/// (`None`), answered as no change.
pub fn correct(
    b: &SessionState,
    c: Result<Correction, FieldErrors>,
    who: Actor<'_>,
    now: DateTime<Utc>,
) -> Result<(Option<SessionChange>, String, Vec<FieldChange>), Rejection> {
    let c = c?;
    let feature = c.target.feature();
    let node = match &c.node_id {
        Some(id) => b
            .workflow
            .spec
            .node(id)
            .filter(|n| n.feature == feature)
            .ok_or_else(|| {
                FieldErrors::single(
                    "node_id",
                    format!(
                        "\"{id}\" is not a {} step of this session's workflow.",
                        feature.name()
                    ),
                )
            })?,
        None => b
            .workflow
            .spec
            .nodes
            .iter()
            .find(|n| n.feature == feature)
            .ok_or_else(|| {
                FieldErrors::single(
                    "non_field_errors",
                    format!("This session's workflow has no {} step.", feature.name()),
                )
            })?,
    };
    let latest: &Attempt = b
        .attempts
        .iter()
        .filter(|a| a.node_id == node.node_id)
        .max_by_key(|a| a.seq)
        .ok_or_else(|| {
            FieldErrors::single(
                "non_field_errors",
                format!("The {} step has no result to correct yet.", node.node_id),
            )
        })?;
    let mut data = match &latest.data {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    let mut changes = Vec::new();
    for (field, after) in &c.fields {
        let before = data.get(field).cloned().unwrap_or(Value::Null);
        if &before != after {
            changes.push(FieldChange {
                field: field.clone(),
                before,
                after: after.clone(),
            });
            data.insert(field.clone(), after.clone());
        }
    }
    if changes.is_empty() {
        return Ok((None, node.node_id.clone(), changes));
    }
    let data = Value::Object(data);
    let s = &b.session;
    let attempt = Attempt {
        id: Uuid::now_v7(),
        seq: b.attempts.iter().map(|a| a.seq).max().unwrap_or(0) + 1,
        data: data.clone(),
        actor_type: who.actor_type,
        created_at: now,
        ..latest.clone()
    };
    let (country, full_name) = ocr_denormalized(feature, &data);
    let mut change = SessionChange {
        attempts: vec![attempt],
        country,
        full_name,
        ..SessionChange::for_session(s, now)
    };
    change.reviews.push(NewReview {
        uuid: Uuid::now_v7(),
        activity_type: ActivityType::DataUpdate,
        actor_type: who.actor_type,
        actor_display: who.display.to_string(),
        previous_status: Some(s.status),
        new_status: Some(s.status),
        comment: c.comment,
        metadata: json!({
            "node_id": node.node_id,
            "feature": feature.name(),
            "changes": changes.iter().map(|ch| json!({
                "field": ch.field, "before": ch.before, "after": ch.after,
            })).collect::<Vec<_>>(),
        }),
        created_at: now,
    });
    change.events.push(NewEvent {
        event_id: EventId::generate(),
        event_type: EventType::DataUpdated,
        status: s.status,
        previous_status: Some(s.status),
    });
    Ok((Some(change), node.node_id.clone(), changes))
}
