//! The differential test across VMs, over every program and across shards: one seeded
//! stream of calls — transfers of the coin and of two tokens, swaps in both directions
//! (some past their limit), mints, NFT sends (some by a non-owner), votes (some twice),
//! stand-in calls of accounts as contracts (some paying more than the caller has) —
//! on a cluster of two shards, block after block, each block's receipts carried to the
//! other shard for the next; midway a migration moves a quarter of the accounts to the
//! other shard (balances, token balances, stand-in slots and nonces as receipts, and
//! receipts in flight forwarded). The lanes run it from the same genesis: the native
//! programs, the sequential EVM, Block-STM and the parallel executor over the EVM at 1,
//! 2 and 4 threads, and that parallel executor again with a declaration that leaves
//! keys out (it must notice, run those blocks sequentially, and say so). Every block
//! must produce the same outputs in every lane (each outcome and reason, each outgoing
//! receipt, each receipt applied, failed, refunded or forwarded) and the same state root
//! — so the same balances, pool reserves, NFT owners and tallies — and every EVM lane
//! the same gas for each transaction.

use cross_shard::ids::{NATIVE, pool_token};
use cross_shard::{Call, NftId, Receipt, ShardId, Tx};
use proptest::prelude::*;

use super::exec::{EvmBlockStm, EvmParallel, EvmSequential};
use super::state::Layout;
use crate::exec::parallel::declared;
use crate::exec::{BlockExecutor, BlockOutput, ExecStats, Sequential, apply_receipts};
use crate::state::tests::world;
use crate::state::{Ledger, State};

const SHARDS: u32 = 2;
const ACCOUNTS: u64 = 16;
const TOKENS: u32 = 2;
/// Migration receipts per block: small, so that an export spans blocks.
const EXPORT_BUDGET: usize = 4;

/// One lane: an executor per shard and the shards' ledgers.
struct Lane {
    executors: Vec<Box<dyn BlockExecutor>>,
    ledgers: Vec<Ledger>,
    /// Receipts waiting for each shard's next block.
    inbound: Vec<Vec<(ShardId, Receipt)>>,
    /// Blocks run sequentially for an undeclared key.
    undeclared: usize,
}

fn genesis() -> Vec<Ledger> {
    (0..SHARDS)
        .map(|s| Ledger::genesis(world(s, SHARDS, ACCOUNTS, TOKENS), 1_000))
        .collect()
}

fn layout(l: &Ledger) -> Layout {
    Layout::new(l.world()).unwrap()
}

impl Lane {
    fn new(make: impl Fn(&Ledger) -> Box<dyn BlockExecutor>) -> Lane {
        let ledgers = genesis();
        Lane {
            executors: ledgers.iter().map(make).collect(),
            ledgers,
            inbound: vec![Vec::new(); SHARDS as usize],
            undeclared: 0,
        }
    }

    /// Every shard switches to `change` (as its next block begins, in the pipeline):
    /// the accounts leaving it are let go, their state exported by the blocks after.
    fn switch(&mut self, change: &cross_shard::migration::EpochChange) {
        for ledger in &mut self.ledgers {
            ledger.switch(change);
        }
    }

    /// One block on every shard: its receipts, then its share of `txs`. Returns each
    /// shard's output and state root.
    fn block(&mut self, txs: &[Tx]) -> Vec<(BlockOutput, cross_shard::Hash)> {
        let mut results = Vec::new();
        let mut next = vec![Vec::new(); SHARDS as usize];
        for s in 0..SHARDS as usize {
            let ledger = &mut self.ledgers[s];
            // Accounts let go leave a few receipts' worth per block, as in a shard.
            for (dst, r) in ledger.export(EXPORT_BUDGET) {
                next[dst as usize].push((s as u32, r));
            }
            let mine: Vec<Tx> = txs
                .iter()
                .filter(|t| ledger.placement().shard_of(t.from) == s as u32)
                .copied()
                .collect();
            let mut out = BlockOutput::new(SHARDS);
            let mut applied = vec![vec![(0, 0); SHARDS as usize]; TOKENS as usize + 1];
            let receipts = std::mem::take(&mut self.inbound[s]);
            let ex = &mut *self.executors[s];
            apply_receipts(ex, ledger, &receipts, &mut applied, &mut out).expect("receipts");
            let stats: ExecStats = ex.execute(ledger, &mine, &mut out).expect("block");
            self.undeclared += usize::from(stats.undeclared);
            for (dst, rs) in out.outgoing.iter().enumerate() {
                next[dst].extend(rs.iter().map(|&r| (s as u32, r)));
            }
            results.push((out, ledger.state_root()));
        }
        self.inbound = next;
        results
    }
}

