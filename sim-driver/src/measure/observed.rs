//! Faults the protocol tolerates, observed rather than failed.
//!
//! A committee of `n` validators decides with a quorum of `n − f` (`f = ⌊(n − 1)/3⌋`),
//! so up to `f` silent members — frozen, starved of CPU, or down on purpose — cost it
//! nothing but view changes. A validator the driver stops hearing from (no events, no
//! Status reply, past the stall limit) is therefore *named*, not failed, while its
//! committee keeps a quorum; it becomes a failure only when it is one too many:
//!
//! ```text
//!  silent(slot) ──► silent or down in its shard ≤ f ──► Tolerated (observed, run goes on)
//!               └─► more than f ─────────────────────► QuorumLost (the run fails, naming them)
//!  a shard proposing alone, or the beacon ──────────► NotTolerable (the run fails)
//!  heard(slot) ──► the observed fault ends (`back_s`)
//! ```

use serde::{Deserialize, Serialize};

/// One silence the run observed, in summary.json (`faults_observed`). Times are
/// seconds since the run's start on the driver's clock.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FaultObserved {
    /// The process, e.g. "shard-1/validator-2".
    pub who: String,
    /// When it was last heard from before the silence.
    pub silent_since_s: f64,
    /// When the driver noticed.
    pub noticed_s: f64,
    /// How it was noticed.
    pub how: String,
    /// Whether its committee kept a quorum (the run went on).
    pub tolerated: bool,
    /// When it was heard from again (absent: silent to the end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub back_s: Option<f64>,
}

/// Whether `who`'s silence was ridden out by its committee in any of `faults`: then
/// what it left unfinished (its submit stream) is its fault's, not the run's.
pub fn rode_out(faults: &[FaultObserved], who: &str) -> bool {
    faults.iter().any(|o| o.tolerated && o.who == who)
}

/// What a silence means for the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Silence {
    /// Its committee keeps a quorum: named, and the run goes on.
    Tolerated,
    /// Its committee has more than `f` members silent or down: these (by slot).
    QuorumLost(Vec<usize>),
    /// A shard that proposes alone, or the beacon: nothing stands in for it.
    NotTolerable,
}

/// The silences of a run's processes, by slot (`shard · n + validator`; slots at or
/// past `shards · n` are not validators).
#[derive(Debug)]
pub struct Observer {
    n: usize,
    validators: usize,
    /// Per slot, the observed fault it is silent in, if it is.
    open: Vec<Option<usize>>,
    /// Every silence observed, in order.
    pub faults: Vec<FaultObserved>,
}

impl Observer {
    /// For `shards` committees of `n` validators (and any other slots after them).
    pub fn new(shards: usize, n: usize, slots: usize) -> Observer {
        Observer {
            n,
            validators: shards * n,
            open: vec![None; slots],
            faults: Vec::new(),
        }
    }

    /// Slot `slot` (`who`) has been silent since `since_s`, noticed at `now_s` by
    /// `how`; `down(s)`: whether slot `s` is down on purpose (a scripted kill).
    pub fn silent(
        &mut self,
        slot: usize,
        (who, how): (String, String),
        (since_s, now_s): (f64, f64),
        down: impl Fn(usize) -> bool,
    ) -> Silence {
        let committee = self.n > 1 && slot < self.validators;
        let k = slot / self.n;
        let silent: Vec<usize> = if committee {
            (k * self.n..(k + 1) * self.n)
                .filter(|&s| s == slot || self.open[s].is_some() || down(s))
                .collect()
        } else {
            Vec::new()
        };
        let f = (self.n - 1) / 3;
        let tolerated = committee && silent.len() <= f;
        if let Some(open) = self.open.get_mut(slot) {
            *open = Some(self.faults.len());
        }
        self.faults.push(FaultObserved {
            who,
            silent_since_s: since_s,
            noticed_s: now_s,
            how,
            tolerated,
            back_s: None,
        });
        match (committee, tolerated) {
            (false, _) => Silence::NotTolerable,
            (true, true) => Silence::Tolerated,
            (true, false) => {
                // The members silent before it are no longer ridden out either.
                for &s in &silent {
                    if let Some(i) = self.open[s] {
                        self.faults[i].tolerated = false;
                    }
                }
                Silence::QuorumLost(silent)
            }
        }
    }

    /// Slot `slot` answered at `now_s`: its silence, if it was in one, ends. Returns
    /// whether it was.
    pub fn heard(&mut self, slot: usize, now_s: f64) -> bool {
        match self.open.get_mut(slot).and_then(Option::take) {
            Some(i) => {
                self.faults[i].back_s = Some(now_s);
                true
            }
            None => false,
        }
    }

    /// Whether slot `slot` is in a silence the run tolerated (and still silent).
    pub fn tolerated(&self, slot: usize) -> bool {
        self.open
            .get(slot)
            .copied()
            .flatten()
            .is_some_and(|i| self.faults[i].tolerated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(slot: usize) -> (String, String) {
        (format!("slot {slot}"), "no events".into())
    }

    /// Committees of four tolerate one silent member each, not two; a shard proposing
    /// alone and the beacon tolerate none.
    #[test]
    fn a_committee_tolerates_f_silent_members_and_no_more() {
        let mut o = Observer::new(2, 4, 9);
        let up = |_| false;
        assert_eq!(o.silent(6, named(6), (1.0, 4.0), up), Silence::Tolerated);
        assert_eq!(
            o.silent(1, named(1), (1.0, 4.0), up),
            Silence::Tolerated,
            "another shard's committee"
        );
        assert_eq!(
            o.silent(5, named(5), (2.0, 5.0), up),
            Silence::QuorumLost(vec![5, 6]),
            "two of shard 1's four"
        );
        assert!(
            !o.tolerated(6) && !o.tolerated(5),
            "once the quorum is lost, neither silence is ridden out"
        );
        assert!(o.tolerated(1));
        assert_eq!(o.silent(8, named(8), (0.0, 3.0), up), Silence::NotTolerable);
        let mut alone = Observer::new(2, 1, 3);
        assert_eq!(
            alone.silent(0, named(0), (0.0, 3.0), up),
            Silence::NotTolerable
        );
    }

    /// A member down on purpose counts against the quorum like a silent one.
    #[test]
    fn a_member_down_on_purpose_counts_against_the_quorum() {
        let mut o = Observer::new(1, 4, 5);
        assert_eq!(
            o.silent(2, named(2), (1.0, 4.0), |s| s == 0),
            Silence::QuorumLost(vec![0, 2])
        );
    }

    /// A silence that ends is kept, with its end; the slot may fall silent again.
    #[test]
    fn a_silence_that_ends_shows_its_end() {
        let mut o = Observer::new(1, 4, 5);
        o.silent(3, named(3), (1.0, 4.0), |_| false);
        assert!(o.heard(3, 7.5));
        assert!(!o.heard(3, 8.0), "no longer silent");
        assert!(!o.tolerated(3));
        assert_eq!(o.faults[0].back_s, Some(7.5));
        assert_eq!(
            o.silent(3, named(3), (9.0, 12.0), |_| false),
            Silence::Tolerated
        );
        assert_eq!(o.faults.len(), 2);
    }
}
