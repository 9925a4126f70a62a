//! Receipts and their commitment in a block header.
//!
//! All the receipts one block sends to one destination form a [`ReceiptBatch`]; their
//! sequence numbers on the (src, dst) channel are consecutive, so the batch stores only
//! the first. The header's `receipts_root` is the Merkle root over one leaf per
//! destination shard — [`ReceiptBatch::leaf`], or [`empty_leaf`] when the block sends
//! nothing there — so a destination can check its batch alone ([`crate::merkle`]).

use crate::ids::{
    AccountId, Asset, CollectionId, Hash, NftId, Object, PoolId, ProposalId, ShardId, TxId,
};
use crate::merkle;
use crate::placement::Placement;
use crate::tx::{RejectReason, Row};

/// The cross-shard half of a transaction, applied on the destination shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The transaction that caused it, so the destination can report it.
    pub tx: TxId,
    /// What it does there.
    pub effect: Effect,
}

/// What a receipt does on the shard it is sent to. `Credit`, `Refund` and `Nft` go to
/// an account's shard and end their transaction; `Swap`, `Mint` and `Vote` go to an
/// object's shard, where `Swap` and `Mint` send a receipt back:
///
/// ```text
///  user's shard              pool's shard               user's shard
///  debit amount_in ─Swap──►  k = x·y, output ok? ─yes─Credit(out)──► credit: final
///                                               └─no──Refund(in)───► credit: final, failed
///  user's shard              collection's shard         user's shard
///  nonce ─────────Mint──►    minted += 1 ─────────Nft──────────────► holds the NFT: final
///  user's shard              proposal's shard
///  nonce ─────────Vote──►    ballot unused? tally: final (else failed, AlreadyVoted)
///  caller's shard            contract's shard
///  debit value ───Invoke──►  credit value, slot[caller] += 1: final
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Credit `amount` of `asset` to `to`.
    Credit {
        /// The account credited.
        to: AccountId,
        /// What is credited.
        asset: Asset,
        /// How much.
        amount: u64,
    },
    /// Give back value a failed call took, saying why it failed.
    Refund {
        /// The account credited.
        to: AccountId,
        /// What is returned.
        asset: Asset,
        /// How much.
        amount: u64,
        /// Why the call failed.
        reason: RejectReason,
    },
    /// Execute a swap paid for on the trader's shard.
    Swap {
        /// Whom the output (or refund) goes to.
        trader: AccountId,
        /// The pool.
        pool: PoolId,
        /// What was paid in.
        asset_in: Asset,
        /// How much.
        amount_in: u64,
        /// Least output accepted.
        min_out: u64,
    },
    /// Mint an NFT into a collection for `minter`.
    Mint {
        /// Who will hold it.
        minter: AccountId,
        /// The collection.
        collection: CollectionId,
        /// The NFT's serial (the minting transaction's nonce).
        serial: u64,
    },
    /// Give an NFT to `to`.
    Nft {
        /// The new owner.
        to: AccountId,
        /// The NFT.
        nft: NftId,
        /// Its collection.
        collection: CollectionId,
    },
    /// Count a vote.
    Vote {
        /// Who votes.
        voter: AccountId,
        /// On what.
        proposal: ProposalId,
        /// For or against.
        yes: bool,
    },
    /// A stand-in call arriving at its contract: credit `value` to it and count the
    /// call in its slot keyed by `caller`.
    Invoke {
        /// Who called.
        caller: AccountId,
        /// The contract called.
        contract: AccountId,
        /// Native coin the call carries.
        value: u64,
        /// The gas the call costs where it runs (the trace's; burnt under the EVM).
        gas: u64,
    },
    /// Migration: one asset's balance of an account moving here from the shard that
    /// held it (see `crate::migration`). Counted as value in flight like a credit.
    Move {
        /// The account moving.
        account: AccountId,
        /// Which balance.
        asset: Asset,
        /// How much.
        amount: u64,
    },
    /// Migration: one storage slot of a moving stand-in contract (the calls `caller`
    /// made), added to the slot here.
    MoveSlot {
        /// The contract moving.
        contract: AccountId,
        /// Whose slot.
        caller: AccountId,
        /// The slot's count.
        calls: u64,
    },
    /// Migration: the last receipt of an account's move — its nonce. The account is
    /// the destination's to use once this is applied.
    Arrive {
        /// The account moving.
        account: AccountId,
        /// Its nonce when its old shard let it go.
        nonce: u64,
    },
}