/// A call drawn from `pick` (program, a, b, amount, flag): every program, local and
/// remote objects, some calls bound to fail.
fn call(
    w: &crate::state::World,
    (program, a, b, amount, flag): (u8, u64, u64, u64, bool),
    nfts: &[NftId],
) -> Call {
    match program {
        0 => Call::Transfer {
            to: b,
            asset: (a % u64::from(TOKENS + 1)) as u32,
            amount: if flag { 5_000 } else { amount },
        },
        1 => {
            let pool = (a % u64::from(w.pools)) as u32;
            let asset_in = if b % 2 == 0 {
                NATIVE
            } else {
                pool_token(pool, w.tokens)
            };
            // The pool's price is near 1 and it keeps a fee: asking for the input back
            // is past the limit.
            let min_out = if flag { amount } else { 0 };
            Call::Swap {
                pool,
                asset_in,
                amount_in: amount,
                min_out,
            }
        }
        2 => Call::Mint {
            collection: (a % u64::from(w.collections)) as u32,
        },
        3 => Call::SendNft {
            nft: if nfts.is_empty() {
                NftId {
                    minter: a,
                    serial: 0,
                }
            } else {
                nfts[(a as usize) % nfts.len()]
            },
            to: b,
        },
        4 => Call::Vote {
            proposal: (a % u64::from(w.proposals)) as u32,
            yes: flag,
        },
        _ => Call::Invoke {
            contract: b,
            value: if flag { 5_000 } else { amount },
            gas: amount * 1_000,
        },
    }
}

/// The migration every run makes before its middle block: each account `a` with
/// `a % 4 == 1` moves to the other shard.
fn migration(placement: &cross_shard::Placement) -> cross_shard::migration::EpochChange {
    cross_shard::migration::EpochChange {
        epoch: 1,
        moves: (0..ACCOUNTS)
            .filter(|a| a % 4 == 1)
            .map(|a| (a, 1 - placement.shard_of(a)))
            .collect(),
    }
}

/// What the native lane saw, summed over a run: that a run exercised the paths.
#[derive(Debug, Default)]
struct Seen {
    committed: usize,
    sent_cross: usize,
    applied: usize,
    refunded: usize,
    failed: usize,
    forwarded: usize,
    rejected: usize,
    /// Blocks the under-declaring lane ran sequentially.
    undeclared: usize,
    /// Migration receipts applied (state that moved).
    moved: usize,
}

/// (program, a, b, amount, flag) per call, per block.
type Blocks = Vec<Vec<(u8, u64, u64, u64, bool)>>;

