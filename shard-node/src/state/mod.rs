//! The shard's state: keys and values, dense where it matters, committed by a multiset
//! hash.
//!
//! **Owns** the shard's keys, values and their commitment. **May not** know about
//! programs, executors, blocks or the wire: everything above reads and writes through
//! [`State`] or a [`Buffered`] view.
//!
//! Everything a transaction can touch is a [`Key`] with a two-word [`Value`]: an
//! account's native balance and nonce, its balance of each token, a pool's reserves, a
//! collection's mint count, an NFT held here and how many each account holds, a
//! proposal's tally, one account's ballot on one proposal. Keys are the unit of conflict between transactions (the parallel
//! executor schedules by them, Block-STM versions them) and of the state commitment
//! (one leaf per non-zero key).
//!
//! Accounts are the hot path, so they sit in `Vec`s indexed by a local index; the
//! shared objects (pools, collections, NFTs, proposals, ballots) sit in a hash map,
//! where a missing key reads as zero.
//!
//! **Commitment.** Writing a key only records its value before the block (once per key,
//! found by a flag per account balance, so the hot path does no hashing);
//! [`Ledger::commit`] then hashes each touched key's old and new leaf — on the
//! executor's threads — and updates the multiset hash. A block therefore costs two leaf
//! hashes per key it touched, however often it wrote it.
//!
//! **Speculation.** A validator of a committee executes a proposed block before the
//! committee has decided it, and must be able to take it back when another block is
//! decided instead. Between [`Ledger::checkpoint`] and [`Ledger::keep`], every key a
//! commit folds in is also kept with its value at the checkpoint; [`Ledger::rollback`]
//! writes those values back and restores the hash and the totals. A block costs one
//! more copy per key it touched, and no hashing.

use cross_shard::ids::{
    Asset, CollectionId, NATIVE, NftId, Object, PoolId, ProposalId, pool_token,
};
use cross_shard::state_hash::{Leaf, StateHash};
use cross_shard::{AccountId, Hash, Placement, ShardId};
use rustc_hash::{FxHashMap, FxHashSet};

use cross_shard::threads::in_chunks;

mod image;
mod migrate;
mod view;

pub use image::{LedgerImage, key_of, key_parts};

pub use view::{Base, Buffered};

/// A piece of shard state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// A local account (by local index): value `[native balance, nonce]`.
    Account(u32),
    /// A local account's balance of a token: `[balance, 0]`.
    Token(u32, Asset),
    /// A pool's reserves: `[native, token]`.
    Pool(PoolId),
    /// A collection: `[NFTs minted, 0]`.
    Collection(CollectionId),
    /// An NFT held by a local account: `[owner + 1, collection]`, or zero when it is
    /// not held here.
    Nft(NftId),
    /// A proposal's tally: `[for, against]`.
    Proposal(ProposalId),
    /// One account's ballot on a proposal: `[1, 0]` once it has voted.
    Ballot(ProposalId, AccountId),
    /// How many NFTs a local account (by local index) holds here, of any collection:
    /// `[count, 0]` — ERC-721's `balanceOf`, which the EVM's collections keep
    /// (`crate::vm::state`).
    Holdings(u32),
    /// A local contract's (by local index) storage slot keyed by a caller: `[calls the
    /// caller made, 0]` — what a stand-in call writes (`programs::standin`).
    Slot(u32, AccountId),
}

/// A key's value; its meaning depends on the key (see [`Key`]). All zero means absent.
pub type Value = [u64; 2];

/// Commits touching fewer keys than this hash them on one thread.
const MIN_PARALLEL_COMMIT: usize = 1024;

/// Index of the balance in an account's or token's value.
pub const BALANCE: usize = 0;
/// Index of the nonce in an account's value.
pub const NONCE: usize = 1;

/// The facts every shard of a cluster shares from genesis: who exists, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct World {
    /// The shard executing.
    pub shard: ShardId,
    /// The cluster's placement.
    pub placement: Placement,
    /// Accounts `0..accounts`.
    pub accounts: u64,
    /// Tokens `1..=tokens`.
    pub tokens: u32,
    /// Pools `0..pools`.
    pub pools: u32,
    /// Collections `0..collections`.
    pub collections: u32,
    /// Proposals `0..proposals`.
    pub proposals: u32,
    /// Each pool's reserve of each side at genesis.
    pub pool_reserve: u64,
}

