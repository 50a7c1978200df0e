//! Prometheus text-format metrics, kept in memory.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use vouch_store::stats::{HistogramSnapshot, QueueStat, StoreStats};

/// Bounds of the request latency histogram, in seconds.
const LATENCY_BOUNDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One route's answers of one status: counts per latency bucket (not cumulative), their sum.
struct Series {
    buckets: [u64; LATENCY_BOUNDS.len() + 1],
    seconds: f64,
}

impl Default for Series {
    fn default() -> Self {
        Self {
            buckets: [0; LATENCY_BOUNDS.len() + 1],
            seconds: 0.0,
        }
    }
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), Series>>,
    emails: Mutex<BTreeMap<&'static str, u64>>,
    shed: Mutex<BTreeMap<&'static str, u64>>,
}

/// Marks an answer refused for capacity rather than for the request (`overloaded`,
/// `storage_full`), so that `/metrics` counts it.
#[derive(Debug, Clone, Copy)]
pub struct Shed(pub &'static str);

impl Metrics {
    pub fn count_shed(&self, reason: &'static str) {
        if let Ok(mut m) = self.shed.lock() {
            *m.entry(reason).or_default() += 1;
        }
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            let s = m
                .entry((method.to_string(), route.to_string(), status))
                .or_default();
            let secs = took.as_secs_f64();
            s.buckets[LATENCY_BOUNDS.partition_point(|b| *b < secs)] += 1;
            s.seconds += secs;
        }
    }

    /// Counts an email outcome (`sent`, `retry`, `failed`, `not_sent`).
    pub fn observe_email(&self, outcome: &'static str) {
        if let Ok(mut m) = self.emails.lock() {
            *m.entry(outcome).or_default() += 1;
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP vouch_emails_total Email sending outcomes.\n");
        out.push_str("# TYPE vouch_emails_total counter\n");
        if let Ok(m) = self.emails.lock() {
            for (outcome, n) in m.iter() {
                let _ = writeln!(out, "vouch_emails_total{{outcome=\"{outcome}\"}} {n}");
            }
        }
        out.push_str(
            "# HELP vouch_shed_requests_total Requests refused with 503 for capacity: overloaded, storage_full.\n",
        );
        out.push_str("# TYPE vouch_shed_requests_total counter\n");
        if let Ok(m) = self.shed.lock() {
            for reason in ["overloaded", "storage_full"] {
                let n = m.get(reason).copied().unwrap_or(0);
                let _ = writeln!(out, "vouch_shed_requests_total{{reason=\"{reason}\"}} {n}");
            }
        }
        out.push_str("# HELP vouch_clock_offset_seconds vouch's time minus the system clock's: not 0 while a step of the system clock is worked off.\n");
        out.push_str("# TYPE vouch_clock_offset_seconds gauge\n");
        let _ = writeln!(
            out,
            "vouch_clock_offset_seconds {}",
            crate::clock::offset_seconds()
        );
        out.push_str("# HELP vouch_http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE vouch_http_requests_total counter\n");
        let Ok(m) = self.requests.lock() else {
            return out;
        };
        for ((method, route, status), s) in m.iter() {
            let _ = writeln!(
                out,
                "vouch_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {}",
                s.buckets.iter().sum::<u64>()
            );
        }
        out.push_str("# HELP vouch_http_request_duration_seconds Time spent answering, by route template and status.\n");
        out.push_str("# TYPE vouch_http_request_duration_seconds histogram\n");
        for ((method, route, status), s) in m.iter() {
            let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
            let mut cumulative = 0;
            for (i, n) in s.buckets.iter().enumerate() {
                cumulative += n;
                let le = LATENCY_BOUNDS
                    .get(i)
                    .map_or("+Inf".to_string(), |b| b.to_string());
                let _ = writeln!(
                    out,
                    "vouch_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "vouch_http_request_duration_seconds_sum{{{labels}}} {:.6}",
                s.seconds
            );
            let _ = writeln!(
                out,
                "vouch_http_request_duration_seconds_count{{{labels}}} {cumulative}"
            );
        }
        out
    }
}

/// A histogram of the store's in the text format, with `labels` (`a="b",`) before `le`.
fn histogram(out: &mut String, name: &str, help: &str, h: &HistogramSnapshot) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (i, n) in h.cumulative.iter().enumerate() {
        let le = h
            .bounds
            .get(i)
            .map_or("+Inf".to_string(), |b| b.to_string());
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_sum {:.6}", h.sum);
    let _ = writeln!(out, "{name}_count {}", h.count());
}

/// The store's figures and its job queues, read when `/metrics` is asked for.
pub fn render_store(stats: &StoreStats, queues: &[QueueStat]) -> String {
    let mut out = String::new();
    if let Some(h) = &stats.write_groups {
        histogram(
            &mut out,
            &format!("vouch_{}_write_group_requests", stats.backend),
            "Changes committed together in one write group (one transaction).",
            h,
        );
    }
    if let Some(q) = stats.writes_queued {
        let name = format!("vouch_{}_writes_queued", stats.backend);
        let _ = writeln!(
            out,
            "# HELP {name} Writes waiting for a writer.\n# TYPE {name} gauge\n{name} {q}"
        );
    }
    if let Some(h) = &stats.pool_waits {
        histogram(
            &mut out,
            "vouch_postgres_pool_wait_seconds",
            "Time each request waited for a PostgreSQL connection from the pool.",
            h,
        );
    }
    if let Some(p) = stats.pool {
        for (name, help, v) in [
            (
                "vouch_postgres_pool_connections",
                "Connections the pool holds open.",
                p.size,
            ),
            (
                "vouch_postgres_pool_idle",
                "Open connections not in use.",
                p.available,
            ),
            (
                "vouch_postgres_pool_waiting",
                "Requests waiting for a connection now.",
                p.waiting,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
    }
    for (name, help, value) in [
        (
            "vouch_queue_jobs",
            "Jobs pending in each queue (webhook_fanout: events not yet turned into deliveries).",
            (|q: &QueueStat| q.pending as f64) as fn(&QueueStat) -> f64,
        ),
        (
            "vouch_queue_due_jobs",
            "Pending jobs due now and not leased by a worker.",
            |q: &QueueStat| q.due as f64,
        ),
        (
            "vouch_queue_oldest_due_age_seconds",
            "How long the oldest due job of each queue has been due (0 when none is).",
            |q: &QueueStat| q.oldest_due_age_seconds,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for q in queues {
            let _ = writeln!(out, "{name}{{queue=\"{}\"}} {}", q.queue, value(q));
        }
    }
    out
}
