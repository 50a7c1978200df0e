//! Per-session limits on the person's forms: a link is one person's, so a flood of uploads or
//! code checks on one session is refused (`429`, with `Retry-After` and a page saying so) long
//! before it costs anything. Counted in this process (a sliding window per session and kind).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use vouch_core::SessionId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A capture form (files).
    Capture,
    /// A code form (send or check).
    Code,
}

impl Kind {
    /// Forms of this kind one session may send per window.
    fn limit(self) -> usize {
        match self {
            Kind::Capture => 20,
            Kind::Code => 20,
        }
    }
}

/// The window the limits count in.
pub const WINDOW: Duration = Duration::from_secs(600);

#[derive(Default)]
pub struct Limits {
    seen: Mutex<HashMap<(SessionId, Kind), VecDeque<Instant>>>,
}

impl Limits {
    /// Counts one form; `Err(seconds)` when the session has had its share of the window.
    pub fn take(&self, session: SessionId, kind: Kind, now: Instant) -> Result<(), u64> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > 50_000 {
            seen.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        let q = seen.entry((session, kind)).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            q.pop_front();
        }
        if q.len() >= kind.limit() {
            let oldest = *q.front().expect("a full window");
            let wait = WINDOW.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs().max(1));
        }
        q.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_gets_its_share_then_waits_for_the_window_to_move() {
        let l = Limits::default();
        let (a, b) = (SessionId::from_u128(1), SessionId::from_u128(2));
        let t0 = Instant::now();
        for i in 0..20 {
            assert!(l
                .take(a, Kind::Capture, t0 + Duration::from_secs(i))
                .is_ok());
        }
        let wait = l
            .take(a, Kind::Capture, t0 + Duration::from_secs(30))
            .unwrap_err();
        assert_eq!(wait, 570, "until the first one leaves the window");
        assert!(l.take(a, Kind::Code, t0).is_ok(), "kinds count apart");
        assert!(l.take(b, Kind::Capture, t0).is_ok(), "sessions count apart");
        assert!(l.take(a, Kind::Capture, t0 + WINDOW).is_ok());
    }
}
