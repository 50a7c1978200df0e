//! The interface both drivers implement, so that statements, parameters and row mapping are
//! written once. Shared statement text uses PostgreSQL's `$n` placeholders; the SQLite driver
//! adapts them. Shared logic is an `async fn` over `impl Db`: on PostgreSQL its steps are real
//! round trips (pipelined where it joins them), on SQLite every step is ready at once and the
//! whole function runs to completion on the writer or reader thread (`sqlite::driver::ready`).

mod param;
mod row;

use std::borrow::Cow;
use std::future::Future;
use std::sync::OnceLock;

pub use param::Param;
pub use row::{bad_value, Row, RowRead};

use crate::StoreResult;

/// Where a statement runs; only true dialect differences look at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// One statement and its parameters.
#[derive(Debug, Clone)]
pub struct Stmt {
    pub sql: Cow<'static, str>,
    pub params: Vec<Param>,
}

impl Stmt {
    pub fn new(sql: impl Into<Cow<'static, str>>, params: Vec<Param>) -> Self {
        Self {
            sql: sql.into(),
            params,
        }
    }
}

/// Statement text built at run time from fixed parts (a table name, a dialect's fragment), kept
/// per dialect after its first use: each call site declares `static SQL: Built = built();`.
pub type Built = [OnceLock<&'static str>; 2];

pub const fn built() -> Built {
    [OnceLock::new(), OnceLock::new()]
}

/// The text of `cell` for `db`'s dialect, made by `make` the first time only. Being `'static`,
/// it is also the text whose SQLite rewrite and prepared statements are cached.
pub fn built_once(
    db: &impl Db,
    cell: &'static Built,
    make: impl FnOnce() -> String,
) -> &'static str {
    let slot = match db.dialect() {
        Dialect::Sqlite => &cell[0],
        Dialect::Postgres => &cell[1],
    };
    slot.get_or_init(|| Box::leak(make().into_boxed_str()))
}

/// `format!` for statement text made of fixed parts (a table name, a dialect's fragment), built
/// once per call site and dialect: `sql_once!(db, "SELECT … {}", skip_locked(db))`.
#[macro_export]
macro_rules! sql_once {
    ($db:expr, $($fmt:tt)+) => {{
        static SQL: $crate::sql::Built = $crate::sql::built();
        $crate::sql::built_once($db, &SQL, || format!($($fmt)+))
    }};
}

/// `stmt!("SELECT … WHERE id = $1", id)`: a statement with its parameters converted.
#[macro_export]
macro_rules! stmt {
    ($sql:expr $(, $p:expr)* $(,)?) => {
        $crate::sql::Stmt::new($sql, vec![$($crate::sql::Param::from($p)),*])
    };
}

/// A connection (or transaction) of one backend.
///
/// Steps joined by the caller run concurrently on PostgreSQL (pipelined on one connection) and
/// are sent in the order they are first polled: join with `tokio::try_join!(biased; …)` where a
/// later step must run after an earlier one (reads after the lock that protects them).
pub trait Db {
    fn dialect(&self) -> Dialect;

    /// Runs a query and maps every row.
    fn query<T, F>(&self, st: Stmt, map: F) -> impl Future<Output = StoreResult<Vec<T>>>
    where
        T: Send,
        F: Fn(&Row) -> StoreResult<T> + Send + Sync;

    /// Runs a statement; answers the number of rows it changed. A unique-constraint violation is
    /// `StoreError::Duplicate`.
    fn execute(&self, st: Stmt) -> impl Future<Output = StoreResult<u64>>;

    /// Runs statements in order (PostgreSQL sends them in one round trip); answers each one's
    /// changed-row count. The first error stops the batch.
    fn execute_all(&self, sts: Vec<Stmt>) -> impl Future<Output = StoreResult<Vec<u64>>> {
        async move {
            let mut counts = Vec::with_capacity(sts.len());
            for st in sts {
                counts.push(self.execute(st).await?);
            }
            Ok(counts)
        }
    }

    /// Makes every other transaction taking the same lock wait until this one ends. SQLite's
    /// single writer serializes every write already.
    fn lock(&self, _name: String) -> impl Future<Output = StoreResult<()>> {
        async { Ok(()) }
    }

    /// The first row, if any.
    fn query_opt<T, F>(&self, st: Stmt, map: F) -> impl Future<Output = StoreResult<Option<T>>>
    where
        T: Send,
        F: Fn(&Row) -> StoreResult<T> + Send + Sync,
    {
        async move { Ok(self.query(st, map).await?.into_iter().next()) }
    }

    /// Exactly one row.
    fn query_one<T, F>(&self, st: Stmt, map: F) -> impl Future<Output = StoreResult<T>>
    where
        T: Send,
        F: Fn(&Row) -> StoreResult<T> + Send + Sync,
    {
        async move {
            let sql = st.sql.clone();
            self.query_opt(st, map)
                .await?
                .ok_or_else(|| crate::StoreError::Internal(format!("no row answered by {sql}")))
        }
    }
}
