//! The shard's side of the beacon relationship: it sends headers up and receives
//! beacon blocks and receipt deliveries down (steps 2 and 4–6 of the diagram in
//! `cross_shard`).
//!
//! ```text
//!   block loop ──mpsc──► SubmitHeaders stream ─────────────► beacon
//!   inbound queue ◄── admit ◄── Subscribe stream ◄────────── beacon
//! ```
//!
//! The shard is the client: the beacon needs no shard addresses, and a shard can sit
//! behind a NAT on another host.

use std::time::Duration;

use cross_shard::ReceiptBatch;
use cross_shard::channel::Admitted;
use shardsim_proto::convert::{crosslink_from_wire, decision_from_wire, path_from_wire};
use shardsim_proto::pb::beacon_client::BeaconClient;
use shardsim_proto::{MAX_MESSAGE_BYTES, pb};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::{Channel, Endpoint};

use crate::error::{Error, Result};
use crate::link::Delayed;
use crate::node::{QueuedReceipt, Shared, lock};

/// How long a starting shard keeps trying to reach the beacon.
const CONNECT_PATIENCE: Duration = Duration::from_secs(10);

/// Connects to the beacon, retrying for [`CONNECT_PATIENCE`].
pub async fn connect(url: &str) -> Result<BeaconClient<Channel>> {
    let endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|e| Error::Config(format!("beacon address {url:?}: {e}")))?
        .tcp_nodelay(true);
    let deadline = tokio::time::Instant::now() + CONNECT_PATIENCE;
    loop {
        match endpoint.connect().await {
            Ok(channel) => {
                return Ok(BeaconClient::new(channel)
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES));
            }
            Err(source) if tokio::time::Instant::now() >= deadline => {
                return Err(Error::BeaconUnreachable {
                    url: url.to_string(),
                    source,
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Runs both streams until one fails; returns why.
pub async fn run(
    shared: &Shared,
    mut client: BeaconClient<Channel>,
    headers: mpsc::UnboundedReceiver<pb::HeaderSubmission>,
) -> Error {
    let inbound = match client
        .subscribe(pb::SubscribeRequest {
            shard: shared.config.shard,
        })
        .await
    {
        Ok(r) => r.into_inner(),
        Err(status) => {
            return Error::BeaconLink {
                stream: "subscribe",
                status,
            };
        }
    };
    // Both directions of the beacon link carry the emulated delay (see `link`).
    let delay = shared.config.beacon_link;
    let seed = u64::from(shared.config.shard);
    let inbound = Delayed::new(inbound, delay, seed << 1);
    let submit = client.submit_headers(Delayed::new(
        UnboundedReceiverStream::new(headers),
        delay,
        (seed << 1) | 1,
    ));
    tokio::select! {
        r = submit => Error::BeaconLink {
            stream: "submit_headers",
            status: r.err().unwrap_or_else(|| tonic::Status::aborted("beacon closed the header stream")),
        },
        status = receive(shared, inbound) => Error::BeaconLink { stream: "subscribe", status },
    }
}

/// Handles the Subscribe stream; returns when it fails or ends.
async fn receive(
    shared: &Shared,
    mut inbound: Delayed<tonic::Streaming<pb::Inbound>>,
) -> tonic::Status {
    loop {
        let msg = match inbound.next().await {
            Some(Ok(m)) => m,
            None => return tonic::Status::aborted("beacon closed the subscription"),
            Some(Err(status)) => return status,
        };
        match msg.kind {
            Some(pb::inbound::Kind::Block(block)) => notarize(shared, &block),
            Some(pb::inbound::Kind::Delivery(d)) => deliver(shared, &d),
            None => tracing::warn!("empty message from the beacon ignored"),
        }
    }
}

/// Step 4: remember the receipts roots the beacon notarized, and (two-phase) queue the
/// block's decisions that concern this shard for the block loop.
fn notarize(shared: &Shared, block: &pb::BeaconBlock) {
    let me = shared.config.shard;
    let mut inbound = lock(&shared.inbound);
    for c in &block.crosslinks {
        match crosslink_from_wire(c) {
            Ok((src, height, root)) => inbound.channels.notarize(src, height, root),
            Err(e) => tracing::warn!(beacon_height = block.height, "crosslink ignored: {e}"),
        }
    }
    inbound.beacon_height = inbound.beacon_height.max(block.height);
    if shared.config.two_phase.is_none() {
        return;
    }
    for d in &block.decisions {
        match decision_from_wire(d) {
            Ok(d) if d.home == me || d.participant == me => inbound.decisions.push(d),
            Ok(_) => {}
            Err(e) => tracing::warn!(beacon_height = block.height, "decision ignored: {e}"),
        }
    }
    drop(inbound);
    // A new beacon height can pass deadlines, and decisions free locks: both need a
    // block.
    shared.work.notify_one();
}

/// Steps 5–6: check a delivery against the notarized root and the channel order.
fn deliver(shared: &Shared, d: &pb::ReceiptDelivery) {
    let checked = d
        .batch
        .as_ref()
        .ok_or_else(|| "delivery without a batch".to_string())
        .and_then(|b| ReceiptBatch::try_from(b).map_err(|e| e.to_string()))
        .and_then(|b| {
            path_from_wire(&d.proof)
                .map(|p| (b, p))
                .map_err(|e| e.to_string())
        });
    let mut inbound = lock(&shared.inbound);
    let (batch, path) = match checked {
        Ok(x) => x,
        Err(e) => {
            inbound.rejected += 1;
            tracing::warn!("malformed delivery refused: {e}");
            return;
        }
    };
    match inbound.channels.admit(d.src_height, &batch, &path) {
        Ok(Admitted::Fresh { skip }) => {
            let src = batch.src;
            let arrived = std::time::Instant::now();
            let notarized = inbound.beacon_height;
            let fresh = batch.receipts[skip..].iter().map(|&receipt| QueuedReceipt {
                src,
                receipt,
                arrived,
                notarized,
            });
            inbound.queue.extend(fresh);
            inbound.duplicates += skip as u64;
            drop(inbound);
            shared.work.notify_one();
        }
        Ok(Admitted::Duplicate) => inbound.duplicates += batch.receipts.len() as u64,
        Err(e) => {
            inbound.rejected += 1;
            tracing::warn!("delivery refused: {e}");
        }
    }
}