impl Receipt {
    /// A plain credit (the receipt of a cross-shard transfer).
    pub fn credit(tx: TxId, to: AccountId, amount: u64, asset: Asset) -> Receipt {
        Receipt {
            tx,
            effect: Effect::Credit { to, asset, amount },
        }
    }
}

impl Effect {
    /// The value the receipt carries, if any: it is in flight from emission to
    /// application and counts toward the supply in the audit.
    pub fn value(&self) -> Option<(Asset, u64)> {
        match *self {
            Effect::Credit { asset, amount, .. } | Effect::Refund { asset, amount, .. } => {
                Some((asset, amount))
            }
            Effect::Swap {
                asset_in,
                amount_in,
                ..
            } => Some((asset_in, amount_in)),
            Effect::Invoke { value, .. } => Some((crate::ids::NATIVE, value)),
            Effect::Move { asset, amount, .. } => Some((asset, amount)),
            Effect::Mint { .. }
            | Effect::Nft { .. }
            | Effect::Vote { .. }
            | Effect::MoveSlot { .. }
            | Effect::Arrive { .. } => None,
        }
    }

    /// The shard the receipt must go to: the account's or the object's.
    pub fn shard(&self, placement: &Placement) -> ShardId {
        match *self {
            Effect::Credit { to, .. } | Effect::Refund { to, .. } | Effect::Nft { to, .. } => {
                placement.shard_of(to)
            }
            Effect::Swap { pool, .. } => placement.shard_of_object(Object::Pool(pool)),
            Effect::Mint { collection, .. } => {
                placement.shard_of_object(Object::Collection(collection))
            }
            Effect::Vote { proposal, .. } => placement.shard_of_object(Object::Proposal(proposal)),
            Effect::Invoke { contract, .. } | Effect::MoveSlot { contract, .. } => {
                placement.shard_of(contract)
            }
            Effect::Move { account, .. } | Effect::Arrive { account, .. } => {
                placement.shard_of(account)
            }
        }
    }

    /// Whether the receipt is part of an account's migration rather than of a
    /// transaction (its `tx` is [`MIGRATION`]).
    pub fn is_migration(&self) -> bool {
        matches!(
            self,
            Effect::Move { .. } | Effect::MoveSlot { .. } | Effect::Arrive { .. }
        )
    }

    /// The effect as a row (wire columns and leaf bytes).
    pub fn to_row(&self) -> Row {
        match *self {
            Effect::Credit { to, asset, amount } => Row {
                kind: 0,
                to,
                amount,
                asset,
                ..Row::default()
            },
            Effect::Refund {
                to,
                asset,
                amount,
                reason,
            } => Row {
                kind: 1,
                to,
                amount,
                asset,
                limit: u64::from(reason.code()),
                ..Row::default()
            },
            Effect::Swap {
                trader,
                pool,
                asset_in,
                amount_in,
                min_out,
            } => Row {
                kind: 2,
                to: trader,
                amount: amount_in,
                asset: asset_in,
                object: u64::from(pool),
                limit: min_out,
            },
            Effect::Mint {
                minter,
                collection,
                serial,
            } => Row {
                kind: 3,
                to: minter,
                object: u64::from(collection),
                limit: serial,
                ..Row::default()
            },
            Effect::Nft {
                to,
                nft,
                collection,
            } => Row {
                kind: 4,
                to,
                asset: collection,
                object: nft.minter,
                limit: nft.serial,
                ..Row::default()
            },
            Effect::Vote {
                voter,
                proposal,
                yes,
            } => Row {
                kind: 5,
                to: voter,
                amount: u64::from(yes),
                object: u64::from(proposal),
                ..Row::default()
            },
            Effect::Invoke {
                caller,
                contract,
                value,
                gas,
            } => Row {
                kind: 6,
                to: contract,
                amount: value,
                object: caller,
                limit: gas,
                ..Row::default()
            },
            Effect::Move {
                account,
                asset,
                amount,
            } => Row {
                kind: 7,
                to: account,
                amount,
                asset,
                ..Row::default()
            },
            Effect::MoveSlot {
                contract,
                caller,
                calls,
            } => Row {
                kind: 8,
                to: contract,
                amount: calls,
                object: caller,
                ..Row::default()
            },
            Effect::Arrive { account, nonce } => Row {
                kind: 9,
                to: account,
                limit: nonce,
                ..Row::default()
            },
        }
    }

