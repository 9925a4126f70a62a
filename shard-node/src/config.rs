//! How a shard is started: its identity in the cluster, the genesis it shares with
//! every other shard, its block limits, and the executor and protocol it runs.

use std::time::Duration;

use cross_shard::ShardId;
use cross_shard::amm::POOL_RESERVE;
use shardsim_proto::{MAX_BATCH_TXS, MAX_BLOCK_TXS};

use crate::error::{Error, Result};
use crate::state;

/// Everything a shard needs to know at start-up; every shard of a cluster gets the
/// same values but `shard`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardConfig {
    /// This shard's id.
    pub shard: ShardId,
    /// Shards in the cluster.
    pub shards: u32,
    /// Accounts in the cluster (ids `0..accounts`).
    pub accounts: u64,
    /// Genesis balance of every account, in the native coin and in each token.
    pub initial_balance: u64,
    /// Fungible tokens in the cluster (assets `1..=tokens`).
    pub tokens: u32,
    /// AMM pools in the cluster (`0..pools`); each needs a token to trade.
    pub pools: u32,
    /// NFT collections in the cluster.
    pub collections: u32,
    /// DAO proposals in the cluster.
    pub proposals: u32,
    /// Time between blocks; `None` means `asap` (a block as soon as there is work).
    pub block_interval: Option<Duration>,
    /// Most transactions per block.
    pub max_block_txs: usize,
    /// Under `vm = "evm"`, the block's gas limit: its transactions' gas limits
    /// (`crate::vm::exec::gas_limit`) sum to at most this. `None`: no gas limit.
    pub max_block_gas: Option<u64>,
    /// Most transactions waiting in the mempool.
    pub mempool_capacity: usize,
    /// Emulated delay on the link to and from the beacon (each direction).
    pub beacon_link: shardsim_host::netem::LinkDelay,
    /// Whether every transaction must carry its sender's ed25519 signature.
    pub signatures: bool,
    /// Threads that verify signatures (and, later, execute) in parallel.
    pub threads: usize,
    /// Misbehave on purpose (forge and replay receipts) to exercise the checks; for
    /// teaching and tests only.
    pub byzantine: bool,
    /// Which executor runs a block's transactions.
    pub executor: Executor,
    /// Which machine runs the programs: the native functions, or their Solidity
    /// contracts on revm ([`crate::vm`]).
    pub vm: Vm,
    /// Run the sequential executor beside the chosen one on every block and stop the
    /// shard on any difference (tests, debugging).
    pub verify_executor: bool,
    /// Let a parallel executor run a block sequentially when it predicts a loss
    /// ([`crate::exec::predict`]); `false` runs its algorithm on every block.
    pub predict_executor: bool,
    /// Run the `two-phase` protocol with this deadline, in beacon blocks (see
    /// [`crate::protocol::two_phase`]); `None`: the `receipts` protocol.
    pub two_phase: Option<u64>,
    /// Keep the chain in a store in this directory and resume from it after a crash;
    /// `None`: memory only.
    pub data_dir: Option<std::path::PathBuf>,
    /// Fault injection for tests of the verdict, never set in a real run: the first
    /// this many receipts admitted from the beacon are dropped without being applied
    /// (a receipt lost for good: the channel moves past it, no retry brings it back).
    /// Set through the environment variable [`LOSE_RECEIPTS_ENV`].
    pub lose_receipts: u64,
    /// Take a snapshot of the shard's state every this many blocks (0: never): a
    /// restart then replays only the blocks after the latest, and a validator far
    /// behind fetches one from its peers ([`crate::block::snapshot`]).
    pub snapshot_every: u64,
    /// Fault injection for tests of state sync, never set in a real run: this
    /// validator serves its snapshot's chunks with one byte flipped. Set through the
    /// environment variable [`CORRUPT_SNAPSHOT_ENV`] naming the validator.
    pub corrupt_snapshot: bool,
    /// This validator's key: it signs its votes (and, alone, certifies each header for
    /// the beacon: a quorum certificate of a one-validator committee). Drawn by the
    /// driver per run.
    pub validator_key: ed25519_dalek::SigningKey,
    /// When the shard is a committee of several validators, this one's place in it
    /// ([`crate::validator`]); `None`: the shard proposes alone.
    pub committee: Option<CommitteeConfig>,
    /// Serve and call over mutual TLS with these credentials (this validator's role);
    /// `None`: plain gRPC, for loopback clusters.
    pub tls: Option<shardsim_host::tls::Credentials>,
    /// Accounts placed at genesis by a table (a graph partition of the traffic), the
    /// same for every process of the cluster; `None`: by hash.
    pub placed: Option<cross_shard::Placement>,
}