impl World {
    /// Whether `id` is an account of the cluster (on any shard).
    pub fn is_account(&self, id: AccountId) -> bool {
        id < self.accounts
    }

    /// Whether `asset` is the native coin or one of the cluster's tokens.
    pub fn has_asset(&self, asset: Asset) -> bool {
        asset <= self.tokens
    }

    /// Whether `object` exists in the cluster.
    pub fn has_object(&self, object: Object) -> bool {
        match object {
            Object::Pool(p) => p < self.pools,
            Object::Collection(c) => c < self.collections,
            Object::Proposal(p) => p < self.proposals,
        }
    }

    /// Whether `object` exists and lives on this shard.
    pub fn holds(&self, object: Object) -> bool {
        self.has_object(object) && self.placement.shard_of_object(object) == self.shard
    }

    /// The two assets pool `pool` trades: the native coin and a token.
    pub fn pool_assets(&self, pool: PoolId) -> (Asset, Asset) {
        (NATIVE, pool_token(pool, self.tokens))
    }

    /// Whether pool `pool` trades `asset`.
    pub fn pool_trades(&self, pool: PoolId, asset: Asset) -> bool {
        let (a, b) = self.pool_assets(pool);
        asset == a || asset == b
    }
}

/// What executing a transaction reads and writes. The [`Ledger`] implements it
/// directly; the parallel executors run the same program code against views that
/// record what a transaction does (`crate::parallel`, `crate::blockstm`), so every
/// executor shares one definition of each program.
pub trait State {
    /// The cluster's shared facts.
    fn world(&self) -> &World;
    /// Local index of `id`, if this shard holds it.
    fn local(&self, id: AccountId) -> Option<u32>;
    /// The current value of `key` (zero when absent).
    fn read(&mut self, key: Key) -> Value;
    /// Sets the value of `key`.
    fn write(&mut self, key: Key, value: Value);
}

/// The state a shard holds, and its commitment.
#[derive(Debug, Clone)]
pub struct Ledger {
    /// Shared genesis facts.
    world: World,
    /// Global id → index into `accounts`, for the accounts this shard holds.
    index: FxHashMap<AccountId, u32>,
    /// Global id of each local account (the inverse of `index`).
    ids: Vec<AccountId>,
    /// `[native balance, nonce]` of each local account.
    accounts: Vec<Value>,
    /// `tokens[t - 1][i]`: local account `i`'s balance of token `t`.
    tokens: Vec<Vec<u64>>,
    /// Every other non-zero key.
    objects: FxHashMap<Key, Value>,
    /// Keys written since the last commit, each once, with its value at that commit.
    touched: Vec<(Key, Value)>,
    /// Whether each balance is in `touched`: index `i * (tokens + 1) + asset` for local
    /// account `i` (asset 0 is the native account key).
    touched_balance: Vec<bool>,
    /// The other keys in `touched`.
    touched_objects: FxHashSet<Key>,
    /// Multiset hash over the leaves of every non-zero key, as of the last commit.
    hash: StateHash,
    /// Σ per asset (index = asset) over balances and pool reserves, for the audit.
    totals: Vec<u64>,
    /// Since the last [`Ledger::checkpoint`]: what it takes to go back to it.
    undo: Option<Undo>,
    /// The placement epoch (see [`migrate`]): 0 at genesis.
    epoch: u32,
    /// Accounts let go and not yet exported (see [`migrate`]): (row, new shard).
    exporting: std::collections::VecDeque<(u32, cross_shard::ShardId)>,
}

/// A checkpoint of the ledger: the hash and totals then, and each key committed since
/// with its value then (a key committed twice appears twice; the earlier wins).
#[derive(Debug, Clone)]
struct Undo {
    hash: StateHash,
    totals: Vec<u64>,
    writes: Vec<(Key, Value)>,
    /// An epoch switch since (see [`migrate`]): the directory and epoch then, the rows
    /// then, and the accounts let go since with their rows.
    world: World,
    epoch: u32,
    rows: usize,
    let_go: Vec<(AccountId, u32)>,
    /// The accounts waiting for export then.
    exporting: std::collections::VecDeque<(u32, cross_shard::ShardId)>,
}

impl State for Ledger {
    fn world(&self) -> &World {
        &self.world
    }

    #[inline]
    fn local(&self, id: AccountId) -> Option<u32> {
        self.index.get(&id).copied()
    }

    #[inline]
    fn read(&mut self, key: Key) -> Value {
        self.get(key)
    }

