//! The native programs ("smart contracts"): what each call does, written once over the
//! [`State`] trait so that every executor runs the same code.
//!
//! **Owns** what each call means. **May not** know which executor runs it, or touch
//! anything but the [`State`] it is given.
//!
//! A call runs in two halves. The **sender's half** always runs on the sender's shard:
//! check the call, check and consume the nonce, take what the sender pays (a debit, an
//! NFT). It produces an [`Effect`] — the rest of the call — which is then
//! **delivered**: applied at once when its target (an account or object) lives here,
//! otherwise sent as a receipt. Applying an effect may produce another (a swap's output
//! goes back to the trader), which is delivered the same way:
//!
//! ```text
//!  sender's half ──Effect──► deliver: target here? ── no ──► receipt to its shard
//!                                      │ yes
//!                                      ▼
//!                               apply ──► done / failed / refunded
//!                                 └─────► next Effect ──► deliver …
//! ```
//!
//! So a call whose objects are all on one shard finishes in one block, and the same code
//! makes a cross-shard call hop between shards as receipts.
//!
//! Programs check before they write: a call that fails leaves nothing behind but its
//! consumed nonce, except a swap that fails on its pool's shard, which gives the input
//! back with a `Refund`.
//!
//! **Swap** is a Uniswap-v2-style constant-product pool: `out = in·0.997·y / (x + in·0.997)`
//! for reserves `x` (paid in) and `y` (paid out), so `x·y` never decreases and the 0.3%
//! fee stays in the pool.
//!
//! One file per program family — `assets` (native coin and tokens), `swap`,
//! `nft`, `vote`, `standin` (a trace's contract calls) — holds what its calls do where
//! their target lives; `keys` says which keys a call may touch before it runs.

use cross_shard::ids::Object;
use cross_shard::{Call, Effect, Receipt, RejectReason, ShardId, Tx};

use crate::state::{Key, NONCE, State, World};

mod assets;
mod keys;
mod nft;
mod standin;
mod swap;
mod vote;

pub use keys::{MAX_DECLARED, declared_keys};

/// What one transaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Final here (every object on this shard).
    Committed,
    /// Its sender's half is done here; this receipt carries the rest to shard `dst`.
    SentCross {
        /// Destination shard.
        dst: ShardId,
        /// What to apply there.
        receipt: Receipt,
    },
    /// Failed or refused, for this reason.
    Rejected(RejectReason),
}

/// Where delivering an effect ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Took effect: the transaction is final and succeeded.
    Done,
    /// Failed here with nothing to give back: final, failed.
    Failed(RejectReason),
    /// A refund was credited: final, failed.
    Refunded(RejectReason),
    /// Continues on shard `dst` with this effect.
    Remote {
        /// Destination shard.
        dst: ShardId,
        /// What to apply there.
        effect: Effect,
    },
    /// Its target is not on this shard, or does not exist (only a faulty source sends
    /// such a receipt): not applied.
    Misplaced,
}

/// What applying one effect led to.
enum Step {
    End(End),
    Then(Effect),
}

/// The checks that need no state: does everything the call names exist? A call that
/// fails them is refused without consuming the nonce.
pub(crate) fn check(w: &World, call: &Call) -> Result<(), RejectReason> {
    let (exists, otherwise) = match *call {
        Call::Transfer { to, asset, .. } => (
            w.is_account(to) && w.has_asset(asset),
            RejectReason::UnknownAccount,
        ),
        Call::SendNft { to, .. } => (w.is_account(to), RejectReason::UnknownAccount),
        Call::Swap { pool, asset_in, .. } => (
            w.has_object(Object::Pool(pool)) && w.pool_trades(pool, asset_in),
            RejectReason::UnknownObject,
        ),
        Call::Mint { collection } => (
            w.has_object(Object::Collection(collection)),
            RejectReason::UnknownObject,
        ),
        Call::Vote { proposal, .. } => (
            w.has_object(Object::Proposal(proposal)),
            RejectReason::UnknownObject,
        ),
        Call::Invoke { contract, .. } => (w.is_account(contract), RejectReason::UnknownAccount),
    };
    if exists { Ok(()) } else { Err(otherwise) }
}

