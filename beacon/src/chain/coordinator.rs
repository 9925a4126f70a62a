//! The beacon as two-phase coordinator: votes counted as they arrive with the
//! participants' headers (late, forged and duplicate ones refused and counted). The
//! decisions themselves are made in each beacon block ([`Chain::notarize`]).

use cross_shard::two_phase::{Vote, VoteRefused};
use cross_shard::{ShardId, TxId};

use super::Chain;

impl Chain {
    /// Counts `src`'s votes with the coordinator (a two-phase beacon only).
    pub(super) fn count_votes(&mut self, src: ShardId, votes: Vec<(TxId, Vote)>) {
        if let Some(c) = self.coordinator.as_mut() {
            for (tx, vote) in votes {
                match c.vote(src, tx, vote) {
                    Ok(()) => {}
                    Err(VoteRefused::Late) => self.two_phase.votes_late += 1,
                    Err(VoteRefused::Unknown | VoteRefused::NotParticipant) => {
                        self.two_phase.votes_forged += 1;
                    }
                    Err(VoteRefused::Duplicate) => self.two_phase.votes_duplicate += 1,
                }
            }
        }
    }
}
