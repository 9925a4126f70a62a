//! The shard's side of the beacon relationship: it sends headers up and receives
//! beacon blocks and receipt deliveries down (steps 2 and 4–6 of the diagram in
//! `cross_shard`).
//!
//! ```text
//!   block loop ──► outgoing (kept until notarized) ──pump──► SubmitHeaders ──► beacon
//!   inbound queue ◄── admit ◄── Subscribe: blocks, deliveries, tips ◄──────── beacon
//! ```
//!
//! The shard is the client: the beacon needs no shard addresses, and a shard can sit
//! behind a NAT on another host.
//!
//! **Nothing is lost when the link is.** The link is a *session* that is started again
//! whenever it fails — the beacon restarted, the connection broke, or a message was
//! lost on a faulty link:
//!
//! - *Upward*, every submission stays in `outgoing` until a beacon block notarizes it.
//!   A new session sends them all again, and so does a session in which the oldest has
//!   waited [`RETRANSMIT`] without being notarized (a dropped message), then twice as
//!   long, up to [`MAX_RETRANSMIT`](crate::protocol::MAX_RETRANSMIT) ([`Outgoing::due`](crate::protocol::Outgoing::due)). The beacon ignores what it
//!   already has and what comes after a gap, so resending is safe.
//! - *Downward*, the beacon ends every interval with a **tip**: the last beacon height
//!   and, per source shard, how far the receipts it has routed to us go. A shard that
//!   has admitted less lost a message; it resubscribes, and the beacon sends every
//!   batch not yet acknowledged again, with the blocks that notarized them. What was
//!   admitted already is recognised by its sequence numbers and ignored.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cross_shard::ReceiptBatch;
use cross_shard::channel::Admitted;
use shardsim_host::tls::{Credentials, Role};
use shardsim_proto::convert::{
    crosslink_from_wire, decision_from_wire, epoch_from_wire, path_from_wire,
};
use shardsim_proto::pb::beacon_client::BeaconClient;
use shardsim_proto::{MAX_MESSAGE_BYTES, pb};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};

use crate::error::{Error, Result};
use cross_shard::sync::lock;
use shardsim_host::netem::Delayed;

use crate::io::Shared;
use crate::protocol::{HeldProof, QueuedReceipt, RETRANSMIT};

/// How long a starting shard keeps trying to reach the beacon.
const CONNECT_PATIENCE: Duration = Duration::from_secs(10);
/// Submissions queued on the header stream: the link waits for room (backpressure
/// from the beacon through HTTP/2 flow control) rather than piling them up.
pub const HEADER_QUEUE: usize = 64;
/// Pause between attempts to reach a beacon that is gone.
const RECONNECT_PAUSE: Duration = Duration::from_millis(200);

fn endpoint(url: &str, tls: Option<&Credentials>) -> Result<Endpoint> {
    shardsim_host::tls::endpoint(url, tls, Role::Beacon)
        .map_err(|e| Error::Config(format!("beacon address {url:?}: {e}")))
}

