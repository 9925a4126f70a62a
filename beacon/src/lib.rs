//! # The beacon: notarizing shard blocks and routing receipts between shards
//!
//! Shards run independent chains; something must tie them together so that one shard
//! can trust what another says it did. In shardsim that is the **beacon** (Ethereum's
//! beacon chain, NEAR's block producers over all shards, MultiversX's metachain). It
//! does three things:
//!
//! 1. **Checks** each shard's header chain: heights follow one another and every
//!    `prev_hash` is the hash of the previous header.
//! 2. **Notarizes**: every `beacon_interval` it puts the headers it accepted into a
//!    beacon block as **crosslinks**. A destination shard trusts a source's receipts
//!    only against a receipts root notarized in a beacon block.
//! 3. **Routes receipts**: each accepted header comes with its per-destination receipt
//!    batches; after notarizing it, the beacon delivers each batch to its destination
//!    with the Merkle path to the notarized root, and keeps it until the destination
//!    acknowledges having applied it.
//!
//! ```text
//!  shard A ──SubmitHeaders: header h + batch A→B──►  accept (chain, channel, root)
//!                                                      │ beacon_interval
//!                                                      ▼
//!                                                    beacon block n = [crosslink(A,h), …]
//!  shard B ◄──Subscribe: beacon block n ───────────────┤
//!  shard B ◄──Subscribe: batch A→B + Merkle path ──────┘ kept until…
//!  shard B ──SubmitHeaders: …, ack(A, next_seq) ──────►  …acknowledged: forgotten
//! ```
//!
//! What a real beacon does beyond this: validators sign beacon blocks (here the beacon
//! is a single trusted process), and it shuffles validators between shards.
//!
//! **Crash recovery.** Given a data directory, the beacon stores, for every beacon
//! block, the submissions it accepted into it — before sending the block to anyone.
//! After a crash it replays them through the same state machine and is back where it
//! was at its last block; what it had accepted since, the shards send again (they keep
//! every submission until they see it notarized).
//!
//! # Layout
//! - [`chain`]: the state machine (accept, notarize, route, forget), no I/O.
//! - [`service`]: the `Beacon` gRPC service and the notarization loop.
//! - [`cli`]: the process entry point shared by `beacon` and `shardsim __beacon`.

pub mod chain;
pub mod cli;
pub mod error;
pub mod service;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use shardsim_proto::MAX_MESSAGE_BYTES;
use shardsim_proto::pb::beacon_server::BeaconServer;
use shardsim_proto::store::Log;
use tokio::net::TcpListener;

use cross_shard::sync::lock;
pub use error::{Error, Result};
use service::BeaconService;

/// How a beacon is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeaconConfig {
    /// Shards in the cluster.
    pub shards: u32,
    /// Each shard's committee (index = shard id), from genesis: the keys whose quorum
    /// certificates make a shard header acceptable.
    pub committees: Vec<consensus::Committee>,
    /// Time between beacon blocks.
    pub interval: Duration,
    /// Coordinate two-phase commit with this deadline (beacon blocks); `None`: the
    /// receipts protocol.
    pub two_phase: Option<u64>,
    /// Keep the chain in a store here and resume from it after a crash; `None`:
    /// memory only.
    pub data_dir: Option<PathBuf>,
    /// Serve over mutual TLS with these credentials (the beacon's role); `None`: plain
    /// gRPC, for loopback clusters.
    pub tls: Option<shardsim_host::tls::Credentials>,
}

/// Runs a beacon on an already-bound `listener`, making a beacon block every
/// `config.interval`, until `shutdown` resolves or its store fails.
pub async fn run(
    listener: TcpListener,
    config: BeaconConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let BeaconConfig {
        shards,
        committees,
        interval,
        two_phase,
        data_dir,
        tls,
    } = config;
    if shards == 0 {
        return Err(Error::Config("a cluster needs at least one shard".into()));
    }
    if interval.is_zero() {
        return Err(Error::Config("beacon_interval must be above 0".into()));
    }
    if committees.len() != shards as usize
        || committees
            .iter()
            .enumerate()
            .any(|(k, c)| c.shard() != k as u32)
    {
        return Err(Error::Config(format!(
            "{shards} shards need one committee each, in shard order ({} given)",
            committees.len()
        )));
    }
    if two_phase == Some(0) {
        return Err(Error::Config(
            "the two-phase deadline must be at least 1 beacon block".into(),
        ));
    }
    let store = match data_dir {
        Some(dir) => Some(Log::open(
            &dir.join("beacon.redb"),
            &format!("beacon of {shards} shards; two-phase {two_phase:?}"),
        )?),
        None => None,
    };
    let began = std::time::Instant::now();
    let mut service = BeaconService::new(committees, two_phase, store)?;
    service.authenticated = tls.is_some();
    let height = lock(&service.state).chain.height();
    if height > 0 {
        tracing::info!(
            height,
            ms = began.elapsed().as_millis() as u64,
            "resumed from the store"
        );
    }
    let mut notarizer = tokio::spawn({
        let service = service.clone();
        async move { service.notarize_every(interval).await }
    });
    let mut builder = tonic::transport::Server::builder().tcp_nodelay(true);
    if let Some(creds) = &tls {
        builder = builder
            .tls_config(creds.server())
            .map_err(|e| Error::Config(format!("the beacon's TLS: {e}")))?;
    }
    // The standard health service, for readiness probes: serving once listening.
    let (_health, health) = tonic_health::server::health_reporter();
    let server = builder
        .add_service(health)
        .add_service(
            BeaconServer::new(service)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .serve_with_incoming_shutdown(shardsim_host::process::incoming(listener), shutdown);
    let result = tokio::select! {
        r = server => r.map_err(Error::from),
        r = &mut notarizer => match r {
            Ok(e) => Err(e),
            Err(_) => Err(Error::Config("the notarization loop panicked".into())),
        },
    };
    notarizer.abort();
    result
}
