//! # An Ethereum-like workload: traffic with the structure real traffic has
//!
//! Uniform random pairs — the synthetic workload — have no structure for placement to
//! find: every placement is as good as hash. Real traffic has four features that
//! matter to sharding, and this seeded generator makes each one a knob:
//!
//! 1. **Heavy-tailed activity.** A few accounts send most transactions: the sender is
//!    drawn by a Zipf law over accounts (`activity_skew`), and so is a counterparty
//!    drawn from outside the sender's community.
//! 2. **Contract calls**, of three kinds: token transfers (`token_share`; replayed
//!    holder → holder, the token contract is not an object of its own), calls to a
//!    few **hot contracts** every community uses — a DEX, a bridge (`hot_share` over
//!    `hot_contracts`, Zipf among them) — and calls to the sender's community's own
//!    contract (`community_call_share`). Creations are rare (`create_share`).
//! 3. **Communities**: groups of `community_size` accounts that transact mostly among
//!    themselves (`locality`), so placement has something to find.
//! 4. **Drift**: communities change members slowly, so placement must keep up.
//!
//! Communities are laid out on a ring of account positions and **slide** along it:
//!
//! ```text
//!  positions  0 ……… S ……… 2S ……… 3S ………                 (S = community_size)
//!  time 0     [ c0    )[ c1    )[ c2    )
//!  later        [ c0    )[ c1    )[ c2    )   each boundary moved by `drift`·S
//!                                              per 100,000 transactions
//! ```
//!
//! so at any moment community `c` is the positions `[c·S + off(t), (c+1)·S + off(t))`
//! (mod the ring), where `off(t)` grows with the transaction count `t`. Per 100,000
//! transactions a `drift` share of every community's members leave it for the next
//! one. This needs no table of members: the generator's state is a few numbers and a
//! nonce per account, whatever the number of accounts or transactions. An account's
//! position is its id; hash placement scatters ids, so hash gains nothing from the
//! layout, and the senders' Zipf ranks are scrambled over the ring so that the busy
//! accounts are spread over communities rather than all in the first.

use super::trace::{Kind, Row};
pub use crate::scenario::EthereumLikeParams as Params;
use cross_shard::AccountId;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Zipf};

/// The generator.
#[derive(Debug, Clone)]
pub struct EthereumLike {
    p: Params,
    rng: ChaCha8Rng,
    /// Accounts on the ring: communities × community_size (the last few of
    /// `workload.accounts` that do not fill a community are not used).
    ring: u64,
    /// A multiplier coprime with `ring`: rank r is account (r·stride) mod ring.
    stride: u64,
    /// Sender and outside-counterparty ranks, when skewed.
    zipf: Option<Zipf<f64>>,
    /// Hot contracts' popularity.
    hot: Zipf<f64>,
    /// Transactions generated: the generator's clock.
    t: u64,
    /// Contracts created so far.
    created: u64,
}

impl EthereumLike {
    /// A generator over `accounts` accounts, seeded. `params` must have passed
    /// [`Params::check`].
    pub fn new(params: Params, accounts: u64, seed: u64) -> EthereumLike {
        let s = params.community_size;
        let ring = (accounts / s) * s;
        let stride = coprime_stride(ring);
        let zipf = (params.activity_skew > 0.0)
            .then(|| Zipf::new(ring as f64, params.activity_skew).ok())
            .flatten();
        let hot = Zipf::new(params.hot_contracts as f64, 1.0)
            .unwrap_or_else(|_| unreachable!("checked: at least one hot contract"));
        EthereumLike {
            p: params,
            rng: ChaCha8Rng::seed_from_u64(seed),
            ring,
            stride,
            zipf,
            hot,
            t: 0,
            created: 0,
        }
    }

    /// Account ids in use: `0..ring` are the accounts, then the hot contracts, the
    /// tokens, one contract per community, and created contracts from there.
    pub fn accounts(&self) -> u64 {
        self.ring
    }

    fn communities(&self) -> u64 {
        self.ring / self.p.community_size
    }

    fn first_hot(&self) -> AccountId {
        self.ring
    }

    fn first_token(&self) -> AccountId {
        self.ring + self.p.hot_contracts
    }

    fn first_community_contract(&self) -> AccountId {
        self.first_token() + self.p.tokens
    }

    fn first_created(&self) -> AccountId {
        self.first_community_contract() + self.communities()
    }

    /// How far the communities have slid along the ring by now.
    fn offset(&self) -> u64 {
        let slid = self.p.drift * self.p.community_size as f64 * self.t as f64 / 100_000.0;
        (slid as u64) % self.ring
    }

    /// An account by popularity: the Zipf rank scrambled over the ring.
    fn popular(&mut self) -> AccountId {
        let rank = match &self.zipf {
            Some(z) => (z.sample(&mut self.rng) as u64).clamp(1, self.ring) - 1,
            None => self.rng.random_range(0..self.ring),
        };
        ((u128::from(rank) * u128::from(self.stride)) % u128::from(self.ring)) as AccountId
    }

    /// The community of `account` now.
    fn community_of(&self, account: AccountId) -> u64 {
        ((account + self.ring - self.offset()) % self.ring) / self.p.community_size
    }

    /// A member of community `c` now, uniformly.
    fn member(&mut self, c: u64) -> AccountId {
        let j = self.rng.random_range(0..self.p.community_size);
        (c * self.p.community_size + j + self.offset()) % self.ring
    }

