//! State sync: a validator that starts far behind its committee — restarted after a
//! long outage, or joining with an empty store — takes a recent snapshot from its
//! peers instead of executing every block since genesis, then catches up the rest
//! block by block as any validator does.
//!
//! ```text
//!  validator (block thread, before its machine starts)      peers (their links' tasks)
//!  want_manifest ───────────────────────────────────────────► latest snapshot's manifest
//!  keep the manifests whose header a quorum certified,
//!  the highest at least snapshot_every blocks ahead
//!  want_chunk(h, i) ──► one peer offering that manifest ─────► chunk i
//!    chunk's hash is the manifest's? no → the same chunk from the next such peer
//!  all chunks: rebuild the ledger; its root must be the certified header's
//!    (BlockProducer::install); no → the next manifest
//!  store it as this validator's own snapshot; the machine starts at h + 1
//! ```
//!
//! Every check is against what a quorum signed: the manifest's chunk hashes only
//! say which bytes a peer *claims*, so a lying peer can waste a fetch, never plant a
//! state. Peers that offer the same snapshot (same height, same chunk hashes — every
//! honest validator encodes one height's state to the same bytes) are interchangeable
//! for each chunk.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use cross_shard::Header;
use cross_shard::sync::lock;
use prost::Message as _;
use shardsim_proto::convert::cert_from_wire;
use shardsim_proto::pb;
use shardsim_proto::pb::consensus_message::Kind;

use crate::block::BlockProducer;
use crate::config::CommitteeConfig;
use crate::io::chunks;
use crate::io::{SNAPSHOT_HEADERS, SNAPSHOTS, Shared, Wake};

/// How long to wait for the peers' manifests.
const MANIFEST_WAIT: Duration = Duration::from_secs(2);
/// How long to wait for one chunk before asking the next peer.
const CHUNK_WAIT: Duration = Duration::from_secs(3);

/// What state sync did, for `Status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Synced {
    /// The height of the snapshot installed (0: none).
    pub height: u64,
    /// Chunks refused: not the bytes their manifest names.
    pub chunks_refused: u64,
}

/// A manifest one or more peers offer, its header checked.
struct Offer {
    manifest: pb::SnapshotManifest,
    header: Header,
    peers: Vec<u16>,
}

/// When the beacon has notarized the shard's chain up to `notarized`, at least
/// `snapshot_every` blocks beyond `producer`: takes a snapshot from the peers that far
/// ahead and installs it. Leaves `producer` as it is otherwise (at a cluster's
/// genesis, after a short outage), or when no offer checks out.
pub fn catch_up(
    producer: &mut BlockProducer,
    shared: &Shared,
    (committee, notarized): (&CommitteeConfig, u64),
    wakes: &Receiver<Wake>,
) -> crate::Result<Synced> {
    let every = shared.config.snapshot_every;
    let (Some(links), Some(store)) = (shared.peers.as_ref(), shared.store.as_ref()) else {
        return Ok(Synced::default());
    };
    if every == 0 || notarized < producer.height + every {
        return Ok(Synced::default());
    }
    let n = committee.committee.len() as u16;
    let peers: Vec<u16> = (0..n).filter(|&p| p != committee.me).collect();
    for &p in &peers {
        links.send(
            p,
            pb::ConsensusMessage {
                kind: Some(Kind::WantManifest(0)),
            },
        );
    }
    let mut offers: Vec<Offer> = Vec::new();
    let mut answered = 0;
    let until = Instant::now() + MANIFEST_WAIT;
    while answered < peers.len() {
        let Some((from, kind)) = next_reply(producer, shared, wakes, until)? else {
            break;
        };
        let Kind::Manifest(manifest) = kind else {
            continue;
        };
        answered += 1;
        let Some(header) = checked_header(&manifest, committee) else {
            tracing::warn!(
                from,
                "a snapshot manifest without a valid certificate, ignored"
            );
            continue;
        };
        if manifest.height < producer.height + every {
            continue;
        }
        // The same snapshot, whoever offers it (their certificates may differ).
        let same = |o: &&mut Offer| {
            (o.manifest.height, o.manifest.size, &o.manifest.chunks)
                == (manifest.height, manifest.size, &manifest.chunks)
        };
        match offers.iter_mut().find(same) {
            Some(o) => o.peers.push(from),
            None => offers.push(Offer {
                manifest,
                header,
                peers: vec![from],
            }),
        }
    }
    // The snapshot most peers offer first (any of them can send each chunk), then the
    // newest; each offer's peers in index order.
    offers.sort_by_key(|o| std::cmp::Reverse((o.peers.len(), o.manifest.height)));
    for o in &mut offers {
        o.peers.sort_unstable();
    }
    let mut synced = Synced::default();
    for offer in offers {
        let height = offer.manifest.height;
        let Some(bytes) = fetch(&offer, producer, shared, wakes, &mut synced)? else {
            tracing::warn!(height, "no peer sent this snapshot whole; trying the next");
            continue;
        };
        let snapshot = match pb::Snapshot::decode(bytes.as_slice()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(height, "a snapshot that does not decode: {e}");
                continue;
            }
        };
        if let Err(why) = producer.install(shared, snapshot, &offer.header) {
            tracing::warn!(height, %why, "snapshot refused");
            continue;
        }
        let header = offer.manifest.header.clone().unwrap_or_default();
        store.replace(
            height,
            &[
                (SNAPSHOTS, &bytes),
                (SNAPSHOT_HEADERS, &header.encode_to_vec()),
            ],
        )?;
        lock(&shared.counters).recovered_height = height;
        tracing::info!(
            height,
            bytes = bytes.len(),
            chunks_refused = synced.chunks_refused,
            "state synced from the committee's snapshot"
        );
        synced.height = height;
        return Ok(synced);
    }
    Ok(synced)
}

