//! Workflow versions never change their steps once written, so the writer keeps them parsed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use uuid::Uuid;

use super::catalog;
use crate::model::WorkflowRecord;
use crate::{StoreError, StoreResult};

/// Parsed workflow versions by `(id, version)`. Only `spec` is relied upon: label and status
/// may change in place, so callers needing those read the table.
#[derive(Clone, Default)]
pub struct WorkflowCache {
    inner: Arc<Mutex<Versions>>,
}

type Versions = HashMap<(Uuid, i64), Arc<WorkflowRecord>>;

/// Bound on cached versions; past it the cache starts over.
const CAPACITY: usize = 4096;

impl WorkflowCache {
    pub fn get(
        &self,
        conn: &Connection,
        id: Uuid,
        version: i64,
    ) -> StoreResult<Arc<WorkflowRecord>> {
        if let Some(w) = self
            .inner
            .lock()
            .ok()
            .and_then(|m| m.get(&(id, version)).cloned())
        {
            return Ok(w);
        }
        let w = Arc::new(
            catalog::workflow_version(conn, id, version)?.ok_or_else(|| {
                StoreError::Internal("session's workflow version is missing".into())
            })?,
        );
        if let Ok(mut m) = self.inner.lock() {
            if m.len() >= CAPACITY {
                m.clear();
            }
            m.insert((id, version), w.clone());
        }
        Ok(w)
    }
}
