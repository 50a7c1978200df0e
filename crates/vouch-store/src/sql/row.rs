//! Reading a row of either driver: each implements `RowRead` for its own row type, and every
//! row mapper (`crate::rows`) is written once against `Row`.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::{StoreError, StoreResult};

/// What a driver's row can answer: each column as a nullable value of one of the store's types.
pub trait RowRead {
    fn text(&self, col: &str) -> StoreResult<Option<String>>;
    fn int(&self, col: &str) -> StoreResult<Option<i64>>;
    fn boolean(&self, col: &str) -> StoreResult<Option<bool>>;
    fn bytes(&self, col: &str) -> StoreResult<Option<Vec<u8>>>;
    fn uuid(&self, col: &str) -> StoreResult<Option<Uuid>>;
    fn time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>>;
    fn json(&self, col: &str) -> StoreResult<Option<Value>>;
}

/// A row as the mappers see it: required and optional getters over a driver's row.
pub struct Row<'a>(pub &'a dyn RowRead);

fn null(col: &str) -> StoreError {
    StoreError::Internal(format!("column {col} is NULL"))
}

pub fn bad_value(col: &str, v: &str) -> StoreError {
    StoreError::Internal(format!("bad value {v:?} in column {col}"))
}

impl Row<'_> {
    pub fn text(&self, col: &str) -> StoreResult<String> {
        self.0.text(col)?.ok_or_else(|| null(col))
    }
    pub fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        self.0.text(col)
    }
    pub fn int(&self, col: &str) -> StoreResult<i64> {
        self.0.int(col)?.ok_or_else(|| null(col))
    }
    pub fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        self.0.int(col)
    }
    pub fn boolean(&self, col: &str) -> StoreResult<bool> {
        self.0.boolean(col)?.ok_or_else(|| null(col))
    }
    pub fn bytes(&self, col: &str) -> StoreResult<Vec<u8>> {
        self.0.bytes(col)?.ok_or_else(|| null(col))
    }
    /// A UUID column, read as whichever id type the caller wants.
    pub fn uuid<T: From<Uuid>>(&self, col: &str) -> StoreResult<T> {
        self.0.uuid(col)?.map(T::from).ok_or_else(|| null(col))
    }
    pub fn opt_uuid<T: From<Uuid>>(&self, col: &str) -> StoreResult<Option<T>> {
        Ok(self.0.uuid(col)?.map(T::from))
    }
    pub fn time(&self, col: &str) -> StoreResult<DateTime<Utc>> {
        self.0.time(col)?.ok_or_else(|| null(col))
    }
    pub fn opt_time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.0.time(col)
    }
    pub fn json(&self, col: &str) -> StoreResult<Value> {
        self.0.json(col)?.ok_or_else(|| null(col))
    }
    pub fn opt_json(&self, col: &str) -> StoreResult<Option<Value>> {
        self.0.json(col)
    }
    /// A document column read into a type.
    pub fn decode<T: serde::de::DeserializeOwned>(&self, col: &str) -> StoreResult<T> {
        serde_json::from_value(self.json(col)?)
            .map_err(|e| StoreError::Internal(format!("column {col}: {e}")))
    }
    /// A text column parsed by `f` (an enum's `parse`).
    pub fn parse<T>(&self, col: &str, f: impl Fn(&str) -> Option<T>) -> StoreResult<T> {
        let s = self.text(col)?;
        f(&s).ok_or_else(|| bad_value(col, &s))
    }
    pub fn opt_parse<T>(&self, col: &str, f: impl Fn(&str) -> Option<T>) -> StoreResult<Option<T>> {
        self.opt_text(col)?
            .map(|s| f(&s).ok_or_else(|| bad_value(col, &s)))
            .transpose()
    }
}
