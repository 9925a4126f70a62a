//! The links between the validators of a shard's committee: one bidirectional
//! `Consensus` stream per pair, opened by the validator with the higher index (so
//! that a pair never holds two), and carrying `pb::ConsensusMessage`s both ways.
//!
//! ```text
//!   validator 2 ──Consensus(hello 2, …)──► validator 0      validator 2 ─► validator 1
//!               ◄────── stream of replies ──                (and 1 ─► 0, 3 ─► 0,1,2 …)
//!
//!   block thread ──send(to, msg)──► queue[to] ──session──► stream ──► peer
//!   peer ──► stream ──session──► doorbell (Wake::Peer) ──► block thread
//! ```
//!
//! Each peer has one queue that outlives its sessions: a broken stream is reopened (by
//! the caller side) and the new session drains the same queue. A full queue drops the
//! message — consensus retransmits what matters — and counts it. The caller side
//! delays both directions by the scenario's link latency and jitter and applies the
//! link faults injected on this validator, so each message on a validator link is
//! emulated once, as on the beacon link. This layer only carries bytes: messages are
//! decoded and checked on the block thread ([`crate::validator::wire`]), and the
//! machine verifies every signature.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cross_shard::sync::lock;
use shardsim_host::netem::Delayed;
use shardsim_host::tls::Role;
use shardsim_proto::MAX_MESSAGE_BYTES;
use shardsim_proto::pb;
use shardsim_proto::pb::consensus_message::Kind;
use shardsim_proto::pb::shard_client::ShardClient;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};

use crate::io::chunks;
use crate::io::{SNAPSHOT_HEADERS, SNAPSHOTS, Shared};

/// Messages queued for one peer.
const PEER_QUEUE: usize = 4096;
/// Pause between attempts to reach a peer.
const REDIAL: Duration = Duration::from_millis(200);

/// One peer's queue and the session draining it.
#[derive(Debug)]
struct Peer {
    tx: mpsc::Sender<pb::ConsensusMessage>,
    rx: tokio::sync::Mutex<mpsc::Receiver<pb::ConsensusMessage>>,
    /// The session now draining the queue; a new one replaces it.
    session: std::sync::Mutex<Option<tokio::task::AbortHandle>>,
}

/// The committee links of one validator.
#[derive(Debug)]
pub struct PeerLinks {
    me: u16,
    /// By validator index; `None` at this validator's own.
    peers: Vec<Option<Peer>>,
    /// Messages queued for peers.
    pub sent: AtomicU64,
    /// Their encoded bytes.
    pub bytes: AtomicU64,
    /// Messages dropped on a full queue.
    pub dropped: AtomicU64,
}

