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
//! # Layout
//! - [`chain`]: the state machine (accept, notarize, route, forget), no I/O.
//! - [`service`]: the `Beacon` gRPC service and the notarization loop.
//! - [`cli`]: the process entry point shared by `beacon` and `shardsim __beacon`.

pub mod chain;
pub mod cli;
pub mod error;
pub mod service;

use std::future::Future;
use std::time::Duration;

use shardsim_proto::MAX_MESSAGE_BYTES;
use shardsim_proto::pb::beacon_server::BeaconServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

pub use error::{Error, Result};
use service::BeaconService;

/// Runs a beacon for `shards` shards on an already-bound `listener`, making a beacon
/// block every `interval`, until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    shards: u32,
    interval: Duration,
    two_phase: Option<u64>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    if shards == 0 {
        return Err(Error::Config("a cluster needs at least one shard".into()));
    }
    if interval.is_zero() {
        return Err(Error::Config("beacon_interval must be above 0".into()));
    }
    if two_phase == Some(0) {
        return Err(Error::Config(
            "the two-phase deadline must be at least 1 beacon block".into(),
        ));
    }
    let service = BeaconService::new(shards, two_phase);
    let notarizer = tokio::spawn({
        let service = service.clone();
        async move { service.notarize_every(interval).await }
    });
    let server = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(
            BeaconServer::new(service)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown);
    let result = server.await.map_err(Error::from);
    notarizer.abort();
    result
}
