//! The sending half of the beacon relationship inside a shard: every header
//! submission is kept until a beacon block notarizes it, and sent again, at a paced
//! rate, while it is not.

use std::collections::VecDeque;
use std::time::Duration;

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
    /// Oldest first: (height, submission, when last sent on the shard's clock).
    pub unnotarized: VecDeque<(u64, pb::HeaderSubmission, Option<Duration>)>,
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
            unnotarized: VecDeque::new(),
            patience: RETRANSMIT,
        }
    }
}

impl Outgoing {
    /// Keeps a new block's submission, not yet sent.
    pub fn push(&mut self, height: u64, submission: pb::HeaderSubmission) {
        self.unnotarized.push_back((height, submission, None));
    }

    /// Forgets the submissions up to `height`: the beacon notarized them.
    pub fn notarized(&mut self, height: u64) {
        let before = self.unnotarized.len();
        while self.unnotarized.front().is_some_and(|r| r.0 <= height) {
            self.unnotarized.pop_front();
        }
        if self.unnotarized.len() < before {
            self.patience = RETRANSMIT;
        }
    }

    /// Marks everything unsent (a new session starts from scratch).
    pub fn resend_all(&mut self) {
        self.unnotarized.iter_mut().for_each(|r| r.2 = None);
    }

    /// What to send at `now`, marked sent: the submissions never sent, or all of them
    /// when the oldest has waited past the current patience (which then doubles). The
    /// count is how many of them are resends.
    ///
    /// Why all and not just the oldest: the beacon ignores a submission that comes
    /// after a gap in a shard's chain, so if the oldest was lost, so were (in effect)
    /// the ones after it.
    pub fn due(&mut self, now: Duration) -> (Vec<pb::HeaderSubmission>, u64) {
        let stale = self
            .unnotarized
            .front()
            .and_then(|r| r.2)
            .is_some_and(|sent| now.saturating_sub(sent) >= self.patience);
        let mut resent = 0;
        if stale {
            resent = self.unnotarized.iter().filter(|r| r.2.is_some()).count() as u64;
            self.resend_all();
            self.patience = (self.patience * 2).min(MAX_RETRANSMIT);
        }
        let due = self
            .unnotarized
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resends_wait_longer_each_time_until_a_notarization() {
        let sub = |h: u64| pb::HeaderSubmission {
            acks: vec![pb::ChannelAck {
                src: 0,
                next_seq: h,
            }],
            ..Default::default()
        };
        let mut out = Outgoing::default();
        let t0 = Duration::from_secs(7);
        out.push(1, sub(1));
        out.push(2, sub(2));
        assert_eq!(out.due(t0), (vec![sub(1), sub(2)], 0), "new: sent at once");
        assert_eq!(out.due(t0 + RETRANSMIT / 2).0.len(), 0, "not yet stale");
        out.push(3, sub(3));
        let (due, resent) = out.due(t0 + RETRANSMIT);
        assert_eq!((due.len(), resent), (3, 2), "stale: all of them, two again");
        // The next resend waits twice as long…
        let t1 = t0 + RETRANSMIT;
        assert!(out.due(t1 + RETRANSMIT).0.is_empty());
        assert_eq!(out.due(t1 + 2 * RETRANSMIT).1, 3);
        // …and so on up to the cap.
        let mut t = t1 + 2 * RETRANSMIT;
        for _ in 0..5 {
            t += MAX_RETRANSMIT;
            assert_eq!(out.due(t).1, 3, "at most MAX_RETRANSMIT apart");
        }
        // Progress starts the pace again.
        out.notarized(1);
        assert_eq!(out.due(t + RETRANSMIT).1, 2);
    }
}
