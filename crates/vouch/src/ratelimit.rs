//! The counters behind the rate limits (§7). Each counter name (a key, a key and a route group,
//! a client address) keeps two fixed windows; `vouch_core::ratelimit` turns them into an answer.
//! In this process by default; with `rate_limit.redis_url`, in Redis, shared by every node.
//! When Redis cannot be reached the node counts on its own for a few seconds before it tries
//! again (logged and counted in `/metrics`), so a Redis outage neither stops nor slows the API,
//! nor lifts the limits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use vouch_core::ratelimit::{Counts, Limit, Verdict};

/// One counter to charge: its name and its limit.
#[derive(Debug, Clone)]
pub struct Charge {
    pub name: String,
    pub limit: Limit,
}

pub struct Limiter {
    local: Local,
    redis: Option<redis::aio::ConnectionManager>,
    /// Redis calls that failed (the node counted locally instead).
    pub redis_errors: AtomicU64,
    /// Requests refused.
    pub refused: AtomicU64,
    /// Until when (ms since the epoch) Redis is left alone after a failure.
    redis_resting_until: AtomicI64,
}

/// How long a node counts alone after Redis failed, before trying it again.
const REDIS_REST_MS: i64 = 5_000;

/// Redis keys are `vouch:rl:<name>:<window>`, kept for two windows.
const PREFIX: &str = "vouch:rl:";

impl Limiter {
    /// A limiter counting in this process.
    pub fn local() -> Self {
        Self {
            local: Local::default(),
            redis: None,
            redis_errors: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            redis_resting_until: AtomicI64::new(0),
        }
    }

    /// A limiter counting in the Redis at `url` (connected on first use, reconnected as needed).
    pub fn redis(url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1);
        let manager = redis::aio::ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self {
            redis: Some(manager),
            ..Self::local()
        })
    }

    /// Counts one request against every counter in `charges` at `now_ms`. Refused by any, it
    /// is taken back from all (a request not served does not use anyone's allowance) and the
    /// refusal with the longest wait is answered; allowed, the counter with the least left.
    pub async fn charge(&self, charges: &[Charge], now_ms: i64) -> Option<Verdict> {
        let charges: Vec<&Charge> = charges.iter().filter(|c| c.limit.limit > 0).collect();
        if charges.is_empty() {
            return None;
        }
        let redis = self
            .redis
            .as_ref()
            .filter(|_| self.redis_resting_until.load(Ordering::Relaxed) <= now_ms);
        let (counts, shared) = match redis {
            Some(r) => match redis_count(r.clone(), &charges, now_ms).await {
                Ok(c) => (c, true),
                Err(e) => {
                    self.redis_resting_until
                        .store(now_ms + REDIS_REST_MS, Ordering::Relaxed);
                    if self
                        .redis_errors
                        .fetch_add(1, Ordering::Relaxed)
                        .is_multiple_of(100)
                    {
                        tracing::warn!(error = %e, "rate limits: Redis unavailable; this node counts alone for {REDIS_REST_MS} ms, then tries again");
                    }
                    (self.local.count(&charges, now_ms), false)
                }
            },
            None => (self.local.count(&charges, now_ms), false),
        };
        let verdicts: Vec<Verdict> = charges
            .iter()
            .zip(&counts)
            .map(|(c, n)| c.limit.judge(*n, now_ms))
            .collect();
        let refused = verdicts
            .iter()
            .filter(|v| !v.allowed)
            .max_by_key(|v| v.retry_after)
            .copied();
        if let Some(v) = refused {
            self.refused.fetch_add(1, Ordering::Relaxed);
            match redis.filter(|_| shared) {
                Some(r) => {
                    let _ = redis_take_back(r.clone(), &charges, now_ms).await;
                }
                None => self.local.take_back(&charges, now_ms),
            }
            return Some(v);
        }
        verdicts.into_iter().min_by_key(|v| v.remaining)
    }
}

impl Limiter {
    /// The limiter's counters in the Prometheus text format.
    pub fn render(&self) -> String {
        format!(
            "# HELP vouch_rate_limited_total Requests refused by a rate limit (429).\n\
             # TYPE vouch_rate_limited_total counter\n\
             vouch_rate_limited_total {}\n\
             # HELP vouch_rate_limit_redis_errors_total Redis calls of the rate limits that failed (the node counted alone).\n\
             # TYPE vouch_rate_limit_redis_errors_total counter\n\
             vouch_rate_limit_redis_errors_total {}\n",
            self.refused.load(Ordering::Relaxed),
            self.redis_errors.load(Ordering::Relaxed)
        )
    }
}

fn redis_key(c: &Charge, window: i64) -> String {
    format!("{PREFIX}{}:{window}", c.name)
}

/// One round trip: each counter's current window incremented (and kept two windows), and its
/// previous window read.
async fn redis_count(
    mut conn: redis::aio::ConnectionManager,
    charges: &[&Charge],
    now_ms: i64,
) -> redis::RedisResult<Vec<Counts>> {
    let mut pipe = redis::pipe();
    for c in charges {
        let w = c.limit.window_of(now_ms);
        let key = redis_key(c, w);
        pipe.cmd("INCR").arg(&key);
        pipe.cmd("PEXPIRE")
            .arg(&key)
            .arg(2 * c.limit.window_ms)
            .ignore();
        pipe.cmd("GET").arg(redis_key(c, w - 1));
    }
    let replies: Vec<(u64, Option<u64>)> = pipe.query_async(&mut conn).await?;
    Ok(replies
        .into_iter()
        .map(|(current, previous)| Counts {
            current,
            previous: previous.unwrap_or(0),
        })
        .collect())
}

async fn redis_take_back(
    mut conn: redis::aio::ConnectionManager,
    charges: &[&Charge],
    now_ms: i64,
) -> redis::RedisResult<()> {
    let mut pipe = redis::pipe();
    for c in charges {
        pipe.cmd("DECR")
            .arg(redis_key(c, c.limit.window_of(now_ms)))
            .ignore();
    }
    pipe.query_async::<()>(&mut conn).await
}

/// The counters of this process.
#[derive(Default)]
struct Local {
    slots: Mutex<HashMap<String, Slot>>,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    window: i64,
    window_ms: u64,
    current: u64,
    previous: u64,
}

/// Names kept before the ones idle for two windows are forgotten.
const LOCAL_PRUNE_AT: usize = 100_000;

impl Local {
    fn count(&self, charges: &[&Charge], now_ms: i64) -> Vec<Counts> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if slots.len() > LOCAL_PRUNE_AT {
            slots.retain(|_, s| now_ms.div_euclid(s.window_ms.max(1) as i64) - s.window < 2);
        }
        charges
            .iter()
            .map(|c| {
                let w = c.limit.window_of(now_ms);
                let slot = slots.entry(c.name.clone()).or_insert(Slot {
                    window: w,
                    window_ms: c.limit.window_ms,
                    current: 0,
                    previous: 0,
                });
                if slot.window != w {
                    let previous = if slot.window == w - 1 {
                        slot.current
                    } else {
                        0
                    };
                    *slot = Slot {
                        window: w,
                        window_ms: c.limit.window_ms,
                        current: 0,
                        previous,
                    };
                }
                slot.current += 1;
                Counts {
                    current: slot.current,
                    previous: slot.previous,
                }
            })
            .collect()
    }

    fn take_back(&self, charges: &[&Charge], now_ms: i64) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        for c in charges {
            if let Some(s) = slots.get_mut(&c.name) {
                if s.window == c.limit.window_of(now_ms) {
                    s.current = s.current.saturating_sub(1);
                }
            }
        }
    }
}