impl PeerLinks {
    /// Links for validator `me` of a committee of `n`.
    pub fn new(me: u16, n: usize) -> PeerLinks {
        let peers = (0..n)
            .map(|i| {
                (i != me as usize).then(|| {
                    let (tx, rx) = mpsc::channel(PEER_QUEUE);
                    Peer {
                        tx,
                        rx: tokio::sync::Mutex::new(rx),
                        session: std::sync::Mutex::new(None),
                    }
                })
            })
            .collect();
        PeerLinks {
            me,
            peers,
            sent: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// The messages queued for peer `to`, taken off its queue: what a simulator's
    /// network carries where a process's session would send them.
    pub fn take_queued(&self, to: u16) -> Vec<pb::ConsensusMessage> {
        let Some(Some(peer)) = self.peers.get(to as usize) else {
            return Vec::new();
        };
        let Ok(mut queue) = peer.rx.try_lock() else {
            return Vec::new();
        };
        std::iter::from_fn(|| queue.try_recv().ok()).collect()
    }

    /// Queues `m` for validator `to`; never waits (the block thread calls this).
    pub fn send(&self, to: u16, m: pb::ConsensusMessage) {
        let Some(Some(peer)) = self.peers.get(to as usize) else {
            return;
        };
        use prost::Message as _;
        let len = m.encoded_len() as u64;
        match peer.tx.try_send(m) {
            Ok(()) => {
                self.sent.fetch_add(1, Ordering::Relaxed);
                self.bytes.fetch_add(len, Ordering::Relaxed);
            }
            Err(_) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Whether `from` may open a stream to this validator (it must have a higher index).
    pub fn accepts(&self, from: u32) -> bool {
        from > u32::from(self.me) && (from as usize) < self.peers.len()
    }
}

/// Serves one session with peer `peer` until either side fails: queued messages go
/// out on `out`, messages read from `inbound` go to the block thread. Replaces the
/// peer's previous session.
pub fn spawn_session<S>(
    shared: Arc<Shared>,
    links: Arc<PeerLinks>,
    peer: u16,
    inbound: S,
    out: mpsc::Sender<pb::ConsensusMessage>,
) where
    S: Stream<Item = Result<pb::ConsensusMessage, tonic::Status>> + Send + Unpin + 'static,
{
    let Some(Some(p)) = links.peers.get(peer as usize) else {
        return;
    };
    let mut slot = lock(&p.session);
    if let Some(old) = slot.take() {
        old.abort();
    }
    let task = tokio::spawn({
        let links = links.clone();
        async move { pump(&shared, &links, peer, inbound, out).await }
    });
    *slot = Some(task.abort_handle());
}

async fn pump<S>(
    shared: &Shared,
    links: &PeerLinks,
    peer: u16,
    mut inbound: S,
    out: mpsc::Sender<pb::ConsensusMessage>,
) where
    S: Stream<Item = Result<pb::ConsensusMessage, tonic::Status>> + Unpin,
{
    let Some(Some(p)) = links.peers.get(peer as usize) else {
        return;
    };
    let mut queue = p.rx.lock().await;
    loop {
        tokio::select! {
            m = queue.recv() => match m {
                Some(m) => if out.send(m).await.is_err() { return },
                None => return,
            },
            m = inbound.next() => match m {
                Some(Ok(pb::ConsensusMessage { kind: Some(Kind::WantManifest(_)) })) => {
                    if out.send(serve_manifest(shared)).await.is_err() {
                        return;
                    }
                }
                Some(Ok(pb::ConsensusMessage { kind: Some(Kind::WantChunk(want)) })) => {
                    if let Some(reply) = serve_chunk(shared, &want) && out.send(reply).await.is_err() {
                        return;
                    }
                }
                Some(Ok(m)) => shared.doorbell.deliver(peer, m),
                _ => return,
            },
        }
    }
}

/// State sync, served on the links without the block thread: the manifest of the
/// latest snapshot in this validator's store, or an empty one (height 0) when it has
/// none, so that the asker need not wait for it.
fn serve_manifest(shared: &Shared) -> pb::ConsensusMessage {
    let latest = || -> Option<pb::SnapshotManifest> {
        let store = shared.store.as_ref()?;
        let height = store.last(SNAPSHOTS).ok()??;
        let bytes = store.get_bytes(SNAPSHOTS, height).ok()??;
        let header: pb::CertifiedHeader = store.get(SNAPSHOT_HEADERS, height).ok()??;
        Some(chunks::manifest(height, &bytes, header))
    };
    pb::ConsensusMessage {
        kind: Some(Kind::Manifest(latest().unwrap_or_default())),
    }
}

/// State sync: one chunk of the snapshot of the height asked for, while it is this
/// validator's latest (corrupted on purpose under [`crate::ShardConfig::corrupt_snapshot`]).
fn serve_chunk(shared: &Shared, want: &pb::ChunkRequest) -> Option<pb::ConsensusMessage> {
    let store = shared.store.as_ref()?;
    let bytes = store.get_bytes(SNAPSHOTS, want.height).ok()??;
    let mut data = chunks::chunk(&bytes, want.index)?.to_vec();
    if shared.config.corrupt_snapshot
        && let Some(b) = data.first_mut()
    {
        *b ^= 0xff;
    }
    Some(pb::ConsensusMessage {
        kind: Some(Kind::Chunk(pb::SnapshotChunk {
            height: want.height,
            index: want.index,
            data,
        })),
    })
}

/// Keeps a stream open to each validator with a lower index, for as long as the
/// shard runs.
pub fn dial_all(shared: &Arc<Shared>, links: &Arc<PeerLinks>, peers: &[(u16, String)]) {
    for (peer, url) in peers {
        tokio::spawn(dial(shared.clone(), links.clone(), *peer, url.clone()));
    }
}

async fn dial(shared: Arc<Shared>, links: Arc<PeerLinks>, peer: u16, url: String) {
    let delay = shared.config.beacon_link;
    let seed =
        (u64::from(shared.config.shard) << 32) | (u64::from(links.me) << 16) | u64::from(peer);
    loop {
        let role = Role::Validator {
            shard: shared.config.shard,
            index: u32::from(peer),
        };
        if let Ok(endpoint) = shardsim_host::tls::endpoint(&url, shared.config.tls.as_ref(), role)
            && let Ok(channel) = endpoint.connect().await
        {
            let mut client = ShardClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES);
            let (out, rx) = mpsc::channel(64);
            let hello = pb::ConsensusMessage {
                kind: Some(Kind::Hello(u32::from(links.me))),
            };
            let _ = out.try_send(hello);
            let outbound = Delayed::new(ReceiverStream::new(rx), delay, seed << 1)
                .with_faults(shared.link_faults.clone());
            if let Ok(reply) = client.consensus(outbound).await {
                let inbound = Delayed::new(reply.into_inner(), delay, (seed << 1) | 1)
                    .with_faults(shared.link_faults.clone());
                pump(&shared, &links, peer, Box::pin(inbound), out).await;
            }
        }
        if shared.doorbell.stopped() {
            return;
        }
        tokio::time::sleep(REDIAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_validators_above_this_one_may_call_it_and_a_full_queue_drops() {
        let links = PeerLinks::new(1, 4);
        assert!(
            !links.accepts(0),
            "validator 0 is called by 1, never calls it"
        );
        assert!(!links.accepts(1), "not itself");
        assert!(links.accepts(2) && links.accepts(3));
        assert!(!links.accepts(4), "beyond the committee");
        // Messages to oneself or to no one are not queued.
        links.send(1, pb::ConsensusMessage::default());
        links.send(9, pb::ConsensusMessage::default());
        assert_eq!(links.sent.load(Ordering::Relaxed), 0);
        for _ in 0..PEER_QUEUE + 3 {
            links.send(2, pb::ConsensusMessage::default());
        }
        assert_eq!(links.sent.load(Ordering::Relaxed), PEER_QUEUE as u64);
        assert_eq!(
            links.dropped.load(Ordering::Relaxed),
            3,
            "a full queue drops, never waits"
        );
    }
}
