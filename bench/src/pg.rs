//! PostgreSQL mode: a fresh, empty schema per scenario in the given database, so runs (and the
//! scenarios of one run) never see each other's rows; dropped afterwards unless `--keep-schema`.

use anyhow::Context;
use tokio_postgres::NoTls;
use uuid::Uuid;

/// `--postgres`: the machine's local PostgreSQL (trust authentication).
pub const LOCAL_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// True for URLs vouch serves with its PostgreSQL backend.
pub fn is_postgres_url(url: &str) -> bool {
    vouch_store::postgres::is_postgres_url(url)
}

/// The URL without its password, for the report.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => url.to_string(),
    }
}

/// On a server with autovacuum off (as on some CI machines), analyzes the tables of the URL's
/// schema once they are filled, as autovacuum would have: without statistics the planner
/// takes the tables for empty and may keep plans that scan them. Answers whether it did.
pub async fn analyze_without_autovacuum(url: &str) -> anyhow::Result<bool> {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {}", redact(url)))?;
    tokio::spawn(conn);
    let autovacuum: String = client.query_one("SHOW autovacuum", &[]).await?.get(0);
    if autovacuum == "on" {
        return Ok(false);
    }
    let tables: Vec<String> = client
        .query(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
             WHERE schemaname = current_schema()",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !tables.is_empty() {
        client
            .batch_execute(&format!("ANALYZE {}", tables.join(", ")))
            .await?;
    }
    Ok(true)
}

/// The database the benchmark makes its schemas in.
pub struct Database {
    base: String,
    client: tokio_postgres::Client,
    /// Random per benchmark run: schemas are `vouch_bench_<run>_<n>`.
    run: String,
    made: usize,
    keep: bool,
    /// `SHOW server_version`.
    pub version: String,
}

/// One fresh schema and the URL whose connections use it.
pub struct Schema {
    pub name: String,
    pub url: String,
}

impl Database {
    pub async fn connect(base: &str, keep: bool) -> anyhow::Result<Self> {
        let (client, conn) = tokio_postgres::connect(base, NoTls)
            .await
            .with_context(|| format!("connecting to PostgreSQL at {}", redact(base)))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                eprintln!("vouch-bench: PostgreSQL connection: {e}");
            }
        });
        let version: String = client.query_one("SHOW server_version", &[]).await?.get(0);
        // "15.20 (Debian 15.20-0+deb12u1)" -> "15.20"
        let version = version
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        Ok(Self {
            base: base.to_string(),
            client,
            run: Uuid::new_v4().simple().to_string()[..8].to_string(),
            made: 0,
            keep,
            version,
        })
    }

    /// `vouch_bench_<run>_*`, for the report.
    pub fn pattern(&self) -> String {
        format!("vouch_bench_{}_*", self.run)
    }

    pub fn keep(&self) -> bool {
        self.keep
    }

    pub async fn fresh_schema(&mut self) -> anyhow::Result<Schema> {
        self.made += 1;
        let name = format!("vouch_bench_{}_{}", self.run, self.made);
        self.client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .with_context(|| format!("CREATE SCHEMA {name}"))?;
        let url = vouch_store::testing::url_with_schema(&self.base, &name);
        Ok(Schema { name, url })
    }

    /// Drops the schema (unless `--keep-schema`); call after every node using it has stopped.
    pub async fn finish(&self, schema: Schema) {
        if self.keep {
            eprintln!("keeping schema {} (--keep-schema)", schema.name);
            return;
        }
        if let Err(e) = self
            .client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", schema.name))
            .await
        {
            eprintln!("vouch-bench: could not drop schema {}: {e}", schema.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_only_the_password() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db?options=x"),
            "postgres://u:***@h:5432/db?options=x"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1:5432/test"),
            "postgres://postgres@127.0.0.1:5432/test"
        );
        assert_eq!(redact("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
