//! vouch's time: the system's wall clock, with its steps absorbed.
//!
//! Every timer vouch keeps (session lifecycles, job leases, webhook and email retries, rate-limit
//! windows, preview and share tokens) is a wall-clock time compared with "now". Read straight
//! from the system, a step of that clock (an operator's `date -s`, a virtual machine restored, NTP
//! stepping after a long drift) moves every timer at once: an hour forward fires a day's retries
//! and expiries together, an hour back stalls them for an hour.
//!
//! [`Slewing`] follows the system clock as long as it advances with the monotonic clock. When the
//! two disagree by more than [`STEP`], the step is absorbed: vouch's time goes on from where it was,
//! at the monotonic clock's pace, and then drifts toward the system clock by at most [`SLEW`] of
//! the time that passes (an hour's step is worked off in ten hours). It never goes backwards.

use chrono::{DateTime, Duration, Utc};

/// A disagreement between the wall and monotonic clocks larger than this is a step.
pub const STEP: Duration = Duration::seconds(5);

/// At most this fraction of the time that passes is spent working a step off.
pub const SLEW: f64 = 0.1;

/// The state of vouch's clock between two readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slewing {
    /// The last time answered.
    last: DateTime<Utc>,
    /// The monotonic reading (time since some fixed origin) at the last answer.
    last_mono: std::time::Duration,
    /// vouch's time minus the system's: zero but while a step is worked off.
    offset: Duration,
}

impl Slewing {
    /// A clock that starts at the system's time `wall`, read when the monotonic clock said `mono`.
    pub fn new(wall: DateTime<Utc>, mono: std::time::Duration) -> Self {
        Slewing {
            last: wall,
            last_mono: mono,
            offset: Duration::zero(),
        }
    }

    /// vouch's time, given the system's `wall` time and the monotonic clock `mono`, read together.
    pub fn read(&mut self, wall: DateTime<Utc>, mono: std::time::Duration) -> DateTime<Utc> {
        let passed =
            Duration::from_std(mono.saturating_sub(self.last_mono)).unwrap_or(Duration::MAX);
        let expected = self.last + passed;
        if (wall + self.offset - expected).abs() > STEP {
            // The system clock stepped: go on from where vouch's time was.
            self.offset = expected - wall;
        } else {
            let budget = passed.num_microseconds().unwrap_or(i64::MAX) as f64 * SLEW;
            let off = self.offset.num_microseconds().unwrap_or(0) as f64;
            let worked = off.abs().min(budget).copysign(off);
            self.offset -= Duration::microseconds(worked as i64);
        }
        let now = wall + self.offset;
        self.last = now.max(self.last);
        self.last_mono = mono;
        self.last
    }

    /// vouch's time minus the system's, in seconds (0 but while a step is worked off).
    pub fn offset_seconds(&self) -> f64 {
        self.offset.num_microseconds().unwrap_or(0) as f64 / 1e6
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_796_000_000 + s, 0).unwrap()
    }

    fn m(s: u64) -> std::time::Duration {
        std::time::Duration::from_secs(s)
    }

    #[test]
    fn follows_the_system_clock_while_it_does_not_step() {
        let mut c = Slewing::new(t(0), m(100));
        for s in 1..100 {
            assert_eq!(c.read(t(s), m(100 + s as u64)), t(s));
        }
        // Small disagreements (NTP's slewing, a slow reading) are followed, not absorbed.
        assert_eq!(c.read(t(103), m(200)), t(103));
        assert_eq!(c.offset_seconds(), 0.0);
    }

    #[test]
    fn an_hour_forward_is_absorbed_then_worked_off_at_the_slew_rate() {
        let mut c = Slewing::new(t(0), m(0));
        assert_eq!(c.read(t(10), m(10)), t(10));
        // The system clock jumps an hour ahead between two readings one second apart.
        assert_eq!(c.read(t(3611), m(11)), t(11), "no hour passed");
        assert!((c.offset_seconds() + 3600.0).abs() < 0.2);
        // Ten seconds later vouch's time has gone 11 s: 10 real, 1 worked off.
        assert_eq!(c.read(t(3621), m(21)), t(22));
        // Ten hours of real time work the hour off; then the system clock is followed again.
        let mut last = t(22);
        for h in 1..=11 {
            let now = c.read(t(3621 + h * 3600), m(21 + h as u64 * 3600));
            assert!(now > last);
            let step = now - last;
            assert!(step <= Duration::seconds(3960) && step >= Duration::seconds(3600));
            last = now;
        }
        assert_eq!(c.offset_seconds(), 0.0);
        assert_eq!(last, t(3621 + 11 * 3600));
    }

    #[test]
    fn an_hour_back_neither_goes_backwards_nor_stands_still() {
        let mut c = Slewing::new(t(0), m(0));
        assert_eq!(c.read(t(100), m(100)), t(100));
        assert_eq!(c.read(t(100 - 3600 + 1), m(101)), t(101));
        // Time goes on at nine tenths of its pace until the hour is worked off.
        let a = c.read(t(100 - 3600 + 11), m(111));
        assert_eq!(a, t(110));
        for s in [1u64, 60, 3600, 36_000, 40_000] {
            let before = c.read(t(100 - 3600 + 111 + s as i64), m(211 + s));
            let after = c.read(t(100 - 3600 + 112 + s as i64), m(212 + s));
            assert!(after > before, "stalled at {s}");
        }
        assert_eq!(c.offset_seconds(), 0.0);
    }

    #[test]
    fn never_goes_backwards_even_by_a_little() {
        let mut c = Slewing::new(t(0), m(0));
        c.read(t(10), m(10));
        // The wall clock steps back 2 s (below STEP): followed, but held at the last answer.
        assert_eq!(c.read(t(8), m(10)), t(10));
        assert_eq!(c.read(t(11), m(13)), t(11));
    }
}
