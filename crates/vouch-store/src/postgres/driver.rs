//! The PostgreSQL side of `crate::sql`: `Pg` runs shared statements on a pooled connection or a
//! transaction; statements joined by the caller (or passed to `execute_all`) share one round trip.

use std::error::Error;
use std::future::Future;

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use futures_util::future::maybe_done;
use serde_json::Value;
use tokio_postgres::types::{IsNull, ToSql, Type};
use uuid::Uuid;

use super::rows::{db_err, is_unique_violation};
use crate::sql::{Db, Dialect, Param, Row, RowRead, Stmt};
use crate::{StoreError, StoreResult};

/// A PostgreSQL client or transaction as a `Db`.
pub struct Pg<'c, C>(pub &'c C);

type BoxError = Box<dyn Error + Sync + Send>;

impl ToSql for Param {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self {
            Param::Null => Ok(IsNull::Yes),
            Param::Bool(b) => b.to_sql_checked(ty, out),
            // The statement decides the width: a count is bigint, a status code integer.
            Param::Int(i) => match *ty {
                Type::INT2 => i16::try_from(*i)?.to_sql_checked(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql_checked(ty, out),
                _ => i.to_sql_checked(ty, out),
            },
            Param::Text(s) => s.to_sql_checked(ty, out),
            Param::Bytes(b) => b.to_sql_checked(ty, out),
            Param::Uuid(u) => u.to_sql_checked(ty, out),
            Param::Time(t) => t.to_sql_checked(ty, out),
            Param::Json(v) => v.to_sql_checked(ty, out),
            Param::Uuids(ids) => ids.to_sql_checked(ty, out),
            Param::Ints(ns) => ns.to_sql_checked(ty, out),
            Param::Texts(ts) => ts.to_sql_checked(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per variant in `to_sql`.
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

fn col_err(col: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("column {col}: {e}"))
}

impl RowRead for tokio_postgres::Row {
    fn text(&self, col: &str) -> StoreResult<Option<String>> {
        self.try_get(col).map_err(|e| col_err(col, e))
    }
    fn int(&self, col: &str) -> StoreResult<Option<i64>> {
        let ty = self
            .columns()
            .iter()
            .find(|c| c.name() == col)
            .map(|c| c.type_().clone());
        match ty {
            Some(Type::INT4) => self
                .try_get::<_, Option<i32>>(col)
                .map(|v| v.map(i64::from)),
            Some(Type::INT2) => self
                .try_get::<_, Option<i16>>(col)
                .map(|v| v.map(i64::from)),
            _ => self.try_get(col),
        }
        .map_err(|e| col_err(col, e))
    }
    fn boolean(&self, col: &str) -> StoreResult<Option<bool>> {
        self.try_get(col).map_err(|e| col_err(col, e))
    }
    fn bytes(&self, col: &str) -> StoreResult<Option<Vec<u8>>> {
        self.try_get(col).map_err(|e| col_err(col, e))
    }
    fn uuid(&self, col: &str) -> StoreResult<Option<Uuid>> {
        self.try_get(col).map_err(|e| col_err(col, e))
    }
    fn time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.try_get(col).map_err(|e| col_err(col, e))
    }
    fn json(&self, col: &str) -> StoreResult<Option<Value>> {
        self.try_get(col).map_err(|e| col_err(col, e))
    }
}

fn exec_err(e: tokio_postgres::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Duplicate(db_err(e).to_string())
    } else {
        db_err(e)
    }
}

impl<C: GenericClient + Sync> Pg<'_, C> {
    async fn run_execute(&self, st: Stmt) -> StoreResult<u64> {
        let prepared = self.0.prepare_cached(&st.sql).await.map_err(db_err)?;
        let params: Vec<&(dyn ToSql + Sync)> = st.params.iter().map(|p| p as _).collect();
        self.0.execute(&prepared, &params).await.map_err(exec_err)
    }

    /// Sends every statement in one round trip, in order, and answers each one's outcome:
    /// after a failed statement the later ones fail too (the transaction is aborted until
    /// the caller rolls back to a savepoint). `Err` only when a statement cannot be prepared.
    pub async fn execute_each(&self, sts: &[Stmt]) -> StoreResult<Vec<StoreResult<u64>>> {
        let prepared =
            futures_util::future::try_join_all(sts.iter().map(|st| self.0.prepare_cached(&st.sql)))
                .await
                .map_err(db_err)?;
        let params: Vec<Vec<&(dyn ToSql + Sync)>> = sts
            .iter()
            .map(|st| st.params.iter().map(|p| p as _).collect())
            .collect();
        Ok(in_order(
            prepared
                .iter()
                .zip(&params)
                .map(|(p, args)| async move { self.0.execute(p, args).await.map_err(exec_err) }),
        )
        .await)
    }
}

/// Runs the futures together, each polled once in turn before any is awaited: a statement's
/// first poll queues its request on the connection, so the server receives them in this
/// order (the row locks they take, the savepoints between them).
pub async fn in_order<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut runs: Vec<_> = futures
        .into_iter()
        .map(|f| Box::pin(maybe_done(f)))
        .collect();
    std::future::poll_fn(|cx| {
        for run in &mut runs {
            let _ = run.as_mut().poll(cx);
        }
        std::task::Poll::Ready(())
    })
    .await;
    futures_util::future::join_all(runs.iter_mut().map(|r| r.as_mut())).await;
    runs.iter_mut()
        .filter_map(|r| r.as_mut().take_output())
        .collect()
}

impl<C: GenericClient + Sync> Db for Pg<'_, C> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn query<T, F>(&self, st: Stmt, map: F) -> StoreResult<Vec<T>>
    where
        T: Send,
        F: Fn(&Row) -> StoreResult<T> + Send + Sync,
    {
        let prepared = self.0.prepare_cached(&st.sql).await.map_err(db_err)?;
        let params: Vec<&(dyn ToSql + Sync)> = st.params.iter().map(|p| p as _).collect();
        let rows = self.0.query(&prepared, &params).await.map_err(exec_err)?;
        rows.iter().map(|r| map(&Row(r))).collect()
    }

    fn execute(&self, st: Stmt) -> impl Future<Output = StoreResult<u64>> {
        self.run_execute(st)
    }

    async fn execute_all(&self, sts: Vec<Stmt>) -> StoreResult<Vec<u64>> {
        // Every statement prepared first, so that all of them are sent on the first poll, in
        // order: a later one never runs before an earlier one (the UPDATE that takes the lock).
        self.execute_each(&sts).await?.into_iter().collect()
    }

    async fn lock(&self, name: String) -> StoreResult<()> {
        self.run_execute(crate::stmt!(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            name
        ))
        .await
        .map(|_| ())
    }
}
