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

/// Why a file is refused whole: the first bad line and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct FileError {
    pub line: u64,
    pub message: String,
}

fn refuse<T>(line: u64, message: impl Into<String>) -> Result<T, FileError> {
    Err(FileError {
        line,
        message: message.into(),
    })
}

/// A file that passed the structural check: where its rows start and how many there are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub format: SourceFormat,
    /// CSV: the header's columns; NDJSON: none (each row names its fields).
    pub columns: Vec<String>,
    pub total_rows: u64,
    /// Byte offset of the first row (after a byte-order mark and the header).
    pub data_offset: u64,
    /// The file line the first row is on.
    pub data_line: u64,
}

/// One row as read: the file line it starts on and its fields as given (empty ones left out).
#[derive(Debug, Clone, PartialEq)]
pub struct RawRow {
    pub line: u64,
    pub fields: Map<String, Value>,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

fn csv_reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes)
}

/// Checks the whole file's structure before anything is imported: UTF-8, a CSV header of known
/// columns with the required ones, every record with the header's width (NDJSON: every line a
/// JSON object of known fields), no row over `MAX_ROW_BYTES`, at least one row.
pub fn scan(bytes: &[u8], format: SourceFormat) -> Result<Layout, FileError> {
    let start = if bytes.starts_with(BOM) { BOM.len() } else { 0 };
    let body = &bytes[start..];
    match format {
        SourceFormat::Csv => scan_csv(body, start as u64),
        SourceFormat::Ndjson => scan_ndjson(body, start as u64),
    }
}

fn utf8_fields(rec: &csv::ByteRecord, line: u64) -> Result<Vec<String>, FileError> {
    rec.iter()
        .map(|f| {
            std::str::from_utf8(f)
                .map(str::to_string)
                .or_else(|_| refuse(line, "not valid UTF-8"))
        })
        .collect()
}

fn scan_csv(body: &[u8], start: u64) -> Result<Layout, FileError> {
    let mut r = csv_reader(body);
    let mut rec = csv::ByteRecord::new();
    let more = |r: &mut csv::Reader<&[u8]>, rec: &mut csv::ByteRecord, line: u64| {
        r.read_byte_record(rec)
            .or_else(|e| refuse(line, format!("unreadable CSV: {e}")))
    };
    if !more(&mut r, &mut rec, 1)? {
        return refuse(1, "the file is empty; the first line names the columns");
    }
    let header_line = rec.position().map_or(1, |p| p.line());
    let columns: Vec<String> = utf8_fields(&rec, header_line)?
        .into_iter()
        .map(|c| c.trim().to_string())
        .collect();
    for (i, c) in columns.iter().enumerate() {
        if !known(c) {
            return refuse(
                header_line,
                format!(
                    "unknown column \"{c}\" (GET /v3/session/imports/template/ lists the columns)"
                ),
            );
        }
        if columns[..i].contains(c) {
            return refuse(header_line, format!("column \"{c}\" appears twice"));
        }
    }
    for c in COLUMNS.iter().filter(|c| c.required) {
        if !columns.iter().any(|x| x == c.name) {
            return refuse(
                header_line,
                format!("the required column \"{}\" is missing", c.name),
            );
        }
    }
    let data_offset = start + r.position().byte();
    let data_line = r.position().line();
    let mut total = 0u64;
    let mut end = r.position().byte();
    loop {
        let line = r.position().line();
        if !more(&mut r, &mut rec, line)? {
            break;
        }
        let next = r.position().byte();
        if (next - end) as usize > MAX_ROW_BYTES {
            return refuse(
                line,
                format!("the row is longer than {MAX_ROW_BYTES} bytes"),
            );
        }
        end = next;
        if rec.len() != columns.len() {
            return refuse(
                line,
                format!(
                    "{} fields where the header has {} columns",
                    rec.len(),
                    columns.len()
                ),
            );
        }
        utf8_fields(&rec, line)?;
        total += 1;
        if total > MAX_ROWS {
            return refuse(line, format!("the file has more than {MAX_ROWS} rows"));
        }
    }
    if total == 0 {
        return refuse(data_line, "the file has a header but no rows");
    }
    Ok(Layout {
        format: SourceFormat::Csv,
        columns,
        total_rows: total,
        data_offset,
        data_line,
    })
}

