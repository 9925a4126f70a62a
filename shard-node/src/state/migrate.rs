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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::programs::{End, deliver};
    use crate::state::tests::world;

    const ACCOUNTS: u64 = 60;

    /// Shard 0 and shard 1 of a two-shard cluster with one token.
    fn pair() -> [Ledger; 2] {
        [0, 1].map(|k| Ledger::genesis(world(k, 2, ACCOUNTS, 1), 1_000))
    }

    #[test]
    fn an_account_moves_with_its_balances_slots_and_nonce_and_nothing_is_minted() {
        let [mut a, mut b] = pair();
        let mover = a.placement().accounts_of(0, ACCOUNTS)[0];
        let i = a.local(mover).unwrap();
        // The account has spent (nonce 3), called as a contract (a slot), holds tokens.
        a.write(Key::Account(i), [700, 3]);
        a.write(Key::Slot(i, 42), [5, 0]);
        a.write(Key::Token(i, 1), [0, 0]);
        let totals = |l: &Ledger| (l.total(0), l.total(1));
        let (before_a, before_b) = (totals(&a), totals(&b));
        let change = EpochChange {
            epoch: 1,
            moves: vec![(mover, 1)],
        };
        let out = a.switch(&change);
        assert!(b.switch(&change).is_empty(), "nothing leaves shard 1");
        let effects: Vec<Effect> = out
            .iter()
            .map(|(d, r)| {
                assert_eq!((*d, r.tx), (1, MIGRATION));
                r.effect
            })
            .collect();
        assert_eq!(
            effects,
            vec![
                Effect::Move {
                    account: mover,
                    asset: 0,
                    amount: 700
                },
                Effect::MoveSlot {
                    contract: mover,
                    caller: 42,
                    calls: 5
                },
                Effect::Arrive {
                    account: mover,
                    nonce: 3
                },
            ],
            "a zero token balance is not sent"
        );
        assert_eq!(a.local(mover), None, "let go");
        assert_eq!(totals(&a), (before_a.0 - 700, before_a.1));
        assert_eq!(a.recount(0), a.total(0));
        // A credit sent under the new directory reaches the placeholder first.
        let j = b.local(mover).expect("a placeholder");
        assert_eq!(
            deliver(
                &mut b,
                Effect::Credit {
                    to: mover,
                    asset: 0,
                    amount: 9
                }
            ),
            End::Done
        );
        for e in effects {
            assert_eq!(deliver(&mut b, e), End::Done);
        }
        assert_eq!(
            b.get(Key::Account(j)),
            [709, 3],
            "moved balance + credit, nonce"
        );
        assert_eq!(b.get(Key::Slot(j, 42)), [5, 0]);
        assert_eq!(totals(&b), (before_b.0 + 709, before_b.1));
        assert_eq!(b.recount(0), b.total(0));
        // Where each ledger says the account lives, and what each holds.
        assert_eq!(
            (a.placement().shard_of(mover), b.placement().shard_of(mover)),
            (1, 1)
        );
        let held = |l: &Ledger, k| {
            cross_shard::placement::accounts_digest(
                l.placement().accounts_of(k, ACCOUNTS).into_iter(),
            )
        };
        assert_eq!(a.holdings(), held(&a, 0));
        assert_eq!(b.holdings(), held(&b, 1));
    }

    #[test]
    fn a_credit_for_an_account_that_left_is_forwarded_to_its_new_shard() {
        let [mut a, _] = pair();
        let mover = a.placement().accounts_of(0, ACCOUNTS)[0];
        a.switch(&EpochChange {
            epoch: 1,
            moves: vec![(mover, 1)],
        });
        let credit = Effect::Credit {
            to: mover,
            asset: 0,
            amount: 4,
        };
        assert_eq!(
            deliver(&mut a, credit),
            End::Remote {
                dst: 1,
                effect: credit
            }
        );
    }

    #[test]
    fn a_state_root_sees_the_move() {
        let [mut a, _] = pair();
        let root = a.state_root();
        let mover = a.placement().accounts_of(0, ACCOUNTS)[0];
        a.switch(&EpochChange {
            epoch: 1,
            moves: vec![(mover, 1)],
        });
        assert_ne!(a.state_root(), root);
    }
}
