//! # Time is handed in, never looked up
//!
//! Protocol code that asks the machine for the time cannot be replayed: run it twice
//! and it sees two different clocks. So the shard's pipeline, its two-phase lock
//! table and its beacon link never call `Instant::now()`; they ask the [`Clock`] they
//! were given, and a clock is one of two things:
//!
//! ```text
//!   Clock::real()       the machine's monotonic clock, counted from when the clock
//!                       was made: what a shard process runs on
//!   Clock::virtual_()   whatever the simulator last set with `Clock::set`: the
//!                       one clock every node of a virtual run shares
//! ```
//!
//! A time is a [`Duration`] since the clock's origin, so figures that subtract two
//! times (how long a receipt waited, how long a lock held) mean the same in both.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Where the protocol code reads the time (see the module's chapter). Cloning shares
/// it: every clone of a virtual clock moves when the simulator sets one.
#[derive(Debug, Clone)]
pub enum Clock {
    /// The machine's monotonic clock, from this origin.
    Real(Instant),
    /// A simulator's clock, in nanoseconds since the run began.
    Virtual(Arc<AtomicU64>),
}

impl Clock {
    /// The machine's clock, counted from now.
    pub fn real() -> Clock {
        Clock::Real(Instant::now())
    }

    /// A simulator's clock, at zero until [`Clock::set`].
    pub fn virtual_() -> Clock {
        Clock::Virtual(Arc::new(AtomicU64::new(0)))
    }

    /// The time now, since the clock's origin.
    pub fn now(&self) -> Duration {
        match self {
            Clock::Real(origin) => origin.elapsed(),
            Clock::Virtual(ns) => Duration::from_nanos(ns.load(Ordering::Relaxed)),
        }
    }

    /// Moves a virtual clock to `at` (the simulator's next event); a real clock
    /// cannot be set and is left alone.
    pub fn set(&self, at: Duration) {
        if let Clock::Virtual(ns) = self {
            ns.store(at.as_nanos() as u64, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_virtual_clock_moves_only_when_set_and_every_clone_sees_it() {
        let clock = Clock::virtual_();
        let copy = clock.clone();
        assert_eq!(copy.now(), Duration::ZERO);
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(copy.now(), Duration::ZERO, "wall time does not move it");
        clock.set(Duration::from_millis(250));
        assert_eq!(copy.now(), Duration::from_millis(250));
        let real = Clock::real();
        real.set(Duration::from_secs(3600));
        assert!(
            real.now() < Duration::from_secs(60),
            "a real clock is not set"
        );
    }
}