    /// The effect a row encodes, or what is wrong with it. Exactly the rows
    /// [`Effect::to_row`] makes are accepted.
    pub fn from_row(r: &Row) -> Result<Effect, &'static str> {
        let id32 = |what| u32::try_from(r.object).map_err(|_| what);
        let effect = match r.kind {
            0 => Effect::Credit {
                to: r.to,
                asset: r.asset,
                amount: r.amount,
            },
            1 => Effect::Refund {
                to: r.to,
                asset: r.asset,
                amount: r.amount,
                reason: u32::try_from(r.limit)
                    .ok()
                    .and_then(RejectReason::from_code)
                    .ok_or("refund reason is not a known code")?,
            },
            2 => Effect::Swap {
                trader: r.to,
                pool: id32("swap pool id above 2^32")?,
                asset_in: r.asset,
                amount_in: r.amount,
                min_out: r.limit,
            },
            3 => Effect::Mint {
                minter: r.to,
                collection: id32("mint collection id above 2^32")?,
                serial: r.limit,
            },
            4 => Effect::Nft {
                to: r.to,
                nft: NftId {
                    minter: r.object,
                    serial: r.limit,
                },
                collection: r.asset,
            },
            5 => Effect::Vote {
                voter: r.to,
                proposal: id32("vote proposal id above 2^32")?,
                yes: match r.amount {
                    0 => false,
                    1 => true,
                    _ => return Err("vote choice must be 0 or 1"),
                },
            },
            6 => Effect::Invoke {
                caller: r.object,
                contract: r.to,
                value: r.amount,
                gas: r.limit,
            },
            7 => Effect::Move {
                account: r.to,
                asset: r.asset,
                amount: r.amount,
            },
            8 => Effect::MoveSlot {
                contract: r.to,
                caller: r.object,
                calls: r.amount,
            },
            9 => Effect::Arrive {
                account: r.to,
                nonce: r.limit,
            },
            _ => {
                return Err(
                    "unknown receipt kind (0 credit, 1 refund, 2 swap, 3 mint, 4 nft, 5 vote, 6 invoke, 7 move, 8 move-slot, 9 arrive)",
                );
            }
        };
        if effect.to_row() != *r {
            return Err("a field this receipt kind does not use is not zero");
        }
        Ok(effect)
    }
}

/// The receipts from `src` to `dst` emitted by one block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceiptBatch {
    /// The emitting shard.
    pub src: ShardId,
    /// The shard that applies them.
    pub dst: ShardId,
    /// Channel sequence number of `receipts[0]`; receipt `i` has `first_seq + i`.
    pub first_seq: u64,
    /// The receipts, in channel order.
    pub receipts: Vec<Receipt>,
}

impl ReceiptBatch {
    /// The batch's Merkle leaf: blake3 over a domain tag and every field.
    pub fn leaf(&self) -> Hash {
        let mut h = blake3::Hasher::new();
        h.update(b"shardsim/receipts/v1");
        h.update(&self.src.to_le_bytes());
        h.update(&self.dst.to_le_bytes());
        h.update(&self.first_seq.to_le_bytes());
        h.update(&(self.receipts.len() as u64).to_le_bytes());
        for r in &self.receipts {
            h.update(&r.tx.to_le_bytes());
            h.update(&r.effect.to_row().bytes());
        }
        h.finalize().into()
    }

    /// Sequence number one past the batch's last receipt.
    pub fn end_seq(&self) -> u64 {
        self.first_seq.saturating_add(self.receipts.len() as u64)
    }

    /// Total value of `asset` carried by the batch (saturating: a hostile batch cannot
    /// overflow it).
    pub fn value_of(&self, asset: Asset) -> u64 {
        self.receipts
            .iter()
            .filter_map(|r| r.effect.value())
            .filter(|&(a, _)| a == asset)
            .fold(0u64, |sum, (_, amount)| sum.saturating_add(amount))
    }
}

/// The leaf for a destination the block sends nothing to.
pub fn empty_leaf(src: ShardId, dst: ShardId) -> Hash {
    ReceiptBatch {
        src,
        dst,
        first_seq: 0,
        receipts: Vec::new(),
    }
    .leaf()
}

/// The leaves of a block of shard `src` that sends nothing, one per destination of a
/// cluster of `shards` shards. They are the same for every block of the shard: it and
/// the beacon keep their tree ([`merkle::Tree`]) and patch it with the destinations a
/// block sends to ([`merkle::Tree::patched`]) — with 1,024 shards, hashing every leaf
/// for every header made the beacon's work grow with the square of the shard count.
pub fn empty_leaves(src: ShardId, shards: u32) -> Vec<Hash> {
    (0..shards).map(|d| empty_leaf(src, d)).collect()
}

