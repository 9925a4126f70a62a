//! The shard's accounts: dense, `Vec`-indexed, committed by a multiset hash.
//!
//! Every account holds the native coin (with its nonce) and a balance of each of the
//! cluster's fungible tokens (the `token` program: ERC-20-like balances). A token
//! balance lives on its holder's shard, so a token transfer between shards travels as a
//! receipt exactly like a native one.

use cross_shard::ids::{Asset, NATIVE};
use cross_shard::state_hash::{Leaf, StateHash};
use cross_shard::{AccountId, Hash, Placement, ShardId};
use rustc_hash::FxHashMap;

/// One account's native state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    /// Native coin balance.
    pub balance: u64,
    /// Number of transactions this account has sent (executed, successfully or not),
    /// whatever the asset.
    pub nonce: u64,
}

/// The accounts a shard holds, and its state commitment.
#[derive(Debug, Clone)]
pub struct Ledger {
    /// The shard this ledger belongs to.
    shard: ShardId,
    /// Account → shard map of the cluster.
    placement: Placement,
    /// Accounts in the whole cluster (ids are `0..accounts`).
    accounts: u64,
    /// Global id → index into `state`, for the accounts this shard holds.
    index: FxHashMap<AccountId, u32>,
    /// Global id of each local account (the inverse of `index`).
    ids: Vec<AccountId>,
    /// Local account states.
    state: Vec<Account>,
    /// `tokens[t - 1][i]`: local account `i`'s balance of token `t`.
    tokens: Vec<Vec<u64>>,
    /// Multiset hash over every (id, asset, balance, nonce) leaf.
    hash: StateHash,
    /// Σ balances per asset (index = asset), kept up to date for the supply audit.
    totals: Vec<u64>,
}

/// What executing a transaction reads and writes. The [`Ledger`] implements it
/// directly; the parallel executor runs the same transaction code against a per-
/// transaction overlay that records the writes (`crate::parallel`), so both executors
/// share one definition of what a transfer does.
pub trait Accounts {
    /// The shard executing.
    fn shard(&self) -> ShardId;
    /// The cluster's placement.
    fn placement(&self) -> Placement;
    /// Whether `id` is an account of the cluster (on any shard).
    fn exists(&self, id: AccountId) -> bool;
    /// Whether `asset` is the native coin or one of the cluster's tokens.
    fn has_asset(&self, asset: Asset) -> bool;
    /// Local index of `id`, if this shard holds it.
    fn local(&self, id: AccountId) -> Option<u32>;
    /// The native state of the local account at `index`.
    fn get(&self, index: u32) -> Account;
    /// The local account's balance of `asset` (which must exist).
    fn balance(&self, index: u32, asset: Asset) -> u64;
    /// Replaces the native state of the local account at `index`.
    fn set(&mut self, index: u32, new: Account);
    /// Sets the local account's balance of `asset`; for the native coin the nonce is
    /// kept.
    fn set_balance(&mut self, index: u32, asset: Asset, balance: u64);
}

impl Accounts for Ledger {
    /// This ledger's shard.
    fn shard(&self) -> ShardId {
        self.shard
    }

    /// The cluster's placement.
    fn placement(&self) -> Placement {
        self.placement
    }

    /// Whether `id` is an account of the cluster (on any shard).
    fn exists(&self, id: AccountId) -> bool {
        id < self.accounts
    }

    /// Whether `asset` is the native coin or one of the cluster's tokens.
    fn has_asset(&self, asset: Asset) -> bool {
        (asset as usize) < self.totals.len()
    }

    /// Local index of `id`, if this shard holds it.
    #[inline]
    fn local(&self, id: AccountId) -> Option<u32> {
        self.index.get(&id).copied()
    }

    /// The native state of the local account at `index`.
    #[inline]
    fn get(&self, index: u32) -> Account {
        self.state[index as usize]
    }

    /// The local account's balance of `asset` (which must exist).
    #[inline]
    fn balance(&self, index: u32, asset: Asset) -> u64 {
        match asset {
            NATIVE => self.state[index as usize].balance,
            t => self.tokens[t as usize - 1][index as usize],
        }
    }

    /// Replaces the native state of the local account at `index`, keeping the state
    /// hash and the totals in step.
    #[inline]
    fn set(&mut self, index: u32, new: Account) {
        let i = index as usize;
        let old = self.state[i];
        let id = self.ids[i];
        self.hash.remove(id, NATIVE, old.balance, old.nonce);
        self.hash.insert(id, NATIVE, new.balance, new.nonce);
        self.adjust_total(NATIVE, old.balance, new.balance);
        self.state[i] = new;
    }

