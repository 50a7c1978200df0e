//! The store's statements and the logic around them, written once for both backends. Each
//! function takes an `impl Db`: a backend hands it a connection (reads) or a transaction (writes)
//! and runs it (`sqlite::driver::ready` on SQLite's threads, `.await` on PostgreSQL).

pub mod batches;
pub mod catalog;
pub mod changes;
pub mod codes;
pub mod console;
pub mod destinations;
pub mod emails;
pub mod engines;
pub mod idempotency;
pub mod imports;
pub mod media;
pub mod queue;
pub mod review_desk;
pub mod sandbox;
pub mod session_list;
pub mod sessions;
pub mod sharing;
pub mod webhooks;

use crate::sql::{Db, Dialect};
use crate::{stmt, StoreResult};

/// `sql` as written, or with `FOR UPDATE` on PostgreSQL, where concurrent writers of one row on
/// other nodes must wait for this transaction (SQLite's single writer serializes them already).
macro_rules! locked {
    ($db:expr, $($sql:tt)+) => {
        match $db.dialect() {
            $crate::sql::Dialect::Postgres => concat!($($sql)+, " FOR UPDATE"),
            $crate::sql::Dialect::Sqlite => $($sql)+,
        }
    };
}
pub(crate) use locked;

/// A server-wide secret: `fresh` is stored the first time `name` is asked for.
pub async fn secret(db: &impl Db, name: &str, fresh: String) -> StoreResult<String> {
    db.execute(stmt!(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        name,
        fresh
    ))
    .await?;
    db.query_one(
        stmt!("SELECT value FROM settings WHERE key = $1", name),
        |r| r.text("value"),
    )
    .await
}

pub async fn ping(db: &impl Db) -> StoreResult<()> {
    db.query_one(stmt!("SELECT 1 AS n"), crate::rows::count)
        .await
        .map(|_| ())
}

/// The readiness check's write: one row rewritten, through the same path as every write.
pub async fn probe(db: &impl Db, now: chrono::DateTime<chrono::Utc>) -> StoreResult<()> {
    db.execute(stmt!(
        "INSERT INTO probes (name, at) VALUES ('readiness', $1)
         ON CONFLICT (name) DO UPDATE SET at = excluded.at",
        now
    ))
    .await
    .map(|_| ())
}

/// True on the backend whose statements lock rows for other nodes.
pub fn is_postgres(db: &impl Db) -> bool {
    db.dialect() == Dialect::Postgres
}
