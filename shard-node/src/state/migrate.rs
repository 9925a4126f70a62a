//! The ledger's side of a migration (`cross_shard::migration`): letting an account go,
//! taking one in, and switching the directory.
//!
//! ```text
//!  leaving (old shard, switch block)         arriving (new shard)
//!  every non-zero balance → Move             switch block: a placeholder, all zero,
//!  every slot of the contract → MoveSlot       so credits sent under the new
//!  nonce → Arrive (last)                       directory land (they add up)
//!  keys written to zero, id unindexed        Move, MoveSlot: added  ·  Arrive: nonce set
//! ```
//!
//! Both sides write through [`State::write`], so the state root, the running totals
//! and the touched list see a migration exactly as they see a transfer. A local index
//! is never reused: an account that leaves keeps its (zeroed) row, unindexed, and one
//! that comes back gets a new row.

use cross_shard::migration::{EpochChange, MIGRATION};
use cross_shard::{AccountId, Effect, Receipt, ShardId};

use super::{BALANCE, Key, Ledger, NONCE, State};

impl Ledger {
    /// The placement epoch this ledger is in (0: genesis).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Switches to `change`: every local account it moves away is emptied and its
    /// state returned as receipts for its new shard, in order (`(dst, receipt)`);
    /// every account it moves here gets an empty row; then the directory is the new
    /// one. An account that is not where the old directory says is left alone (it
    /// cannot be: the directory is what put it there).
    pub fn switch(&mut self, change: &EpochChange) -> Vec<(ShardId, Receipt)> {
        let me = self.world.shard;
        let old = self.world.placement;
        let mut out = Vec::new();
        // The slots of every leaving contract, found in one pass over the objects.
        let mut slots: Vec<(AccountId, AccountId, u64)> = Vec::new();
        let leaving: rustc_hash::FxHashMap<u32, ShardId> = change
            .moves
            .iter()
            .filter(|&&(a, _)| old.shard_of(a) == me)
            .filter_map(|&(a, to)| self.local(a).map(|i| (i, to)))
            .collect();
        if !leaving.is_empty() {
            for (&key, value) in &self.objects {
                if let Key::Slot(i, caller) = key
                    && leaving.contains_key(&i)
                {
                    slots.push((self.ids[i as usize], caller, value[0]));
                }
            }
            slots.sort_unstable();
        }
        for &(account, to) in &change.moves {
            if old.shard_of(account) == me {
                if let Some(i) = self.local(account) {
                    self.let_go(i, to, &slots, &mut out);
                }
            } else if to == me && self.local(account).is_none() {
                self.admit(account);
            }
        }
        self.world.placement = change.apply(&old, self.world.accounts);
        self.epoch = change.epoch;
        out
    }

    /// Empties local account `i` (moving to `to`) into receipts: its balances, its
    /// slots (from `slots`, sorted by contract), then its nonce.
    fn let_go(
        &mut self,
        i: u32,
        to: ShardId,
        slots: &[(AccountId, AccountId, u64)],
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
        let first = slots.partition_point(|s| s.0 < account);
        for &(_, caller, calls) in slots[first..].iter().take_while(|s| s.0 == account) {
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
        self.index.remove(&account);
        if let Some(undo) = &mut self.undo {
            undo.let_go.push((account, i));
        }
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
