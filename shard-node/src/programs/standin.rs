//! Stand-in calls: a replayed trace's calls of contracts whose code shardsim lacks.
//!
//! A real contract call does something only its bytecode knows. What matters to
//! sharding is *where* it runs and *what it conflicts with*: it runs on the contract's
//! shard, and two calls conflict when they write the same storage. The stand-in keeps
//! exactly that: the call's value moves to the contract, and the contract counts the
//! call in a slot keyed by its caller. A contract every community calls is then a hot
//! spot for placement (every call crosses to its shard) but not a serial bottleneck
//! (two callers write two slots).

use cross_shard::AccountId;

use super::assets::credit;
use super::{End, Step};
use crate::state::{Key, State};
use cross_shard::ids::NATIVE;

/// `caller`'s call of `contract` arriving on the contract's shard with `value`.
pub(super) fn invoke<S: State>(
    s: &mut S,
    caller: AccountId,
    contract: AccountId,
    value: u64,
) -> Step {
    let Some(c) = s.local(contract) else {
        return Step::End(End::Misplaced);
    };
    credit(s, c, NATIVE, value);
    count_calls(s, c, caller, 1);
    Step::End(End::Done)
}

/// Adds `calls` to local contract `c`'s slot of `caller`.
fn count_calls<S: State>(s: &mut S, c: u32, caller: AccountId, calls: u64) {
    let slot = Key::Slot(c, caller);
    let mut value = s.read(slot);
    value[0] = value[0].saturating_add(calls);
    s.write(slot, value);
}

/// A migration's slot of a moving contract arriving on its new shard: the calls counted
/// on the old shard are added to those counted here since the switch.
pub(super) fn settle_slot<S: State>(
    s: &mut S,
    contract: AccountId,
    caller: AccountId,
    calls: u64,
) -> Step {
    let Some(c) = s.local(contract) else {
        return Step::End(End::Misplaced);
    };
    count_calls(s, c, caller, calls);
    Step::End(End::Done)
}
