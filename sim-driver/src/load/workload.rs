//! The seeded workload: which calls the driver offers, and when.
//!
//! Everything random comes from one ChaCha8 generator seeded by the scenario's `seed`,
//! so the same scenario produces the same transactions in the same order, run after run
//! (ChaCha's output is the same on every platform, unlike `StdRng`'s across releases).
//!
//! For each call:
//! 0. the **program** is drawn by the `mix` weights — unless the mix has only
//!    `transfer` and `token`, which are decided in step 6 as they always were, so that
//!    adding programs did not change the transactions of existing scenarios;
//! 1. the **sender** is drawn uniformly from all accounts, or from a Zipf distribution
//!    over them when `skew > 0` (account `k` is the `(k+1)`-th most popular);
//! 2. with probability `cross_shard` the **recipient** is drawn from a different,
//!    uniformly chosen shard, otherwise from the sender's own shard;
//! 3. the **nonce** is the sender's next one, tracked here, so every honest transfer is
//!    valid when it arrives in order;
//! 4. the **amount** is 1–1000, far below the genesis balance, so honest transfers do
//!    not fail for lack of funds;
//! 5. with probability `hot.fraction` the recipient is replaced by one of the hot
//!    accounts `0..hot.accounts` (contention: many calls, one object);
//! 6. for a transfer, native `transfer` or a `token` transfer of one of the scenario's
//!    tokens, chosen uniformly, by the `mix` weights (a workload of native transfers
//!    only draws no random number for this).
//!
//! The other programs use the same draws where they can:
//! - `swap`: a pool on the recipient's shard (so `cross_shard` holds; a hot call takes
//!   one of the hot pools), native coin or the pool's token in with equal chance, the
//!   amount as in 4, and `min_out` = the output at the pool's genesis price less
//!   `workload.slippage`;
//! - `nft`: half the calls mint into a collection chosen like a pool; the other half
//!   send an NFT this generator minted earlier — its sender is then that NFT's owner,
//!   as the generator last gave it (a send that overtakes the mint or the previous send
//!   on the way fails with `not_owner`, as it would on a chain);
//! - `vote`: a proposal chosen like a pool, for or against with equal chance.

use cross_shard::ids::{NATIVE, pool_token};
use cross_shard::signing::{self, SIGNATURE_LEN};
use cross_shard::threads::in_chunks;
use cross_shard::{AccountId, Call, NftId, Object, Placement, Program, ShardId, Tx, TxId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Zipf};

use crate::scenario::Scenario;

/// How senders are chosen.
#[derive(Debug, Clone)]
enum Senders {
    /// Every account equally likely.
    Uniform,
    /// Zipf over ranks `1..=accounts`; rank `r` is account `r - 1`.
    Zipf(Zipf<f64>),
}

/// The transfer generator.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The one source of randomness.
    rng: ChaCha8Rng,
    /// Account → shard map of the cluster.
    placement: Placement,
    /// The accounts of each shard, to draw recipients from.
    by_shard: Vec<Vec<AccountId>>,
    /// Next nonce of every account.
    nonces: Vec<u64>,
    /// Fraction of cross-shard transfers.
    cross_shard: f64,
    /// Sender distribution.
    senders: Senders,
    /// Fraction of token transfers (0: native transfers only).
    token_fraction: f64,
    /// Tokens to choose from (assets `1..=tokens`).
    tokens: u32,
    /// Fraction of calls to a hot recipient or object, and the hot sets' sizes
    /// (accounts, objects of each kind).
    hot: (f64, u64, u32),
    /// Cumulative program weights (normalized), or `None` when the mix has only
    /// `transfer` and `token` (decided by `token_fraction`).
    programs: Option<[f64; 5]>,
    /// Pools, collections and proposals of each shard: `objects[kind][shard]`.
    objects: [Vec<Vec<u32>>; 3],
    /// How many of each kind exist.
    object_counts: [u32; 3],
    /// Each pool's genesis reserve of each side, for the swap quote.
    pool_reserve: u64,
    /// Accepted shortfall from the genesis quote.
    slippage: f64,
    /// NFTs minted so far, with their owner as last sent.
    nfts: Vec<(NftId, AccountId)>,
    /// Id of the next transaction.
    next_id: TxId,
}

/// Object kinds, by index into `Workload::objects`.
const POOL: usize = 0;
const COLLECTION: usize = 1;
const PROPOSAL: usize = 2;

