//! The block's side of a migration (`cross_shard::migration`): the switch at the
//! start of the first block built after the beacon announced an epoch change, and the
//! calls of senders that have left.
//!
//! ```text
//!  build(inputs with epoch e)
//!   1. ledger.switch(e): leaving accounts → Move… MoveSlot… Arrive receipts,
//!      queued on the channels to their new shards (emitted with the block's own)
//!   2. receipts: Move/MoveSlot/Arrive applied here; credits for accounts that left
//!      sent on to their new shards
//!   3. transactions: a sender that left is refused and handed back (`moved`)
//! ```

use cross_shard::Tx;
use cross_shard::migration::EpochChange;
use prost::Message as _;
use shardsim_proto::convert::receipts_to_wire;

use super::producer::BlockProducer;
use crate::state::{Ledger, State};

impl BlockProducer {
    /// Step 1: switches the ledger to `change` and queues the leaving accounts' state
    /// for their new shards, noting what left and how many bytes carry it.
    pub(super) fn switch(&mut self, change: &EpochChange) {
        let leaving = self.ledger.switch(change);
        self.out.exported_bytes =
            receipts_to_wire(leaving.iter().map(|l| &l.1)).encoded_len() as u64;
        for (dst, r) in leaving {
            if let cross_shard::Effect::Arrive { account, .. } = r.effect {
                self.out.exported.push((account, dst));
            }
            self.out.outgoing[dst as usize].push(r);
        }
        self.out.switched_epoch = Some(change.epoch);
        tracing::info!(
            epoch = change.epoch,
            left = self.out.exported.len(),
            "switched to a new placement epoch"
        );
    }
}

/// Step 3: the transactions of `txs` whose sender has moved to another shard go to
/// `moved`; returns the rest when any did (`None`: all stay). A sender is *moved* when
/// the ledger has switched at least once, holds no such account, and its directory
/// places it elsewhere; before any switch, a misrouted sender is the executor's
/// `WrongShard` as always.
pub(super) fn refuse_moved(ledger: &Ledger, txs: &[Tx], moved: &mut Vec<Tx>) -> Option<Vec<Tx>> {
    if ledger.epoch() == 0 {
        return None;
    }
    let placement = ledger.placement();
    let me = ledger.shard();
    let gone = |t: &Tx| ledger.local(t.from).is_none() && placement.shard_of(t.from) != me;
    if !txs.iter().any(gone) {
        return None;
    }
    let (away, kept): (Vec<Tx>, Vec<Tx>) = txs.iter().partition(|t| gone(t));
    moved.extend(away);
    Some(kept)
}