fn client(channel: Channel) -> BeaconClient<Channel> {
    BeaconClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

/// Connects to the beacon (over mutual TLS with `tls`), retrying for
/// `CONNECT_PATIENCE` (10 s).
pub async fn connect(url: &str, tls: Option<&Credentials>) -> Result<BeaconClient<Channel>> {
    let endpoint = endpoint(url, tls)?;
    let deadline = tokio::time::Instant::now() + CONNECT_PATIENCE;
    loop {
        match endpoint.connect().await {
            Ok(channel) => return Ok(client(channel)),
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

/// Runs link sessions for as long as the shard lives, starting with `first` and
/// reconnecting to `url` whenever a session ends.
pub async fn run(shared: Arc<Shared>, first: BeaconClient<Channel>, url: String) {
    let mut next = Some(first);
    let mut warned = Instant::now() - Duration::from_secs(60);
    loop {
        let client = match next.take() {
            Some(c) => c,
            None => match endpoint(&url, shared.config.tls.as_ref()).map(|e| e.connect_lazy()) {
                Ok(channel) => client(channel),
                Err(e) => {
                    tracing::error!("{e}");
                    return;
                }
            },
        };
        let status = session(&shared, client).await;
        lock(&shared.counters).link_retries += 1;
        if warned.elapsed() >= Duration::from_secs(5) {
            warned = Instant::now();
            tracing::warn!(%status, "beacon link lost; reconnecting");
        }
        tokio::time::sleep(RECONNECT_PAUSE).await;
    }
}

/// One session: both streams until one fails; returns why.
async fn session(shared: &Shared, mut client: BeaconClient<Channel>) -> tonic::Status {
    let inbound = match client
        .subscribe(pb::SubscribeRequest {
            shard: shared.config.shard,
            epoch: known_epoch(shared),
        })
        .await
    {
        Ok(r) => r.into_inner(),
        Err(status) => return status,
    };
    // Both directions of the beacon link carry the emulated delay (see `link`) and any
    // injected faults.
    let delay = shared.config.beacon_link;
    let seed = u64::from(shared.config.shard);
    let inbound = Delayed::new(inbound, delay, seed << 1).with_faults(shared.link_faults.clone());
    let (headers, to_send) = mpsc::channel(HEADER_QUEUE);
    let submit = client.submit_headers(
        Delayed::new(ReceiverStream::new(to_send), delay, (seed << 1) | 1)
            .with_faults(shared.link_faults.clone()),
    );
    // A new session sends everything not yet notarized.
    lock(&shared.outgoing).resend_all();
    tokio::select! {
        r = submit => r.err().unwrap_or_else(|| tonic::Status::aborted("beacon closed the header stream")),
        status = receive(shared, inbound) => status,
        status = pump(shared, headers) => status,
    }
}

/// Sends each new submission, and all of them again when the oldest has waited too
/// long for notarization ([`Outgoing::due`](crate::protocol::Outgoing::due)).
async fn pump(shared: &Shared, headers: mpsc::Sender<pb::HeaderSubmission>) -> tonic::Status {
    loop {
        let (due, resent) = lock(&shared.outgoing).due(shared.clock.now());
        if resent > 0 {
            lock(&shared.counters).headers_retransmitted += resent;
        }
        for submission in due {
            if headers.send(submission).await.is_err() {
                return tonic::Status::aborted("header stream closed");
            }
        }
        let _ = tokio::time::timeout(RETRANSMIT / 4, shared.outgoing_ready.notified()).await;
    }
}

/// Handles the Subscribe stream; returns when it fails, ends, or lost a message.
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
        if let Some(lost) = take(shared, &msg) {
            return tonic::Status::data_loss(format!("{lost} lost on the way; resubscribing"));
        }
    }
}

/// Takes one message from the beacon — a block, a delivery or a tip — as both drivers
/// do: the process's Subscribe stream and the simulator's network. Returns what was
/// lost when a tip shows a gap (the subscription must start again).
pub fn take(shared: &Shared, msg: &pb::Inbound) -> Option<String> {
    match &msg.kind {
        Some(pb::inbound::Kind::Block(block)) => notarize(shared, block),
        Some(pb::inbound::Kind::Deliveries(ds)) => ds.items.iter().for_each(|d| deliver(shared, d)),
        Some(pb::inbound::Kind::Tip(tip)) => return behind(shared, tip),
        None => tracing::warn!("empty message from the beacon ignored"),
    }
    None
}

/// The last epoch change read from the beacon (0: none, or none since a restart — the
/// beacon then sends them all again, and the block loop skips those it has applied).
fn known_epoch(shared: &Shared) -> u32 {
    lock(&shared.inbound).epoch_read
}

/// What was lost, if the tip shows something: an epoch change, or receipts from the
/// first source whose routed receipts we have not all admitted (a delivery, or the
/// block it needed).
fn behind(shared: &Shared, tip: &pb::Tip) -> Option<String> {
    let known = known_epoch(shared);
    if tip.epoch > known {
        return Some(format!(
            "the announcement of epoch {} (the last read is {known}) was",
            tip.epoch
        ));
    }
    let inbound = lock(&shared.inbound);
    (0..shared.config.shards)
        .filter(|&src| src != shared.config.shard)
        .find(|&src| {
            tip.routed
                .get(src as usize)
                .is_some_and(|&routed| routed > inbound.channels.next_seq(src))
        })
        .map(|src| format!("receipts from shard {src} were"))
}

/// Step 4: remember the receipts roots the beacon notarized, forget our submissions it
/// notarized, and (two-phase) queue the block's decisions that concern this shard for
/// the block loop.
pub(crate) fn notarize(shared: &Shared, block: &pb::BeaconBlock) {
    let me = shared.config.shard;
    let mut inbound = lock(&shared.inbound);
    let mut ours = None;
    for c in &block.crosslinks {
        match crosslink_from_wire(c) {
            Ok((src, height, root)) => {
                inbound.channels.notarize(src, height, root);
                if src == me {
                    ours = Some(height);
                }
            }
            Err(e) => tracing::warn!(beacon_height = block.height, "crosslink ignored: {e}"),
        }
    }
    if let Some(height) = ours {
        lock(&shared.outgoing).notarized(height);
    }
    if let Some(e) = &block.epoch {
        match epoch_from_wire(e) {
            Ok(change) => {
                inbound.epoch_read = inbound.epoch_read.max(change.epoch);
                inbound
                    .epochs
                    .entry(change.epoch)
                    .or_insert((block.height, change));
            }
            Err(e) => tracing::warn!(beacon_height = block.height, "epoch change ignored: {e}"),
        }
    }
    // Blocks come again after a resubscription: their decisions were read already.
    let fresh = block.height > inbound.beacon_height;
    inbound.beacon_height = inbound.beacon_height.max(block.height);
    if shared.config.two_phase.is_none() || !fresh {
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
    shared.doorbell.ring();
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
    // A committee's proposals carry each delivery with its certified source header,
    // for the other validators to check: one without it cannot be proposed.
    let checked = checked.and_then(|x| {
        if shared.config.committee.is_some() && d.source.is_none() {
            Err("delivery without its certified source header".to_string())
        } else {
            Ok(x)
        }
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
            let arrived = shared.clock.now();
            let notarized = inbound.beacon_height;
            // The test fault of `ShardConfig::lose_receipts`: admitted (the channel
            // moves on) but never queued, so never applied.
            let lose = (inbound.to_lose as usize).min(batch.receipts.len() - skip);
            inbound.to_lose -= lose as u64;
            let first = skip + lose;
            let fresh = batch.receipts[first..]
                .iter()
                .zip(batch.first_seq + first as u64..)
                .map(|(&receipt, seq)| QueuedReceipt {
                    src,
                    seq,
                    receipt,
                    arrived,
                    notarized,
                });
            inbound.queue.extend(fresh);
            if shared.config.committee.is_some() {
                inbound.proofs[src as usize].push_back(HeldProof {
                    first_seq: batch.first_seq,
                    end_seq: batch.end_seq(),
                    delivery: Arc::new(d.clone()),
                });
            }
            inbound.duplicates += skip as u64;
            drop(inbound);
            shared.doorbell.ring();
        }
        Ok(Admitted::Duplicate) => inbound.duplicates += batch.receipts.len() as u64,
        // A lost message, not a bad one: the next tip shows the gap and the link
        // resubscribes.
        Err(
            e @ (cross_shard::Error::NotNotarized { .. } | cross_shard::Error::ChannelGap { .. }),
        ) => {
            inbound.out_of_order += 1;
            tracing::debug!("delivery out of order: {e}");
        }
        Err(e) => {
            inbound.rejected += 1;
            tracing::warn!("delivery refused: {e}");
        }
    }
}
