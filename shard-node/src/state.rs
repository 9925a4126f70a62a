//! The shard's accounts: dense, `Vec`-indexed, committed by a multiset hash.

use cross_shard::state_hash::StateHash;
use cross_shard::{AccountId, Hash, Placement, ShardId};
use rustc_hash::FxHashMap;

/// One account's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    /// Native coin balance.
    pub balance: u64,
    /// Number of transactions this account has sent (executed, successfully or not).
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
    /// Multiset hash over (id, balance, nonce) of every local account.
    hash: StateHash,
    /// Σ balances, kept up to date for the supply audit.
    balance_total: u64,
}

impl Ledger {
    /// The genesis state: every account of this shard holds `initial_balance`, nonce 0.
    pub fn genesis(
        shard: ShardId,
        placement: Placement,
        accounts: u64,
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
            hash.insert(id, initial_balance, 0);
        }
        let state = vec![
            Account {
                balance: initial_balance,
                nonce: 0
            };
            ids.len()
        ];
        Ledger {
            shard,
            placement,
            accounts,
            balance_total: initial_balance * ids.len() as u64,
            index,
            ids,
            state,
            hash,
        }
    }

    /// This ledger's shard.
    pub fn shard(&self) -> ShardId {
        self.shard
    }

    /// The cluster's placement.
    pub fn placement(&self) -> Placement {
        self.placement
    }

    /// Whether `id` is an account of the cluster (on any shard).
    pub fn exists(&self, id: AccountId) -> bool {
        id < self.accounts
    }

    /// Local index of `id`, if this shard holds it.
    #[inline]
    pub fn local(&self, id: AccountId) -> Option<u32> {
        self.index.get(&id).copied()
    }

    /// The state of the local account at `index`.
    #[inline]
    pub fn get(&self, index: u32) -> Account {
        self.state[index as usize]
    }

    /// Replaces the state of the local account at `index`, keeping the state hash and
    /// the balance total in step.
    #[inline]
    pub fn set(&mut self, index: u32, new: Account) {
        let i = index as usize;
        let old = self.state[i];
        let id = self.ids[i];
        self.hash.remove(id, old.balance, old.nonce);
        self.hash.insert(id, new.balance, new.nonce);
        // Saturating: honest blocks conserve value, but receipts behind a forged header
        // could try to credit more than the whole supply; the audit then flags it.
        self.balance_total = (self.balance_total - old.balance).saturating_add(new.balance);
        self.state[i] = new;
    }

    /// Commitment to all local accounts.
    pub fn state_root(&self) -> Hash {
        self.hash.root()
    }

    /// Σ balances of the local accounts.
    pub fn balance_total(&self) -> u64 {
        self.balance_total
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
        let ledgers: Vec<_> = (0..3).map(|s| Ledger::genesis(s, p, 1000, 50)).collect();
        let total: usize = ledgers.iter().map(Ledger::len).sum();
        assert_eq!(total, 1000);
        for l in &ledgers {
            assert_eq!(l.balance_total(), 50 * l.len() as u64);
            for id in 0..1000 {
                assert_eq!(l.local(id).is_some(), p.shard_of(id) == l.shard());
            }
        }
    }

    #[test]
    fn set_keeps_root_and_total_in_step() {
        let p = Placement::new(1).unwrap();
        let mut l = Ledger::genesis(0, p, 10, 100);
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
    }
}
