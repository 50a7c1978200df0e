//! `vouch migrate-data`: copies a SQLite database into PostgreSQL.
//!
//! The SQLite file is opened read-only and read in one read transaction (a consistent snapshot).
//! The target is migrated by `PgStore::connect`, must be empty, and receives every table in one
//! transaction through binary COPY: an error or a crash part-way leaves it empty. Values are
//! converted by the target column's type (uuid, timestamptz, boolean, bytea, bigint, json as the
//! exact SQLite text); the identity sequences are moved past the copied ids; the review chains
//! are verified on the target at the end.

mod progress;
mod source;
mod values;

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{bail, Context};
use tokio::sync::mpsc;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Transaction;
use vouch_store::postgres::{is_postgres_url, PgOptions, PgStore};
use vouch_store::Store;

use crate::server::redact_url;
use progress::{rate, secs, Progress};
use source::{Chunk, Message, SourceTable};
use values::Kind;

/// Every table, parents before children (foreign keys are checked row by row).
pub const TABLES: &[&str] = &[
    "apps",
    "api_keys",
    "workflows",
    "sessions",
    "attempts",
    "reviews",
    "outbox_events",
    "idempotency_keys",
    "email_jobs",
    "webhook_destinations",
    "webhook_deliveries",
    "webhook_attempts",
    "settings",
    "person_codes",
    "media_keys",
    "media",
    "engine_jobs",
    "sandbox_plans",
    "sandbox_phone_numbers",
    "batch_jobs",
    "share_redemptions",
    "import_jobs",
    "import_files",
    "import_errors",
    "import_refs",
    "probes",
    "console_users",
    "console_logins",
    "console_events",
    "console_claims",
    "console_staged",
    "console_app_settings",
];

/// Identity columns whose sequences must continue after the copied values.
const IDENTITIES: &[(&str, &str)] = &[("outbox_events", "seq"), ("webhook_attempts", "id")];

pub async fn run(from: &str, to: &PgOptions, progress: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let path = source::sqlite_path(from)?;
    if !is_postgres_url(&to.url) {
        bail!(
            "the target must be a PostgreSQL database (postgres://…): pass --to or set database_url \
             (got {:?})",
            redact_url(&to.url)
        );
    }
    let target = redact_url(&to.url);

    let open_path = path.clone();
    let (conn, tables) =
        tokio::task::spawn_blocking(move || source::open(&open_path, TABLES)).await??;

    // Creates (or brings up to date) the target's schema, under PgStore's advisory lock.
    let store = PgStore::connect(to)
        .await
        .with_context(|| format!("connecting to {target}"))?;
    drop(store);
    let tls = vouch_store::postgres::tls::from_url(&to.url, to.ca_file.as_deref())?;
    let (mut client, connection) = tokio_postgres::connect(&tls.url, tls.connector)
        .await
        .with_context(|| format!("connecting to {target}"))?;
    let driver = tokio::spawn(connection);

    let plan = plan(&client, &tables).await?;
    let tx = client.transaction().await?;
    refuse_non_empty(&tx).await?;

    let (sender, mut receiver) = mpsc::channel::<Message>(8);
    let reader_plan = plan.clone();
    let reader = tokio::task::spawn_blocking(move || source::read_all(conn, &reader_plan, sender));

    let totals: Vec<(&'static str, u64)> = tables.iter().map(|t| (t.name, t.rows)).collect();
    let bars = Progress::new(progress, &totals);
    let mut copied = Vec::with_capacity(plan.len());
    for (i, (table, kinds)) in plan.iter().enumerate() {
        let t0 = Instant::now();
        bars.start(i);
        let n = match copy_table(&tx, table, kinds, &mut receiver, &bars, i).await {
            Ok(n) => n,
            Err(e) => {
                bars.abandon();
                bars.done();
                return Err(e.context(format!(
                    "copying {} (nothing was written to {target})",
                    table.name
                )));
            }
        };
        bars.finish(i, n, t0.elapsed());
        copied.push((table.name, n, t0.elapsed()));
    }
    bars.done();
    reader.await?;
    for (table, column) in IDENTITIES {
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
                 COALESCE(max({column}), 0) + 1, false) FROM {table}"
            ),
            &[],
        )
        .await
        .with_context(|| format!("moving the {table}.{column} sequence"))?;
    }
    // Each application's session numbers continue after the copied ones.
    for row in tx
        .query("SELECT id, next_session_number FROM apps", &[])
        .await?
    {
        tx.batch_execute(&vouch_store::postgres::number_sequence_sql(
            row.get::<_, uuid::Uuid>(0).into(),
            row.get(1),
        ))
        .await
        .context("creating the applications' session number sequences")?;
    }
    tx.commit()
        .await
        .with_context(|| format!("committing the copy to {target} (nothing was written)"))?;
    drop(client);
    let _ = driver.await;
    let took = started.elapsed();

    let total: u64 = copied.iter().map(|(_, n, _)| n).sum();
    println!(
        "copied {} into {target}: {total} rows in {} ({})",
        path.display(),
        secs(took),
        rate(total, took)
    );
    for (name, n, t) in &copied {
        println!("  {name:<22} {n:>10} rows  {:>8}", secs(*t));
    }
    verify(to, &target).await
}

