//! Prometheus text-format metrics, kept in memory.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Default)]
struct Series {
    count: u64,
    seconds: f64,
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
            s.count += 1;
            s.seconds += took.as_secs_f64();
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
                s.count
            );
        }
        out.push_str("# HELP vouch_http_request_duration_seconds_sum Time spent answering.\n");
        out.push_str("# TYPE vouch_http_request_duration_seconds_sum counter\n");
        for ((method, route, status), s) in m.iter() {
            let _ = writeln!(
                out,
                "vouch_http_request_duration_seconds_sum{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {:.6}",
                s.seconds
            );
        }
        out
    }
}
