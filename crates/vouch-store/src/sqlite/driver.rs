//! The SQLite side of `crate::sql`: `Lite` runs shared statements on a connection, each step
//! completing at once, and `ready` drives a shared async function to its end on the calling thread.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{LazyLock, RwLock};
use std::task::{Context, Poll, Waker};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};
use serde_json::Value;
use uuid::Uuid;

use crate::sql::{Db, Dialect, Param, Row, RowRead, Stmt};
use crate::{StoreError, StoreResult};

/// A SQLite connection as a `Db`.
pub struct Lite<'c>(pub &'c Connection);

/// Runs a shared async function whose every step is a `Lite` call, on this thread.
pub fn ready<T>(fut: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
    let mut fut = std::pin::pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => Err(StoreError::Internal(
            "a SQLite step waited on something other than SQLite".into(),
        )),
    }
}

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn db_err(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        match f.code {
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                return StoreError::Unavailable(e.to_string())
            }
            rusqlite::ErrorCode::DiskFull => return StoreError::Full(e.to_string()),
            rusqlite::ErrorCode::ConstraintViolation
                if matches!(
                    f.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                ) =>
            {
                return StoreError::Duplicate(e.to_string())
            }
            _ => {}
        }
    }
    StoreError::Internal(e.to_string())
}

/// Statement text with `$n` placeholders turned into SQLite's `?n`; static statements are
/// converted once.
#[allow(clippy::ptr_arg)] // Borrowed text is `'static` and can be cached; owned text cannot.
fn sqlite_text(sql: &Cow<'static, str>) -> Cow<'static, str> {
    static CONVERTED: LazyLock<RwLock<HashMap<usize, &'static str>>> =
        LazyLock::new(Default::default);
    match sql {
        Cow::Borrowed(s) => {
            let key = s.as_ptr() as usize;
            if let Some(done) = CONVERTED.read().ok().and_then(|m| m.get(&key).copied()) {
                return Cow::Borrowed(done);
            }
            let done: &'static str = Box::leak(convert(s).into_boxed_str());
            if let Ok(mut m) = CONVERTED.write() {
                m.insert(key, done);
            }
            Cow::Borrowed(done)
        }
        Cow::Owned(s) => Cow::Owned(convert(s)),
    }
}

fn convert(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        use rusqlite::types::Value as V;
        Ok(match self {
            Param::Null => ToSqlOutput::Owned(V::Null),
            Param::Bool(b) => ToSqlOutput::Owned(V::Integer((*b).into())),
            Param::Int(i) => ToSqlOutput::Owned(V::Integer(*i)),
            Param::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Param::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Param::Uuid(u) => ToSqlOutput::Owned(V::Text(u.to_string())),
            Param::Time(t) => ToSqlOutput::Owned(V::Text(ts(*t))),
            Param::Json(v) => ToSqlOutput::Owned(V::Text(v.to_string())),
            // Read back with `json_each`.
            Param::Uuids(ids) => ToSqlOutput::Owned(V::Text(
                serde_json::Value::from(ids.iter().map(Uuid::to_string).collect::<Vec<_>>())
                    .to_string(),
            )),
            Param::Ints(ns) => {
                ToSqlOutput::Owned(V::Text(serde_json::Value::from(ns.clone()).to_string()))
            }
            Param::Texts(ts) => {
                ToSqlOutput::Owned(V::Text(serde_json::Value::from(ts.clone()).to_string()))
            }
        })
    }
}

fn col_err(col: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("column {col}: {e}"))
}

/// A SQLite row with its statement's column names, read once per query: a column is found by
/// comparing names in Rust instead of asking SQLite for every name on every field (rusqlite's
/// lookup by name), and text columns are parsed where they lie, without a copy.
struct LiteRow<'r, 's> {
    row: &'r rusqlite::Row<'s>,
    names: &'r [String],
}

impl LiteRow<'_, '_> {
    fn index(&self, col: &str) -> StoreResult<usize> {
        self.names
            .iter()
            .position(|n| n == col)
            .ok_or_else(|| col_err(col, "no such column"))
    }

    fn get<T: rusqlite::types::FromSql>(&self, col: &str) -> StoreResult<T> {
        self.row.get(self.index(col)?).map_err(|e| col_err(col, e))
    }

    /// A text column parsed in place; `None` for NULL.
    fn parse_text<T>(&self, col: &str, f: impl Fn(&str) -> Option<T>) -> StoreResult<Option<T>> {
        let v = self
            .row
            .get_ref(self.index(col)?)
            .map_err(|e| col_err(col, e))?;
        let s = match v {
            ValueRef::Null => return Ok(None),
            ValueRef::Text(t) => std::str::from_utf8(t).map_err(|e| col_err(col, e))?,
            other => return Err(col_err(col, format!("not text: {:?}", other.data_type()))),
        };
        f(s).map(Some).ok_or_else(|| crate::sql::bad_value(col, s))
    }
}

impl RowRead for LiteRow<'_, '_> {
    fn text(&self, col: &str) -> StoreResult<Option<String>> {
        self.get(col)
    }
    fn int(&self, col: &str) -> StoreResult<Option<i64>> {
        self.get(col)
    }
    fn boolean(&self, col: &str) -> StoreResult<Option<bool>> {
        self.get(col)
    }
    fn bytes(&self, col: &str) -> StoreResult<Option<Vec<u8>>> {
        self.get(col)
    }
    fn uuid(&self, col: &str) -> StoreResult<Option<Uuid>> {
        self.parse_text(col, |s| Uuid::parse_str(s).ok())
    }
    fn time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.parse_text(col, |s| {
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
    }
    fn json(&self, col: &str) -> StoreResult<Option<Value>> {
        self.parse_text(col, |s| serde_json::from_str(s).ok())
    }
}

impl Lite<'_> {
    fn run_query<T>(&self, st: &Stmt, map: impl Fn(&Row) -> StoreResult<T>) -> StoreResult<Vec<T>> {
        let mut prepared = self
            .0
            .prepare_cached(&sqlite_text(&st.sql))
            .map_err(db_err)?;
        let names: Vec<String> = prepared
            .column_names()
            .into_iter()
            .map(String::from)
            .collect();
        let mut rows = prepared
            .query(rusqlite::params_from_iter(st.params.iter()))
            .map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db_err)? {
            out.push(map(&Row(&LiteRow {
                row: r,
                names: &names,
            }))?);
        }
        Ok(out)
    }

    fn run_execute(&self, st: &Stmt) -> StoreResult<u64> {
        let mut prepared = self
            .0
            .prepare_cached(&sqlite_text(&st.sql))
            .map_err(db_err)?;
        let n = prepared
            .execute(rusqlite::params_from_iter(st.params.iter()))
            .map_err(db_err)?;
        Ok(n as u64)
    }
}

impl Db for Lite<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn query<T, F>(&self, st: Stmt, map: F) -> impl Future<Output = StoreResult<Vec<T>>>
    where
        T: Send,
        F: Fn(&Row) -> StoreResult<T> + Send + Sync,
    {
        std::future::ready(self.run_query(&st, map))
    }

    fn execute(&self, st: Stmt) -> impl Future<Output = StoreResult<u64>> {
        std::future::ready(self.run_execute(&st))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_become_numbered_question_marks() {
        assert_eq!(
            super::convert("UPDATE t SET a = $1, b = $12 WHERE c = '$' AND d = $2"),
            "UPDATE t SET a = ?1, b = ?12 WHERE c = '$' AND d = ?2"
        );
    }
}