/// The per-destination leaves of a block of shard `src` in a cluster of `shards`
/// shards, given its non-empty batches (at most one per destination).
pub fn leaves(src: ShardId, shards: u32, batches: &[ReceiptBatch]) -> Vec<Hash> {
    let mut leaves = empty_leaves(src, shards);
    for b in batches {
        if let Some(slot) = leaves.get_mut(b.dst as usize) {
            *slot = b.leaf();
        }
    }
    leaves
}

/// The `receipts_root` of a block of shard `src` with these batches.
pub fn receipts_root(src: ShardId, shards: u32, batches: &[ReceiptBatch]) -> Hash {
    merkle::root(&leaves(src, shards, batches))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_row_decodes_to_an_effect_that_encodes_back_or_is_refused(
            kind in 0u32..7, to in any::<u64>(), amount in 0u64..3, asset in 0u32..3,
            object in prop_oneof![0u64..10, any::<u64>()], limit in prop_oneof![0u64..12, any::<u64>()],
        ) {
            let row = Row { kind, to, amount, asset, object, limit };
            if let Ok(e) = Effect::from_row(&row) {
                prop_assert_eq!(e.to_row(), row);
            }
        }
    }

    #[test]
    fn only_value_receipts_carry_value_and_each_goes_to_its_shard() {
        let p = Placement::new(4).unwrap();
        let swap = Effect::Swap {
            trader: 1,
            pool: 3,
            asset_in: 2,
            amount_in: 50,
            min_out: 1,
        };
        assert_eq!(swap.value(), Some((2, 50)));
        assert_eq!(swap.shard(&p), p.shard_of_object(Object::Pool(3)));
        let vote = Effect::Vote {
            voter: 1,
            proposal: 3,
            yes: true,
        };
        assert_eq!(vote.value(), None);
        assert_eq!(vote.shard(&p), p.shard_of_object(Object::Proposal(3)));
        let refund = Effect::Refund {
            to: 9,
            asset: 0,
            amount: 5,
            reason: RejectReason::Slippage,
        };
        assert_eq!(Effect::from_row(&refund.to_row()), Ok(refund));
        assert_eq!(refund.shard(&p), p.shard_of(9));
        let invoke = Effect::Invoke {
            caller: 4,
            contract: 11,
            value: 6,
            gas: 90_000,
        };
        assert_eq!(Effect::from_row(&invoke.to_row()), Ok(invoke));
        assert_eq!(invoke.value(), Some((0, 6)), "the value is in flight");
        assert_eq!(invoke.shard(&p), p.shard_of(11), "goes to the contract");
    }

    fn batch(dst: ShardId, first_seq: u64, n: u64) -> ReceiptBatch {
        ReceiptBatch {
            src: 0,
            dst,
            first_seq,
            receipts: (0..n).map(|i| Receipt::credit(i, 100 + i, 10, 0)).collect(),
        }
    }

    #[test]
    fn empty_leaf_differs_per_destination_and_from_batches() {
        assert_ne!(empty_leaf(0, 1), empty_leaf(0, 2));
        assert_ne!(empty_leaf(0, 1), batch(1, 0, 1).leaf());
    }

    #[test]
    fn leaf_covers_every_field() {
        let b = batch(1, 5, 3);
        let mut c = b.clone();
        c.receipts[2] = Receipt::credit(2, 102, 11, 0);
        assert_ne!(b.leaf(), c.leaf());
        let mut c = b.clone();
        c.first_seq += 1;
        assert_ne!(b.leaf(), c.leaf());
        let mut c = b.clone();
        c.receipts.pop();
        assert_ne!(b.leaf(), c.leaf());
    }

    #[test]
    fn batch_proves_against_block_root() {
        let batches = vec![batch(1, 0, 2), batch(3, 7, 1)];
        let root = receipts_root(0, 4, &batches);
        let ls = leaves(0, 4, &batches);
        let path = merkle::proof(&ls, 3).unwrap();
        assert!(merkle::verify(&root, &batches[1].leaf(), 3, 4, &path));
        assert_eq!(batches[1].end_seq(), 8);
        assert_eq!(batches[0].value_of(0), 20);
        assert_eq!(batches[0].value_of(1), 0);
    }
}