    /// Sets the local account's balance of `asset`; for the native coin the nonce is
    /// kept.
    #[inline]
    fn set_balance(&mut self, index: u32, asset: Asset, balance: u64) {
        if asset == NATIVE {
            let nonce = self.get(index).nonce;
            return self.set(index, Account { balance, nonce });
        }
        let i = index as usize;
        let slot = &mut self.tokens[asset as usize - 1][i];
        let old = std::mem::replace(slot, balance);
        let id = self.ids[i];
        self.hash.remove(id, asset, old, 0);
        self.hash.insert(id, asset, balance, 0);
        self.adjust_total(asset, old, balance);
    }
}

impl Ledger {
    /// Number of tokens (assets `1..=tokens`).
    pub fn tokens(&self) -> u32 {
        self.tokens.len() as u32
    }

    /// The genesis state: every account of this shard holds `initial_balance` of the
    /// native coin and of each of `tokens` tokens, nonce 0.
    pub fn genesis(
        shard: ShardId,
        placement: Placement,
        accounts: u64,
        tokens: u32,
        initial_balance: u64,
    ) -> Ledger {
        let ids = placement.accounts_of(shard, accounts);
        let index = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i as u32))
            .collect();
        let mut hash = StateHash::default();
        for &id in &ids {
            for asset in 0..=tokens {
                hash.insert(id, asset, initial_balance, 0);
            }
        }
        let n = ids.len();
        Ledger {
            shard,
            placement,
            accounts,
            index,
            state: vec![
                Account {
                    balance: initial_balance,
                    nonce: 0,
                };
                n
            ],
            tokens: vec![vec![initial_balance; n]; tokens as usize],
            totals: vec![initial_balance * n as u64; tokens as usize + 1],
            ids,
            hash,
        }
    }

    /// Writes a leaf whose old and new hashes were computed beforehand (by the
    /// parallel executor's threads): `balance` of `asset`, and for the native coin the
    /// `nonce` too.
    pub fn write_hashed(
        &mut self,
        index: u32,
        asset: Asset,
        balance: u64,
        nonce: u64,
        old: Leaf,
        new: Leaf,
    ) {
        let i = index as usize;
        let previous = if asset == NATIVE {
            std::mem::replace(&mut self.state[i], Account { balance, nonce }).balance
        } else {
            std::mem::replace(&mut self.tokens[asset as usize - 1][i], balance)
        };
        self.hash.replace(old, new);
        self.adjust_total(asset, previous, balance);
    }

    /// The global id of the local account at `index`.
    pub fn id(&self, index: u32) -> AccountId {
        self.ids[index as usize]
    }

    fn adjust_total(&mut self, asset: Asset, old: u64, new: u64) {
        // Saturating: honest blocks conserve value, but receipts behind a forged header
        // could try to credit more than the whole supply; the audit then flags it.
        let total = &mut self.totals[asset as usize];
        *total = (*total - old).saturating_add(new);
    }

    /// Commitment to all local accounts.
    pub fn state_root(&self) -> Hash {
        self.hash.root()
    }

    /// Σ balances of `asset` over the local accounts.
    pub fn total(&self, asset: Asset) -> u64 {
        self.totals[asset as usize]
    }

    /// Σ native balances of the local accounts.
    pub fn balance_total(&self) -> u64 {
        self.total(NATIVE)
    }

    /// Number of local accounts.
    pub fn len(&self) -> usize {
        self.state.len()
    }

    /// Whether this shard holds no account.
    pub fn is_empty(&self) -> bool {
        self.state.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_holds_exactly_the_placed_accounts() {
        let p = Placement::new(3).unwrap();
        let ledgers: Vec<_> = (0..3).map(|s| Ledger::genesis(s, p, 1000, 2, 50)).collect();
        let total: usize = ledgers.iter().map(Ledger::len).sum();
        assert_eq!(total, 1000);
        for l in &ledgers {
            for asset in 0..=2 {
                assert_eq!(l.total(asset), 50 * l.len() as u64);
            }
            assert!(l.has_asset(2) && !l.has_asset(3));
            for id in 0..1000 {
                assert_eq!(l.local(id).is_some(), p.shard_of(id) == l.shard());
            }
        }
    }

    #[test]
    fn set_keeps_root_and_totals_in_step() {
        let p = Placement::new(1).unwrap();
        let mut l = Ledger::genesis(0, p, 10, 1, 100);
        let before = l.state_root();
        let i = l.local(3).unwrap();
        l.set(
            i,
            Account {
                balance: 40,
                nonce: 1,
            },
        );
        assert_eq!(l.balance_total(), 940);
        assert_ne!(l.state_root(), before);
        l.set(
            i,
            Account {
                balance: 100,
                nonce: 0,
            },
        );
        assert_eq!(l.state_root(), before);
        l.set_balance(i, 1, 7);
        assert_eq!(
            (l.balance(i, 1), l.total(1), l.balance_total()),
            (7, 907, 1000)
        );
        assert_ne!(l.state_root(), before, "token balances are committed");
        l.set_balance(i, 1, 100);
        assert_eq!(l.state_root(), before);
    }
}
