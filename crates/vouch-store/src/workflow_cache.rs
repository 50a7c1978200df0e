//! Workflow versions never change their steps once written, so backends keep them parsed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use vouch_core::WorkflowId;

use crate::model::WorkflowRecord;

/// Parsed workflow versions by `(id, version)`. Only `spec` is relied upon: label and status
/// may change in place, so callers needing those read the table.
#[derive(Clone, Default)]
pub struct WorkflowCache {
    inner: Arc<Mutex<Versions>>,
}

type Versions = HashMap<(WorkflowId, i64), Arc<WorkflowRecord>>;

/// Bound on cached versions; past it the cache starts over.
const CAPACITY: usize = 4096;

impl WorkflowCache {
    pub fn cached(&self, id: WorkflowId, version: i64) -> Option<Arc<WorkflowRecord>> {
        self.inner
            .lock()
            .ok()
            .and_then(|m| m.get(&(id, version)).cloned())
    }

    pub fn remember(&self, w: WorkflowRecord) -> Arc<WorkflowRecord> {
        let w = Arc::new(w);
        if let Ok(mut m) = self.inner.lock() {
            if m.len() >= CAPACITY {
                m.clear();
            }
            m.insert((w.id, w.version), w.clone());
        }
        w
    }
}
