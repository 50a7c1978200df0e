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

proptest::proptest! {
    /// Any bytes, as either format: the whole-file check and the windowed reading answer
    /// (rows or a line-numbered error), never panic.
    #[test]
    fn arbitrary_files_are_checked_and_read_without_panicking(
        bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048),
        ndjson in proptest::bool::ANY,
        cut in 0usize..2048,
    ) {
        let format = if ndjson { SourceFormat::Ndjson } else { SourceFormat::Csv };
        if let Ok(layout) = scan(&bytes, format) {
            let cut = cut.min(bytes.len());
            let _ = read(&bytes[..cut], false, &layout, 1, 64 * 1024);
            let _ = read(&bytes, true, &layout, 1, 64 * 1024);
        }
    }

    /// Text that looks like a file: a real header, then arbitrary cells.
    #[test]
    fn arbitrary_rows_under_a_real_header_are_validated_without_panicking(
        cells in proptest::collection::vec("[ -~\u{a0}-\u{17f}\"\n,]{0,30}", 1..40),
    ) {
        let text = format!("vendor_data,status,first_name,date_of_birth,aml_status\n{}", cells.join(","));
        if let Ok(layout) = scan(text.as_bytes(), SourceFormat::Csv) {
            let _ = read(text.as_bytes(), true, &layout, 1, 64 * 1024);
        }
    }
}
