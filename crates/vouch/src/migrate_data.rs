//! `vouch migrate-data`: copies a SQLite database into PostgreSQL (being built).

use vouch_store::postgres::PgOptions;

pub async fn run(_from: &str, _to: &PgOptions, _progress: bool) -> anyhow::Result<()> {
    anyhow::bail!("migrate-data is not available in this build yet")
}
