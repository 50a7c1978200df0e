//! Embedded migrations, applied in order on start; each runs in its own transaction.

use chrono::Utc;
use rusqlite::Connection;

use super::driver::ts;
use crate::{StoreError, StoreResult};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../../migrations/sqlite/0002_review.sql")),
    (3, include_str!("../../migrations/sqlite/0003_webhooks.sql")),
    (4, include_str!("../../migrations/sqlite/0004_settings.sql")),
    (5, include_str!("../../migrations/sqlite/0005_sessions.sql")),
    (
        6,
        include_str!("../../migrations/sqlite/0006_person_codes.sql"),
    ),
    (7, include_str!("../../migrations/sqlite/0007_media.sql")),
    (8, include_str!("../../migrations/sqlite/0008_settings.sql")),
    (
        9,
        include_str!("../../migrations/sqlite/0009_attempt_ids.sql"),
    ),
    (
        10,
        include_str!("../../migrations/sqlite/0010_batch_jobs.sql"),
    ),
    (11, include_str!("../../migrations/sqlite/0011_sharing.sql")),
    (12, include_str!("../../migrations/sqlite/0012_imports.sql")),
    (
        13,
        include_str!("../../migrations/sqlite/0013_key_rate_limits.sql"),
    ),
    (14, include_str!("../../migrations/sqlite/0014_probes.sql")),
    (15, include_str!("../../migrations/sqlite/0015_console.sql")),
    (
        16,
        include_str!("../../migrations/sqlite/0016_session_status_index.sql"),
    ),
    (
        17,
        include_str!("../../migrations/sqlite/0017_session_tallies.sql"),
    ),
];

/// The schema version a database has once every migration ran.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// Applies every migration not yet applied; answers how many ran.
pub fn migrate(conn: &mut Connection) -> StoreResult<usize> {
    let err = |e: rusqlite::Error| StoreError::Internal(format!("migration failed: {e}"));
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    )
    .map_err(err)?;
    let mut applied = 0;
    for (version, sql) in MIGRATIONS {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let done: bool = tx
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = ?1)",
                [version],
                |r| r.get(0),
            )
            .map_err(err)?;
        if !done {
            tx.execute_batch(sql).map_err(err)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                rusqlite::params![version, ts(Utc::now())],
            )
            .map_err(err)?;
            applied += 1;
        }
        tx.commit().map_err(err)?;
    }
    Ok(applied)
}