/// Each source table's columns with their kind in the target; every SQLite column must exist
/// there with a type this build converts to.
async fn plan(
    client: &tokio_postgres::Client,
    tables: &[SourceTable],
) -> anyhow::Result<Vec<(SourceTable, Vec<Kind>)>> {
    let mut out = Vec::with_capacity(tables.len());
    for table in tables {
        let rows = client
            .query(
                "SELECT attname::text, atttypid FROM pg_attribute \
                 WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped",
                &[&table.name],
            )
            .await
            .with_context(|| format!("the target has no table {}", table.name))?;
        let target: HashMap<String, u32> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let mut kinds = Vec::with_capacity(table.columns.len());
        for col in &table.columns {
            let oid = target
                .get(col)
                .with_context(|| format!("the target's {} has no column {col}", table.name))?;
            let ty = Type::from_oid(*oid);
            let kind = ty.as_ref().and_then(Kind::of).with_context(|| {
                format!(
                    "the target's {}.{col} has a type migrate-data cannot fill ({})",
                    table.name,
                    ty.map_or(format!("oid {oid}"), |t| t.name().to_string())
                )
            })?;
            kinds.push(kind);
        }
        out.push((table.clone(), kinds));
    }
    Ok(out)
}

/// Locks the tables against writers (and a concurrent migrate-data) and refuses a target that
/// already holds rows.
async fn refuse_non_empty(tx: &Transaction<'_>) -> anyhow::Result<()> {
    tx.batch_execute(&format!(
        "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
        TABLES.join(", ")
    ))
    .await
    .context("locking the target's tables")?;
    let mut held = Vec::new();
    for table in TABLES {
        let n: i64 = tx
            .query_one(
                &format!("SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1000) t"),
                &[],
            )
            .await?
            .get(0);
        if n > 0 {
            held.push(format!(
                "{table}: {}{n}",
                if n == 1000 { "at least " } else { "" }
            ));
        }
    }
    if !held.is_empty() {
        bail!(
            "the target database already holds data ({}); migrate-data copies into an empty \
             database only. Nothing was written.",
            held.join(", ")
        );
    }
    Ok(())
}

async fn copy_table(
    tx: &Transaction<'_>,
    table: &SourceTable,
    kinds: &[Kind],
    receiver: &mut mpsc::Receiver<Message>,
    bars: &Progress,
    index: usize,
) -> anyhow::Result<u64> {
    let cols: Vec<String> = table.columns.iter().map(|c| format!("\"{c}\"")).collect();
    let sink = tx
        .copy_in(&format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            table.name,
            cols.join(", ")
        ))
        .await?;
    let types: Vec<Type> = kinds.iter().map(|k| k.copy_type()).collect();
    let writer = BinaryCopyInWriter::new(sink, &types);
    let mut writer = std::pin::pin!(writer);
    let mut sent = 0u64;
    loop {
        match receiver.recv().await {
            Some(Ok(Chunk::Rows(rows))) => {
                for row in &rows {
                    let refs: Vec<&(dyn ToSql + Sync)> = row.iter().map(|v| v.as_sql()).collect();
                    writer.as_mut().write(&refs).await?;
                }
                sent += rows.len() as u64;
                bars.advance(index, rows.len() as u64);
            }
            Some(Ok(Chunk::End)) => break,
            Some(Err(e)) => return Err(e),
            None => bail!("the SQLite reader stopped unexpectedly"),
        }
    }
    let written = writer.as_mut().finish().await?;
    if written != sent || sent != table.rows {
        bail!(
            "{}: read {sent} of {} rows, PostgreSQL took {written}",
            table.name,
            table.rows
        );
    }
    Ok(written)
}

/// Verifies every review chain on the target through the store, as `vouch audit verify` does.
async fn verify(to: &PgOptions, target: &str) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let store = PgStore::connect(to)
        .await
        .with_context(|| format!("reconnecting to {target} to verify the review chains"))?;
    let (chains, broken) = store
        .verify_reviews(None)
        .await
        .context("verifying the review chains on the target")?;
    if !broken.is_empty() {
        let first: Vec<String> = broken
            .iter()
            .take(5)
            .map(|(id, b)| format!("session {id} at row {} ({}): {}", b.seq, b.uuid, b.reason))
            .collect();
        bail!(
            "the copy was committed, but {} of {chains} review chains do not verify on the target \
             (first: {})",
            broken.len(),
            first.join("; ")
        );
    }
    println!(
        "verified {chains} review chains on the target: all intact ({})",
        secs(t0.elapsed())
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::TABLES;

    /// Every table of a SQLite database at the latest schema is copied or rebuilt by the
    /// target: a table added by a migration and forgotten here would be lost by the copy.
    /// Tables not copied: the target's triggers fill them as the sessions are copied (the
    /// session tallies the lists count from).
    const DERIVED: &[&str] = &["session_tallies", "session_day_tallies"];

    #[test]
    fn every_table_of_the_schema_is_copied() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vouch.db");
        vouch_store::sqlite::SqliteStore::migrate_file(&path).unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut st = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table'
                 AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name",
            )
            .unwrap();
        let mut found: Vec<String> = st
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut copied: Vec<String> = TABLES
            .iter()
            .chain(DERIVED)
            .map(|t| t.to_string())
            .collect();
        found.sort();
        copied.sort();
        assert_eq!(found, copied);
    }
}
