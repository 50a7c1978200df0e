//! Steps of the system clock, an hour forward and an hour back, while a real server runs: the
//! timers read vouch's one clock (`vouch::clock`), which absorbs the step, so that nothing fires
//! early and nothing stalls. Each phase would fail if the timers read the system clock directly:
//! a rate window opened again by a step back, a webhook retry fired at once by a step forward or
//! held an hour by a step back, a session expired an hour early, a fresh email preview refused
//! as stale.
//!
//! One test function: the clock is the process's, so the phases run one after another.

#[path = "common/mod.rs"]
mod common;
#[path = "webhooks/receiver.rs"]
#[allow(dead_code)]
mod receiver;
#[path = "mail/sink.rs"]
#[allow(dead_code)]
mod sink;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::TestServer;
use receiver::{Receiver, Reply};
use reqwest::Method;
use serde_json::json;

/// The system clock as vouch sees it: the real one plus a step the test sets.
struct SteppedWall(Arc<AtomicI64>);

impl SteppedWall {
    fn install() -> Self {
        let step = Arc::new(AtomicI64::new(0));
        let s = step.clone();
        vouch::clock::set_wall_clock(Arc::new(move || {
            Utc::now() + chrono::Duration::milliseconds(s.load(Ordering::SeqCst))
        }));
        SteppedWall(step)
    }

    /// Sets the system clock `hours` away from the real time.
    fn set(&self, hours: i64) {
        self.0.store(hours * 3_600_000, Ordering::SeqCst);
    }
}

async fn pdf(t: &TestServer, sid: &str) -> (u16, Option<u64>) {
    let r = t
        .request(
            Method::GET,
            &format!("/v3/session/{sid}/generate-pdf/"),
            Some(&t.key),
            None,
        )
        .await;
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    (r.status().as_u16(), retry)
}

/// The time from the first delivery (answered 500) to its retry, with the system clock stepped
/// `hours` right after the first one.
async fn retry_gap(t: &TestServer, wall: &SteppedWall, hours: i64) -> Duration {
    let hook = Receiver::start().await;
    hook.script(vec![Reply::Status(500)]);
    let (s, d) = t
        .post(
            "/v3/webhook/destinations/",
            json!({"label": "hook", "url": hook.url, "subscribed_events": ["status.updated"]}),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    t.attempt(&sid, "feature_ocr_1", "Approved").await;
    let first = hook.wait_for(1).await[0].at;
    wall.set(hours);
    let got = hook.wait_for(2).await;
    let (s, _) = t
        .call(
            Method::DELETE,
            &format!("/v3/webhook/destinations/{}/", d["uuid"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, 204);
    got[1].at - first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hour_forward_or_back_neither_fires_timers_at_once_nor_stalls_them() {
    let wall = SteppedWall::install();
    let smtp = sink::Sink::start();
    let smtp_url = smtp.url();
    let t = TestServer::start_with(move |c| {
        c.allow_private_destinations = true;
        c.webhooks.retry_schedule = [0, 2].map(Duration::from_secs).to_vec();
        c.webhooks.jitter = 0.0;
        c.webhooks.timeout = Duration::from_secs(1);
        c.webhooks.poll_interval = Duration::from_millis(100);
        c.lifecycle.interval = Duration::from_millis(100);
        c.lifecycle.not_started_expire_after = Duration::from_secs(30 * 60);
        c.rate_limit.pdf = 2;
        c.rate_limit.window = Duration::from_secs(60);
        c.smtp_url = Some(smtp_url);
        c.mailer.poll_interval = Duration::from_millis(100);
    })
    .await;

    // A rate window: an hour back does not open it again.
    let (sid, _) = t.session(&["OCR"]).await;
    assert_eq!(pdf(&t, &sid).await.0, 200);
    assert_eq!(pdf(&t, &sid).await.0, 200);
    // (A sliding window over two fixed ones: Retry-After is at most two windows.)
    let (s, retry) = pdf(&t, &sid).await;
    assert_eq!(s, 429);
    assert!(retry.is_some_and(|r| r <= 120), "{retry:?}");
    wall.set(-1);
    let (s, retry) = pdf(&t, &sid).await;
    assert_eq!(s, 429, "the window opened again after an hour back");
    assert!(retry.is_some_and(|r| r <= 120), "{retry:?}");

    // A webhook retry due in 2 s: an hour forward does not send it at once (the system clock is
    // set back to the real time: that is the step forward) ...
    let gap = retry_gap(&t, &wall, 0).await;
    assert!(gap >= Duration::from_millis(1800), "sent at once: {gap:?}");
    assert!(gap <= Duration::from_secs(10), "{gap:?}");
    // ... and an hour back does not hold it for an hour.
    let gap = retry_gap(&t, &wall, -1).await;
    assert!(gap >= Duration::from_millis(1800), "{gap:?}");
    assert!(gap <= Duration::from_secs(10), "stalled: {gap:?}");
    // vouch's time is an hour ahead of the system's now, and says so while it works it off.
    let metrics = t.metrics().await;
    let offset: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("vouch_clock_offset_seconds "))
        .and_then(|v| v.parse().ok())
        .expect("vouch_clock_offset_seconds");
    assert!((3500.0..=3600.0).contains(&offset), "{offset}");

    // A session expiring 30 minutes after creation, and a preview token valid for 15 minutes:
    // an hour forward (-1 h to +0 h) neither expires the one nor stales the other.
    let (fresh, _) = t.session(&["OCR"]).await;
    let (sid, _) = t.session(&["OCR", "LIVENESS"]).await;
    t.attempt(&sid, "feature_ocr_1", "In Review").await;
    t.attempt(&sid, "feature_liveness_1", "Approved").await;
    let (s, p) = t
        .post(
            &format!("/v3/session/{sid}/decision-email-preview/"),
            json!({"new_status": "Declined", "email_address": "clock@example.com"}),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    wall.set(0);
    let settle = Instant::now() + Duration::from_secs(1);
    while Instant::now() < settle {
        assert_eq!(t.status_of(&fresh).await, "Not Started", "expired early");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, b) = t
        .call(
            Method::PATCH,
            &format!("/v3/session/{sid}/update-status/"),
            Some(json!({"new_status": "Declined", "send_email": true,
                "email_address": "clock@example.com", "email_preview_token": p["preview_token"]})),
        )
        .await;
    assert_eq!(s, 200, "the preview was refused as stale: {b}");
    assert_eq!(smtp.wait_for(1).await.len(), 1);
}
