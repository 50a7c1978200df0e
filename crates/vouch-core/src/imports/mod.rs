//! Bulk imports of verifications decided elsewhere (`POST /v3/session/imports/`): the canonical
//! file (CSV with a header, or NDJSON), its structural check (the first bad line named, before
//! anything is written), each row's validation, and the decided session a row becomes — its
//! status, its step results and one SYSTEM row on its trail.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::attempt::{ActorType, Attempt};
use crate::change::SessionChange;
use crate::corrections::{check, Kind, DOCUMENT_FIELDS};
use crate::errors::FieldErrors;
use crate::feature::Feature;
use crate::review::{ActivityType, NewReview};
use crate::session::Session;
use crate::status::{AttemptStatus, SessionStatus};
use crate::workflow::WorkflowSpec;

mod file;
pub use file::{read, scan, FileError, Layout, RawRow, Read};

/// A row longer than this is refused with the file.
pub const MAX_ROW_BYTES: usize = 64 * 1024;
/// Rows one file may hold.
pub const MAX_ROWS: u64 = 1_000_000;

/// The file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    Csv,
    Ndjson,
}

impl SourceFormat {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "ndjson" | "jsonl" => Some(Self::Ndjson),
            _ => None,
        }
    }

    /// Guessed from a file name or URL path (`.ndjson`/`.jsonl`, else CSV).
    pub fn guess(name: &str) -> Self {
        let path = name
            .split(['?', '#'])
            .next()
            .unwrap_or(name)
            .to_ascii_lowercase();
        if path.ends_with(".ndjson") || path.ends_with(".jsonl") {
            Self::Ndjson
        } else {
            Self::Csv
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Ndjson => "ndjson",
        }
    }
}

/// What the rows are. vouch imports user verifications.
pub fn parse_import_type(s: &str) -> Result<&'static str, String> {
    match s.trim() {
        "" | "user_verification" => Ok("user_verification"),
        other @ ("business_verification" | "status_rules" | "transactions") => Err(format!(
            "vouch imports user_verification records; \"{other}\" is not supported."
        )),
        other => Err(format!("\"{other}\" is not a valid choice.")),
    }
}

/// A column of the canonical file: its name, whether every row needs it, and what it holds.
pub struct Column {
    pub name: &'static str,
    pub required: bool,
    pub about: &'static str,
}

const fn col(name: &'static str, required: bool, about: &'static str) -> Column {
    Column {
        name,
        required,
        about,
    }
}

/// The canonical columns, in the template's order.
pub const COLUMNS: &[Column] = &[
    col("external_id", false, "The record's id at the source; with provider, what makes a re-run skip the row"),
    col("provider", false, "Where the record comes from (default generic)"),
    col("vendor_data", true, "Your identifier for the person"),
    col("status", true, "Approved, Declined, In Review or Expired (Green/Verified, Red/Rejected, Pending/Manual review, Incomplete are mapped)"),
    col("created_at", false, "When the verification was made at the source (YYYY-MM-DD or RFC 3339)"),
    col("decided_at", false, "When it was decided at the source (YYYY-MM-DD or RFC 3339)"),
    col("comment", false, "A note kept on the imported session's review trail"),
    col("first_name", false, "Identity document fields (the workflow's ID document step)"),
    col("last_name", false, ""),
    col("full_name", false, ""),
    col("date_of_birth", false, "YYYY-MM-DD"),
    col("gender", false, "M, F, U or X"),
    col("nationality", false, "ISO 3166-1 alpha-3"),
    col("document_type", false, "P, DL, ID, RP, …"),
    col("document_number", false, ""),
    col("personal_number", false, ""),
    col("issuing_state", false, "ISO 3166-1 alpha-3"),
    col("date_of_issue", false, "YYYY-MM-DD"),
    col("expiration_date", false, "YYYY-MM-DD"),
    col("address", false, ""),
    col("place_of_birth", false, ""),
    col("marital_status", false, "SINGLE, MARRIED, DIVORCED, WIDOWED or UNKNOWN"),
    col("liveness_status", false, "The liveness step's result, if the workflow has one"),
    col("face_match_status", false, "The face match step's result, if the workflow has one"),
    col("aml_status", false, "The AML screening step's result, if the workflow has one"),
];

/// Step-result columns and the feature each is for.
const STEP_COLUMNS: &[(&str, Feature)] = &[
    ("liveness_status", Feature::Liveness),
    ("face_match_status", Feature::FaceMatch),
    ("aml_status", Feature::Aml),
];

fn known(name: &str) -> bool {
    COLUMNS.iter().any(|c| c.name == name)
}