/// The manifest's header, when its certificate is a quorum's of `committee` for that
/// very header and its state root, at the manifest's height.
fn checked_header(manifest: &pb::SnapshotManifest, committee: &CommitteeConfig) -> Option<Header> {
    let certified = manifest.header.as_ref()?;
    let header = Header::try_from(certified.header.as_ref()?).ok()?;
    let cert = cert_from_wire(certified.cert.as_ref()?).ok()?;
    (cert.verify(&committee.committee).is_ok()
        && cert.height == header.height
        && cert.value.block == header.hash()
        && cert.value.state_root == header.state_root
        && header.height == manifest.height)
        .then_some(header)
}

/// Every chunk of `offer`, each from the first of its peers that sends the right
/// bytes in time; `None` when a chunk came right from none of them.
fn fetch(
    offer: &Offer,
    producer: &mut BlockProducer,
    shared: &Shared,
    wakes: &Receiver<Wake>,
    synced: &mut Synced,
) -> crate::Result<Option<Vec<u8>>> {
    let Some(links) = shared.peers.as_ref() else {
        return Ok(None);
    };
    let height = offer.manifest.height;
    let mut bytes = Vec::with_capacity(offer.manifest.size as usize);
    for index in 0..offer.manifest.chunks.len() as u32 {
        let mut got = None;
        // Start each chunk at a different peer, so the load is shared.
        let start = index as usize % offer.peers.len();
        for &peer in offer
            .peers
            .iter()
            .cycle()
            .skip(start)
            .take(offer.peers.len())
        {
            links.send(
                peer,
                pb::ConsensusMessage {
                    kind: Some(Kind::WantChunk(pb::ChunkRequest { height, index })),
                },
            );
            let until = Instant::now() + CHUNK_WAIT;
            while let Some((from, kind)) = next_reply(producer, shared, wakes, until)? {
                let Kind::Chunk(c) = kind else { continue };
                if from != peer || c.height != height || c.index != index {
                    continue;
                }
                if chunks::chunk_ok(&offer.manifest, index, &c.data) {
                    got = Some(c.data);
                } else {
                    synced.chunks_refused += 1;
                    tracing::warn!(from, height, index, "a corrupt snapshot chunk refused");
                }
                break;
            }
            if got.is_some() {
                break;
            }
        }
        match got {
            Some(data) => bytes.extend_from_slice(&data),
            None => return Ok(None),
        }
    }
    Ok(Some(bytes))
}

/// The next state-sync reply from a peer before `until`, answering recounts on the
/// way; other consensus traffic is dropped (the machine, once started, asks again for
/// what it needs). `None` at `until`.
fn next_reply(
    producer: &mut BlockProducer,
    shared: &Shared,
    wakes: &Receiver<Wake>,
    until: Instant,
) -> crate::Result<Option<(u16, Kind)>> {
    loop {
        let wait = until.saturating_duration_since(Instant::now());
        match wakes.recv_timeout(wait) {
            Ok(Wake::Peer(from, m)) => {
                if let Some(k @ (Kind::Manifest(_) | Kind::Chunk(_))) = m.kind {
                    return Ok(Some((from, k)));
                }
            }
            Ok(Wake::Recount(reply)) => {
                let _ = reply.send(producer.recount(shared));
            }
            Ok(Wake::Work) => {}
            Err(RecvTimeoutError::Timeout) => return Ok(None),
            Err(RecvTimeoutError::Disconnected) => return Ok(None),
        }
        if shared.doorbell.stopped() {
            return Ok(None);
        }
    }
}
