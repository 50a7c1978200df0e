//! Support for vouch's own test suites: which backend to run against, and a fresh PostgreSQL
//! schema per test so tests sharing one database never see each other's rows.
//!
//! `VOUCH_TEST_BACKEND=postgres` runs the HTTP suites on PostgreSQL; `VOUCH_TEST_POSTGRES_URL`
//! names the database (default `postgres://postgres@127.0.0.1:5432/test`). Without a reachable
//! database the PostgreSQL tests skip with a message, except under `CI=true`, where that is a
//! failure.

use tokio_postgres::NoTls;
use uuid::Uuid;

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Schemas made by tests start with this, so a test run can clear its predecessors'.
pub const SCHEMA_PREFIX: &str = "vouch_test_";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backend the HTTP suites run on (`VOUCH_TEST_BACKEND`, default SQLite).
pub fn backend() -> Backend {
    match std::env::var("VOUCH_TEST_BACKEND").as_deref() {
        Ok("postgres") | Ok("postgresql") | Ok("pg") => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

pub fn postgres_base_url() -> String {
    std::env::var("VOUCH_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `base` with its search_path set to `schema`.
pub fn url_with_schema(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

/// Creates an empty schema and answers a URL whose connections use it; `None` (after printing
/// why) when no PostgreSQL is reachable outside CI. In CI an unreachable database panics.
pub async fn fresh_postgres(test: &str) -> Option<String> {
    let base = postgres_base_url();
    let client = match connect(&base).await {
        Ok(c) => c,
        Err(e) if !in_ci() => {
            eprintln!("skipping {test} on PostgreSQL: cannot connect to {base}: {e}");
            return None;
        }
        Err(e) => panic!("CI=true and PostgreSQL at {base} is unreachable: {e}"),
    };
    let schema = format!("{SCHEMA_PREFIX}{}", Uuid::new_v4().simple());
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create the test schema");
    Some(url_with_schema(&base, &schema))
}

/// A plain connection (its driver task spawned) for a test to look at rows directly.
pub async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Drops the schemas earlier test runs left behind.
pub async fn drop_test_schemas(url: &str) -> Result<usize, tokio_postgres::Error> {
    let client = connect(url).await?;
    let rows = client
        .query(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
            &[&format!("{SCHEMA_PREFIX}%")],
        )
        .await?;
    for r in &rows {
        let name: String = r.get(0);
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
            .await?;
    }
    Ok(rows.len())
}

/// `?1` replaced by `arg` as a quoted literal (test values only).
fn literal_sql(sql: &str, arg: Option<&str>) -> String {
    match arg {
        Some(a) => sql.replace("?1", &format!("'{}'", a.replace('\'', "''"))),
        None => sql.to_string(),
    }
}

/// Runs SQL written for both backends (`?1` the one argument, JSON compared as
/// `CAST(col AS TEXT)`) on the database of a `sqlite://` or `postgres://` URL; answers every
/// row's columns as text. Select text columns (or cast them).
pub async fn query_text(
    database_url: &str,
    sql: &str,
    arg: Option<&str>,
) -> Result<Vec<Vec<Option<String>>>, String> {
    if let Some(path) = crate::sqlite::path_from_url(database_url) {
        let c = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
        let mut st = c.prepare(sql).map_err(|e| e.to_string())?;
        let n = st.column_count();
        let params: Vec<&str> = arg.into_iter().collect();
        let rows = st
            .query_map(rusqlite::params_from_iter(params), |r| {
                (0..n).map(|i| r.get::<_, Option<String>>(i)).collect()
            })
            .map_err(|e| e.to_string())?;
        return rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string());
    }
    let c = connect(database_url).await.map_err(|e| e.to_string())?;
    let rows = c
        .query(literal_sql(sql, arg).as_str(), &[])
        .await
        .map_err(|e| e.to_string())?;
    Ok(rows
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.get::<_, Option<String>>(i))
                .collect()
        })
        .collect())
}

/// Runs a statement (same conventions as `query_text`); answers rows changed, or the
/// database's refusal.
pub async fn execute(database_url: &str, sql: &str, arg: Option<&str>) -> Result<u64, String> {
    if let Some(path) = crate::sqlite::path_from_url(database_url) {
        let c = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
        let params: Vec<&str> = arg.into_iter().collect();
        return c
            .execute(sql, rusqlite::params_from_iter(params))
            .map(|n| n as u64)
            .map_err(|e| e.to_string());
    }
    let c = connect(database_url).await.map_err(|e| e.to_string())?;
    c.execute(literal_sql(sql, arg).as_str(), &[])
        .await
        .map_err(|e| {
            e.as_db_error()
                .map(|d| d.message().to_string())
                .unwrap_or_else(|| e.to_string())
        })
}

/// Turns off the append-only guard on review rows, as someone with database access could.
pub async fn drop_review_guard(database_url: &str) -> Result<(), String> {
    if crate::sqlite::path_from_url(database_url).is_some() {
        execute(database_url, "DROP TRIGGER reviews_no_update", None).await?;
    } else {
        execute(
            database_url,
            "ALTER TABLE reviews DISABLE TRIGGER reviews_append_only",
            None,
        )
        .await?;
    }
    Ok(())
}
