//! The import runner: the fifth queue of the shared job runner (`jobs`). A job whose file is to
//! be fetched gets it first (through the webhooks' address guard, outside any transaction) and
//! has it checked whole: a malformed file fails the job naming its first bad line, before any
//! row is imported. Each run then reads the next window of the file, validates its rows (pure,
//! outside the writer) and hands them to the store, which imports them with the job's counters
//! and position in one transaction. A crash between runs repeats nothing and loses nothing.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::distr::{Alphanumeric, SampleString};
use tokio::sync::{watch, Notify};
use uuid::Uuid;
use vouch_core::imports::{self as core, Layout, SourceFormat};
use vouch_core::SessionId;
use vouch_store::{BatchRow, ImportBatch, ImportFile, ImportJob, Store, StoreResult};

use crate::config::Config;
use crate::jobs::{self, Limits, Queue};
use crate::webhooks::ssrf;

/// Bytes of the file one run reads: many rows, and always more than the longest one.
const WINDOW: i64 = 4 * 1024 * 1024;

/// Waits before a failed run is tried again; after the last the job is failed.
const RETRY_SCHEDULE: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(10),
    Duration::from_secs(60),
];

struct Imports {
    store: Arc<dyn Store>,
    client: reqwest::Client,
    allow_private: bool,
    max_file_bytes: usize,
    rows_per_run: usize,
}

/// Why a run stopped: to be tried again, or the job's end.
enum Stop {
    Retry(String),
    Fail(String),
}

impl From<vouch_store::StoreError> for Stop {
    fn from(e: vouch_store::StoreError) -> Self {
        Stop::Retry(e.to_string())
    }
}

/// How the rest of a checked file is read.
fn layout_of(job: &ImportJob) -> Option<Layout> {
    Some(Layout {
        format: SourceFormat::parse(&job.source_format)?,
        columns: job.columns.clone()?,
        total_rows: job.total_rows as u64,
        data_offset: job.next_offset as u64,
        data_line: job.next_line as u64,
    })
}

/// The rows of a window as the store takes them: each validated, with the ids its session
/// would take.
fn batch_rows(rows: Vec<core::RawRow>, first_number: i64, provider: &str) -> Vec<BatchRow> {
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| BatchRow {
            row_number: first_number + i as i64,
            line: r.line as i64,
            parsed: core::validate(&with_provider(&r.fields, provider)).map(|row| {
                (
                    row,
                    SessionId::random(),
                    Alphanumeric.sample_string(&mut rand::rng(), 32),
                )
            }),
            raw: r.fields,
        })
        .collect()
}

/// The row's fields, with the job's provider when the row names none.
fn with_provider<'a>(
    fields: &'a serde_json::Map<String, serde_json::Value>,
    provider: &str,
) -> std::borrow::Cow<'a, serde_json::Map<String, serde_json::Value>> {
    if fields.contains_key("provider") || provider == "generic" {
        return std::borrow::Cow::Borrowed(fields);
    }
    let mut f = fields.clone();
    f.insert("provider".into(), provider.into());
    std::borrow::Cow::Owned(f)
}

/// The job's sessions passed 500, 5,000, 50,000, … since the last run.
fn grew_tenfold(before: i64, after: i64) -> bool {
    let mut mark = 500;
    while mark <= after {
        if before < mark {
            return true;
        }
        mark *= 10;
    }
    false
}

