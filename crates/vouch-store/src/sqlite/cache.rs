//! The workflow cache, filled from the SQLite connection at hand.

use std::sync::Arc;

use rusqlite::Connection;
use uuid::Uuid;

use super::catalog;
use crate::model::WorkflowRecord;
pub use crate::workflow_cache::WorkflowCache;
use crate::{StoreError, StoreResult};

pub fn get(
    cache: &WorkflowCache,
    conn: &Connection,
    id: Uuid,
    version: i64,
) -> StoreResult<Arc<WorkflowRecord>> {
    if let Some(w) = cache.cached(id, version) {
        return Ok(w);
    }
    let w = catalog::workflow_version(conn, id, version)?
        .ok_or_else(|| StoreError::Internal("session's workflow version is missing".into()))?;
    Ok(cache.remember(w))
}
