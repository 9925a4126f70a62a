//! DAO proposals: one vote per account and proposal, tallied on the proposal's shard.

use cross_shard::ids::Object;
use cross_shard::{AccountId, RejectReason};

use super::{End, Step};
use crate::state::{Key, State};

/// `voter`'s vote on `proposal`, refused if it already voted.
pub(super) fn cast<S: State>(s: &mut S, voter: AccountId, proposal: u32, yes: bool) -> Step {
    if !s.world().holds(Object::Proposal(proposal)) {
        return Step::End(End::Misplaced);
    }
    if s.read(Key::Ballot(proposal, voter))[0] != 0 {
        return Step::End(End::Failed(RejectReason::AlreadyVoted));
    }
    s.write(Key::Ballot(proposal, voter), [1, 0]);
    let mut tally = s.read(Key::Proposal(proposal));
    let side = if yes { 0 } else { 1 };
    tally[side] = tally[side].saturating_add(1);
    s.write(Key::Proposal(proposal), tally);
    Step::End(End::Done)
}
