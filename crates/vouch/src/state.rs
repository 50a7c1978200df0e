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
}
