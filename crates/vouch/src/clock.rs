//! The one clock every timer of vouch reads ([`now`]): the system's wall clock through
//! [`vouch_core::clock::Slewing`], so that a step of the system clock neither fires a day of
//! timers at once nor stalls them for an hour. Tests inject the wall clock they step
//! ([`set_wall_clock`]); `/metrics` shows the step being worked off (`vouch_clock_offset_seconds`).

use std::sync::{Arc, LazyLock, Mutex, RwLock};
use std::time::Instant;

use chrono::{DateTime, Utc};
use vouch_core::clock::Slewing;

/// Where the system's wall time comes from.
pub type WallClock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

struct Clock {
    wall: RwLock<WallClock>,
    origin: Instant,
    state: Mutex<Slewing>,
}

static CLOCK: LazyLock<Clock> = LazyLock::new(|| {
    let origin = Instant::now();
    Clock {
        wall: RwLock::new(Arc::new(Utc::now)),
        origin,
        state: Mutex::new(Slewing::new(Utc::now(), origin.elapsed())),
    }
});

/// vouch's time: what every timer, lease, retry, rate window and token age is measured by.
pub fn now() -> DateTime<Utc> {
    let wall = CLOCK.wall.read().unwrap_or_else(|e| e.into_inner()).clone();
    let mut state = CLOCK.state.lock().unwrap_or_else(|e| e.into_inner());
    state.read(wall(), CLOCK.origin.elapsed())
}

/// Replaces the system's wall clock (for tests that step it). vouch's time goes on from where it
/// was, as after any step.
pub fn set_wall_clock(wall: WallClock) {
    *CLOCK.wall.write().unwrap_or_else(|e| e.into_inner()) = wall;
}

/// vouch's time minus the system's, in seconds: 0 but while a step is worked off.
pub fn offset_seconds() -> f64 {
    CLOCK
        .state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .offset_seconds()
}
