//! Embedded migrations for PostgreSQL, applied on start under an advisory lock so that several
//! nodes starting at once apply each migration exactly once.

use deadpool_postgres::GenericClient;

use super::rows::{db_err, execute, get, query_one};
use crate::{StoreError, StoreResult};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_sessions.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_person_codes.sql"),
    ),
    (4, include_str!("../../migrations/postgres/0004_media.sql")),
    (
        5,
        include_str!("../../migrations/postgres/0005_settings.sql"),
    ),
    (
        6,
        include_str!("../../migrations/postgres/0006_attempt_ids.sql"),
    ),
    (
        7,
        include_str!("../../migrations/postgres/0007_batch_jobs.sql"),
    ),
    (
        8,
        include_str!("../../migrations/postgres/0008_sharing.sql"),
    ),
    (
        9,
        include_str!("../../migrations/postgres/0009_imports.sql"),
    ),
    (
        10,
        include_str!("../../migrations/postgres/0010_key_rate_limits.sql"),
    ),
    (
        11,
        include_str!("../../migrations/postgres/0011_probes.sql"),
    ),
    (
        12,
        include_str!("../../migrations/postgres/0012_console.sql"),
    ),
    (
        13,
        include_str!("../../migrations/postgres/0013_session_status_index.sql"),
    ),
    (
        14,
        include_str!("../../migrations/postgres/0014_session_tallies.sql"),
    ),
];

/// The newest schema version this build knows.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// Applies every migration not yet applied to the connection's current schema; answers how
/// many ran. Holds a session advisory lock (scoped to the schema) throughout.
pub async fn migrate(c: &mut deadpool_postgres::Client) -> StoreResult<usize> {
    execute(
        &*c,
        "SELECT pg_advisory_lock(hashtextextended('vouch.migrate.' || current_schema(), 0))",
        &[],
    )
    .await?;
    let result = apply(c).await;
    let unlocked = execute(
        &*c,
        "SELECT pg_advisory_unlock(hashtextextended('vouch.migrate.' || current_schema(), 0))",
        &[],
    )
    .await;
    let applied = result?;
    unlocked?;
    Ok(applied)
}

async fn apply(c: &mut deadpool_postgres::Client) -> StoreResult<usize> {
    let schema: Option<String> = get(
        &query_one(&*c, "SELECT current_schema() AS s", &[]).await?,
        "s",
    )?;
    if schema.is_none() {
        return Err(StoreError::Unavailable(
            "no schema to create tables in: the search_path names no existing schema".into(),
        ));
    }
    let exists: bool = get(
        &query_one(
            &*c,
            "SELECT to_regclass('schema_migrations') IS NOT NULL AS e",
            &[],
        )
        .await?,
        "e",
    )?;
    if !exists {
        c.batch_execute(
            "CREATE TABLE schema_migrations (
                version bigint PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .map_err(db_err)?;
    }
    let mut applied = 0;
    for (version, sql) in MIGRATIONS {
        let tx = c.transaction().await.map_err(db_err)?;
        let done: bool = get(
            &query_one(
                &tx,
                "SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = $1) AS done",
                &[version],
            )
            .await?,
            "done",
        )?;
        if !done {
            tx.batch_execute(sql)
                .await
                .map_err(|e| StoreError::Internal(format!("migration {version} failed: {e}")))?;
            execute(
                &tx,
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[version],
            )
            .await?;
            applied += 1;
        }
        tx.commit().await.map_err(db_err)?;
    }
    Ok(applied)
}