/// The CSV template: the header and one example row.
pub fn template() -> String {
    let header: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
    let example = [
        "crm-4711",
        "generic",
        "customer-4711",
        "Approved",
        "2024-03-01T10:00:00Z",
        "2024-03-01T10:05:00Z",
        "",
        "Ana",
        "García",
        "",
        "1990-05-17",
        "F",
        "ESP",
        "ID",
        "12345678Z",
        "",
        "ESP",
        "2020-01-01",
        "2030-01-01",
        "",
        "",
        "",
        "Approved",
        "Approved",
        "Approved",
    ];
    debug_assert_eq!(example.len(), header.len());
    format!("{}\n{}\n", header.join(","), example.join(","))
}

/// A validated row.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    pub vendor_data: String,
    pub external_id: Option<String>,
    pub provider: String,
    pub status: SessionStatus,
    pub created_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    pub comment: Option<String>,
    /// The identity document's fields, validated as reviewer corrections are.
    pub document: Map<String, Value>,
    pub steps: Vec<(Feature, AttemptStatus)>,
    /// What makes a re-run of the file skip the row (with `vendor_data`): `provider:external_id`,
    /// or the digest of the row's fields when it has no `external_id`.
    pub source_ref: String,
}

/// A status as a provider's export may word it.
fn worded_status(s: &str) -> Option<SessionStatus> {
    let k = s.trim().to_ascii_lowercase().replace(['_', '-'], " ");
    Some(match k.as_str() {
        "approved" | "green" | "verified" | "accepted" | "completed" => SessionStatus::Approved,
        "declined" | "red" | "rejected" | "failed" | "denied" => SessionStatus::Declined,
        "in review" | "manual review" | "pending" | "review needed" | "review" | "yellow" => {
            SessionStatus::InReview
        }
        "expired" | "incomplete" | "init" | "unknown" | "abandoned" => SessionStatus::Expired,
        _ => return None,
    })
}

fn step_status(s: SessionStatus) -> AttemptStatus {
    match s {
        SessionStatus::Approved => AttemptStatus::Approved,
        SessionStatus::Declined => AttemptStatus::Declined,
        SessionStatus::InReview => AttemptStatus::InReview,
        _ => AttemptStatus::Expired,
    }
}

/// `YYYY-MM-DD` (its start, UTC) or an RFC 3339 date-time.
fn instant(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .map(|d| d.and_time(NaiveTime::MIN).and_utc())
        })
}

fn text<'a>(
    fields: &'a Map<String, Value>,
    name: &str,
    max: usize,
    errors: &mut FieldErrors,
) -> Option<&'a str> {
    let v = fields.get(name)?;
    let Some(s) = v.as_str().map(str::trim) else {
        errors.add(name, "Not a valid string.");
        return None;
    };
    if s.chars().count() > max {
        errors.add(
            name,
            format!("Ensure this field has no more than {max} characters."),
        );
        return None;
    }
    Some(s).filter(|s| !s.is_empty())
}

/// Validates a row: `vendor_data` and `status` required, dates, the document's fields as reviewer
/// corrections check them, step results as statuses.
pub fn validate(fields: &Map<String, Value>) -> Result<ImportRow, FieldErrors> {
    let mut errors = FieldErrors::new();
    let vendor_data = text(fields, "vendor_data", 1000, &mut errors);
    if vendor_data.is_none() && errors.get("vendor_data").is_none() {
        errors.add("vendor_data", "This field is required.");
    }
    let external_id = text(fields, "external_id", 255, &mut errors);
    let provider = text(fields, "provider", 64, &mut errors).unwrap_or("generic");
    let status = match text(fields, "status", 64, &mut errors) {
        None if errors.get("status").is_none() => {
            errors.add("status", "This field is required.");
            None
        }
        None => None,
        Some(s) => worded_status(s).or_else(|| {
            errors.add(
                "status",
                format!("\"{s}\" is not a valid choice: Approved, Declined, In Review or Expired."),
            );
            None
        }),
    };
    let when = |name: &str, errors: &mut FieldErrors| {
        text(fields, name, 64, errors).and_then(|s| {
            instant(s).or_else(|| {
                errors.add(name, "Use YYYY-MM-DD or an RFC 3339 date-time.");
                None
            })
        })
    };
    let created_at = when("created_at", &mut errors);
    let decided_at = when("decided_at", &mut errors);
    let comment = text(
        fields,
        "comment",
        crate::update_status::MAX_COMMENT,
        &mut errors,
    );
    let mut document = Map::new();
    for (name, kind) in DOCUMENT_FIELDS {
        if matches!(kind, Kind::Object) {
            continue;
        }
        if let Some(v) = fields.get(*name) {
            match check(name, *kind, v, &mut errors) {
                Some(Value::String(s)) if s.is_empty() => {}
                Some(v @ Value::String(_)) => {
                    document.insert(name.to_string(), v);
                }
                _ => {}
            }
        }
    }
    let mut steps = Vec::new();
    for (name, feature) in STEP_COLUMNS {
        if let Some(s) = text(fields, name, 64, &mut errors) {
            match worded_status(s) {
                Some(st) => steps.push((*feature, step_status(st))),
                None => errors.add(
                    *name,
                    format!(
                        "\"{s}\" is not a valid choice: Approved, Declined, In Review or Expired."
                    ),
                ),
            }
        }
    }
    errors.into_result()?;
    let vendor_data = vendor_data.unwrap_or_default().to_string();
    let source_ref = match external_id {
        Some(id) => format!("{provider}:{id}"),
        None => {
            // The fields in a fixed order: the same row in CSV or NDJSON digests alike.
            let mut sorted: Vec<(&String, &Value)> = fields.iter().collect();
            sorted.sort_by_key(|(k, _)| *k);
            let digest = Sha256::digest(json!(sorted).to_string());
            format!("sha256:{}", hex::encode(digest))
        }
    };
    Ok(ImportRow {
        vendor_data,
        external_id: external_id.map(str::to_string),
        provider: provider.to_string(),
        status: status.unwrap_or(SessionStatus::Expired),
        created_at,
        decided_at,
        comment: comment.map(str::to_string),
        document,
        steps,
        source_ref,
    })
}

