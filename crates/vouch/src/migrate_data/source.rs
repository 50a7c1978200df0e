//! The SQLite side: opening the file read-only, checking its schema version, and reading every
//! table (in one read transaction, so the copy is a consistent snapshot) in batches.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::mpsc::Sender;
use vouch_store::sqlite::path_from_url;

use super::values::{convert, Kind, Val};

/// The SQLite schema version this build copies (its last SQLite migration).
pub const SCHEMA_VERSION: i64 = vouch_store::sqlite::migrate::LATEST;

/// Rows sent to the writer at a time.
const BATCH: usize = 2_000;

/// The file named by `--from`: a path, `sqlite://path` or `sqlite:path`.
pub fn sqlite_path(from: &str) -> anyhow::Result<PathBuf> {
    if from.starts_with("sqlite:") {
        path_from_url(from).with_context(|| format!("--from {from:?} names no file"))
    } else if from.is_empty() {
        bail!("--from names no file")
    } else {
        Ok(PathBuf::from(from))
    }
}

/// A table of the source: its columns in SQLite order and how many rows the snapshot holds.
#[derive(Debug, Clone)]
pub struct SourceTable {
    pub name: &'static str,
    pub columns: Vec<String>,
    pub rows: u64,
}

/// Opens the file read-only, refuses anything but a vouch database at `SCHEMA_VERSION`, and
/// starts the read transaction every later read belongs to.
pub fn open(
    path: &Path,
    tables: &[&'static str],
) -> anyhow::Result<(Connection, Vec<SourceTable>)> {
    if !path.exists() {
        bail!(
            "no SQLite database at {}: the file does not exist",
            path.display()
        );
    }
    if !path.is_file() {
        bail!("{} is not a SQLite database file", path.display());
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {} read-only", path.display()))?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let not_vouch = || format!("{} is not a vouch SQLite database", path.display());
    conn.execute_batch("BEGIN")?;
    let has_versions: bool = conn
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')",
            [],
            |r| r.get(0),
        )
        .with_context(not_vouch)?;
    if !has_versions {
        bail!("{} (it has no schema_migrations table)", not_vouch());
    }
    let version: Option<i64> =
        conn.query_row("SELECT max(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })?;
    match version {
        Some(SCHEMA_VERSION) => {}
        Some(v) if v > SCHEMA_VERSION => bail!(
            "{} has SQLite schema version {v}, newer than this build knows ({SCHEMA_VERSION}): \
             copy it with the vouch build that wrote it",
            path.display()
        ),
        v => bail!(
            "{} has SQLite schema version {}, but this build copies version {SCHEMA_VERSION} only: \
             run `vouch migrate` with this build on it first (database_url = \"sqlite://{}\"), \
             then run migrate-data again",
            path.display(),
            v.map_or("none".into(), |v| v.to_string()),
            path.display()
        ),
    }
    let mut out = Vec::with_capacity(tables.len());
    for &name in tables {
        let mut st = conn.prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?;
        let columns = st
            .query_map([name], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        if columns.is_empty() {
            bail!("{} has no table {name}", not_vouch());
        }
        let rows: i64 = conn.query_row(&format!("SELECT count(*) FROM \"{name}\""), [], |r| {
            r.get(0)
        })?;
        out.push(SourceTable {
            name,
            columns,
            rows: rows as u64,
        });
    }
    Ok((conn, out))
}

/// What the reader sends: a batch of rows, the end of the current table, or why it stopped.
pub enum Chunk {
    Rows(Vec<Vec<Val>>),
    End,
}

pub type Message = anyhow::Result<Chunk>;

/// Reads every table in order, converting each value to its column's kind, and sends the rows
/// in batches (an `End` after each table). Stops early when the receiver is gone.
pub fn read_all(conn: Connection, plan: &[(SourceTable, Vec<Kind>)], tx: Sender<Message>) {
    for (table, kinds) in plan {
        match read_table(&conn, table, kinds, &tx) {
            Ok(true) => {
                if tx.blocking_send(Ok(Chunk::End)).is_err() {
                    return;
                }
            }
            Ok(false) => return,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    }
    let _ = conn.execute_batch("COMMIT");
}

/// Answers false when the receiver went away.
fn read_table(
    conn: &Connection,
    table: &SourceTable,
    kinds: &[Kind],
    tx: &Sender<Message>,
) -> anyhow::Result<bool> {
    let cols: Vec<String> = table.columns.iter().map(|c| format!("\"{c}\"")).collect();
    let sql = format!("SELECT rowid, {} FROM \"{}\"", cols.join(", "), table.name);
    let mut st = conn
        .prepare(&sql)
        .with_context(|| format!("reading {}", table.name))?;
    let mut rows = st.query([])?;
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(row) = rows.next()? {
        let mut vals = Vec::with_capacity(kinds.len());
        for (i, kind) in kinds.iter().enumerate() {
            let v = row.get_ref(i + 1)?;
            vals.push(convert(*kind, v).map_err(|e| {
                let rowid = row.get::<_, i64>(0).unwrap_or_default();
                anyhow::anyhow!(
                    "{} row {rowid} (rowid), column {}: {e}",
                    table.name,
                    table.columns[i]
                )
            })?);
        }
        batch.push(vals);
        if batch.len() == BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            if tx.blocking_send(Ok(Chunk::Rows(full))).is_err() {
                return Ok(false);
            }
        }
    }
    if !batch.is_empty() && tx.blocking_send(Ok(Chunk::Rows(batch))).is_err() {
        return Ok(false);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_urls() {
        assert_eq!(sqlite_path("a/b.db").unwrap(), PathBuf::from("a/b.db"));
        assert_eq!(
            sqlite_path("sqlite://a/b.db").unwrap(),
            PathBuf::from("a/b.db")
        );
        assert_eq!(sqlite_path("sqlite:b.db").unwrap(), PathBuf::from("b.db"));
        assert!(sqlite_path("sqlite://").is_err());
    }

    #[test]
    fn refuses_missing_files_and_old_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.db");
        let e = open(&missing, &["apps"]).unwrap_err().to_string();
        assert!(e.contains("does not exist"), "{e}");

        let old = dir.path().join("old.db");
        let c = Connection::open(&old).unwrap();
        c.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
             INSERT INTO schema_migrations VALUES (1, 'x'), (2, 'x');",
        )
        .unwrap();
        drop(c);
        let e = open(&old, &["apps"]).unwrap_err().to_string();
        assert!(
            e.contains("version 2") && e.contains("vouch migrate"),
            "{e}"
        );

        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let e = open(&other, &["apps"]).unwrap_err().to_string();
        assert!(e.contains("not a vouch SQLite database"), "{e}");
    }
}