impl Workload {
    /// The generator a scenario describes.
    pub fn new(scenario: &Scenario) -> Workload {
        let accounts = scenario.workload.accounts;
        let placement = Placement::new(scenario.cluster.shards)
            .unwrap_or_else(|| unreachable!("scenario validation guarantees at least one shard"));
        let senders = if scenario.workload.skew > 0.0 {
            // Valid: accounts ≥ 2 and skew in (0, 10] (scenario validation).
            Zipf::new(accounts as f64, scenario.workload.skew)
                .map(Senders::Zipf)
                .unwrap_or(Senders::Uniform)
        } else {
            Senders::Uniform
        };
        let w = &scenario.workload;
        let object_counts = [scenario.pools(), w.collections, w.proposals];
        let kinds: [fn(u32) -> Object; 3] = [Object::Pool, Object::Collection, Object::Proposal];
        let objects = std::array::from_fn(|k| {
            let mut by_shard = vec![Vec::new(); scenario.cluster.shards as usize];
            for id in 0..object_counts[k] {
                by_shard[placement.shard_of_object(kinds[k](id)) as usize].push(id);
            }
            by_shard
        });
        let weights = w.mix.weights();
        let total: f64 = weights.iter().sum();
        let programs = (weights[2..].iter().any(|&x| x > 0.0)).then(|| {
            let mut acc = 0.0;
            weights.map(|x| {
                acc += x / total;
                acc
            })
        });
        Workload {
            rng: ChaCha8Rng::seed_from_u64(scenario.seed),
            by_shard: placement.partition(accounts),
            placement,
            nonces: vec![0; accounts as usize],
            cross_shard: scenario.effective_cross_shard(),
            senders,
            token_fraction: scenario.workload.mix.token_fraction(),
            tokens: scenario.workload.tokens,
            hot: (w.hot.fraction, w.hot.accounts, w.hot.objects),
            programs,
            objects,
            object_counts,
            pool_reserve: cross_shard::amm::POOL_RESERVE,
            slippage: w.slippage,
            nfts: Vec::new(),
            next_id: 0,
        }
    }

    /// Draws the program, when the mix has more than transfers.
    fn program(&mut self) -> Option<Program> {
        let cumulative = self.programs?;
        let x: f64 = self.rng.random();
        let i = cumulative.iter().position(|&c| x < c).unwrap_or(4);
        Some(Program::ALL[i])
    }

    /// An object of `kind` for a call whose other party is on shard `dst`: a hot one
    /// with the hot fraction, else one on `dst`, else any.
    fn object(&mut self, kind: usize, dst: ShardId) -> u32 {
        let count = self.object_counts[kind];
        if self.hot.0 > 0.0 && self.rng.random_bool(self.hot.0) {
            return self.rng.random_range(0..self.hot.2.min(count).max(1));
        }
        let here = &self.objects[kind][dst as usize];
        if here.is_empty() {
            self.rng.random_range(0..count.max(1))
        } else {
            here[self.rng.random_range(0..here.len())]
        }
    }

    /// The next transaction, and the shard it must be submitted to (the sender's).
    pub fn next_tx(&mut self) -> (ShardId, Tx) {
        let program = self.program();
        let accounts = self.nonces.len() as u64;
        // An NFT send comes from the owner of an NFT minted earlier.
        let sends = program == Some(Program::Nft) && !self.nfts.is_empty();
        let send =
            (sends && self.rng.random_bool(0.5)).then(|| self.rng.random_range(0..self.nfts.len()));
        let from = match (send, &self.senders) {
            (Some(k), _) => self.nfts[k].1,
            (None, Senders::Uniform) => self.rng.random_range(0..accounts),
            (None, Senders::Zipf(z)) => (z.sample(&mut self.rng) as u64).clamp(1, accounts) - 1,
        };
        let src = self.placement.shard_of(from);
        let shards = self.by_shard.len() as u32;
        let dst = if shards > 1 && self.rng.random_bool(self.cross_shard) {
            // A uniformly chosen shard other than src.
            let d = self.rng.random_range(0..shards - 1);
            if d >= src { d + 1 } else { d }
        } else {
            src
        };
        let call = match program {
            None => self.transfer(dst, None),
            // `Call` is never drawn (the mix weighs five programs; stand-in calls come
            // only from traces).
            Some(Program::Transfer | Program::Call) => self.transfer(dst, Some(false)),
            Some(Program::Token) => self.transfer(dst, Some(true)),
            Some(Program::Swap) => {
                let pool = self.object(POOL, dst);
                let token = pool_token(pool, self.tokens);
                let asset_in = if self.rng.random_bool(0.5) {
                    NATIVE
                } else {
                    token
                };
                let amount_in = self.rng.random_range(1..=1000);
                let quote =
                    cross_shard::amm::swap_output(self.pool_reserve, self.pool_reserve, amount_in);
                Call::Swap {
                    pool,
                    asset_in,
                    amount_in,
                    min_out: (quote as f64 * (1.0 - self.slippage)).floor() as u64,
                }
            }
            Some(Program::Nft) => match send {
                Some(k) => {
                    let to = self.recipient(dst);
                    let nft = self.nfts[k].0;
                    self.nfts[k].1 = to;
                    Call::SendNft { nft, to }
                }
                None => {
                    let collection = self.object(COLLECTION, dst);
                    self.nfts.push((
                        NftId {
                            minter: from,
                            serial: self.nonces[from as usize],
                        },
                        from,
                    ));
                    Call::Mint { collection }
                }
            },
            Some(Program::Vote) => Call::Vote {
                proposal: self.object(PROPOSAL, dst),
                yes: self.rng.random_bool(0.5),
            },
        };
        let nonce = &mut self.nonces[from as usize];
        let tx = Tx {
            id: self.next_id,
            from,
            nonce: *nonce,
            call,
        };
        *nonce += 1;
        self.next_id += 1;
        (src, tx)
    }