/// Runs `blocks` (senders drawn in turn from `senders`) in the three lanes, then empty
/// blocks until every receipt has landed; fails on the first difference.
fn run_lanes(blocks: Blocks, senders: &[u64]) -> Result<Seen, TestCaseError> {
    let mut native = Lane::new(|_| Box::new(Sequential));
    let mut evm = Lane::new(|l| Box::new(EvmSequential::new(layout(l))));
    // Block-STM and the parallel executor at 1, 2 and 4 threads, predicting nothing:
    // every block runs the executor's own algorithm.
    let mut lanes: Vec<(String, Lane)> = Vec::new();
    for threads in [1, 2, 4] {
        let stm = Lane::new(|l| {
            Box::new(EvmBlockStm {
                predict: false,
                ..EvmBlockStm::new(layout(l), threads)
            })
        });
        let par = Lane::new(|l| {
            Box::new(EvmParallel {
                predict: false,
                ..EvmParallel::new(layout(l), threads)
            })
        });
        lanes.push((format!("Block-STM x{threads}"), stm));
        lanes.push((format!("parallel x{threads}"), par));
    }
    // Declares only the sender's account: any call that touches more is undeclared.
    let mut short = Lane::new(|l| {
        let mut ex = EvmParallel::new(layout(l), 2);
        ex.predict = false;
        ex.declare = |w, local, tx| {
            let mut keys = declared(w, local, tx);
            keys[1..].fill(None);
            keys
        };
        Box::new(ex)
    });
    let w = *native.ledgers[0].world();
    let mut nonces = [0u64; ACCOUNTS as usize];
    let mut nfts = Vec::new();
    let mut id = 0u64;
    let mut from = senders.iter().cycle();
    let mut seen = Seen::default();
    let drain = std::iter::repeat_n(Vec::new(), 4);
    let middle = blocks.len() / 2;
    let change = migration(&w.placement);
    let mut picked = Vec::new();
    for (k, picks) in blocks.into_iter().chain(drain).enumerate() {
        if k == middle {
            // The switch, then empty blocks: they send the accounts' state a few
            // receipts at a time and apply it (their calls wait meanwhile, as the
            // driver holds them).
            native.switch(&change);
            evm.switch(&change);
            short.switch(&change);
            for (_, lane) in &mut lanes {
                lane.switch(&change);
            }
            picked.extend(std::iter::repeat_n(Vec::new(), 4));
        }
        picked.push(picks);
    }
    for picks in picked {
        let txs: Vec<Tx> = picks
            .iter()
            .map(|&pick| {
                let sender = *from.next().unwrap();
                let call = call(&w, pick, &nfts);
                let tx = Tx {
                    id,
                    from: sender,
                    nonce: nonces[sender as usize],
                    call,
                };
                if let Call::Mint { .. } = call {
                    nfts.push(NftId {
                        minter: sender,
                        serial: tx.nonce,
                    });
                }
                nonces[sender as usize] += 1;
                id += 1;
                tx
            })
            .collect();
        let n = native.block(&txs);
        let e = evm.block(&txs);
        let others: Vec<_> = lanes
            .iter_mut()
            .map(|(name, lane)| (name.clone(), lane.block(&txs)))
            .chain([("under-declared".to_string(), short.block(&txs))])
            .collect();
        for s in 0..SHARDS as usize {
            // The EVM against the native programs: every outcome, reason and receipt
            // and the state root (the native programs burn no gas)…
            prop_assert_eq!(&e[s].0.without_gas(), &n[s].0, "shard {}: EVM outputs", s);
            prop_assert_eq!(e[s].1, n[s].1, "shard {}: EVM state root", s);
            // …and the parallel EVM executors against the sequential EVM: the same, and
            // each transaction's gas.
            for (name, lane) in &others {
                prop_assert_eq!(
                    &lane[s].0,
                    &e[s].0,
                    "shard {}: {} EVM outputs and gas",
                    s,
                    name
                );
                prop_assert_eq!(lane[s].1, e[s].1, "shard {}: {} EVM state root", s, name);
            }
            let o = &n[s].0;
            seen.committed += o.committed.len();
            seen.sent_cross += o.sent_cross.len();
            seen.applied += o.receipts_applied.len();
            seen.refunded += o.refunds_applied.len();
            seen.failed += o.failed.len();
            seen.forwarded += o.forwarded.len();
            seen.rejected += o.rejected.len();
            seen.moved += o.migration_applied as usize;
        }
    }
    for s in 0..SHARDS as usize {
        prop_assert!(native.inbound[s].is_empty(), "every receipt landed");
    }
    for (name, lane) in &lanes {
        prop_assert_eq!(
            lane.undeclared,
            0,
            "{}: the programs' declarations are complete",
            name
        );
    }
    seen.undeclared = short.undeclared;
    // Supply of each asset conserved across the cluster once nothing is in flight.
    let g = genesis();
    for asset in 0..=TOKENS {
        let total = |ls: &[Ledger]| ls.iter().map(|l| l.recount(asset)).sum::<u64>();
        prop_assert_eq!(total(&evm.ledgers), total(&g), "asset {} conserved", asset);
    }
    Ok(seen)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn native_and_every_evm_executor_agree_on_every_block_of_every_program(
        blocks in proptest::collection::vec(
            proptest::collection::vec(
                (0u8..6, 0..ACCOUNTS, 0..ACCOUNTS, 1u64..400, proptest::bool::weighted(0.2)),
                1..24,
            ),
            1..5,
        ),
        senders in proptest::collection::vec(0..ACCOUNTS, 1..120),
    ) {
        run_lanes(blocks, &senders)?;
    }
}

/// A fixed run long enough to take every path at least once — local and cross-shard
/// calls of each program, refunds past a limit, failed second votes, NFTs forwarded
/// from a mint, state moved by the migration — so that the property above is known
/// to cover them.
#[test]
fn a_long_run_takes_every_path_and_agrees() {
    // splitmix64: a fixed stream, no generator crate needed.
    let mut state = 7u64;
    let mut next = |n: u64| {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    };
    let blocks: Blocks = (0..12)
        .map(|_| {
            (0..40)
                .map(|_| {
                    let program = next(6) as u8;
                    let (a, b) = (next(ACCOUNTS), next(ACCOUNTS));
                    (program, a, b, 1 + next(399), next(5) == 0)
                })
                .collect()
        })
        .collect();
    let senders: Vec<u64> = (0..ACCOUNTS).collect();
    let seen = run_lanes(blocks, &senders).unwrap();
    assert!(
        seen.committed > 0
            && seen.sent_cross > 0
            && seen.applied > 0
            && seen.refunded > 0
            && seen.failed > 0
            && seen.forwarded > 0
            && seen.rejected > 0
            && seen.undeclared > 0
            && seen.moved > 0,
        "{seen:?}"
    );
}