/// A validator's place in its shard's committee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitteeConfig {
    /// Every validator's public key (this one's must match [`ShardConfig::validator_key`]).
    pub committee: consensus::Committee,
    /// Every shard's committee (index = shard; this shard's is `committee`), known from
    /// genesis: a receipt in a proposal counts only with its source header certified
    /// by the source's committee.
    pub committees: Vec<consensus::Committee>,
    /// This validator's index.
    pub me: consensus::ValidatorId,
    /// The URLs of the validators with a lower index, which this one calls (those with
    /// a higher index call it), by index.
    pub peers: Vec<(consensus::ValidatorId, String)>,
    /// Honest, or one of the Byzantine behaviours (tests, teaching).
    pub behaviour: consensus::Behaviour,
}

/// The environment variable that sets [`ShardConfig::lose_receipts`]. A shard started
/// by the driver inherits it, so an end-to-end test can make a run lose work.
pub const LOSE_RECEIPTS_ENV: &str = "SHARDSIM_TEST_LOSE_RECEIPTS";

/// The environment variable that sets [`ShardConfig::corrupt_snapshot`] for the
/// validators it names (`shard-<k>/validator-<i>`, comma-separated); a process started
/// by the driver inherits it.
pub const CORRUPT_SNAPSHOT_ENV: &str = "SHARDSIM_TEST_CORRUPT_SNAPSHOT";

/// The machine that runs the programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Vm {
    /// The native programs ([`crate::programs`]).
    #[default]
    Native,
    /// The programs' Solidity contracts on revm ([`crate::vm`]), on every executor.
    Evm,
}

/// The executors a shard can run blocks with; all give identical results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Executor {
    /// One transaction after another: the reference ([`crate::exec::Sequential`]).
    Sequential,
    /// Conflict-free waves by declared access sets, on `threads` threads ([`crate::exec::parallel`]).
    Parallel,
    /// Optimistic execution over a multi-version memory, validated and re-executed
    /// ([`crate::exec::blockstm`]).
    BlockStm,
}

impl ShardConfig {
    /// A small shard of a 2-shard cluster (100 accounts, 3 transactions a block,
    /// sequential, in memory), for the crate's tests.
    #[cfg(test)]
    pub(crate) fn for_tests(shard: ShardId) -> ShardConfig {
        ShardConfig {
            shard,
            shards: 2,
            accounts: 100,
            initial_balance: 1000,
            tokens: 0,
            pools: 0,
            collections: 0,
            proposals: 0,
            block_interval: None,
            max_block_txs: 3,
            max_block_gas: None,
            mempool_capacity: 1000,
            beacon_link: shardsim_host::netem::LinkDelay::default(),
            signatures: false,
            threads: 1,
            byzantine: false,
            lose_receipts: 0,
            snapshot_every: 0,
            corrupt_snapshot: false,
            validator_key: consensus::committee::validator_key(&[1; 32], shard, 0),
            committee: None,
            executor: crate::Executor::Sequential,
            verify_executor: false,
            predict_executor: true,
            vm: crate::Vm::Native,
            two_phase: None,
            data_dir: None,
            tls: None,
            placed: None,
        }
    }