/// Where a row came from, for its trail row.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    pub import_id: Uuid,
    pub row_number: u64,
}

/// The imported session's first change: the row's status, the document's data on the
/// workflow's ID document step and each step result on its step, and one SYSTEM `IMPORT` row
/// on the trail naming the import and the source. No event is sent and no email: the history
/// is recorded, not announced. A field the workflow has no step for fails the row.
pub fn first_change(
    session: &Session,
    workflow: &WorkflowSpec,
    row: &ImportRow,
    origin: Origin,
    now: DateTime<Utc>,
) -> Result<SessionChange, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut attempts = Vec::new();
    let mut used: Vec<&str> = Vec::new();
    let mut put = |feature: Feature, status: AttemptStatus, data: Value, field: &str| match workflow
        .nodes
        .iter()
        .find(|n| n.feature == feature && !used.contains(&n.node_id.as_str()))
    {
        Some(node) => {
            used.push(&node.node_id);
            attempts.push(Attempt {
                id: Uuid::now_v7(),
                session_id: session.id,
                seq: attempts.len() as i64 + 1,
                node_id: node.node_id.clone(),
                feature,
                status,
                data,
                warnings: json!([]),
                actor_type: ActorType::System,
                created_at: now,
            });
        }
        None => errors.add(
            field,
            format!(
                "The workflow has no {} step to hold this field.",
                feature.name()
            ),
        ),
    };
    if let Some(first) = row.document.keys().next() {
        put(
            Feature::Ocr,
            step_status(row.status),
            Value::Object(row.document.clone()),
            first,
        );
    }
    for (feature, status) in &row.steps {
        let column = STEP_COLUMNS
            .iter()
            .find(|(_, f)| f == feature)
            .map_or("status", |(c, _)| *c);
        put(*feature, *status, json!({}), column);
    }
    errors.into_result()?;
    let (country, full_name) = attempts
        .iter()
        .find(|a| a.feature == Feature::Ocr)
        .map_or((None, None), |a| {
            crate::steps::ocr_denormalized(a.feature, &a.data)
        });
    let wire = |t: Option<DateTime<Utc>>| t.map(crate::time::wire);
    let mut change = SessionChange {
        status: Some(row.status),
        country,
        full_name,
        ..SessionChange::for_session(session, now)
    };
    change.reviews.push(NewReview {
        uuid: Uuid::now_v7(),
        activity_type: ActivityType::Import,
        actor_type: ActorType::System,
        actor_display: "vouch import".into(),
        previous_status: Some(session.status),
        new_status: Some(row.status),
        comment: row.comment.clone(),
        metadata: json!({
            "import_id": origin.import_id,
            "row_number": origin.row_number,
            "provider": row.provider,
            "external_id": row.external_id,
            "source_created_at": wire(row.created_at),
            "source_decided_at": wire(row.decided_at),
            "steps": attempts.iter().map(|a| a.node_id.clone()).collect::<Vec<_>>(),
        }),
        created_at: now,
    });
    change.set_kyc_expiry(row.status, workflow, &attempts, now);
    change.attempts = attempts;
    Ok(change)
}

#[cfg(test)]
mod tests;
