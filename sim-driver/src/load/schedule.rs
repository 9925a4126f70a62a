//! The open-loop schedule: when each transaction is due.
//!
//! The offered rate is a piecewise function of time — constant, or a linear ramp —
//! built from `workload.rate` and the `[[phases]]`. Transaction `k` (0-based) is due at
//! the moment the cumulative count `C(t) = ∫₀ᵗ rate` reaches `k`:
//!
//! ```text
//!  rate                      C(t) on a segment starting at t₀ with C(t₀) = c₀:
//!   │        ┌──────          constant r:  C = c₀ + r·τ                  (τ = t − t₀)
//!   │       /                 ramp r₀ + a·τ:  C = c₀ + r₀·τ + a·τ²/2
//!   │──────/                  due time of k: solve C = k for τ (linear or quadratic)
//!   └──────────────── t
//! ```
//!
//! Due times are exact, not rounded to the generator's tick, so latency measured from
//! them is not blurred by the generator's own timing.
//!
//! A trace replayed at its own timing (`trace.timing = "original"`) brings its due times
//! with it ([`Schedule::at_times`]): transaction `k` is due at the `k`-th of them.

use std::time::Duration;

use crate::scenario::{Phase, Rate, Scenario};

/// One piece of the rate function.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    /// Start, seconds since the run's start.
    t0: f64,
    /// Rate at `t0`, transactions per second.
    r0: f64,
    /// Change of rate per second (0 for a constant segment).
    slope: f64,
    /// Transactions due before `t0`.
    c0: f64,
}

impl Segment {
    fn cumulative(&self, t: f64) -> f64 {
        let tau = t - self.t0;
        self.c0 + self.r0 * tau + 0.5 * self.slope * tau * tau
    }
}

/// The offered-load schedule of a scenario with a numeric rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Segments in time order; the last one lasts forever.
    segments: Vec<Segment>,
    /// Each transaction's due time in ns, non-decreasing, when they come with the
    /// traffic (the segments are then not used).
    times: Option<std::sync::Arc<[u64]>>,
}

impl Schedule {
    /// The schedule of `scenario`, or `None` when its rate is `max` (no schedule).
    pub fn of(scenario: &Scenario) -> Option<Schedule> {
        match scenario.workload.rate {
            Rate::PerSecond(r) => Some(Schedule::new(r, &scenario.phases)),
            Rate::Max => None,
        }
    }

    /// Transaction `k` due at `times[k]` ns (non-decreasing); none after the last.
    pub fn at_times(times: std::sync::Arc<[u64]>) -> Schedule {
        Schedule {
            segments: Vec::new(),
            times: Some(times),
        }
    }

    /// Starts at `rate`, then follows `phases` (in time order, not overlapping).
    pub fn new(rate: u64, phases: &[Phase]) -> Schedule {
        let mut segments = vec![Segment {
            t0: 0.0,
            r0: rate as f64,
            slope: 0.0,
            c0: 0.0,
        }];
        for p in phases {
            let at = p.at.as_secs_f64();
            let target = p.rate as f64;
            let ramp = p.ramp.as_secs_f64();
            let last = *segments
                .last()
                .unwrap_or_else(|| unreachable!("starts non-empty"));
            if ramp > 0.0 {
                let here = last.r0 + last.slope * (at - last.t0);
                segments.push(Segment {
                    t0: at,
                    r0: here,
                    slope: (target - here) / ramp,
                    c0: last.cumulative(at),
                });
            }
            let t = at + ramp;
            let c0 = segments.last().map_or(0.0, |s| s.cumulative(t));
            segments.push(Segment {
                t0: t,
                r0: target,
                slope: 0.0,
                c0,
            });
        }
        // Drop zero-length segments (a phase at the same time as the previous change).
        segments.dedup_by(|later, earlier| {
            if later.t0 <= earlier.t0 {
                *earlier = *later;
                true
            } else {
                false
            }
        });
        Schedule {
            segments,
            times: None,
        }
    }

    fn segment_at(&self, t: f64) -> &Segment {
        let i = self.segments.partition_point(|s| s.t0 <= t);
        &self.segments[i.saturating_sub(1)]
    }

    /// The offered rate at `t` (with due times given, those due within half a second
    /// either side of `t`).
    pub fn rate_at(&self, t: Duration) -> f64 {
        if self.times.is_some() {
            let half = Duration::from_millis(500);
            return (self.due_before(t + half) - self.due_before(t.saturating_sub(half))) as f64;
        }
        let t = t.as_secs_f64();
        let s = self.segment_at(t);
        s.r0 + s.slope * (t - s.t0)
    }

    /// How many transactions are due strictly before `t`.
    pub fn due_before(&self, t: Duration) -> u64 {
        if let Some(times) = &self.times {
            let ns = t.as_nanos().min(u128::from(u64::MAX)) as u64;
            return times.partition_point(|&x| x < ns) as u64;
        }
        let t = t.as_secs_f64();
        let c = self.segment_at(t).cumulative(t);
        // A transaction due exactly at t is not yet due before t.
        (c - 1e-9).ceil().max(0.0) as u64
    }