    /// A recipient on shard `dst`, or a hot one.
    fn recipient(&mut self, dst: ShardId) -> AccountId {
        let candidates = &self.by_shard[dst as usize];
        let to = candidates[self.rng.random_range(0..candidates.len())];
        if self.hot.0 > 0.0 && self.rng.random_bool(self.hot.0) {
            return self.rng.random_range(0..self.hot.1);
        }
        to
    }

    /// A transfer to a recipient on shard `dst`: of a token when `token` says so, or
    /// (`None`) with the mix's token fraction.
    fn transfer(&mut self, dst: ShardId, token: Option<bool>) -> Call {
        let to = self.recipient(dst);
        let amount = self.rng.random_range(1..=1000);
        let token = token.unwrap_or_else(|| {
            self.token_fraction > 0.0 && self.rng.random_bool(self.token_fraction)
        });
        let asset = if token {
            self.rng.random_range(1..=self.tokens)
        } else {
            NATIVE
        };
        Call::Transfer { to, asset, amount }
    }

    /// Transactions generated so far.
    pub fn generated(&self) -> u64 {
        self.next_id
    }
}

/// Where the generator takes its transactions from.
#[derive(Debug)]
pub enum Source {
    /// Generated as they are sent (unsigned clusters).
    Live(Box<Workload>),
    /// Real traffic — a trace or the Ethereum-like generator — as it is sent
    /// (unsigned clusters); it ends when the traffic does.
    Real(Box<crate::load::real::RealTraffic>),
    /// Generated and signed before the load starts, so that signing (~20 µs per
    /// transaction) never holds back the offered rate.
    Signed {
        /// The transactions, with the shard each goes to.
        txs: Vec<(ShardId, Tx)>,
        /// `sigs[i]` signs `txs[i]`.
        sigs: Vec<[u8; SIGNATURE_LEN]>,
        /// Next to send.
        next: usize,
    },
}

impl Source {
    /// Prepares the first `count` transactions of `next` (fewer if it ends first),
    /// signed by their senders, on `threads` threads.
    pub fn signed(
        mut next: impl FnMut() -> Option<(ShardId, Tx)>,
        count: u64,
        threads: usize,
    ) -> Source {
        let txs: Vec<(ShardId, Tx)> = (0..count).map_while(|_| next()).collect();
        let sigs = in_chunks(&txs, threads, |part, _| {
            // Deriving a key costs as much as a signature: once per sender.
            let mut keys = std::collections::HashMap::new();
            part.iter()
                .map(|(_, t)| {
                    let key = keys
                        .entry(t.from)
                        .or_insert_with(|| signing::account_key(t.from));
                    signing::sign(key, t)
                })
                .collect()
        });
        Source::Signed { txs, sigs, next: 0 }
    }

    /// The next transfer, its shard, and its signature when the source signs; `None`
    /// when a prepared source is used up.
    pub fn take(&mut self) -> Option<(ShardId, Tx, Option<&[u8; SIGNATURE_LEN]>)> {
        match self {
            Source::Live(w) => {
                let (shard, t) = w.next_tx();
                Some((shard, t, None))
            }
            Source::Real(r) => r.next_tx().map(|(shard, t)| (shard, t, None)),
            Source::Signed { txs, sigs, next } => {
                let i = *next;
                let &(shard, t) = txs.get(i)?;
                *next += 1;
                Some((shard, t, Some(&sigs[i])))
            }
        }
    }

