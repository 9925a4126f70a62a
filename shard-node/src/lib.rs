//! # A shard: a chain of its own over a slice of the accounts
//!
//! A shard node holds the accounts that [`cross_shard::Placement`] assigns to it,
//! accepts transactions from clients into a **mempool**, and every block interval cuts a
//! block: it applies the receipts other shards sent it, executes up to
//! `max_block_txs` transactions, commits the result in a header (state root, receipts
//! root), hands the header and its outgoing receipts to the beacon, and tells its
//! subscribers which transactions became final.
//!
//! ```text
//!             driver                                        beacon
//!               │ Submit(stream TxBatch)                      ▲  │ Subscribe: beacon blocks,
//!               ▼                                             │  │ receipt deliveries
//!   ┌────────── mempool ─────────┐            SubmitHeaders   │  ▼
//!   │   every block_interval:    │──── header + batches ──────┘  inbound queue (verified)
//!   │   1. take ≤ max_block_txs  │◄─────────────────────────────────┘
//!   │   2. apply inbound receipts│
//!   │   3. execute calls         │──── BlockEvents ────► driver (Events stream)
//!   │   4. commit: header        │
//!   └────────────────────────────┘
//! ```
//!
//! A shard trusts the beacon's notarization but not other shards: every delivered
//! receipt batch is checked against the receipts root that the beacon notarized for
//! its source block, and against the channel's sequence numbers, before it is applied
//! (see [`cross_shard::channel`]).
//!
//! Simplifications, and what a real chain does instead: one block producer per shard
//! (no consensus inside the shard: real shards run BFT among their validators), and a
//! shard with nothing to do makes no block.
//!
//! **Crash recovery.** Given a data directory, a shard writes every block's inputs and
//! events to an embedded store before announcing the block; after a crash it replays
//! them and resumes (see [`node`]). The beacon link reconnects by itself and sends
//! again every header the beacon has not notarized (see [`beacon_link`]).
//!
//! # Layout
//! - [`state`]: keys and values — accounts, balances, pools, NFTs, proposals — and their
//!   commitment.
//! - [`programs`]: the native programs (transfer, token, swap, nft, vote), written once
//!   for every executor.
//! - [`executor`]: the sequential executor (the reference semantics of a block).
//! - [`parallel`]: the parallel executor (conflict-free waves by declared keys).
//! - [`blockstm`]: the Block-STM executor (optimistic, multi-version, re-execution).
//! - [`node`]: the shared state and the block loop.
//! - [`two_phase`]: the shard's part in two-phase commit (home and participant).
//! - [`beacon_link`]: the streams to and from the beacon.
//! - [`service`]: the `Shard` gRPC service for the driver.
//! - [`sigverify`]: signature checks on admission, in parallel batches.
//! - [`cli`]: the process entry point shared by `shard-node` and `shardsim __shard`.

pub mod beacon_link;
pub mod blockstm;
pub mod cli;
#[cfg(test)]
mod differential;
pub mod error;
pub mod executor;
pub mod node;
pub mod parallel;
pub mod programs;
pub mod service;
pub mod sigverify;
pub mod state;
pub mod two_phase;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use cross_shard::ShardId;
use cross_shard::amm::POOL_RESERVE;
use shardsim_proto::pb;
use shardsim_proto::pb::shard_server::ShardServer;
use shardsim_proto::store::Log;
use shardsim_proto::{MAX_BATCH_TXS, MAX_BLOCK_TXS, MAX_MESSAGE_BYTES};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

pub use error::{Error, Result};
use node::{BlockProducer, Shared};
use service::ShardService;

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
    /// Run the sequential executor beside the chosen one on every block and stop the
    /// shard on any difference (tests, debugging).
    pub verify_executor: bool,
    /// Run the `two-phase` protocol with this deadline, in beacon blocks (see
    /// [`two_phase`]); `None`: the `receipts` protocol.
    pub two_phase: Option<u64>,
    /// Keep the chain in a store in this directory and resume from it after a crash;
    /// `None`: memory only.
    pub data_dir: Option<std::path::PathBuf>,
    /// Fault injection for tests of the verdict, never set in a real run: the first
    /// this many receipts admitted from the beacon are dropped without being applied
    /// (a receipt lost for good: the channel moves past it, no retry brings it back).
    /// Set through the environment variable [`LOSE_RECEIPTS_ENV`].
    pub lose_receipts: u64,
}

/// The environment variable that sets [`ShardConfig::lose_receipts`]. A shard started
/// by the driver inherits it, so an end-to-end test can make a run lose work.
pub const LOSE_RECEIPTS_ENV: &str = "SHARDSIM_TEST_LOSE_RECEIPTS";

