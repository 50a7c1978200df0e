//! Rate limits (§7): a sliding window per counter, estimated from two fixed windows the way
//! both counters keep them (in this process, or in Redis shared by every node): the current
//! window's count, and the previous window's weighted by how much of it the sliding window
//! still covers. The arithmetic is here once; the counters only count.

/// A limit: `limit` requests in any `window_ms` milliseconds. A `limit` of 0 means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub limit: u32,
    pub window_ms: u64,
}

/// The counts a counter holds for one name when a request arrives: the current fixed window's
/// (this request included) and the previous one's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub current: u64,
    pub previous: u64,
}

/// What a request is answered, and the headers that say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// `X-RateLimit-Limit`.
    pub limit: u32,
    /// `X-RateLimit-Remaining`: requests left in the sliding window after this one.
    pub remaining: u32,
    /// `X-RateLimit-Reset`: when the current fixed window ends, in seconds since the epoch.
    pub reset_at: i64,
    /// `Retry-After` for a refused request: seconds until one more would be allowed (≥ 1).
    pub retry_after: u64,
}

impl Limit {
    /// The fixed window `now_ms` (milliseconds since the epoch) falls in.
    pub fn window_of(&self, now_ms: i64) -> i64 {
        now_ms.div_euclid(self.window_ms.max(1) as i64)
    }

    /// The answer for a request counted in `counts` at `now_ms`. A refused request is not to be
    /// kept in the count (the counter takes it back), so a client that keeps trying is let in
    /// again as soon as the window allows, not later.
    pub fn judge(&self, counts: Counts, now_ms: i64) -> Verdict {
        let w = self.window_ms.max(1);
        let window = self.window_of(now_ms);
        let elapsed = (now_ms - window * w as i64) as u64;
        let reset_at = ((window + 1) * w as i64).div_euclid(1000)
            + i64::from((window + 1) * w as i64 % 1000 != 0);
        // Everything in thousandths of a window, to stay in integers.
        let scale = u128::from(w);
        let used = u128::from(counts.previous) * u128::from(w - elapsed)
            + u128::from(counts.current) * scale;
        let capacity = u128::from(self.limit) * scale;
        if used <= capacity {
            let remaining = ((capacity - used) / scale).min(u128::from(self.limit)) as u32;
            return Verdict {
                allowed: true,
                limit: self.limit,
                remaining,
                reset_at,
                retry_after: 0,
            };
        }
        let wait_ms = self.wait_ms(counts.current.saturating_sub(1), counts.previous, elapsed);
        Verdict {
            allowed: false,
            limit: self.limit,
            remaining: 0,
            reset_at,
            retry_after: wait_ms.div_ceil(1000).max(1),
        }
    }

