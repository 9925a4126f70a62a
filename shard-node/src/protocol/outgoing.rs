//! The sending half of the beacon relationship inside a shard: every header
//! submission is kept until a beacon block notarizes it, and sent again, at a paced
//! rate, while it is not.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use shardsim_proto::pb;

/// Header submissions the beacon has not notarized yet: the link sends each, and sends
/// them again if the beacon is slow to notarize the oldest (a lost message, a restarted
/// beacon). Notarization, seen in a beacon block's crosslinks, forgets them.
///
/// Resends are **paced**: the first comes [`RETRANSMIT`] after the oldest was sent,
/// and each further one without progress waits twice as long, up to
/// [`MAX_RETRANSMIT`]; a notarization starts the pace again. A beacon that is merely
/// slow (long beacon blocks, a loaded host) is not flooded with copies of what it has.
#[derive(Debug)]
pub struct Outgoing {
    /// Oldest first: (height, submission, when last sent).
    pub retained: VecDeque<(u64, pb::HeaderSubmission, Option<Instant>)>,
    /// How long the oldest may wait before everything is sent again.
    patience: Duration,
}

/// The first resend's wait for notarization.
pub const RETRANSMIT: Duration = Duration::from_secs(1);
/// The longest wait between resends.
pub const MAX_RETRANSMIT: Duration = Duration::from_secs(8);

impl Default for Outgoing {
    fn default() -> Outgoing {
        Outgoing {
            retained: VecDeque::new(),
            patience: RETRANSMIT,
        }
    }
}

impl Outgoing {
    /// Keeps a new block's submission, not yet sent.
    pub fn push(&mut self, height: u64, submission: pb::HeaderSubmission) {
        self.retained.push_back((height, submission, None));
    }

    /// Forgets the submissions up to `height`: the beacon notarized them.
    pub fn notarized(&mut self, height: u64) {
        let before = self.retained.len();
        while self.retained.front().is_some_and(|r| r.0 <= height) {
            self.retained.pop_front();
        }
        if self.retained.len() < before {
            self.patience = RETRANSMIT;
        }
    }

    /// Marks everything unsent (a new session starts from scratch).
    pub fn resend_all(&mut self) {
        self.retained.iter_mut().for_each(|r| r.2 = None);
    }

    /// What to send at `now`, marked sent: the submissions never sent, or all of them
    /// when the oldest has waited past the current patience (which then doubles). The
    /// count is how many of them are resends.
    ///
    /// Why all and not just the oldest: the beacon ignores a submission that comes
    /// after a gap in a shard's chain, so if the oldest was lost, so were (in effect)
    /// the ones after it.
    pub fn due(&mut self, now: Instant) -> (Vec<pb::HeaderSubmission>, u64) {
        let stale = self
            .retained
            .front()
            .and_then(|r| r.2)
            .is_some_and(|sent| now.saturating_duration_since(sent) >= self.patience);
        let mut resent = 0;
        if stale {
            resent = self.retained.iter().filter(|r| r.2.is_some()).count() as u64;
            self.resend_all();
            self.patience = (self.patience * 2).min(MAX_RETRANSMIT);
        }
        let due = self
            .retained
            .iter_mut()
            .filter(|r| r.2.is_none())
            .map(|r| {
                r.2 = Some(now);
                r.1.clone()
            })
            .collect();
        (due, resent)
    }
}
