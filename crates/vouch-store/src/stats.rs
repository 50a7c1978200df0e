//! What the store reports about its own working for `/metrics`: histograms kept with atomics (no
//! lock on the paths they measure) and the store's gauges.

use std::sync::atomic::{AtomicU64, Ordering};

/// A Prometheus-style histogram: counts per bucket (each bound inclusive), their sum and number.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One more than `bounds`: the last counts what is above every bound.
    counts: Vec<AtomicU64>,
    /// The sum in millionths.
    sum_micros: AtomicU64,
}

/// Bounds for seconds waited or taken: 100 µs to 10 s.
pub const SECONDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
/// Bounds for how many requests shared one write group.
pub const GROUP_SIZES: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: f64) {
        let i = self.bounds.partition_point(|b| *b < value);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((value.max(0.0) * 1e6) as u64, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = Vec::with_capacity(self.counts.len());
        let mut total = 0;
        for c in &self.counts {
            total += c.load(Ordering::Relaxed);
            cumulative.push(total);
        }
        HistogramSnapshot {
            bounds: self.bounds,
            cumulative,
            sum: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

/// A histogram as read: cumulative counts per bound, the last one for `+Inf` (the count).
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    pub bounds: &'static [f64],
    pub cumulative: Vec<u64>,
    pub sum: f64,
}

impl HistogramSnapshot {
    pub fn count(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }
}

/// The store's own figures; each backend fills what it has.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreStats {
    /// `sqlite` or `postgres`, naming the series.
    pub backend: &'static str,
    /// How many changes each committed write group carried (SQLite: every write; PostgreSQL:
    /// changes to sessions).
    pub write_groups: Option<HistogramSnapshot>,
    /// Writes waiting for a writer now.
    pub writes_queued: Option<u64>,
    /// PostgreSQL: seconds each request waited for a pool connection.
    pub pool_waits: Option<HistogramSnapshot>,
    /// PostgreSQL: the pool's connections open, idle, and requests waiting for one now.
    pub pool: Option<PoolGauges>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolGauges {
    pub size: u64,
    pub available: u64,
    pub waiting: u64,
}

/// One job queue as it stands: jobs pending, those of them due now, and since when the oldest
/// due one has been waiting.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueStat {
    pub queue: &'static str,
    pub pending: i64,
    pub due: i64,
    pub oldest_due_age_seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_fall_in_the_first_bucket_whose_bound_they_do_not_exceed() {
        let h = Histogram::new(&[1.0, 2.0, 4.0]);
        for v in [0.5, 1.0, 1.5, 4.0, 9.0] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!(s.cumulative, vec![2, 3, 4, 5]);
        assert_eq!(s.count(), 5);
        assert!((s.sum - 16.0).abs() < 1e-9);
    }
}
