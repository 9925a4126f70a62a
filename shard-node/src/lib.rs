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
//! **Alone or as a committee.** By default a shard is one process that decides its
//! blocks alone. With `--committees` and `--validator` it is one validator of `n`: the block thread runs
//! Tendermint with the others ([`validator`]), every validator executes every block,
//! and a block is the chain's once a quorum precommitted it — their signatures are
//! the certificate the beacon checks. Either way a shard with nothing to do makes no
//! block.
//!
//! **Crash recovery.** Given a data directory, a shard writes every block's inputs and
//! events to an embedded store before announcing the block; after a crash it replays
//! them and resumes (see [`block`]). The beacon link reconnects by itself and sends
//! again every header the beacon has not notarized (see [`io::beacon_session`]).
//!
//! # Layout
//!
//! One folder per concept; each depends only on those listed before it.
//!
//! - [`config`]: how a shard is started — identity, genesis, limits, the executor.
//! - [`state`]: keys and values — accounts, balances, pools, NFTs, proposals — their
//!   commitment, and the one buffered write view the executors share.
//! - [`programs`]: the native programs (transfer, token, swap, nft, vote), one file
//!   per family, written once for every executor.
//! - [`exec`]: `trait BlockExecutor` — sequential (the reference), parallel,
//!   Block-STM, and `Verified` (any of them checked against the reference).
//! - [`protocol`]: the shard's side of the cross-shard protocols — the delayed-receipt
//!   queue, headers kept until notarized, two-phase commit.
//! - [`io`]: everything async and on the wire — the `Shard` service, the beacon
//!   session, signature checks, and the hand-off points they share with the block
//!   thread.
//! - [`block`]: the block pipeline and its thread, store, events and Byzantine mode.
//! - [`vm`]: the EVM — the programs as Solidity contracts over the shard's own state,
//!   the bridge precompile for cross-shard calls, and the EVM executors
//!   (`[cluster] vm = "evm"`).
//! - [`validator`]: the shard as one validator of a committee — consensus on the block
//!   thread, the pipeline as its `App`, the committee's block and its wire form.
//! - [`cli`]: the process entry point shared by `shard-node` and `shardsim __shard`.

pub mod block;
pub mod cli;
pub mod config;
pub mod error;
pub mod exec;
pub mod io;
pub mod programs;
pub mod protocol;
pub mod state;
pub mod validator;
pub mod vm;

use std::future::Future;
use std::sync::Arc;

use shardsim_proto::MAX_MESSAGE_BYTES;
use shardsim_proto::pb;
use shardsim_proto::pb::shard_server::ShardServer;
use shardsim_proto::store::Log;
use tokio::net::TcpListener;

use block::BlockProducer;
pub use config::{CORRUPT_SNAPSHOT_ENV, Executor, LOSE_RECEIPTS_ENV, ShardConfig, Vm};
pub use error::{Error, Result};
use io::Shared;
use io::service::ShardService;

/// Tells the block thread to stop when dropped: on return, on error, and when the
/// caller drops `run`'s future (a test's runtime shutting down).
struct StopOnDrop<'a>(&'a io::Doorbell);

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
    let mut client = io::beacon_session::connect(beacon, config.tls.as_ref()).await?;
    let shared = Arc::new(Shared::new(config, &mut ledger, store));
    let mut producer = BlockProducer::new(ledger, &shared.config)?;
    // What the beacon has notarized of ours: need not be sent again, and says how far
    // behind the shard's chain this process starts (a validator far behind syncs).
    let mut notarized = 0;
    if shared.store.is_some() {
        notarized = client
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
                let result = match shared.config.committee.clone() {
                    Some(committee) => {
                        validator::run(producer, shared.clone(), (&committee, notarized), wakes)
                    }
                    None => producer.run(&shared, wakes),
                };
                let _ = done.send(result);
            }
        })
        .map_err(|e| Error::Config(format!("starting the block thread: {e}")))?;
    let _stop = StopOnDrop(&shared.doorbell);
    if let (Some(links), Some(committee)) = (&shared.peers, &shared.config.committee) {
        io::peers::dial_all(&shared, links, &committee.peers);
    }
    let link = tokio::spawn(io::beacon_session::run(
        shared.clone(),
        client,
        beacon.to_string(),
    ));
    let service = ShardServer::new(ShardService {
        shared: shared.clone(),
    })
    .max_decoding_message_size(MAX_MESSAGE_BYTES)
    .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let mut builder = tonic::transport::Server::builder().tcp_nodelay(true);
    if let Some(creds) = &shared.config.tls {
        builder = builder
            .tls_config(creds.server())
            .map_err(|e| Error::Config(format!("the shard's TLS: {e}")))?;
    }
    // The standard health service, for readiness probes: serving once listening
    // (after the beacon answered and the store was replayed).
    let (_health, health) = tonic_health::server::health_reporter();
    let server = builder
        .add_service(health)
        .add_service(service)
        .serve_with_incoming_shutdown(shardsim_host::process::incoming(listener), shutdown);

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
