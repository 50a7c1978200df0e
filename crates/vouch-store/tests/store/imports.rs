//! Bulk imports through the Store trait: a job with its file, runs that import their rows with
//! the job's position in one transaction (a stale run writes nothing, a re-run of the file
//! skips), failed runs (retried, then failed for good with the file deleted), and the same
//! failure path of batch deletion jobs.

use vouch_core::imports::{self as core, SourceFormat};
use vouch_core::SessionId;
use vouch_store::{BatchRow, DeletionRequest, ImportBatch, ImportFile, ImportJob};

use crate::fixtures::*;

fn job(app: &App, wf: &WorkflowRecord, now: DateTime<Utc>) -> ImportJob {
    ImportJob::new(
        Uuid::now_v7(),
        app.id,
        wf.id,
        "csv",
        "f.csv".into(),
        None,
        now,
    )
}

/// The next `max` rows of the job's file as the runner hands them to the store.
async fn next_batch(
    s: &Arc<dyn Store>,
    j: &ImportJob,
    max: usize,
    now: DateTime<Utc>,
) -> ImportBatch {
    let (window, total) = s
        .import_window(j.id, j.next_offset, 1 << 20)
        .await
        .unwrap()
        .expect("the file");
    let layout = core::Layout {
        format: SourceFormat::Csv,
        columns: j.columns.clone().unwrap(),
        total_rows: j.total_rows as u64,
        data_offset: j.next_offset as u64,
        data_line: j.next_line as u64,
    };
    let at_eof = j.next_offset + window.len() as i64 >= total;
    let read = core::read(&window, at_eof, &layout, j.next_line as u64, max);
    let at_end = at_eof && read.rows.len() < max;
    ImportBatch {
        job_id: j.id,
        from_offset: j.next_offset,
        to_offset: if at_end {
            total
        } else {
            j.next_offset + read.consumed as i64
        },
        next_line: read.next_line as i64,
        rows: read
            .rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| BatchRow {
                row_number: j.processed_rows + 1 + i as i64,
                line: r.line as i64,
                parsed: core::validate(&r.fields)
                    .map(|row| (row, SessionId::random(), format!("tok-{}", Uuid::new_v4()))),
                raw: r.fields,
            })
            .collect(),
        at_end,
        now,
    }
}

pub async fn import_runs_keep_their_position_and_a_rerun_skips(db: Db) {
    let s = db.store.clone();
    let app = make_app(&s, "importer", t(0)).await;
    let wf = make_workflow(&s, app.id, &["OCR"], true, t(1)).await;
    let file = "vendor_data,status,first_name\nu1,Approved,Ana\nu2,nope,Bea\nu3,Declined,Cy\nu1,Approved,Ana\n";
    let layout = core::scan(file.as_bytes(), SourceFormat::Csv).unwrap();
    let j = job(&app, &wf, t(2));
    let f = ImportFile {
        content: file.as_bytes().to_vec(),
        layout,
    };
    fresh(s.create_import(j.clone(), Some(f), None).await.unwrap());
    let claimed = s.claim_imports(t(3), t(300), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let j = &claimed[0];
    assert_eq!((j.total_rows, j.next_line, j.attempts), (4, 2, 1));
    // Leased: not claimed twice.
    assert!(s.claim_imports(t(4), t(300), 10).await.unwrap().is_empty());

    let first = next_batch(&s, j, 2, t(5)).await;
    let after = s
        .import_rows(first.clone(), core::first_change)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            after.processed_rows,
            after.created_count,
            after.failed_count,
            after.state.as_str()
        ),
        (2, 1, 1, "pending")
    );
    assert_eq!(after.next_line, 4);
    // The same run again (a run that lost its lease): nothing written twice.
    let again = s
        .import_rows(first, core::first_change)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, after);
    let (errors, count) = s.import_errors(j.id, 50, 0).await.unwrap();
    assert_eq!(count, 1);
    assert_eq!(
        (
            errors[0].row_number,
            errors[0].line,
            errors[0].field.as_str()
        ),
        (2, 3, "status")
    );
    assert_eq!(errors[0].raw_row["first_name"], "Bea");

    // The rest: row 4 repeats row 1, skipped.
    let rest = next_batch(&s, &after, 10, t(6)).await;
    let done = s
        .import_rows(rest, core::first_change)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            done.processed_rows,
            done.created_count,
            done.skipped_count,
            done.failed_count
        ),
        (4, 2, 1, 1)
    );
    assert_eq!(done.state, "done");
    assert_eq!(done.done_at, Some(t(6)));
    // The file is gone with the job's end; its sessions are decided.
    assert!(s.import_window(j.id, 0, 10).await.unwrap().is_none());
    let page = s
        .list_sessions(
            app.id,
            &vouch_store::SessionFilter::default(),
            vouch_store::Page {
                limit: 10,
                offset: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.1, 2);
    let mut statuses: Vec<SessionStatus> = page.0.iter().map(|x| x.status).collect();
    statuses.sort_by_key(|x| x.as_str());
    assert_eq!(statuses, [SessionStatus::Approved, SessionStatus::Declined]);
    assert!(s
        .claim_imports(t(400), t(700), 10)
        .await
        .unwrap()
        .is_empty());

    // Another application's import of the same rows is its own.
    let other = make_app(&s, "other", t(0)).await;
    assert!(s.import_job(other.id, j.id).await.unwrap().is_none());
}