    /// When transaction `k` is due, in nanoseconds since the run's start.
    pub fn due_at(&self, k: u64) -> u64 {
        if let Some(times) = &self.times {
            return times.get(k as usize).or(times.last()).copied().unwrap_or(0);
        }
        let k = k as f64;
        let i = self.segments.partition_point(|s| s.c0 <= k);
        // Segments with no rate have the same c0 as the next: pick the last with c0 ≤ k.
        let s = &self.segments[i.saturating_sub(1)];
        let need = k - s.c0;
        let tau = if s.slope == 0.0 {
            if s.r0 > 0.0 { need / s.r0 } else { 0.0 }
        } else {
            // ½·a·τ² + r₀·τ − need = 0, the root with τ ≥ 0.
            let disc = (s.r0 * s.r0 + 2.0 * s.slope * need).max(0.0);
            (disc.sqrt() - s.r0) / s.slope
        };
        // Truncated to the nanosecond, so never later than the exact due time.
        ((s.t0 + tau.max(0.0)) * 1e9).floor() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(at: f64, rate: u64, ramp: f64) -> Phase {
        Phase {
            at: Duration::from_secs_f64(at),
            rate,
            ramp: Duration::from_secs_f64(ramp),
        }
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn constant_rate() {
        let s = Schedule::new(1000, &[]);
        assert_eq!(s.due_before(secs(1.0)), 1000);
        assert_eq!(s.due_at(0), 0);
        assert_eq!(s.due_at(500), 500_000_000);
        assert_eq!(s.rate_at(secs(7.0)), 1000.0);
    }

    #[test]
    fn step_changes_the_rate_at_its_time() {
        let s = Schedule::new(100, &[phase(2.0, 1000, 0.0)]);
        assert_eq!(s.rate_at(secs(1.9)), 100.0);
        assert_eq!(s.rate_at(secs(2.0)), 1000.0);
        assert_eq!(s.due_before(secs(2.0)), 200);
        assert_eq!(s.due_before(secs(3.0)), 1200);
        assert_eq!(s.due_at(200), 2_000_000_000);
        assert_eq!(s.due_at(700), 2_500_000_000);
    }

    #[test]
    fn ramp_is_linear_and_its_area_is_right() {
        // 0 → 1000 tx/s over 2 s, starting at 1 s: 1000 transactions during the ramp.
        let s = Schedule::new(0, &[phase(1.0, 1000, 2.0)]);
        assert_eq!(s.rate_at(secs(0.5)), 0.0);
        assert_eq!(s.rate_at(secs(2.0)), 500.0);
        assert_eq!(s.rate_at(secs(3.5)), 1000.0);
        assert_eq!(s.due_before(secs(1.0)), 0);
        assert_eq!(s.due_before(secs(3.0)), 1000);
        assert_eq!(s.due_before(secs(4.0)), 2000);
        // Half-way through the ramp in time, a quarter of its transactions are due.
        assert_eq!(s.due_before(secs(2.0)), 250);
        let t = s.due_at(250) as f64 / 1e9;
        assert!((t - 2.0).abs() < 1e-6, "{t}");
    }

    #[test]
    fn pause_and_resume() {
        let s = Schedule::new(100, &[phase(1.0, 0, 0.0), phase(2.0, 100, 0.0)]);
        assert_eq!(s.due_before(secs(1.5)), 100);
        assert_eq!(s.due_before(secs(2.0)), 100);
        // The 101st transaction (k = 100) waits for the resume at 2 s.
        assert_eq!(s.due_at(100), 2_000_000_000);
        assert_eq!(s.due_at(150), 2_500_000_000);
    }

    #[test]
    fn due_times_are_increasing_and_consistent_with_counts() {
        let s = Schedule::new(
            300,
            &[
                phase(1.0, 2000, 0.5),
                phase(2.0, 50, 1.0),
                phase(4.0, 700, 0.0),
            ],
        );
        let mut last = 0;
        for k in 0..3000 {
            let at = s.due_at(k);
            assert!(at >= last, "k={k}");
            last = at;
            // Exactly k transactions are due before transaction k's own due time…
            assert!(s.due_before(Duration::from_nanos(at)) <= k, "k={k}");
            // …and k + 1 just after it.
            assert!(s.due_before(Duration::from_nanos(at + 1000)) > k, "k={k}");
        }
    }

    #[test]
    fn a_traces_own_times_are_the_schedule() {
        let s = Schedule::at_times(vec![0, 0, 5_000_000, 2_000_000_000].into());
        assert_eq!(s.due_before(secs(0.0)), 0);
        assert_eq!(s.due_before(secs(0.001)), 2, "two in the first block");
        assert_eq!(s.due_before(secs(1.0)), 3);
        assert_eq!(s.due_before(secs(9.0)), 4);
        assert_eq!(s.due_at(2), 5_000_000);
        assert_eq!(s.rate_at(secs(0.2)), 3.0);
    }
}