    /// A counterparty for `from`: in its community with probability `locality`,
    /// else anyone by popularity (never `from` itself).
    fn counterparty(&mut self, from: AccountId) -> AccountId {
        for _ in 0..8 {
            let to = if self.rng.random_bool(self.p.locality) {
                let c = self.community_of(from);
                self.member(c)
            } else {
                self.popular()
            };
            if to != from {
                return to;
            }
        }
        (from + 1) % self.ring
    }

    /// The next transaction. Its `block` and `timestamp` are 0: the schedule decides
    /// when it is offered.
    pub fn next_row(&mut self) -> Row {
        let from = self.popular();
        let x: f64 = self.rng.random();
        let p = self.p;
        let (to, kind, token, gas) = if x < p.token_share {
            let token = self.first_token() + self.rng.random_range(0..p.tokens);
            (self.counterparty(from), Kind::Token, Some(token), 51_000)
        } else if x < p.token_share + p.hot_share {
            let k = (self.hot.sample(&mut self.rng) as u64).clamp(1, p.hot_contracts) - 1;
            (self.first_hot() + k, Kind::Call, None, 120_000)
        } else if x < p.token_share + p.hot_share + p.community_call_share {
            let c = self.community_of(from);
            (
                self.first_community_contract() + c,
                Kind::Call,
                None,
                80_000,
            )
        } else if x < p.token_share + p.hot_share + p.community_call_share + p.create_share {
            let created = self.first_created() + self.created;
            self.created += 1;
            (created, Kind::Create, None, crate::scenario::CREATE_GAS)
        } else {
            (self.counterparty(from), Kind::Transfer, None, 21_000)
        };
        self.t += 1;
        Row {
            block: 0,
            timestamp: 0,
            from,
            to,
            kind,
            token,
            value: u128::from(self.rng.random_range(1..=1000u64)),
            gas,
        }
    }
}

/// The first of a few large primes that does not divide `n` (so multiplying by it
/// permutes `0..n`).
fn coprime_stride(n: u64) -> u64 {
    const PRIMES: [u64; 4] = [2_654_435_761, 2_246_822_519, 3_266_489_917, 668_265_263];
    PRIMES.into_iter().find(|p| n % p != 0).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(p: Params, accounts: u64, n: usize, seed: u64) -> Vec<Row> {
        let mut g = EthereumLike::new(p, accounts, seed);
        (0..n).map(|_| g.next_row()).collect()
    }

    #[test]
    fn seeded_repeatable_and_shares_as_asked() {
        let p = Params::default();
        let a = rows(p, 10_000, 50_000, 7);
        assert_eq!(a, rows(p, 10_000, 50_000, 7));
        assert_ne!(a, rows(p, 10_000, 50_000, 8));
        let share = |k: Kind| a.iter().filter(|r| r.kind == k).count() as f64 / a.len() as f64;
        assert!((share(Kind::Token) - 0.12).abs() < 0.01);
        assert!((share(Kind::Call) - 0.17).abs() < 0.01);
        assert!(
            a.iter().all(|r| r.from < 9_984),
            "senders are ring accounts"
        );
    }

    #[test]
    fn transfers_stay_in_the_community_as_often_as_asked() {
        let p = Params {
            drift: 0.0,
            ..Params::default()
        };
        let g = EthereumLike::new(p, 10_000, 1);
        let a = rows(p, 10_000, 50_000, 1);
        let transfers: Vec<&Row> = a.iter().filter(|r| r.kind == Kind::Transfer).collect();
        let local = transfers
            .iter()
            .filter(|r| g.community_of(r.from) == g.community_of(r.to))
            .count() as f64
            / transfers.len() as f64;
        // 0.9 asked, plus the outside draws that land in the community by chance.
        assert!((0.89..0.93).contains(&local), "{local}");
    }

    #[test]
    fn communities_drift_by_the_asked_share() {
        let p = Params {
            drift: 0.25,
            ..Params::default()
        };
        let mut g = EthereumLike::new(p, 6_400, 1);
        let before: Vec<u64> = (0..6_400).map(|a| g.community_of(a)).collect();
        for _ in 0..100_000 {
            g.next_row();
        }
        let moved = (0..6_400)
            .filter(|&a| g.community_of(a) != before[a as usize])
            .count() as f64
            / 6_400.0;
        assert!((0.23..0.27).contains(&moved), "{moved}");
    }

    #[test]
    fn activity_is_heavy_tailed() {
        let a = rows(Params::default(), 100_000, 100_000, 3);
        let mut sent = std::collections::HashMap::new();
        for r in &a {
            *sent.entry(r.from).or_insert(0u64) += 1;
        }
        let mut counts: Vec<u64> = sent.into_values().collect();
        counts.sort_unstable_by(|x, y| y.cmp(x));
        let top100: u64 = counts.iter().take(100).sum();
        assert!(top100 as f64 / a.len() as f64 > 0.3, "{top100}");
    }

    #[test]
    fn bad_parameters_are_named() {
        let p = Params {
            locality: 1.5,
            ..Params::default()
        };
        assert!(p.check(10_000).unwrap_err().contains("locality"));
        let p = Params {
            token_share: 0.6,
            hot_share: 0.6,
            ..Params::default()
        };
        assert!(p.check(10_000).unwrap_err().contains("more than 1"));
        assert!(
            Params::default()
                .check(100)
                .unwrap_err()
                .contains("fewer than two")
        );
    }
}
