//! What every request handler shares.

use std::sync::Arc;

use vouch_store::Store;

use crate::config::Config;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// Signs email preview tokens; shared through the database by every node.
    pub preview_key: Arc<Vec<u8>>,
    /// Captured files: their encryption, storage and signed URLs.
    pub media: Arc<crate::media::Media>,
    /// Per-session limits of the person's forms.
    pub person_limits: Arc<crate::hosted::limits::Limits>,
    /// The rate limits' counters (§7), in this process or in Redis.
    pub limiter: Arc<crate::ratelimit::Limiter>,
    /// Whether this node's background workers run (for `/system/readiness`).
    pub workers: Workers,
}

/// This node's background workers, as readiness reports them.
#[derive(Clone)]
pub struct Workers {
    /// False on an API-only node.
    pub here: bool,
    /// Turns true once the node is stopping.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

impl Workers {
    pub fn on_this_node(&self) -> bool {
        self.here
    }

    /// On this node and not stopping.
    pub fn running(&self) -> bool {
        self.here && !*self.stopping.borrow()
    }
}