    #[inline]
    fn write(&mut self, key: Key, value: Value) {
        let old = self.get(key);
        if !self.mark_touched(key) {
            self.touched.push((key, old));
        }
        self.adjust_totals(key, old, value);
        self.put(key, value);
    }
}

impl Ledger {
    /// Stores `value` under `key`, nothing else (no totals, no touched list).
    #[inline]
    fn put(&mut self, key: Key, value: Value) {
        match key {
            Key::Account(i) => self.accounts[i as usize] = value,
            Key::Token(i, t) => self.tokens[t as usize - 1][i as usize] = value[BALANCE],
            _ if value == [0, 0] => {
                self.objects.remove(&key);
            }
            _ => {
                self.objects.insert(key, value);
            }
        }
    }

    /// Starts keeping what it takes to return to the state as it is now (after the
    /// last commit): see the chapter's *Speculation*.
    pub fn checkpoint(&mut self) {
        self.commit(1);
        self.undo = Some(Undo {
            hash: self.hash,
            totals: self.totals.clone(),
            writes: Vec::new(),
            world: self.world,
            epoch: self.epoch,
            rows: self.ids.len(),
            let_go: Vec::new(),
            exporting: self.exporting.clone(),
        });
    }

    /// Whether a checkpoint is held.
    pub fn speculating(&self) -> bool {
        self.undo.is_some()
    }

    /// Makes everything since the checkpoint final and forgets the checkpoint.
    pub fn keep(&mut self) {
        self.undo = None;
    }

    /// Returns to the state at the last checkpoint, writes not yet committed included,
    /// and forgets it. Without a checkpoint, nothing happens.
    pub fn rollback(&mut self) {
        let Some(undo) = self.undo.take() else {
            return;
        };
        for (key, before) in std::mem::take(&mut self.touched) {
            self.put(key, before);
        }
        for &(key, before) in undo.writes.iter().rev() {
            self.put(key, before);
        }
        self.touched_balance.iter_mut().for_each(|t| *t = false);
        self.touched_objects.clear();
        self.hash = undo.hash;
        self.totals = undo.totals;
        // An epoch switch undone: rows added since go, accounts let go come back.
        for id in self.ids.drain(undo.rows..) {
            self.index.remove(&id);
        }
        self.accounts.truncate(undo.rows);
        for t in &mut self.tokens {
            t.truncate(undo.rows);
        }
        self.touched_balance
            .truncate(undo.rows * (self.world.tokens as usize + 1));
        for (id, i) in undo.let_go {
            self.index.insert(id, i);
        }
        self.world = undo.world;
        self.epoch = undo.epoch;
        self.exporting = undo.exporting;
    }
}