pub async fn failed_runs_are_retried_then_fail_for_good(db: Db) {
    let s = db.store.clone();
    let app = make_app(&s, "importer", t(0)).await;
    let wf = make_workflow(&s, app.id, &["OCR"], true, t(1)).await;
    let mut j = job(&app, &wf, t(2));
    j.source_url = Some("https://files.example/x.csv".into());
    fresh(s.create_import(j.clone(), None, None).await.unwrap());
    let claimed = s.claim_imports(t(3), t(300), 10).await.unwrap();
    assert!(claimed[0].columns.is_none(), "not fetched yet");
    s.fail_import_run(j.id, "fetching: refused".into(), Some(t(10)), t(4))
        .await
        .unwrap();
    assert!(
        s.claim_imports(t(5), t(300), 10).await.unwrap().is_empty(),
        "due at t(10)"
    );
    assert_eq!(s.next_import_due().await.unwrap(), Some(t(10)));
    let again = s.claim_imports(t(10), t(300), 10).await.unwrap();
    assert_eq!(
        (again[0].attempts, again[0].last_error.as_deref()),
        (2, Some("fetching: refused"))
    );
    s.fail_import_run(j.id, "line 2: not valid JSON".into(), None, t(11))
        .await
        .unwrap();
    let failed = s.import_job(app.id, j.id).await.unwrap().unwrap();
    assert_eq!(failed.state, "failed");
    assert_eq!(failed.done_at, Some(t(11)));
    assert!(s
        .claim_imports(t(1000), t(1300), 10)
        .await
        .unwrap()
        .is_empty());

    // Batch deletion jobs fail alike.
    for i in 0..(vouch_store::INLINE + 1) {
        create(
            &s,
            new_session(app.id, Some(wf.id), Some(&format!("d{i}")), t(20)),
        )
        .await;
    }
    let answer = fresh(
        s.request_deletion(
            app.id,
            DeletionRequest {
                numbers: None,
                now: t(30),
                job_id: Uuid::new_v4(),
            },
            None,
        )
        .await
        .unwrap(),
    );
    let vouch_store::DeletionAnswer::Queued(batch) = answer else {
        panic!("a job: {answer:?}")
    };
    s.claim_batch_jobs(t(31), t(300), 10).await.unwrap();
    s.fail_batch_run(batch.id, "boom".into(), None, t(32))
        .await
        .unwrap();
    let b = s.batch_job(app.id, batch.id).await.unwrap().unwrap();
    assert_eq!(
        (b.state.as_str(), b.last_error.as_deref()),
        ("failed", Some("boom"))
    );
}