/// The executors a shard can run blocks with; all give identical results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Executor {
    /// One transaction after another: the reference ([`executor`]).
    Sequential,
    /// Conflict-free waves by declared access sets, on `threads` threads ([`parallel`]).
    Parallel,
    /// Optimistic execution over a multi-version memory, validated and re-executed
    /// ([`blockstm`]).
    BlockStm,
}

impl ShardConfig {
    /// Checks the values against each other.
    pub fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(Error::Config(m));
        if self.shards == 0 || self.shard >= self.shards {
            return fail(format!("shard {} is not in 0..{}", self.shard, self.shards));
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
        if self.tokens > 64 {
            return fail(format!("tokens must be at most 64, got {}", self.tokens));
        }
        if self.two_phase == Some(0) {
            return fail("the two-phase deadline must be at least 1 beacon block".into());
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
            "shard {} of {}; accounts {} × {}; tokens {}, pools {}, collections {}, proposals {}; two-phase {:?}; byzantine {}",
            self.shard,
            self.shards,
            self.accounts,
            self.initial_balance,
            self.tokens,
            self.pools,
            self.collections,
            self.proposals,
            self.two_phase,
            self.byzantine
        )
    }

    /// The facts every shard shares, as this shard sees them; `None` with no shards.
    pub fn world(&self) -> Option<state::World> {
        Some(state::World {
            shard: self.shard,
            placement: cross_shard::Placement::new(self.shards)?,
            accounts: self.accounts,
            tokens: self.tokens,
            pools: self.pools,
            collections: self.collections,
            proposals: self.proposals,
            pool_reserve: POOL_RESERVE,
        })
    }
}

/// Tells the block thread to stop when dropped: on return, on error, and when the
/// caller drops `run`'s future (a test's runtime shutting down).
struct StopOnDrop<'a>(&'a node::Doorbell);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Runs a shard on an already-bound `listener` until `shutdown` resolves or a fatal
/// error. `beacon` is the beacon's URL (`http://host:port`). With a data directory that
/// holds a chain, the shard first replays it and resumes where it stopped.
pub async fn run(
    listener: TcpListener,
    config: ShardConfig,
    beacon: &str,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    config.validate()?;
    let mut ledger = Shared::genesis(&config).ok_or_else(|| Error::Config("no shards".into()))?;
    let store = match &config.data_dir {
        Some(dir) => Some(Log::open(&dir.join("shard.redb"), &config.identity())?),
        None => None,
    };
    let mut client = beacon_link::connect(beacon).await?;
    let shared = Arc::new(Shared::new(config, &mut ledger, store));
    let mut producer = BlockProducer::new(ledger, shared.config.two_phase);
    if shared.store.is_some() {
        // What the beacon has notarized of ours need not be sent again.
        let notarized = client
            .status(pb::StatusRequest::default())
            .await
            .map(|s| s.into_inner().notarized_heights)
            .unwrap_or_default()
            .get(shared.config.shard as usize)
            .copied()
            .unwrap_or(0);
        let began = std::time::Instant::now();
        let height = producer.recover(&shared, notarized)?;
        if height > 0 {
            tracing::info!(
                height,
                notarized,
                ms = began.elapsed().as_millis() as u64,
                "resumed from the store"
            );
        }
    }

    // The block loop on a thread of its own (see `node`): its CPU work and fsyncs
    // never hold up an async worker. It stops when this function returns or its future
    // is dropped (`_stop`); a panic drops `done`'s sender, which ends the shard.
    let wakes = shared
        .doorbell
        .take_receiver()
        .ok_or_else(|| Error::Config("the block loop was started twice".into()))?;
    let (done, mut blocks) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(format!("shard-{}-blocks", shared.config.shard))
        .spawn({
            let shared = shared.clone();
            move || {
                let _ = done.send(producer.run(&shared, wakes));
            }
        })
        .map_err(|e| Error::Config(format!("starting the block thread: {e}")))?;
    let _stop = StopOnDrop(&shared.doorbell);
    let link = tokio::spawn(beacon_link::run(shared.clone(), client, beacon.to_string()));
    let service = ShardServer::new(ShardService {
        shared: shared.clone(),
    })
    .max_decoding_message_size(MAX_MESSAGE_BYTES)
    .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let server = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(service)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown);

    let result = tokio::select! {
        r = server => r.map_err(Error::from),
        r = &mut blocks => match r {
            Ok(Ok(())) => Err(Error::Config("the block loop stopped unasked".into())),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Config("the block loop panicked".into())),
        },
    };
    link.abort();
    result
}
