//! Drives a workload closed-loop (fixed concurrency) or open-loop (fixed rate) and records
//! latencies. Open-loop latency is measured from each request's scheduled time, so a server
//! that falls behind is charged for the queueing it causes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use hyper::Method;
use serde_json::Value;

use crate::client::Conn;

/// Produces the requests of one connection.
pub trait Stream: Send {
    fn next(&mut self) -> (Method, String, Option<Value>);
}

pub type StreamFactory = Arc<dyn Fn(usize, usize) -> Box<dyn Stream> + Send + Sync>;

#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub connections: usize,
    pub duration: Duration,
    pub warmup: Duration,
    /// Requests per second across all connections; `None` is closed-loop.
    pub rate: Option<f64>,
}

pub struct Stats {
    pub latency_us: Histogram<u64>,
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
    pub elapsed: Duration,
    /// `2xx` answers counted per node (index into the addresses given to `run`).
    pub per_node: Vec<u64>,
}

impl Stats {
    pub fn new() -> Self {
        Self {
            latency_us: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
            ok: 0,
            errors: BTreeMap::new(),
            elapsed: Duration::ZERO,
            per_node: Vec::new(),
        }
    }

    pub fn merge(&mut self, other: Stats) {
        let _ = self.latency_us.add(&other.latency_us);
        self.ok += other.ok;
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        if self.per_node.len() < other.per_node.len() {
            self.per_node.resize(other.per_node.len(), 0);
        }
        for (mine, theirs) in self.per_node.iter_mut().zip(other.per_node) {
            *mine += theirs;
        }
    }

    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn ms(&self, q: f64) -> f64 {
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }
}

/// Runs `plan`; connection `i` goes to `addrs[i % addrs.len()]` (round-robin over the nodes).
pub async fn run(
    addrs: &[SocketAddr],
    key: &str,
    plan: Plan,
    streams: StreamFactory,
) -> anyhow::Result<Stats> {
    let start = Instant::now() + Duration::from_millis(50);
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;
    anyhow::ensure!(!addrs.is_empty(), "no server address to load");
    let mut tasks = Vec::with_capacity(plan.connections);
    for i in 0..plan.connections {
        let node = i % addrs.len();
        let nodes = addrs.len();
        let mut conn = Conn::open(addrs[node], key).await?;
        let mut stream = streams(i, plan.connections);
        let interval = plan
            .rate
            .map(|r| Duration::from_secs_f64(plan.connections as f64 / r));
        tasks.push(tokio::spawn(async move {
            let mut stats = Stats::new();
            stats.per_node = vec![0; nodes];
            // Spread the connections' schedules over one interval.
            let mut scheduled = start
                + interval.map_or(Duration::ZERO, |iv| {
                    iv.mul_f64(i as f64 / plan.connections as f64)
                });
            tokio::time::sleep_until(scheduled.into()).await;
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                if interval.is_some() {
                    if scheduled > now {
                        tokio::time::sleep_until(scheduled.into()).await;
                    }
                } else {
                    scheduled = now;
                }
                let (method, path, body) = stream.next();
                let result = conn.send(method, &path, body.as_ref()).await;
                let done = Instant::now();
                let broken = result.is_err();
                if scheduled >= measure_from && done <= end {
                    match result {
                        Ok((s, _)) if (200..300).contains(&s) => {
                            stats.ok += 1;
                            stats.per_node[node] += 1;
                            let us = done.duration_since(scheduled).as_micros() as u64;
                            let _ = stats.latency_us.record(us.max(1));
                        }
                        Ok((s, body)) => {
                            let code = serde_json::from_slice::<Value>(&body)
                                .ok()
                                .and_then(|v| {
                                    v.get("code").and_then(Value::as_str).map(String::from)
                                })
                                .unwrap_or_default();
                            *stats.errors.entry(format!("{s} {code}")).or_default() += 1;
                        }
                        Err(e) => {
                            *stats.errors.entry(format!("io: {e}")).or_default() += 1;
                        }
                    }
                }
                if broken {
                    // The connection is gone; its remaining schedule is not sent.
                    break;
                }
                if let Some(iv) = interval {
                    scheduled += iv;
                }
            }
            stats
        }));
    }
    let mut total = Stats::new();
    for t in tasks {
        total.merge(t.await?);
    }
    total.elapsed = plan.duration;
    Ok(total)
}