/// An NDJSON line as a row's fields, or what is wrong with it.
fn ndjson_fields(line: &[u8]) -> Result<Map<String, Value>, String> {
    let text = std::str::from_utf8(line).map_err(|_| "not valid UTF-8".to_string())?;
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(o) = v else {
        return Err("each line must be a JSON object".into());
    };
    if let Some(k) = o.keys().find(|k| !known(k)) {
        return Err(format!(
            "unknown field \"{k}\" (GET /v3/session/imports/template/ lists the fields)"
        ));
    }
    Ok(o)
}

fn scan_ndjson(body: &[u8], start: u64) -> Result<Layout, FileError> {
    let mut total = 0u64;
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        let n = i as u64 + 1;
        if line.len() > MAX_ROW_BYTES {
            return refuse(n, format!("the row is longer than {MAX_ROW_BYTES} bytes"));
        }
        if line.trim_ascii().is_empty() {
            continue;
        }
        ndjson_fields(line).or_else(|m| refuse(n, m))?;
        total += 1;
        if total > MAX_ROWS {
            return refuse(n, format!("the file has more than {MAX_ROWS} rows"));
        }
    }
    if total == 0 {
        return refuse(1, "the file has no rows");
    }
    Ok(Layout {
        format: SourceFormat::Ndjson,
        columns: Vec::new(),
        total_rows: total,
        data_offset: start,
        data_line: 1,
    })
}

/// Rows read from a window of a scanned file that starts at a row boundary on file line `line`.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    pub rows: Vec<RawRow>,
    /// Bytes of the window the rows took: the next window starts there.
    pub consumed: usize,
    /// The file line the next window starts on.
    pub next_line: u64,
}

/// Up to `max` rows from `window`. A row is taken only when it ends inside the window, or the
/// window reaches the end of the file (`at_eof`), so a window may cut a row anywhere.
pub fn read(window: &[u8], at_eof: bool, layout: &Layout, line: u64, max: usize) -> Read {
    match layout.format {
        SourceFormat::Csv => read_csv(window, at_eof, &layout.columns, line, max),
        SourceFormat::Ndjson => read_ndjson(window, at_eof, line, max),
    }
}

fn read_csv(window: &[u8], at_eof: bool, columns: &[String], line: u64, max: usize) -> Read {
    let mut r = csv_reader(window);
    let mut rec = csv::ByteRecord::new();
    let mut out = Read {
        rows: Vec::new(),
        consumed: 0,
        next_line: line,
    };
    while out.rows.len() < max {
        let at = r.position().line();
        match r.read_byte_record(&mut rec) {
            Ok(true) => {}
            // The file was scanned: only a cut row can fail here; it is read again whole.
            _ => break,
        }
        let end = r.position().byte() as usize;
        if end >= window.len() && !at_eof {
            break;
        }
        let mut fields = Map::new();
        for (name, value) in columns.iter().zip(rec.iter()) {
            let v = String::from_utf8_lossy(value);
            if !v.trim().is_empty() {
                fields.insert(name.clone(), Value::String(v.into_owned()));
            }
        }
        out.rows.push(RawRow {
            line: line + at - 1,
            fields,
        });
        out.consumed = end;
        out.next_line = line + r.position().line() - 1;
    }
    out
}

fn read_ndjson(window: &[u8], at_eof: bool, line: u64, max: usize) -> Read {
    let mut out = Read {
        rows: Vec::new(),
        consumed: 0,
        next_line: line,
    };
    let mut pos = 0;
    while out.rows.len() < max && pos < window.len() {
        let (text, end) = match window[pos..].iter().position(|b| *b == b'\n') {
            Some(i) => (&window[pos..pos + i], pos + i + 1),
            None if at_eof => (&window[pos..], window.len()),
            None => break,
        };
        let n = out.next_line;
        pos = end;
        out.consumed = end;
        out.next_line += 1;
        if text.trim_ascii().is_empty() {
            continue;
        }
        // The file was scanned: every non-blank line is an object of known fields.
        let fields = ndjson_fields(text)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, v)| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty()))
            .collect();
        out.rows.push(RawRow { line: n, fields });
    }
    out
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
mod tests {
    use super::*;
    use crate::workflow::Node;

    fn csv(text: &str) -> Result<Layout, FileError> {
        scan(text.as_bytes(), SourceFormat::Csv)
    }