    /// Calls held back earlier and ready now (accounts that moved), with their shards:
    /// already dispatched, to be sent.
    pub fn ready(&self, limit: usize) -> Vec<(ShardId, Tx)> {
        match self {
            Source::Real(r) => r.ready(limit),
            _ => Vec::new(),
        }
    }

    /// Whether accounts move during the run (calls may be held back and sent later).
    pub fn moves(&self) -> bool {
        matches!(self, Source::Real(r) if r.moves())
    }

    /// Transactions taken so far (the id of the next one).
    pub fn generated(&self) -> u64 {
        match self {
            Source::Live(w) => w.generated(),
            Source::Real(r) => r.generated(),
            Source::Signed { next, .. } => *next as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transfer's recipient.
    fn to(t: &Tx) -> AccountId {
        match t.call {
            Call::Transfer { to, .. } => to,
            other => panic!("not a transfer: {other:?}"),
        }
    }

    /// A transfer's asset.
    fn asset(t: &Tx) -> u32 {
        match t.call {
            Call::Transfer { asset, .. } => asset,
            other => panic!("not a transfer: {other:?}"),
        }
    }

    fn scenario(shards: u32, cross: f64, skew: f64) -> Scenario {
        Scenario::from_toml(
            &format!(
                "name = \"w\"\nseed = 3\nduration = \"1s\"\n[cluster]\nshards = {shards}\n[workload]\naccounts = 10000\nrate = 1000\ncross_shard = {cross}\nskew = {skew}\n"
            ),
            "test",
        )
        .unwrap()
    }

    #[test]
    fn hot_fraction_aims_calls_at_the_hot_set() {
        let mut s = scenario(4, 0.2, 0.0);
        s.workload.hot = crate::scenario::Hot {
            fraction: 0.5,
            accounts: 2,
            objects: 1,
        };
        let mut w = Workload::new(&s);
        let hot = (0..10_000).filter(|_| to(&w.next_tx().1) < 2).count();
        assert!((4800..5300).contains(&hot), "{hot}");
    }

    #[test]
    fn mix_draws_programs_by_weight() {
        let mut s = scenario(2, 0.2, 0.0);
        s.workload.tokens = 3;
        s.workload.mix = crate::scenario::Mix {
            transfer: 3.0,
            token: 1.0,
            ..Default::default()
        };
        let mut w = Workload::new(&s);
        let mut per_asset = [0u32; 4];
        for _ in 0..20_000 {
            per_asset[asset(&w.next_tx().1) as usize] += 1;
        }
        let tokens = per_asset[1] + per_asset[2] + per_asset[3];
        let f = f64::from(tokens) / 20_000.0;
        assert!((0.23..0.27).contains(&f), "{f}");
        assert!(per_asset[1..].iter().all(|&n| n > 1400), "{per_asset:?}");
        // Without tokens in the mix every transfer is native.
        let mut w = Workload::new(&scenario(2, 0.2, 0.0));
        assert!((0..1000).all(|_| asset(&w.next_tx().1) == NATIVE));
    }

    #[test]
    fn every_program_is_drawn_by_weight_with_sound_arguments() {
        let mut s = scenario(4, 0.5, 0.0);
        s.workload.tokens = 2;
        s.workload.mix = crate::scenario::Mix {
            transfer: 1.0,
            token: 1.0,
            swap: 1.0,
            nft: 1.0,
            vote: 1.0,
        };
        let p = Placement::new(4).unwrap();
        let mut w = Workload::new(&s);
        let mut counts = [0u32; 5];
        let (mut swaps_cross, mut swaps) = (0, 0);
        let mut minted = std::collections::HashMap::new();
        for _ in 0..20_000 {
            let (src, t) = w.next_tx();
            assert_eq!(src, p.shard_of(t.from));
            counts[t.call.program() as usize] += 1;
            match t.call {
                Call::Swap {
                    pool,
                    asset_in,
                    amount_in,
                    min_out,
                } => {
                    assert!(pool < 8 && (asset_in == NATIVE || asset_in == pool_token(pool, 2)));
                    let floor = (amount_in as f64 * 0.997 * 0.99) as u64;
                    assert!(
                        min_out < amount_in && min_out + 1 >= floor,
                        "a quote less fee and slippage: {amount_in} → {min_out}"
                    );
                    swaps += 1;
                    swaps_cross += u32::from(p.shard_of_object(Object::Pool(pool)) != src);
                }
                Call::Mint { .. } => {
                    minted.insert(
                        NftId {
                            minter: t.from,
                            serial: t.nonce,
                        },
                        t.from,
                    );
                }
                Call::SendNft { nft, to } => {
                    assert_eq!(
                        minted.insert(nft, to),
                        Some(t.from),
                        "sent by its last owner"
                    );
                }
                _ => {}
            }
        }
        assert!(
            counts.iter().all(|&c| (3700..4300).contains(&c)),
            "{counts:?}"
        );
        let f = f64::from(swaps_cross) / f64::from(swaps);
        assert!((0.45..0.55).contains(&f), "swaps follow cross_shard: {f}");
    }

    #[test]
    fn same_seed_same_transfers() {
        let s = scenario(4, 0.2, 0.0);
        let a: Vec<_> = {
            let mut w = Workload::new(&s);
            (0..1000).map(|_| w.next_tx()).collect()
        };
        let b: Vec<_> = {
            let mut w = Workload::new(&s);
            (0..1000).map(|_| w.next_tx()).collect()
        };
        assert_eq!(a, b);
    }

    #[test]
    fn signed_source_gives_the_live_transfers_with_valid_signatures() {
        let s = scenario(4, 0.2, 0.0);
        let mut live = Source::Live(Box::new(Workload::new(&s)));
        let mut w = Workload::new(&s);
        let mut signed = Source::signed(|| Some(w.next_tx()), 50, 3);
        for _ in 0..50 {
            let (shard_a, a, _) = live.take().unwrap();
            let (shard_b, b, sig) = signed.take().unwrap();
            assert_eq!((shard_a, a), (shard_b, b));
            let sig = ed25519_dalek::Signature::from_bytes(sig.unwrap());
            let key = signing::account_key(b.from).verifying_key();
            assert!(key.verify_strict(&signing::message(&b), &sig).is_ok());
        }
        assert!(signed.take().is_none(), "prepared sources end");
        assert_eq!(signed.generated(), 50);
    }

    #[test]
    fn cross_fraction_and_routing_hold() {
        let s = scenario(4, 0.3, 0.0);
        let p = Placement::new(4).unwrap();
        let mut w = Workload::new(&s);
        let n = 20_000;
        let mut cross = 0;
        for _ in 0..n {
            let (src, t) = w.next_tx();
            assert_eq!(src, p.shard_of(t.from), "submitted to the sender's shard");
            if p.shard_of(to(&t)) != src {
                cross += 1;
            }
        }
        let f = f64::from(cross) / f64::from(n);
        assert!((0.28..0.32).contains(&f), "{f}");
    }

    #[test]
    fn nonces_count_up_per_sender_and_ids_are_dense() {
        let s = scenario(2, 0.5, 1.2);
        let mut w = Workload::new(&s);
        let mut next = std::collections::HashMap::new();
        for i in 0..5000 {
            let (_, t) = w.next_tx();
            assert_eq!(t.id, i);
            let n = next.entry(t.from).or_insert(0u64);
            assert_eq!(t.nonce, *n);
            *n += 1;
        }
        assert_eq!(w.generated(), 5000);
    }

    /// The exponent fitted to the sender frequencies of ranks 1..=30 (least squares on
    /// log frequency against log rank).
    fn fitted_exponent(skew: f64) -> f64 {
        let mut w = Workload::new(&scenario(1, 0.0, skew));
        let mut counts = vec![0u64; 30];
        for _ in 0..300_000 {
            let from = w.next_tx().1.from as usize;
            if from < counts.len() {
                counts[from] += 1;
            }
        }
        let points: Vec<(f64, f64)> = counts
            .iter()
            .enumerate()
            .map(|(i, &c)| (((i + 1) as f64).ln(), (c as f64).ln()))
            .collect();
        let n = points.len() as f64;
        let (mx, my) = (
            points.iter().map(|p| p.0).sum::<f64>() / n,
            points.iter().map(|p| p.1).sum::<f64>() / n,
        );
        let cov: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let var: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
        -cov / var
    }

    #[test]
    fn zipf_senders_follow_the_exponent() {
        for skew in [0.8, 1.2] {
            let fitted = fitted_exponent(skew);
            assert!((fitted - skew).abs() < 0.1, "skew {skew}: fitted {fitted}");
        }
    }

    #[test]
    fn skew_concentrates_senders() {
        let mut w = Workload::new(&scenario(1, 0.0, 1.2));
        let hot = (0..10_000).filter(|_| w.next_tx().1.from < 10).count();
        assert!(hot > 3000, "{hot} of 10000 from the 10 hottest accounts");
        let mut w = Workload::new(&scenario(1, 0.0, 0.0));
        let hot = (0..10_000).filter(|_| w.next_tx().1.from < 10).count();
        assert!(hot < 50, "uniform: {hot}");
    }
}