impl Ledger {
    /// The genesis state: every local account holds `initial_balance` of the native
    /// coin and of each token, nonce 0; every local pool holds `world.pool_reserve` of
    /// both its assets; collections, NFTs and proposals start empty.
    pub fn genesis(world: World, initial_balance: u64) -> Ledger {
        let ids = world.placement.accounts_of(world.shard, world.accounts);
        let index = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i as u32))
            .collect();
        let n = ids.len();
        let mut totals = vec![initial_balance * n as u64; world.tokens as usize + 1];
        let mut objects = FxHashMap::default();
        for pool in (0..world.pools).filter(|&p| world.holds(Object::Pool(p))) {
            let (a, b) = world.pool_assets(pool);
            totals[a as usize] += world.pool_reserve;
            totals[b as usize] += world.pool_reserve;
            objects.insert(Key::Pool(pool), [world.pool_reserve; 2]);
        }
        let mut ledger = Ledger {
            world,
            index,
            ids,
            accounts: vec![[initial_balance, 0]; n],
            tokens: vec![vec![initial_balance; n]; world.tokens as usize],
            objects,
            touched: Vec::new(),
            touched_balance: vec![false; n * (world.tokens as usize + 1)],
            touched_objects: FxHashSet::default(),
            hash: StateHash::default(),
            totals,
            undo: None,
            epoch: 0,
            exporting: Default::default(),
        };
        let mut hash = StateHash::default();
        for i in 0..n as u32 {
            hash.add(ledger.leaf(Key::Account(i), ledger.get(Key::Account(i))));
            for t in 1..=world.tokens {
                hash.add(ledger.leaf(Key::Token(i, t), ledger.get(Key::Token(i, t))));
            }
        }
        for (&key, &value) in &ledger.objects {
            hash.add(ledger.leaf(key, value));
        }
        ledger.hash = hash;
        ledger
    }

    /// The value of `key` (zero when absent).
    #[inline]
    pub fn get(&self, key: Key) -> Value {
        match key {
            Key::Account(i) => self.accounts[i as usize],
            Key::Token(i, t) => [self.tokens[t as usize - 1][i as usize], 0],
            _ => self.objects.get(&key).copied().unwrap_or_default(),
        }
    }

    /// The leaf of `key` holding `value`: blake3 over a tag, the key (accounts by
    /// global id) and the value; empty for a zero value.
    pub fn leaf(&self, key: Key, value: Value) -> Leaf {
        if value == [0, 0] {
            return Leaf::EMPTY;
        }
        let (tag, a, b) = match key {
            Key::Account(i) => (0u8, self.ids[i as usize], 0),
            Key::Token(i, t) => (1, self.ids[i as usize], u64::from(t)),
            Key::Pool(p) => (2, u64::from(p), 0),
            Key::Collection(c) => (3, u64::from(c), 0),
            Key::Nft(n) => (4, n.minter, n.serial),
            Key::Proposal(p) => (5, u64::from(p), 0),
            Key::Ballot(p, voter) => (6, u64::from(p), voter),
            Key::Holdings(i) => (7, self.ids[i as usize], 0),
            Key::Slot(i, caller) => (8, self.ids[i as usize], caller),
        };
        let mut bytes = [0u8; 33];
        bytes[0] = tag;
        bytes[1..9].copy_from_slice(&a.to_le_bytes());
        bytes[9..17].copy_from_slice(&b.to_le_bytes());
        bytes[17..25].copy_from_slice(&value[0].to_le_bytes());
        bytes[25..].copy_from_slice(&value[1].to_le_bytes());
        Leaf::of(&bytes)
    }

    /// Folds the keys written since the last commit into the state hash, hashing their
    /// leaves on `threads` threads (the sum does not depend on the order).
    pub fn commit(&mut self, threads: usize) {
        if self.touched.is_empty() {
            return;
        }
        let mut dirty = std::mem::take(&mut self.touched);
        for &(key, _) in &dirty {
            if let Some(slot) = self.balance_slot(key) {
                self.touched_balance[slot] = false;
            }
        }
        self.touched_objects.clear();
        // Spawning threads costs tens of microseconds: not worth it for a few keys.
        let threads = if dirty.len() < MIN_PARALLEL_COMMIT {
            1
        } else {
            threads
        };
        let this = &*self;
        let sums: Vec<StateHash> = in_chunks(&dirty, threads, |part, _| {
            let mut old = StateHash::default();
            let mut new = StateHash::default();
            for &(key, before) in part {
                old.add(this.leaf(key, before));
                new.add(this.leaf(key, this.get(key)));
            }
            vec![old, new]
        });
        for pair in sums.chunks_exact(2) {
            self.hash.subtract(&pair[0]);
            self.hash.merge(&pair[1]);
        }
        if let Some(undo) = &mut self.undo {
            undo.writes.extend_from_slice(&dirty);
        }
        dirty.clear();
        self.touched = dirty; // keep the allocation for the next block
    }

    /// The flag index of a balance key (`None` for the other keys).
    fn balance_slot(&self, key: Key) -> Option<usize> {
        let per_account = self.world.tokens as usize + 1;
        match key {
            Key::Account(i) => Some(i as usize * per_account),
            Key::Token(i, t) => Some(i as usize * per_account + t as usize),
            _ => None,
        }
    }

    /// Marks `key` touched since the last commit; returns whether it already was.
    fn mark_touched(&mut self, key: Key) -> bool {
        match self.balance_slot(key) {
            Some(slot) => std::mem::replace(&mut self.touched_balance[slot], true),
            None => !self.touched_objects.insert(key),
        }
    }

    /// Commitment to the whole state (committing pending writes on this thread).
    pub fn state_root(&mut self) -> Hash {
        self.commit(1);
        self.hash.root()
    }

    /// The global id of the local account at `index`.
    pub fn id(&self, index: u32) -> AccountId {
        self.ids[index as usize]
    }

    /// Keeps the per-asset totals in step with a write.
    fn adjust_totals(&mut self, key: Key, old: Value, new: Value) {
        // Saturating: honest blocks conserve value, but receipts behind a Byzantine
        // shard's header could try to credit more than the whole supply; the audit
        // then flags it.
        let mut adjust = |asset: Asset, old: u64, new: u64| {
            let total = &mut self.totals[asset as usize];
            *total = total.saturating_sub(old).saturating_add(new);
        };
        match key {
            Key::Account(_) => adjust(NATIVE, old[BALANCE], new[BALANCE]),
            Key::Token(_, t) => adjust(t, old[BALANCE], new[BALANCE]),
            Key::Pool(p) => {
                let (a, b) = self.world.pool_assets(p);
                adjust(a, old[0], new[0]);
                adjust(b, old[1], new[1]);
            }
            _ => {}
        }
    }

    /// Σ of `asset` over local balances and pool reserves.
    pub fn total(&self, asset: Asset) -> u64 {
        self.totals[asset as usize]
    }

    /// The accounts this ledger holds, counted and hashed from its own index
    /// ([`cross_shard::placement::accounts_digest`]).
    pub fn holdings(&self) -> (u64, Hash) {
        cross_shard::placement::accounts_digest(self.index.keys().copied())
    }

    /// Σ of `asset` recounted from the state itself — every local balance and every
    /// pool reserve in that asset — rather than read from the running total that each
    /// write adjusts: the audit compares the two, so a write path that forgets to keep
    /// the total in step (or a total kept right over a wrong state) is caught. Exact in
    /// `u128`, saturated to `u64` like the running total. A scan of the whole state:
    /// asked for once per run, not per block.
    pub fn recount(&self, asset: Asset) -> u64 {
        let balances: u128 = if asset == NATIVE {
            self.accounts.iter().map(|v| u128::from(v[BALANCE])).sum()
        } else {
            self.tokens
                .get(asset as usize - 1)
                .map_or(0, |t| t.iter().map(|&b| u128::from(b)).sum())
        };
        let reserves: u128 = self
            .objects
            .iter()
            .filter_map(|(key, value)| match *key {
                Key::Pool(p) => {
                    let (a, b) = self.world.pool_assets(p);
                    Some(
                        u128::from(if a == asset { value[0] } else { 0 })
                            + u128::from(if b == asset { value[1] } else { 0 }),
                    )
                }
                _ => None,
            })
            .sum();
        u64::try_from(balances + reserves).unwrap_or(u64::MAX)
    }

    /// Σ native balances (and native pool reserves).
    pub fn balance_total(&self) -> u64 {
        self.total(NATIVE)
    }

    /// Number of tokens (assets `1..=tokens`).
    pub fn tokens(&self) -> u32 {
        self.world.tokens
    }

    /// The cluster's placement.
    pub fn placement(&self) -> Placement {
        self.world.placement
    }

    /// This ledger's shard.
    pub fn shard(&self) -> ShardId {
        self.world.shard
    }

    /// Number of local accounts.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Whether this shard holds no account.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A world of `shards` shards with the given accounts, tokens, and 4 of each object.
    pub(crate) fn world(shard: ShardId, shards: u32, accounts: u64, tokens: u32) -> World {
        World {
            shard,
            placement: Placement::new(shards).unwrap(),
            accounts,
            tokens,
            pools: 4,
            collections: 4,
            proposals: 4,
            pool_reserve: 1_000_000,
        }
    }

    #[test]
    fn genesis_holds_exactly_the_placed_accounts_and_pools() {
        let ledgers: Vec<_> = (0..3)
            .map(|s| Ledger::genesis(world(s, 3, 1000, 2), 50))
            .collect();
        let total: usize = ledgers.iter().map(Ledger::len).sum();
        assert_eq!(total, 1000);
        let pools: u64 = ledgers
            .iter()
            .map(|l| (0..4).filter(|&p| l.get(Key::Pool(p)) != [0, 0]).count() as u64)
            .sum();
        assert_eq!(pools, 4, "each pool on exactly one shard");
        let native: u64 = ledgers.iter().map(|l| l.total(NATIVE)).sum();
        assert_eq!(native, 50 * 1000 + 4 * 1_000_000, "balances and reserves");
        for l in &ledgers {
            for id in 0..1000 {
                assert_eq!(
                    l.local(id).is_some(),
                    l.placement().shard_of(id) == l.shard()
                );
            }
        }
    }

    #[test]
    fn writes_keep_root_and_totals_in_step() {
        let mut l = Ledger::genesis(world(0, 1, 10, 1), 100);
        let before = l.state_root();
        let i = l.local(3).unwrap();
        l.write(Key::Account(i), [40, 1]);
        assert_eq!(l.balance_total(), 940 + 4 * 1_000_000);
        assert_ne!(l.state_root(), before);
        l.write(Key::Account(i), [100, 0]);
        assert_eq!(l.state_root(), before);
        l.write(Key::Token(i, 1), [7, 0]);
        assert_eq!(l.total(1), 907 + 4 * 1_000_000);
        assert_ne!(l.state_root(), before, "token balances are committed");
        l.write(Key::Token(i, 1), [100, 0]);
        let nft = Key::Nft(NftId {
            minter: 3,
            serial: 0,
        });
        l.write(nft, [4, 0]);
        assert_ne!(l.state_root(), before, "objects are committed");
        l.write(nft, [0, 0]);
        assert_eq!(l.state_root(), before, "a zeroed key leaves the set");
    }

    #[test]
    fn a_rollback_returns_every_value_the_root_and_the_totals_to_the_checkpoint() {
        let mut l = Ledger::genesis(world(0, 1, 10, 1), 100);
        let i = l.local(3).unwrap();
        let nft = Key::Nft(NftId {
            minter: 3,
            serial: 0,
        });
        l.write(Key::Account(i), [90, 1]);
        l.commit(1);
        let (root, total, token) = (l.state_root(), l.total(NATIVE), l.total(1));
        l.checkpoint();
        assert!(l.speculating());
        // Two committed blocks' worth, one key twice, then a write not yet committed.
        l.write(Key::Account(i), [40, 2]);
        l.write(nft, [4, 0]);
        l.commit(1);
        l.write(Key::Account(i), [10, 3]);
        l.write(Key::Token(i, 1), [7, 0]);
        l.commit(1);
        l.write(Key::Pool(0), [1, 1]);
        assert_ne!(l.state_root(), root);
        l.rollback();
        assert!(!l.speculating());
        assert_eq!(l.get(Key::Account(i)), [90, 1]);
        assert_eq!(l.get(Key::Token(i, 1)), [100, 0]);
        assert_eq!(l.get(nft), [0, 0], "an object created since is gone");
        assert_eq!(l.get(Key::Pool(0)), [1_000_000; 2]);
        assert_eq!((l.total(NATIVE), l.total(1)), (total, token));
        assert_eq!(l.recount(NATIVE), total);
        assert_eq!(l.state_root(), root);
        // The flags were reset too: the next write is recorded and committed.
        l.write(Key::Account(i), [5, 2]);
        assert_ne!(l.state_root(), root);
        // What was kept stays.
        l.checkpoint();
        l.write(Key::Account(i), [6, 3]);
        let kept = l.state_root();
        l.keep();
        l.rollback();
        assert_eq!(l.state_root(), kept, "no checkpoint: nothing to roll back");
    }

    #[test]
    fn the_recount_reads_the_state_not_the_running_total() {
        let mut l = Ledger::genesis(world(0, 1, 10, 2), 100);
        for asset in 0..=2 {
            assert_eq!(l.recount(asset), l.total(asset), "asset {asset} at genesis");
        }
        let i = l.local(3).unwrap();
        l.write(Key::Account(i), [40, 1]);
        l.write(Key::Token(i, 2), [7, 0]);
        let (a, b) = l.world.pool_assets(1);
        l.write(Key::Pool(1), [5, 6]);
        for asset in 0..=2 {
            assert_eq!(
                l.recount(asset),
                l.total(asset),
                "asset {asset} after writes"
            );
        }
        assert_eq!(
            l.recount(a) + l.recount(b),
            l.total(a) + l.total(b),
            "pool reserves count in their assets"
        );
        // A running total that drifted from the state: only the recount still tells
        // the truth.
        l.totals[0] += 1;
        assert_eq!(l.recount(0) + 1, l.total(0));
    }

    #[test]
    fn commit_on_threads_equals_commit_on_one() {
        let mut a = Ledger::genesis(world(0, 1, 500, 1), 100);
        for i in 0..500 {
            a.write(Key::Account(i), [i as u64, 1]);
            a.write(Key::Ballot(1, u64::from(i)), [1, 0]);
        }
        let mut b = a.clone();
        a.commit(1);
        b.commit(4);
        assert_eq!(a.state_root(), b.state_root());
    }
}