/// Executes one transaction: the sender's half, then delivery of what follows.
pub fn execute_one<S: State>(s: &mut S, tx: &Tx) -> Outcome {
    let w = *s.world();
    let Some(from) = s.local(tx.from) else {
        return Outcome::Rejected(if w.is_account(tx.from) {
            RejectReason::WrongShard
        } else {
            RejectReason::UnknownAccount
        });
    };
    if let Err(reason) = check(&w, &tx.call) {
        return Outcome::Rejected(reason);
    }
    let mut sender = s.read(Key::Account(from));
    if tx.nonce != sender[NONCE] {
        return Outcome::Rejected(RejectReason::BadNonce);
    }
    sender[NONCE] += 1;
    s.write(Key::Account(from), sender);
    let first = match senders_half(s, tx, from) {
        Ok(effect) => effect,
        Err(reason) => return Outcome::Rejected(reason),
    };
    match deliver(s, first) {
        End::Done => Outcome::Committed,
        End::Failed(reason) | End::Refunded(reason) => Outcome::Rejected(reason),
        End::Remote { dst, effect } => Outcome::SentCross {
            dst,
            receipt: Receipt { tx: tx.id, effect },
        },
        // `check` guarantees that every target exists, and delivery applies only what
        // is placed here, so a transaction's own effects always find their target.
        End::Misplaced => Outcome::Rejected(RejectReason::UnknownObject),
    }
}

/// The part of a call that runs on the sender's shard (nonce already consumed): take
/// what the sender pays, and say what happens next.
fn senders_half<S: State>(s: &mut S, tx: &Tx, from: u32) -> Result<Effect, RejectReason> {
    Ok(match tx.call {
        Call::Transfer { to, asset, amount } => {
            assets::debit(s, from, asset, amount)?;
            Effect::Credit { to, asset, amount }
        }
        Call::Swap {
            pool,
            asset_in,
            amount_in,
            min_out,
        } => {
            assets::debit(s, from, asset_in, amount_in)?;
            Effect::Swap {
                trader: tx.from,
                pool,
                asset_in,
                amount_in,
                min_out,
            }
        }
        Call::Mint { collection } => Effect::Mint {
            minter: tx.from,
            collection,
            serial: tx.nonce,
        },
        Call::SendNft { nft, to } => nft::give_up(s, tx.from, nft, to)?,
        Call::Vote { proposal, yes } => Effect::Vote {
            voter: tx.from,
            proposal,
            yes,
        },
        Call::Invoke {
            contract,
            value,
            gas,
        } => {
            assets::debit(s, from, cross_shard::ids::NATIVE, value)?;
            Effect::Invoke {
                caller: tx.from,
                contract,
                value,
                gas,
            }
        }
    })
}

/// Applies `effect` here if its target lives here, and whatever follows from it, until
/// the chain ends or leaves the shard.
pub fn deliver<S: State>(s: &mut S, mut effect: Effect) -> End {
    loop {
        let w = *s.world();
        let dst = effect.shard(&w.placement);
        if dst != w.shard {
            return End::Remote { dst, effect };
        }
        match apply(s, effect) {
            Step::End(end) => return end,
            Step::Then(next) => effect = next,
        }
    }
}

