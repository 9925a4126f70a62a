//! A ledger as plain data, and the ledger rebuilt from it: what a snapshot holds.
//!
//! The image lists the rows (global id, balance, nonce, token balances, in row
//! order), every other non-zero key, the placement epoch and directory, the accounts
//! waiting for export, and the running totals. Rebuilding recomputes the state hash
//! from the leaves, so [`Ledger::from_image`] returns a ledger whose root the caller
//! compares with the one a quorum certified: a snapshot is taken on trust from no
//! one.
//!
//! ```text
//!  Ledger ──image()──► LedgerImage ──(snapshot, chunks, the wire)──► LedgerImage
//!                                                                       │ from_image
//!                       certified header's state root ══ compare ══ rebuilt root
//! ```

use cross_shard::ids::NftId;
use cross_shard::state_hash::StateHash;
use cross_shard::{AccountId, Placement, ShardId};
use rustc_hash::{FxHashMap, FxHashSet};

use cross_shard::threads::in_chunks;

use super::{Key, Ledger, Value, World};

/// A ledger's contents (see the module notes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerImage {
    /// The placement epoch.
    pub epoch: u32,
    /// The directory: by a table, or by hash.
    pub placement: Placement,
    /// Per row: global id.
    pub ids: Vec<AccountId>,
    /// Per row: `[native balance, nonce]`.
    pub accounts: Vec<Value>,
    /// `tokens[t - 1][row]`.
    pub tokens: Vec<Vec<u64>>,
    /// Every other non-zero key, in key order (so that an image is one byte string).
    pub objects: Vec<(Key, Value)>,
    /// Accounts let go and not yet exported: (row, new shard), in export order.
    pub exporting: Vec<(u32, ShardId)>,
    /// Per asset: the running total.
    pub totals: Vec<u64>,
}

/// An object key as (tag, a, b); the inverse of [`key_of`].
pub fn key_parts(key: Key) -> (u32, u64, u64) {
    match key {
        Key::Account(i) => (0, u64::from(i), 0),
        Key::Token(i, t) => (1, u64::from(i), u64::from(t)),
        Key::Pool(p) => (2, u64::from(p), 0),
        Key::Collection(c) => (3, u64::from(c), 0),
        Key::Nft(n) => (4, n.minter, n.serial),
        Key::Proposal(p) => (5, u64::from(p), 0),
        Key::Ballot(p, voter) => (6, u64::from(p), voter),
        Key::Holdings(i) => (7, u64::from(i), 0),
        Key::Slot(i, caller) => (8, u64::from(i), caller),
    }
}

/// The key of (tag, a, b), or why there is none.
pub fn key_of(tag: u32, a: u64, b: u64) -> Result<Key, String> {
    let narrow = |v: u64| u32::try_from(v).map_err(|_| format!("key part {v} too large"));
    Ok(match tag {
        0 => Key::Account(narrow(a)?),
        1 => Key::Token(narrow(a)?, narrow(b)?),
        2 => Key::Pool(narrow(a)?),
        3 => Key::Collection(narrow(a)?),
        4 => Key::Nft(NftId {
            minter: a,
            serial: b,
        }),
        5 => Key::Proposal(narrow(a)?),
        6 => Key::Ballot(narrow(a)?, b),
        7 => Key::Holdings(narrow(a)?),
        8 => Key::Slot(narrow(a)?, b),
        other => return Err(format!("unknown key tag {other}")),
    })
}

impl Ledger {
    /// The ledger as data. Pending writes are committed first; a ledger inside a
    /// speculative candidate (a checkpoint held) has no image.
    pub fn image(&mut self) -> Option<LedgerImage> {
        if self.undo.is_some() {
            return None;
        }
        self.commit(1);
        let mut objects: Vec<(Key, Value)> = self.objects.iter().map(|(&k, &v)| (k, v)).collect();
        objects.sort_unstable();
        Some(LedgerImage {
            epoch: self.epoch,
            placement: self.world.placement,
            ids: self.ids.clone(),
            accounts: self.accounts.clone(),
            tokens: self.tokens.clone(),
            objects,
            exporting: self.exporting.iter().copied().collect(),
            totals: self.totals.clone(),
        })
    }