    fn all_rows(bytes: &[u8], layout: &Layout, window: usize, max: usize) -> Vec<RawRow> {
        let mut rows = Vec::new();
        let (mut offset, mut line) = (layout.data_offset as usize, layout.data_line);
        while offset < bytes.len() {
            let end = (offset + window).min(bytes.len());
            let r = read(&bytes[offset..end], end == bytes.len(), layout, line, max);
            assert!(
                r.consumed > 0 || end == bytes.len(),
                "no progress at {offset}"
            );
            if r.consumed == 0 {
                break;
            }
            offset += r.consumed;
            line = r.next_line;
            rows.extend(r.rows);
        }
        rows
    }

    #[test]
    fn the_template_is_a_file_that_imports() {
        let t = template();
        let layout = csv(&t).unwrap();
        assert_eq!(layout.total_rows, 1);
        let rows = all_rows(t.as_bytes(), &layout, 1 << 20, 10);
        let row = validate(&rows[0].fields).unwrap();
        assert_eq!(row.status, SessionStatus::Approved);
        assert_eq!(row.source_ref, "generic:crm-4711");
        assert_eq!(row.document["nationality"], "ESP");
        assert_eq!(row.steps.len(), 3);
    }

    #[test]
    fn malformed_files_name_their_first_bad_line() {
        let bad = [
            ("", 1, "empty"),
            ("vendor_data,status\n", 2, "no rows"),
            (
                "vendor_data,frist_name,status\na,b,Approved\n",
                1,
                "unknown column \"frist_name\"",
            ),
            ("vendor_data\na\n", 1, "required column \"status\""),
            ("vendor_data,status,status\na,b,c\n", 1, "appears twice"),
            (
                "vendor_data,status\na,Approved\nb,Approved,extra\n",
                3,
                "3 fields where the header has 2",
            ),
            (
                "vendor_data,status\na,Approved\n\"b\nc\",Approved\nd\n",
                5,
                "1 fields",
            ),
        ];
        for (text, line, msg) in bad {
            let e = csv(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.message.contains(msg), "{text:?}: {e}");
        }
        let e = scan(b"vendor_data,status\n\xff,Approved\n", SourceFormat::Csv).unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (2, "not valid UTF-8"));
        let nd = "{\"vendor_data\":\"a\",\"status\":\"Approved\"}\n\n[1]\n";
        let e = scan(nd.as_bytes(), SourceFormat::Ndjson).unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (3, "each line must be a JSON object")
        );
        let e = scan(b"{\"vendor_data\":\"a\",\"x\":1}\n", SourceFormat::Ndjson).unwrap_err();
        assert!(e.message.contains("unknown field \"x\""), "{e}");
        let e = scan(b"{\"vendor_data\":", SourceFormat::Ndjson).unwrap_err();
        assert!(e.message.starts_with("not valid JSON"), "{e}");
    }

    #[test]
    fn rows_are_read_alike_whatever_the_window_cuts() {
        let mut text = String::from("\u{feff}vendor_data,status,first_name\n");
        for i in 0..300 {
            text.push_str(&format!("v{i},Approved,\"Na\nme, {i}\"\n"));
        }
        let bytes = text.as_bytes();
        let layout = scan(bytes, SourceFormat::Csv).unwrap();
        assert_eq!((layout.total_rows, layout.data_line), (300, 2));
        let whole = all_rows(bytes, &layout, bytes.len(), usize::MAX);
        assert_eq!(whole.len(), 300);
        assert_eq!(whole[299].line, 2 + 299 * 2);
        assert_eq!(whole[7].fields["first_name"], "Na\nme, 7");
        for (window, max) in [(40, 3), (97, 1000), (1000, 7), (333, 1)] {
            assert_eq!(
                all_rows(bytes, &layout, window, max),
                whole,
                "window {window}"
            );
        }
        let mut nd = String::new();
        for i in 0..100 {
            nd.push_str(&format!(
                "{{\"vendor_data\":\"v{i}\",\"status\":\"Declined\"}}\n"
            ));
            if i % 10 == 0 {
                nd.push('\n');
            }
        }
        let nd = nd.trim_end().as_bytes();
        let layout = scan(nd, SourceFormat::Ndjson).unwrap();
        assert_eq!(layout.total_rows, 100);
        let whole = all_rows(nd, &layout, nd.len(), usize::MAX);
        assert_eq!((whole.len(), whole[1].line), (100, 3));
        for (window, max) in [(50, 2), (64, 1000), (999, 9)] {
            assert_eq!(all_rows(nd, &layout, window, max), whole, "window {window}");
        }
    }

    fn fields(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn rows_are_validated_field_by_field() {
        let e = validate(&fields(json!({
            "status": "Maybe", "date_of_birth": "17/05/1990", "nationality": "ES",
            "created_at": "yesterday", "aml_status": "??"
        })))
        .unwrap_err();
        let named: Vec<&str> = e.iter().map(|(f, _)| f).collect();
        assert_eq!(
            named,
            [
                "aml_status",
                "created_at",
                "date_of_birth",
                "nationality",
                "status",
                "vendor_data"
            ]
        );
        let ok = validate(&fields(json!({
            "vendor_data": " u1 ", "status": "green", "created_at": "2024-01-02",
            "decided_at": "2024-01-03T04:05:06+02:00", "gender": "f", "nationality": "esp"
        })))
        .unwrap();
        assert_eq!(ok.vendor_data, "u1");
        assert_eq!(ok.status, SessionStatus::Approved);
        assert_eq!(
            ok.created_at.unwrap().to_rfc3339(),
            "2024-01-02T00:00:00+00:00"
        );
        assert_eq!(
            ok.decided_at.unwrap().to_rfc3339(),
            "2024-01-03T02:05:06+00:00"
        );
        assert_eq!(ok.document["gender"], "F");
        assert_eq!(ok.document["nationality"], "ESP");
        assert!(ok.source_ref.starts_with("sha256:"));
        // The same fields digest alike in any order; an external id names the row instead.
        let again = validate(&fields(json!({
            "nationality": "esp", "gender": "f", "decided_at": "2024-01-03T04:05:06+02:00",
            "created_at": "2024-01-02", "status": "green", "vendor_data": " u1 "
        })))
        .unwrap();
        assert_eq!(again.source_ref, ok.source_ref);
        let named = validate(&fields(json!({
            "vendor_data": "u1", "status": "Pending", "external_id": "A-1", "provider": "sumsub"
        })))
        .unwrap();
        assert_eq!(
            (named.status, named.source_ref.as_str()),
            (SessionStatus::InReview, "sumsub:A-1")
        );
    }

    fn workflow(features: &[Feature]) -> WorkflowSpec {
        WorkflowSpec {
            kind: crate::WorkflowKind::User,
            nodes: features
                .iter()
                .enumerate()
                .map(|(i, f)| Node {
                    node_id: format!("n{i}"),
                    feature: *f,
                    config: Map::new(),
                    label: None,
                })
                .collect(),
        }
    }

    #[test]
    fn a_row_becomes_a_decided_session_with_its_steps_and_one_system_trail_row() {
        let now = Utc::now();
        let s = crate::session::test_session(SessionStatus::NotStarted, now);
        let row = validate(&fields(json!({
            "vendor_data": "u1", "status": "Declined", "first_name": "Ana", "last_name": "García",
            "issuing_state": "esp", "aml_status": "Declined", "comment": "from the old vendor"
        })))
        .unwrap();
        let origin = Origin {
            import_id: Uuid::from_u128(9),
            row_number: 4,
        };
        let wf = workflow(&[Feature::Ocr, Feature::Liveness, Feature::Aml]);
        let ch = first_change(&s, &wf, &row, origin, now).unwrap();
        assert_eq!(ch.status, Some(SessionStatus::Declined));
        assert_eq!(ch.full_name.as_deref(), Some("Ana García"));
        assert_eq!(ch.country.as_deref(), Some("ESP"));
        assert!(ch.events.is_empty() && ch.emails.is_empty());
        let steps: Vec<(&str, AttemptStatus)> = ch
            .attempts
            .iter()
            .map(|a| (a.node_id.as_str(), a.status))
            .collect();
        assert_eq!(
            steps,
            [
                ("n0", AttemptStatus::Declined),
                ("n2", AttemptStatus::Declined)
            ]
        );
        assert_eq!(ch.attempts[0].data["last_name"], "García");
        let [review] = ch.reviews.as_slice() else {
            panic!("one trail row")
        };
        assert_eq!(review.actor_type, ActorType::System);
        assert_eq!(review.activity_type, ActivityType::Import);
        assert_eq!(review.comment.as_deref(), Some("from the old vendor"));
        assert_eq!(review.metadata["row_number"], 4);
        // A field the workflow cannot hold fails the row.
        let e = first_change(&s, &workflow(&[Feature::Liveness]), &row, origin, now).unwrap_err();
        let named: Vec<&str> = e.iter().map(|(f, _)| f).collect();
        assert_eq!(named, ["aml_status", "first_name"]);
    }
}
