//! Recovery after a fault: how long until throughput was back.
//!
//! **Recovery time** is measured from the restart to the first moment the subject's
//! final transactions per second — over a sliding half-second window — are back within
//! 10% of their mean over the two seconds before the fault. The subject is the killed
//! shard (transactions it is the source of), or the whole cluster for the beacon.

use serde::{Deserialize, Serialize};

use crate::measure::tracker::{TENTH, Tracker};
use crate::scenario::{Fault, Target};

/// What happened to one fault, in summary.json (`faults`). Times are seconds since the
/// run's start on the driver's clock.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FaultReport {
    /// What was injected, e.g. "kill shard-1" or "link shard-0: drop 10%".
    pub fault: String,
    /// When it was injected.
    pub at_s: f64,
    /// Kill: when the process was started again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarted_at_s: Option<f64>,
    /// Kill: when the restarted process was ready: a shard serving (its store opened
    /// and replayed), the beacon listening.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_at_s: Option<f64>,
    /// Kill of a shard: when the driver had its stored events and resent what it lost
    /// — the restart is over (its store replayed, serving, its load resumed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_at_s: Option<f64>,
    /// Kill of a shard: transactions sent again (in the dead shard's mempool or on
    /// the way to it, or held by the driver while it was down).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resubmitted: Option<u64>,
    /// Link: when it was healed; freeze: when it was thawed (absent: to the end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healed_at_s: Option<f64>,
    /// Final transactions per second of the subject over the 2 s before the fault.
    pub tps_before: f64,
    /// Kill: seconds from the restart until throughput was back within 10% of
    /// `tps_before`; absent if it never was before the run ended (or there was no
    /// throughput to come back to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_s: Option<f64>,
}

impl FaultReport {
    /// A report of `f`, injected at `at` (s).
    pub fn new(f: &Fault, at: f64) -> FaultReport {
        let fault = match (f.kill, f.link, f.freeze) {
            (Some(t), _, _) => format!("kill {t}"),
            (None, None, Some(t)) => format!("freeze {t}"),
            (None, Some(t), _) => {
                let mut parts = Vec::new();
                if !f.delay.is_zero() {
                    parts.push(format!("delay {}", humantime::format_duration(f.delay)));
                }
                if f.drop > 0.0 {
                    parts.push(format!("drop {:.0}%", f.drop * 100.0));
                }
                if f.duplicate > 0.0 {
                    parts.push(format!("duplicate {:.0}%", f.duplicate * 100.0));
                }
                format!("link {t}: {}", parts.join(", "))
            }
            (None, None, None) => "none".into(),
        };
        FaultReport {
            fault,
            at_s: at,
            ..FaultReport::default()
        }
    }
}

/// Final transactions of `subject` in tenth `t`.
fn finals_in(tracker: &Tracker, subject: Option<Target>, t: usize) -> u64 {
    tracker.finals_tenths.get(t).map_or(0, |row| match subject {
        Some(Target::Shard(k) | Target::Validator(k, _)) => {
            u64::from(row.get(k as usize).copied().unwrap_or(0))
        }
        _ => row.iter().map(|&n| u64::from(n)).sum(),
    })
}

/// Fills in `tps_before` and `recovery_s` of a kill from the run's timeline.
pub fn measure_recovery(report: &mut FaultReport, target: Target, tracker: &Tracker) {
    let tenth_s = TENTH as f64 / 1e9;
    let subject = match target {
        // A validator's shard: what its crash costs the committee.
        Target::Shard(_) | Target::Validator(..) => Some(target),
        Target::Beacon => None,
    };
    let fault = (report.at_s / tenth_s) as usize;
    let before = fault.saturating_sub(20)..fault;
    let span = before.len().max(1) as f64 * tenth_s;
    report.tps_before = before.map(|t| finals_in(tracker, subject, t)).sum::<u64>() as f64 / span;
    let Some(restart) = report.restarted_at_s else {
        return;
    };
    if report.tps_before <= 0.0 {
        return;
    }
    // A sliding window of five tenths, ending at the end of tenth `end`.
    let first = (restart / tenth_s) as usize;
    let last = tracker.finals_tenths.len();
    for end in first..last {
        let window = end.saturating_sub(4)..=end;
        let rate =
            window.map(|t| finals_in(tracker, subject, t)).sum::<u64>() as f64 / (5.0 * tenth_s);
        if rate >= 0.9 * report.tps_before {
            report.recovery_s = Some(((end + 1) as f64 * tenth_s - restart).max(0.0));
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::faults::tests::kill;

    #[test]
    fn recovery_is_when_the_shard_is_back_within_ten_percent() {
        let mut t = Tracker::new(2, (0, 100 * TENTH));
        // Shard 1: 100 finals per tenth (1000/s), nothing from 3.0 s to 5.5 s, then
        // 100 per tenth again.
        t.finals_tenths = (0..80)
            .map(|i| vec![50, if (30..55).contains(&i) { 0 } else { 100 }])
            .collect();
        let mut r = FaultReport::new(&kill(3, 2), 3.0);
        r.restarted_at_s = Some(5.0);
        measure_recovery(&mut r, Target::Shard(1), &t);
        assert_eq!(r.tps_before, 1000.0);
        // The window of five tenths reaches 900/s at the end of the tenth 5.9–6.0.
        let rec = r.recovery_s.unwrap();
        assert!((rec - 1.0).abs() < 1e-9, "{rec}");
        // A shard that never comes back has no recovery time.
        t.finals_tenths
            .iter_mut()
            .skip(30)
            .for_each(|row| row[1] = 0);
        let mut r = FaultReport::new(&kill(3, 2), 3.0);
        r.restarted_at_s = Some(5.0);
        measure_recovery(&mut r, Target::Shard(1), &t);
        assert_eq!(r.recovery_s, None);
    }
}