    /// The ledger `image` describes, for the shard and genesis facts of `world` (its
    /// placement is the image's), its state hashed on `threads` threads. Refused when
    /// the image cannot be this shard's: rows and columns of different lengths, an
    /// object twice, a key naming no row, a directory of another size, an account
    /// placed here without a row.
    pub fn from_image(world: World, image: LedgerImage, threads: usize) -> Result<Ledger, String> {
        let rows = image.ids.len();
        let placement = image.placement;
        if placement.shards() != world.placement.shards()
            || placement
                .table()
                .is_some_and(|t| t.len() as u64 != world.accounts)
        {
            return Err("a placement directory that does not fit the cluster".into());
        }
        let world = World { placement, ..world };
        if image.accounts.len() != rows
            || image.tokens.len() != world.tokens as usize
            || image.tokens.iter().any(|t| t.len() != rows)
            || image.totals.len() != world.tokens as usize + 1
        {
            return Err("rows, token columns or totals of the wrong length".into());
        }
        // An account's indexed row is its last one, while the directory places it
        // here: a row is never reused, so one that left and came back has two (the
        // old one zeroed). Every account placed here must have one.
        let mut index = FxHashMap::default();
        for (row, &id) in image.ids.iter().enumerate() {
            if !world.is_account(id) {
                return Err(format!("account {id} is not one of the cluster's"));
            }
            if world.placement.shard_of(id) == world.shard {
                index.insert(id, row as u32);
            }
        }
        let placed = world
            .placement
            .accounts_of(world.shard, world.accounts)
            .len();
        if index.len() != placed {
            return Err(format!(
                "{} accounts have rows, but the directory places {placed} here",
                index.len()
            ));
        }
        let row_ok = |i: u32| (i as usize) < rows;
        let mut objects = FxHashMap::default();
        for &(key, value) in &image.objects {
            let fits = match key {
                Key::Account(_) | Key::Token(..) => false,
                Key::Holdings(i) | Key::Slot(i, _) => row_ok(i),
                _ => true,
            };
            if !fits || value == [0, 0] || objects.insert(key, value).is_some() {
                return Err(format!("object {key:?} does not belong in an image"));
            }
        }
        for &(row, to) in &image.exporting {
            if !row_ok(row) || to >= world.placement.shards() {
                return Err(format!("export of row {row} to shard {to}"));
            }
        }
        let mut ledger = Ledger {
            world,
            index,
            ids: image.ids,
            accounts: image.accounts,
            tokens: image.tokens,
            objects,
            touched: Vec::new(),
            touched_balance: vec![false; rows * (world.tokens as usize + 1)],
            touched_objects: FxHashSet::default(),
            hash: StateHash::default(),
            totals: image.totals,
            undo: None,
            epoch: image.epoch,
            exporting: image.exporting.into_iter().collect(),
        };
        // An account let go (queued for export) is placed elsewhere: not indexed.
        if let Some(&(row, _)) = ledger
            .exporting
            .iter()
            .find(|&&(row, _)| ledger.index.get(&ledger.ids[row as usize]) == Some(&row))
        {
            return Err(format!("row {row} is both exporting and indexed"));
        }
        // The hash of every leaf, rows on `threads` threads (the sum is order-free).
        let this = &ledger;
        let row_indices: Vec<u32> = (0..rows as u32).collect();
        let parts = in_chunks(&row_indices, threads, |part, _| {
            let mut hash = StateHash::default();
            for &i in part {
                hash.add(this.leaf(Key::Account(i), this.get(Key::Account(i))));
                for t in 1..=world.tokens {
                    hash.add(this.leaf(Key::Token(i, t), this.get(Key::Token(i, t))));
                }
            }
            vec![hash]
        });
        let mut hash = StateHash::default();
        for part in &parts {
            hash.merge(part);
        }
        for (&key, &value) in &ledger.objects {
            hash.add(ledger.leaf(key, value));
        }
        ledger.hash = hash;
        Ok(ledger)
    }
}

#[cfg(test)]
mod tests {
    use cross_shard::migration::EpochChange;

    use super::super::tests::world;
    use super::*;
    use crate::state::State;

    /// A ledger that has traded, minted, counted a stand-in call, and is halfway
    /// through a migration: some accounts let go and not yet exported, some taken in.
    fn busy() -> Ledger {
        let mut l = Ledger::genesis(world(0, 2, 100, 1), 1_000);
        let mine: Vec<AccountId> = (0..100).filter(|&a| l.local(a).is_some()).collect();
        let theirs: Vec<AccountId> = (0..100).filter(|&a| l.local(a).is_none()).collect();
        let i = l.local(mine[0]).unwrap();
        l.write(Key::Account(i), [400, 3]);
        l.write(Key::Token(i, 1), [7, 0]);
        l.write(
            Key::Nft(NftId {
                minter: mine[1],
                serial: 2,
            }),
            [u64::from(i) + 1, 1],
        );
        l.write(Key::Slot(i, theirs[0]), [5, 0]);
        l.write(Key::Holdings(i), [1, 0]);
        let mut moves: Vec<(AccountId, ShardId)> = mine[2..6]
            .iter()
            .map(|&a| (a, 1))
            .chain(theirs[1..3].iter().map(|&a| (a, 0)))
            .collect();
        moves.sort_unstable();
        l.switch(&EpochChange { epoch: 1, moves });
        l.export(2);
        l.commit(1);
        assert!(l.exporting() > 0, "the export is halfway");
        l
    }

    #[test]
    fn an_image_rebuilds_the_same_ledger_and_a_changed_one_another_root() {
        let mut l = busy();
        let image = l.image().unwrap();
        let mut back = Ledger::from_image(*l.world(), image.clone(), 2).unwrap();
        assert_eq!(back.state_root(), l.state_root());
        assert_eq!(back.image().unwrap(), image, "the same bytes again");
        for id in 0..100 {
            assert_eq!(back.local(id), l.local(id), "account {id}");
        }
        assert_eq!(
            (back.epoch(), back.exporting(), back.placement()),
            (l.epoch(), l.exporting(), l.placement())
        );
        for asset in 0..=1 {
            assert_eq!(back.total(asset), l.total(asset));
        }
        // What the root covers: a balance changed is another state.
        let mut forged = image.clone();
        forged.accounts[0][0] += 1;
        let mut forged = Ledger::from_image(*l.world(), forged, 1).unwrap();
        assert_ne!(forged.state_root(), l.state_root());
        // What it does not cover is checked by shape: a row missing, an object twice, a
        // key naming no row, a directory of another size.
        let mut short = image.clone();
        let last = short.ids.len() - 1;
        short.ids.truncate(last);
        short.accounts.truncate(last);
        short.tokens[0].truncate(last);
        let mut twice = image.clone();
        twice.objects.push(twice.objects[0]);
        let mut stray = image.clone();
        stray.objects.push((Key::Holdings(9_999), [1, 0]));
        let mut table = image;
        table.placement = Placement::with_table(2, vec![0; 3]).unwrap();
        for bad in [short, twice, stray, table] {
            assert!(Ledger::from_image(*l.world(), bad, 1).is_err());
        }
    }
}