    /// Checks the values against each other.
    pub fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(Error::Config(m));
        if self.shards == 0 || self.shard >= self.shards {
            return fail(format!("shard {} is not in 0..{}", self.shard, self.shards));
        }
        if self.vm == Vm::Evm && self.byzantine {
            return fail("vm evm runs with honest shards only".into());
        }
        if let Some(gas) = self.max_block_gas {
            if self.vm != Vm::Evm || gas < crate::vm::exec::MAX_CALL_GAS {
                return fail(format!(
                    "max_block_gas = {gas} needs vm evm and room for the largest call ({} gas)",
                    crate::vm::exec::MAX_CALL_GAS
                ));
            }
        }
        if self.max_block_txs == 0 || self.max_block_txs > MAX_BLOCK_TXS {
            return fail(format!("max_block_txs must be in 1..={MAX_BLOCK_TXS}"));
        }
        if self.mempool_capacity < MAX_BATCH_TXS {
            return fail(format!(
                "mempool_capacity {} is below the largest batch ({MAX_BATCH_TXS})",
                self.mempool_capacity
            ));
        }
        if self.threads == 0 || self.threads > 64 {
            return fail(format!("threads must be in 1..=64, got {}", self.threads));
        }
        // A replayed trace's tokens (a scenario's own are at most 64): each is a
        // balance per local account.
        if self.tokens > 1024 {
            return fail(format!("tokens must be at most 1024, got {}", self.tokens));
        }
        if let Some(p) = &self.placed
            && p.shards() != self.shards
        {
            return fail(format!(
                "the placement table is for {} shards, the cluster has {}",
                p.shards(),
                self.shards
            ));
        }
        if self.two_phase == Some(0) {
            return fail("the two-phase deadline must be at least 1 beacon block".into());
        }
        if let Some(c) = &self.committee {
            if c.committees.len() != self.shards as usize
                || c.committees.get(self.shard as usize) != Some(&c.committee)
            {
                return fail(format!(
                    "the committees given are {} (one per shard, this shard's its own), for {} shards",
                    c.committees.len(),
                    self.shards
                ));
            }
            if c.committee.shard() != self.shard {
                return fail(format!(
                    "the committee given is shard {}'s, this is shard {}",
                    c.committee.shard(),
                    self.shard
                ));
            }
            if c.committee.key(c.me) != Some(&self.validator_key.verifying_key()) {
                return fail(format!(
                    "validator {} of a committee of {}: its key is not the committee's key {}",
                    c.me,
                    c.committee.len(),
                    c.me
                ));
            }
            let mut want: Vec<_> = (0..c.me).collect();
            let mut got: Vec<_> = c.peers.iter().map(|p| p.0).collect();
            want.sort_unstable();
            got.sort_unstable();
            if want != got {
                return fail(format!(
                    "validator {} needs the addresses of validators 0..{} (one --peer each), got {:?}",
                    c.me, c.me, got
                ));
            }
            if self.two_phase.is_some() || self.byzantine {
                return fail(
                    "a committee of validators runs the receipts protocol with honest shards (no two-phase, no byzantine shard); a Byzantine validator is --behaviour"
                        .into(),
                );
            }
        }
        if self.pools > 0 && self.tokens == 0 {
            return fail("pools need at least one token to trade against".into());
        }
        let supply = self
            .accounts
            .checked_mul(self.initial_balance)
            .and_then(|s| s.checked_add(POOL_RESERVE.checked_mul(u64::from(self.pools))?));
        if supply.is_none() {
            return fail(
                "accounts × initial_balance plus the pools' reserves overflows the supply (u64)"
                    .into(),
            );
        }
        Ok(())
    }

    /// Whom a store belongs to: the shard and everything that shapes its genesis and its
    /// blocks. A store written under another identity is refused.
    pub fn identity(&self) -> String {
        format!(
            "shard {} of {}; accounts {} × {}; tokens {}, pools {}, collections {}, proposals {}; two-phase {:?}; byzantine {}; validator {}",
            self.shard,
            self.shards,
            self.accounts,
            self.initial_balance,
            self.tokens,
            self.pools,
            self.collections,
            self.proposals,
            self.two_phase,
            self.byzantine,
            self.committee
                .as_ref()
                .map_or("alone".to_string(), |c| format!(
                    "{} of {}",
                    c.me,
                    c.committee.len()
                ))
        )
    }

    /// The facts every shard shares, as this shard sees them; `None` with no shards.
    pub fn world(&self) -> Option<state::World> {
        Some(state::World {
            shard: self.shard,
            placement: match self.placed {
                Some(p) => p,
                None => cross_shard::Placement::new(self.shards)?,
            },
            accounts: self.accounts,
            tokens: self.tokens,
            pools: self.pools,
            collections: self.collections,
            proposals: self.proposals,
            pool_reserve: POOL_RESERVE,
        })
    }
}