    /// Milliseconds from `elapsed` into the current window until one request more fits, given
    /// the counts without the refused request.
    fn wait_ms(&self, current: u64, previous: u64, elapsed: u64) -> u64 {
        let w = self.window_ms.max(1);
        let limit = u64::from(self.limit);
        if limit == 0 {
            return w;
        }
        // Later in this window: previous·(w − e) + (current + 1)·w ≤ limit·w.
        if current < limit && previous > 0 {
            let room = (limit - current - 1) * w; // what the previous window may still weigh
                                                  // The least elapsed time at which it weighs no more.
            let e = w - (room / previous).min(w);
            if e < w {
                return e.saturating_sub(elapsed).max(1);
            }
        }
        // In the next window, where this window's count becomes the previous one:
        // current·(w − e') + w ≤ limit·w.
        let to_next = w - elapsed;
        if current == 0 {
            return to_next;
        }
        let room = (limit - 1) * w;
        let e2 = w.saturating_sub(room / current);
        to_next + e2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;

    fn lim(limit: u32) -> Limit {
        Limit {
            limit,
            window_ms: MIN,
        }
    }

    /// Drives the judge as a counter does: counts each request, takes refused ones back.
    struct Counter {
        limit: Limit,
        window: i64,
        counts: Counts,
    }

    impl Counter {
        fn new(limit: Limit) -> Self {
            Self {
                limit,
                window: i64::MIN,
                counts: Counts::default(),
            }
        }

        fn hit(&mut self, now_ms: i64) -> Verdict {
            let w = self.limit.window_of(now_ms);
            if w != self.window {
                let previous = if w == self.window + 1 {
                    self.counts.current
                } else {
                    0
                };
                self.counts = Counts {
                    current: 0,
                    previous,
                };
                self.window = w;
            }
            self.counts.current += 1;
            let v = self.limit.judge(self.counts, now_ms);
            if !v.allowed {
                self.counts.current -= 1;
            }
            v
        }
    }

    #[test]
    fn a_fresh_key_gets_its_limit_then_is_refused_until_the_window_moves() {
        let mut c = Counter::new(lim(600));
        let t0 = 1_800_000_000_000;
        for i in 0..600 {
            let v = c.hit(t0 + i);
            assert!(v.allowed, "request {i}");
            assert_eq!(v.remaining, 599 - i as u32);
            assert_eq!(v.limit, 600);
        }
        let v = c.hit(t0 + 600);
        assert!(!v.allowed, "{v:?}");
        assert_eq!(v.remaining, 0);
        // 600 in this window: the next window must be 1/600 in before one more fits.
        let wait = v.retry_after;
        assert!((1..=61).contains(&wait), "{wait}");
        let at = t0 + 600 + wait as i64 * 1000;
        assert!(c.hit(at).allowed, "allowed once Retry-After has passed");
    }

    #[test]
    fn the_previous_window_counts_by_how_much_of_it_the_sliding_window_covers() {
        let l = lim(100);
        let start = 1_800_000_000_000i64.div_euclid(MIN as i64) * MIN as i64;
        // 100 in the previous window; a quarter into this one, 75 of them still count.
        let v = l.judge(
            Counts {
                current: 25,
                previous: 100,
            },
            start + (MIN / 4) as i64,
        );
        assert!(v.allowed);
        assert_eq!(v.remaining, 0);
        let v = l.judge(
            Counts {
                current: 26,
                previous: 100,
            },
            start + (MIN / 4) as i64,
        );
        assert!(!v.allowed);
        // It fits once 1/100 more of the previous window has slid out: 0.6 s, answered as 1 s.
        assert_eq!(v.retry_after, 1);
        let half = l.judge(
            Counts {
                current: 10,
                previous: 100,
            },
            start + (MIN / 2) as i64,
        );
        assert_eq!(half.remaining, 40);
        assert_eq!(half.reset_at, (start + MIN as i64) / 1000);
    }

    #[test]
    fn retry_after_is_never_early_and_never_more_than_a_window_late() {
        // Against the counter itself: after a refusal, waiting Retry-After lets the next one
        // in, and waiting one second less does not, for any pattern of traffic.
        for limit in [1u32, 2, 7, 100] {
            for step in [1i64, 97, 1_000, 13_000] {
                let mut c = Counter::new(lim(limit));
                let mut now = 1_800_000_000_123i64;
                let mut refusals = 0;
                for _ in 0..2_000 {
                    now += step;
                    let v = c.hit(now);
                    if v.allowed {
                        continue;
                    }
                    refusals += 1;
                    assert!(v.retry_after <= 2 * MIN / 1000, "{limit} {step}: {v:?}");
                    if v.retry_after > 1 {
                        let mut probe = Counter { ..c.clone_state() };
                        let early = probe.hit(now + (v.retry_after as i64 - 1) * 1000 - 1);
                        assert!(!early.allowed, "{limit} {step}: in early at {v:?}");
                    }
                    let mut probe = Counter { ..c.clone_state() };
                    assert!(
                        probe.hit(now + v.retry_after as i64 * 1000).allowed,
                        "{limit} {step}: still refused after {v:?}"
                    );
                }
                if step < 1_000 {
                    assert!(refusals > 0, "{limit} {step}: the limit never bit");
                }
            }
        }
    }

    impl Counter {
        fn clone_state(&self) -> Counter {
            Counter {
                limit: self.limit,
                window: self.window,
                counts: self.counts,
            }
        }
    }

    #[test]
    fn reset_is_the_end_of_the_current_window_in_whole_seconds() {
        let l = Limit {
            limit: 5,
            window_ms: 1_500,
        };
        let v = l.judge(
            Counts {
                current: 1,
                previous: 0,
            },
            3_100,
        );
        // Window 2 runs from 3.0 s to 4.5 s: its end, rounded up, is 5 s.
        assert_eq!(v.reset_at, 5);
    }
}