impl Imports {
    /// Fetches a job's `source_file_url` and keeps it once it passed its check.
    async fn fetch(&self, job: &ImportJob) -> Result<(), Stop> {
        let Some(url) = job.source_url.as_deref() else {
            return Err(Stop::Fail(
                "the job has neither a file nor a source_file_url".into(),
            ));
        };
        let url = ssrf::check_url(url, self.allow_private)
            .map_err(|e| Stop::Fail(format!("source_file_url: {e}")))?;
        let resp = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| match ssrf::rejection_of(&e) {
                Some(r) => Stop::Fail(format!("source_file_url: {r}")),
                None => Stop::Retry(format!("fetching source_file_url: {e}")),
            })?;
        let status = resp.status();
        if !status.is_success() {
            let msg = format!("fetching source_file_url: the server answered {status}");
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                Stop::Retry(msg)
            } else {
                Stop::Fail(msg)
            });
        }
        let mut body = Vec::new();
        let mut resp = resp;
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| Stop::Retry(format!("fetching source_file_url: {e}")))?
        {
            if body.len() + chunk.len() > self.max_file_bytes {
                return Err(Stop::Fail(format!(
                    "the file at source_file_url is larger than {} bytes",
                    self.max_file_bytes
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let format = SourceFormat::parse(&job.source_format).unwrap_or(SourceFormat::Csv);
        let layout = core::scan(&body, format).map_err(|e| Stop::Fail(e.to_string()))?;
        self.store
            .attach_import_file(
                job.id,
                ImportFile {
                    content: body,
                    layout,
                },
                crate::clock::now(),
            )
            .await?;
        Ok(())
    }

    /// One run: the file fetched if it is not here yet, then the next rows imported.
    async fn step(&self, job: &ImportJob) -> Result<Option<ImportJob>, Stop> {
        let mut job = job.clone();
        if job.columns.is_none() {
            self.fetch(&job).await?;
            match self.store.import_job(job.app_id, job.id).await? {
                Some(j) => job = j,
                None => return Ok(None),
            }
        }
        let Some((window, total_len)) = self
            .store
            .import_window(job.id, job.next_offset, WINDOW)
            .await?
        else {
            return Err(Stop::Fail("the job's file is gone".into()));
        };
        let layout =
            layout_of(&job).ok_or_else(|| Stop::Fail("the job's file was not checked".into()))?;
        let at_eof = job.next_offset + window.len() as i64 >= total_len;
        let read = core::read(
            &window,
            at_eof,
            &layout,
            job.next_line as u64,
            self.rows_per_run,
        );
        if read.consumed == 0 && !at_eof {
            return Err(Stop::Fail(format!(
                "line {}: a row does not fit in {WINDOW} bytes",
                job.next_line
            )));
        }
        // The reader stopped short of the run's rows at the end of the file: nothing is left
        // (blank lines at most).
        let at_end = at_eof && read.rows.len() < self.rows_per_run;
        let to_offset = if at_end {
            total_len
        } else {
            job.next_offset + read.consumed as i64
        };
        let batch = ImportBatch {
            job_id: job.id,
            from_offset: job.next_offset,
            to_offset,
            next_line: read.next_line as i64,
            rows: batch_rows(read.rows, job.processed_rows + 1, &job.provider),
            at_end,
            now: crate::clock::now(),
        };
        let before = job.created_count;
        let after = self
            .store
            .import_rows(batch, vouch_core::imports::first_change)
            .await?;
        if let Some(j) = &after {
            if grew_tenfold(before, j.created_count) {
                if let Err(e) = self.store.refresh_import_statistics().await {
                    tracing::warn!(job = %j.id, error = %e, "cannot refresh the planner's statistics");
                }
            }
        }
        Ok(after)
    }
}

#[async_trait]
impl Queue for Imports {
    type Job = ImportJob;
    type Outcome = ();
    type Id = Uuid;
    type Lane = ();

    fn name(&self) -> &'static str {
        "imports"
    }

    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
        _skip_lanes: Vec<()>,
    ) -> StoreResult<Vec<ImportJob>> {
        self.store.claim_imports(now, lease_until, limit).await
    }

    fn id(&self, job: &ImportJob) -> Uuid {
        job.id
    }

    async fn run(&self, job: ImportJob) {
        let (retry_at, error) = match self.step(&job).await {
            Ok(Some(j)) if j.state == "done" => {
                tracing::info!(
                    job = %j.id, created = j.created_count, skipped = j.skipped_count,
                    failed = j.failed_count, "import finished"
                );
                return;
            }
            Ok(_) => return,
            Err(Stop::Fail(e)) => (None, e),
            Err(Stop::Retry(e)) => (
                // `attempts` counts the claims, this one included.
                RETRY_SCHEDULE
                    .get(job.attempts.saturating_sub(1) as usize)
                    .map(|w| {
                        crate::clock::now() + chrono::Duration::from_std(*w).unwrap_or_default()
                    }),
                e,
            ),
        };
        tracing::warn!(job = %job.id, error = %error, retrying = retry_at.is_some(), "an import run failed");
        if let Err(e) = self
            .store
            .fail_import_run(job.id, error, retry_at, crate::clock::now())
            .await
        {
            tracing::warn!(job = %job.id, error = %e, "cannot record the failed run; its lease will end");
        }
    }

    async fn record(&self, _outcomes: Vec<()>) -> StoreResult<()> {
        Ok(())
    }

    async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.store.next_import_due().await
    }

    async fn release(&self, ids: Vec<Uuid>) -> StoreResult<usize> {
        self.store.release_imports(ids).await
    }

    async fn release_at_start(&self) -> StoreResult<usize> {
        self.store.release_import_leases_at_start().await
    }

    fn wake(&self) -> Arc<Notify> {
        self.store.import_signal()
    }
}

pub fn spawn(
    store: Arc<dyn Store>,
    cfg: &Config,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let limits = Limits {
        batch: 2,
        max_in_flight: 2,
        per_lane: 1,
        lease: Duration::from_secs(120),
        poll: Duration::from_secs(1),
        grace: cfg.workers.shutdown_grace,
    };
    let queue = Imports {
        store,
        client: ssrf::client(cfg.allow_private_destinations, cfg.imports.fetch_timeout)?,
        allow_private: cfg.allow_private_destinations,
        max_file_bytes: cfg.imports.max_file_bytes,
        rows_per_run: cfg.imports.rows_per_run.max(1),
    };
    Ok(jobs::spawn(Arc::new(queue), limits, stop))
}

#[cfg(test)]
mod tests {
    #[test]
    fn statistics_are_refreshed_at_each_tenfold_growth() {
        let marks: Vec<(i64, i64)> = [
            (0, 499),
            (0, 500),
            (499, 998),
            (500, 1000),
            (4999, 5000),
            (5000, 9000),
            (40_000, 60_000),
        ]
        .into_iter()
        .filter(|(b, a)| super::grew_tenfold(*b, *a))
        .collect();
        assert_eq!(
            marks,
            [(0, 500), (499, 998), (4999, 5000), (40_000, 60_000)]
        );
    }
}
