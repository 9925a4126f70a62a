//! The ledger's side of a migration (`cross_shard::migration`): letting an account go,
//! exporting its state, taking one in, and switching the directory.
//!
//! ```text
//!  leaving (old shard)                        arriving (new shard)
//!  switch block: unindexed (no call or        switch block: a placeholder, all zero,
//!    receipt finds it here), queued             so credits sent under the new
//!  each block from then on, in queue order,     directory land (they add up)
//!    a budget of receipts' worth of accounts:
//!    every non-zero balance → Move            Move, MoveSlot: added  ·  Arrive: nonce set
//!    every slot of the contract → MoveSlot
//!    nonce → Arrive (last); row written to zero
//! ```
//!
//! An account's state stays in its row — in the state root and in the shard's totals —
//! until the block that exports it, so value is always in one shard or in flight on
//! one channel. Exports are paced (a budget of receipts per block) so that an epoch
//! that moves many accounts does not make one huge block: the switch itself is as
//! light as any block. Both sides write through [`State::write`], so the state root,
//! the running totals and the touched list see a migration exactly as they see a
//! transfer. A local index is never reused: an account that leaves keeps its (zeroed)
//! row, unindexed, and one that comes back gets a new row.

use cross_shard::migration::{EpochChange, MIGRATION};
use cross_shard::{AccountId, Effect, Receipt, ShardId};
use rustc_hash::{FxHashMap, FxHashSet};

use super::{BALANCE, Key, Ledger, NONCE, State};

impl Ledger {
    /// The placement epoch this ledger is in (0: genesis).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Switches to `change`: every local account it moves away is let go — unindexed,
    /// its state left in its row and queued for [`Ledger::export`] — and every account
    /// it moves here gets an empty row; then the directory is the new one. Returns the
    /// accounts let go, with their new shards. An account that is not where the old
    /// directory says is left alone (it cannot be: the directory is what put it there).
    pub fn switch(&mut self, change: &EpochChange) -> Vec<(AccountId, ShardId)> {
        let me = self.world.shard;
        let old = self.world.placement;
        let mut left = Vec::new();
        for &(account, to) in &change.moves {
            if old.shard_of(account) == me {
                if let Some(i) = self.local(account) {
                    self.index.remove(&account);
                    self.exporting.push_back((i, to));
                    left.push((account, to));
                    if let Some(undo) = &mut self.undo {
                        undo.let_go.push((account, i));
                    }
                }
            } else if to == me && self.local(account).is_none() {
                self.admit(account);
            }
        }
        self.world.placement = change.apply(&old, self.world.accounts);
        self.epoch = change.epoch;
        left
    }

    /// Accounts let go whose state has not been exported yet.
    pub fn exporting(&self) -> usize {
        self.exporting.len()
    }

    /// Exports accounts let go, in the order they were let go, until `budget` receipts
    /// have been made (at least one account, whatever its size): each one's balances,
    /// the slots of a contract, then its nonce, as receipts for its new shard, its keys
    /// written to zero.
    pub fn export(&mut self, budget: usize) -> Vec<(ShardId, Receipt)> {
        let mut out = Vec::new();
        if self.exporting.is_empty() {
            return out;
        }
        // The slots of every waiting contract, found in one pass over the objects.
        let waiting: FxHashSet<u32> = self.exporting.iter().map(|e| e.0).collect();
        let mut slots: FxHashMap<u32, Vec<AccountId>> = FxHashMap::default();
        for key in self.objects.keys() {
            if let Key::Slot(i, caller) = *key
                && waiting.contains(&i)
            {
                slots.entry(i).or_default().push(caller);
            }
        }
        while out.len() < budget
            && let Some((i, to)) = self.exporting.pop_front()
        {
            let mut callers = slots.remove(&i).unwrap_or_default();
            callers.sort_unstable();
            self.empty_into(i, to, &callers, &mut out);
        }
        out
    }

    /// Empties local row `i` (an account let go to `to`) into receipts: its balances,
    /// its slots (of `callers`, sorted), then its nonce.
    fn empty_into(
        &mut self,
        i: u32,
        to: ShardId,
        callers: &[AccountId],
        out: &mut Vec<(ShardId, Receipt)>,
    ) {
        let account = self.ids[i as usize];
        let receipt = |effect| {
            (
                to,
                Receipt {
                    tx: MIGRATION,
                    effect,
                },
            )
        };
        let native = self.read(Key::Account(i));
        if native[BALANCE] > 0 {
            out.push(receipt(Effect::Move {
                account,
                asset: cross_shard::ids::NATIVE,
                amount: native[BALANCE],
            }));
        }
        self.write(Key::Account(i), [0, 0]);
        for t in 1..=self.world.tokens {
            let balance = self.read(Key::Token(i, t))[BALANCE];
            if balance > 0 {
                out.push(receipt(Effect::Move {
                    account,
                    asset: t,
                    amount: balance,
                }));
                self.write(Key::Token(i, t), [0, 0]);
            }
        }
        for &caller in callers {
            let calls = self.read(Key::Slot(i, caller))[0];
            out.push(receipt(Effect::MoveSlot {
                contract: account,
                caller,
                calls,
            }));
            self.write(Key::Slot(i, caller), [0, 0]);
        }
        out.push(receipt(Effect::Arrive {
            account,
            nonce: native[NONCE],
        }));
    }

    /// A new, empty local row for `account`.
    fn admit(&mut self, account: AccountId) {
        let i = self.ids.len() as u32;
        self.ids.push(account);
        self.index.insert(account, i);
        self.accounts.push([0, 0]);
        for t in &mut self.tokens {
            t.push(0);
        }
        let per_account = self.world.tokens as usize + 1;
        self.touched_balance
            .resize(self.touched_balance.len() + per_account, false);
    }
}
