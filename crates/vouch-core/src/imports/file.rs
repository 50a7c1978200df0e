//! The canonical file as bytes: its structural check, and its rows read window by window.

use serde_json::{Map, Value};

use super::{known, SourceFormat, COLUMNS, MAX_ROWS, MAX_ROW_BYTES};

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