/// Applies one effect whose target is placed on this shard: each family's own rule.
fn apply<S: State>(s: &mut S, effect: Effect) -> Step {
    match effect {
        Effect::Credit { to, asset, amount } => assets::receive(s, to, asset, amount, None),
        Effect::Refund {
            to,
            asset,
            amount,
            reason,
        } => assets::receive(s, to, asset, amount, Some(reason)),
        Effect::Swap {
            trader,
            pool,
            asset_in,
            amount_in,
            min_out,
        } => swap::trade(s, trader, pool, (asset_in, amount_in), min_out),
        Effect::Mint {
            minter,
            collection,
            serial,
        } => nft::mint(s, minter, collection, serial),
        Effect::Nft {
            to,
            nft,
            collection,
        } => nft::receive(s, to, nft, collection),
        Effect::Vote {
            voter,
            proposal,
            yes,
        } => vote::cast(s, voter, proposal, yes),
        // The native VM charges no gas.
        Effect::Invoke {
            caller,
            contract,
            value,
            ..
        } => standin::invoke(s, caller, contract, value),
        Effect::Move {
            account,
            asset,
            amount,
        } => assets::receive(s, account, asset, amount, None),
        Effect::MoveSlot {
            contract,
            caller,
            calls,
        } => standin::settle_slot(s, contract, caller, calls),
        Effect::Arrive { account, nonce } => assets::arrive(s, account, nonce),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::BALANCE;
    use crate::state::Ledger;
    use crate::state::tests::world;
    use cross_shard::AccountId;
    use cross_shard::NftId;
    use cross_shard::amm::swap_output;
    use cross_shard::ids::NATIVE;

    const ACCOUNTS: u64 = 200;

    /// The ledgers of a 2-shard cluster with one token.
    fn cluster() -> Vec<Ledger> {
        (0..2)
            .map(|s| Ledger::genesis(world(s, 2, ACCOUNTS, 1), 1_000))
            .collect()
    }

    fn on(shard: ShardId, n: usize) -> AccountId {
        cross_shard::Placement::new(2)
            .unwrap()
            .accounts_of(shard, ACCOUNTS)[n]
    }

    /// An object id of each kind placed on `shard`.
    fn object_on(shard: ShardId, make: fn(u32) -> Object) -> u32 {
        let p = cross_shard::Placement::new(2).unwrap();
        (0..4)
            .find(|&i| p.shard_of_object(make(i)) == shard)
            .unwrap()
    }

    fn tx(from: AccountId, nonce: u64, call: Call) -> Tx {
        Tx {
            id: 7,
            from,
            nonce,
            call,
        }
    }

    /// Delivers a cross-shard outcome's receipt on its shard, and what follows, until
    /// the chain ends; returns how it ended.
    fn follow(ledgers: &mut [Ledger], outcome: Outcome) -> End {
        let Outcome::SentCross { dst, receipt } = outcome else {
            panic!("not cross-shard: {outcome:?}");
        };
        let mut end = deliver(&mut ledgers[dst as usize], receipt.effect);
        while let End::Remote { dst, effect } = end {
            end = deliver(&mut ledgers[dst as usize], effect);
        }
        end
    }

    #[test]
    fn local_swap_pays_out_and_a_tight_limit_fails_without_loss() {
        let mut l = cluster();
        let pool = object_on(0, Object::Pool);
        let a = on(0, 0);
        let i = l[0].local(a).unwrap();
        let swap = |nonce, amount_in, min_out| {
            tx(
                a,
                nonce,
                Call::Swap {
                    pool,
                    asset_in: NATIVE,
                    amount_in,
                    min_out,
                },
            )
        };
        let expected = swap_output(1_000_000, 1_000_000, 500);
        assert_eq!(
            execute_one(&mut l[0], &swap(0, 500, expected)),
            Outcome::Committed
        );
        assert_eq!(l[0].get(Key::Account(i))[BALANCE], 500);
        assert_eq!(l[0].get(Key::Token(i, 1))[BALANCE], 1_000 + expected);
        let before = (l[0].get(Key::Account(i)), l[0].get(Key::Pool(pool)));
        assert_eq!(
            execute_one(&mut l[0], &swap(1, 500, 1_000)),
            Outcome::Rejected(RejectReason::Slippage)
        );
        let after = (l[0].get(Key::Account(i)), l[0].get(Key::Pool(pool)));
        assert_eq!(after.1, before.1, "pool untouched");
        assert_eq!(after.0, [before.0[0], 2], "balance kept, nonce consumed");
        assert_eq!(
            execute_one(&mut l[0], &swap(2, 501, 0)),
            Outcome::Rejected(RejectReason::InsufficientBalance),
            "no negative balance"
        );
    }

    #[test]
    fn cross_shard_swap_returns_output_or_refund() {
        let mut l = cluster();
        let pool = object_on(1, Object::Pool);
        let a = on(0, 0);
        let i = l[0].local(a).unwrap();
        let supply = |l: &[Ledger]| l[0].total(NATIVE) + l[1].total(NATIVE);
        let genesis = supply(&l);
        let swap = |nonce, min_out| {
            tx(
                a,
                nonce,
                Call::Swap {
                    pool,
                    asset_in: NATIVE,
                    amount_in: 100,
                    min_out,
                },
            )
        };
        let sent = execute_one(&mut l[0], &swap(0, 1));
        assert_eq!(supply(&l), genesis - 100, "in flight");
        assert_eq!(follow(&mut l, sent), End::Done);
        assert_eq!(supply(&l), genesis);
        assert!(
            l[0].get(Key::Token(i, 1))[BALANCE] > 1_000,
            "output arrived"
        );
        let sent = execute_one(&mut l[0], &swap(1, 1_000));
        assert_eq!(follow(&mut l, sent), End::Refunded(RejectReason::Slippage));
        assert_eq!(l[0].get(Key::Account(i))[BALANCE], 900, "refunded");
        assert_eq!(supply(&l), genesis);
    }

    #[test]
    fn nft_mint_then_send_across_shards_and_only_the_owner_may_send() {
        let mut l = cluster();
        let collection = object_on(1, Object::Collection);
        let (a, b) = (on(0, 0), on(1, 0));
        let nft = NftId {
            minter: a,
            serial: 0,
        };
        let minted = execute_one(&mut l[0], &tx(a, 0, Call::Mint { collection }));
        assert_eq!(follow(&mut l, minted), End::Done);
        assert_eq!(l[1].get(Key::Collection(collection)), [1, 0]);
        assert_eq!(l[0].get(Key::Nft(nft)), [a + 1, u64::from(collection)]);
        let send = |from, nonce| tx(from, nonce, Call::SendNft { nft, to: b });
        assert_eq!(
            execute_one(&mut l[0], &send(on(0, 1), 0)),
            Outcome::Rejected(RejectReason::NotOwner)
        );
        let sent = execute_one(&mut l[0], &send(a, 1));
        assert_eq!(follow(&mut l, sent), End::Done);
        assert_eq!(l[0].get(Key::Nft(nft)), [0, 0], "gone from here");
        assert_eq!(l[1].get(Key::Nft(nft)), [b + 1, u64::from(collection)]);
        assert_eq!(
            execute_one(&mut l[0], &send(a, 2)),
            Outcome::Rejected(RejectReason::NotOwner),
            "no longer the owner"
        );
    }

    #[test]
    fn double_vote_is_refused_locally_and_across_shards() {
        let mut l = cluster();
        for shard in [0, 1] {
            let proposal = object_on(shard, Object::Proposal);
            let voter = on(0, 5);
            let vote = |nonce, yes| tx(voter, nonce, Call::Vote { proposal, yes });
            let base = 2 * u64::from(shard);
            let first = execute_one(&mut l[0], &vote(base, true));
            let second = execute_one(&mut l[0], &vote(base + 1, false));
            if shard == 0 {
                assert_eq!(first, Outcome::Committed);
                assert_eq!(second, Outcome::Rejected(RejectReason::AlreadyVoted));
            } else {
                assert_eq!(follow(&mut l, first), End::Done);
                assert_eq!(
                    follow(&mut l, second),
                    End::Failed(RejectReason::AlreadyVoted)
                );
            }
            assert_eq!(
                l[shard as usize].get(Key::Proposal(proposal)),
                [1, 0],
                "one vote counted"
            );
        }
    }

    #[test]
    fn a_stand_in_call_pays_its_contract_and_counts_in_the_callers_slot() {
        let mut l = cluster();
        let (a, b) = (on(0, 0), on(0, 1));
        let (here, there) = (on(0, 7), on(1, 7));
        let call = |contract, value| Call::Invoke {
            contract,
            value,
            gas: 60_000,
        };
        let c = l[0].local(here).unwrap();
        let before = l[0].get(Key::Account(c))[BALANCE];
        assert_eq!(
            execute_one(&mut l[0], &tx(a, 0, call(here, 5))),
            Outcome::Committed
        );
        assert_eq!(
            execute_one(&mut l[0], &tx(a, 1, call(here, 0))),
            Outcome::Committed
        );
        assert_eq!(
            execute_one(&mut l[0], &tx(b, 0, call(here, 2))),
            Outcome::Committed
        );
        assert_eq!(l[0].get(Key::Account(c))[BALANCE], before + 7);
        assert_eq!(l[0].get(Key::Slot(c, a)), [2, 0], "a called twice");
        assert_eq!(l[0].get(Key::Slot(c, b)), [1, 0], "b has a slot of its own");
        // Across shards: the value leaves with the receipt, arrives with it.
        let i = l[0].local(a).unwrap();
        let sender_before = l[0].get(Key::Account(i))[BALANCE];
        let out = execute_one(&mut l[0], &tx(a, 2, call(there, 9)));
        assert_eq!(
            out,
            Outcome::SentCross {
                dst: 1,
                receipt: Receipt {
                    tx: 7,
                    effect: Effect::Invoke {
                        caller: a,
                        contract: there,
                        value: 9,
                        gas: 60_000,
                    }
                }
            }
        );
        assert_eq!(l[0].get(Key::Account(i))[BALANCE], sender_before - 9);
        assert_eq!(follow(&mut l, out), End::Done);
        let t = l[1].local(there).unwrap();
        assert_eq!(l[1].get(Key::Slot(t, a)), [1, 0]);
        // More than the sender has: refused, nothing moves.
        assert_eq!(
            execute_one(&mut l[0], &tx(b, 1, call(there, u64::MAX))),
            Outcome::Rejected(RejectReason::InsufficientBalance)
        );
        assert_eq!(
            execute_one(&mut l[0], &tx(b, 1, call(ACCOUNTS + 5, 1))),
            Outcome::Rejected(RejectReason::UnknownAccount)
        );
    }

    #[test]
    fn unknown_objects_are_refused_without_using_the_nonce() {
        let mut l = cluster();
        let a = on(0, 0);
        for call in [
            Call::Swap {
                pool: 99,
                asset_in: NATIVE,
                amount_in: 1,
                min_out: 0,
            },
            Call::Swap {
                pool: 0,
                asset_in: 3,
                amount_in: 1,
                min_out: 0,
            },
            Call::Mint { collection: 4 },
            Call::Vote {
                proposal: 4,
                yes: true,
            },
        ] {
            assert_eq!(
                execute_one(&mut l[0], &tx(a, 0, call)),
                Outcome::Rejected(RejectReason::UnknownObject),
                "{call:?}"
            );
        }
        let i = l[0].local(a).unwrap();
        assert_eq!(l[0].get(Key::Account(i))[NONCE], 0);
    }

    #[test]
    fn receipts_for_other_shards_or_unknown_targets_are_misplaced() {
        let mut l = cluster();
        let credit = Effect::Credit {
            to: ACCOUNTS + 1_000,
            asset: NATIVE,
            amount: 5,
        };
        let here = credit.shard(&l[0].placement());
        assert_eq!(deliver(&mut l[here as usize], credit), End::Misplaced);
        let vote = Effect::Vote {
            voter: 1,
            proposal: 9,
            yes: true,
        };
        let here = vote.shard(&l[0].placement()) as usize;
        assert_eq!(deliver(&mut l[here], vote), End::Misplaced);
    }
}
