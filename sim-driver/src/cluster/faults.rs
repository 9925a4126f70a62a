//! Fault injection: what `[[faults]]` asks for, when, and how the run recovered.
//!
//! ```text
//!  at ─────────── kill (SIGKILL, by pid) ───── restart_after ───── start again ── READY
//!                  │ shard: its submit path holds new batches        │ shard: its stored
//!                  │ beacon: shards keep their headers, retry        │ events replayed,
//!                  ▼                                                 ▼ unreported txs resent
//!  throughput  ────┐                                          ┌──────── back within 10%
//!                  └──────────────── outage ──────────────────┘◄─ recovery time ─►
//!
//!  at ── link fault on (delay, drop, duplicate) ─────── duration ── link healthy again
//!  at ── freeze (SIGSTOP) ───────────────────────────── duration ── thaw (SIGCONT)
//!
//!  at ── freeze (SIGSTOP) ── silent for STALL_LIMIT ── named as stalled ── run ends at
//!        its planned time + a short drain, results marked partial, exit 1 — unless it
//!        is a committee member its committee rides out (`measure::observed`): then
//!        named in `faults_observed`, and the run goes on
//! ```
//!
//! How the run recovered is measured in `crate::measure::recovery`.

use std::time::Duration;

use crate::scenario::Fault;

/// One step of the fault schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Kill the process of fault `i`.
    Kill(usize),
    /// Start it again.
    Restart(usize),
    /// Make the link of fault `i` faulty.
    LinkOn(usize),
    /// Heal it.
    LinkOff(usize),
    /// Freeze the process of fault `i` (SIGSTOP)…
    Freeze(usize),
    /// …and let it go on (SIGCONT), when the fault has a duration.
    Thaw(usize),
}

/// The steps of `faults` in time order (time since the run's start).
pub fn schedule(faults: &[Fault]) -> Vec<(Duration, Step)> {
    let mut steps = Vec::new();
    for (i, f) in faults.iter().enumerate() {
        if f.kill.is_some() {
            steps.push((f.at, Step::Kill(i)));
            steps.push((f.at + f.restart_after, Step::Restart(i)));
        } else if f.freeze.is_some() {
            steps.push((f.at, Step::Freeze(i)));
            if !f.duration.is_zero() {
                steps.push((f.at + f.duration, Step::Thaw(i)));
            }
        } else {
            steps.push((f.at, Step::LinkOn(i)));
            if !f.duration.is_zero() {
                steps.push((f.at + f.duration, Step::LinkOff(i)));
            }
        }
    }
    steps.sort_by_key(|s| s.0);
    steps
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scenario::Target;

    /// A kill of shard 1 at `at` s, restarted `restart_after` s later.
    pub(crate) fn kill(at: u64, restart_after: u64) -> Fault {
        Fault {
            at: Duration::from_secs(at),
            kill: Some(Target::Shard(1)),
            restart_after: Duration::from_secs(restart_after),
            wipe: false,
            freeze: None,
            link: None,
            delay: Duration::ZERO,
            drop: 0.0,
            duplicate: 0.0,
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn steps_come_in_time_order() {
        let link = Fault {
            kill: None,
            link: Some(Target::Shard(0)),
            drop: 0.1,
            restart_after: Duration::ZERO,
            duration: Duration::from_secs(1),
            ..kill(1, 0)
        };
        let freeze = Fault {
            kill: None,
            freeze: Some(Target::Validator(0, 2)),
            restart_after: Duration::ZERO,
            duration: Duration::from_secs(3),
            ..kill(1, 0)
        };
        let steps = schedule(&[kill(3, 2), link, freeze]);
        assert_eq!(
            steps,
            vec![
                (Duration::from_secs(1), Step::LinkOn(1)),
                (Duration::from_secs(1), Step::Freeze(2)),
                (Duration::from_secs(2), Step::LinkOff(1)),
                (Duration::from_secs(3), Step::Kill(0)),
                (Duration::from_secs(4), Step::Thaw(2)),
                (Duration::from_secs(5), Step::Restart(0)),
            ]
        );
    }
}
