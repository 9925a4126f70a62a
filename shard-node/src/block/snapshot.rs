//! Snapshots: a shard's whole state after a committed block, so that neither a
//! restart nor a validator far behind has to replay the chain from genesis.
//!
//! ```text
//!  every snapshot_every blocks, after the block is stored:
//!    ledger image + chain tip + channel sequences + cumulative figures + recent ids
//!      ──encode──► store: `snapshots` (latest only) + `snapshot_headers` (its
//!                  certified header)
//!
//!  restart (`recover`): latest snapshot ──check root vs its header──► install
//!                       then replay only the stored blocks above it
//!
//!  state sync (a committee's validator far behind or empty, `validator::sync`):
//!    peers ──manifest (height, chunk hashes, certified header)──► check the
//!    certificate ─► chunks, each checked against its hash (a bad one is fetched from
//!    another peer) ─► assemble ─► rebuild the ledger ─► its root must be the
//!    certified header's ─► install, store, then catch up block by block
//! ```
//!
//! A snapshot is trusted for nothing: its ledger is rebuilt and hashed, and the root
//! must be the one in a header that a quorum of the committee certified (a shard alone
//! certifies its own headers). What the state root does not cover — the figures, the
//! channel sequence numbers, the late-copy filter — comes from the same peer; a peer
//! lying about those could mislead the figures but not the state.
//!
//! Not taken under two-phase commit (its lock table is not in the image: such a shard
//! replays its whole store) nor by a Byzantine shard.

use cross_shard::channel::InboundChannels;
use cross_shard::placement::{table_from_bytes, table_to_bytes};
use cross_shard::sync::lock;
use cross_shard::{Hash, Header, Placement};
use prost::Message as _;
use shardsim_proto::pb;

use super::producer::BlockProducer;
use crate::io::{RecentIds, SNAPSHOT_HEADERS, SNAPSHOTS, Shared};
use crate::state::{Key, Ledger, LedgerImage, State};

/// Why a snapshot was not taken in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// It does not decode, or does not describe this shard.
    #[error("a malformed snapshot: {0}")]
    Malformed(String),
    /// Its rebuilt state is not the certified one.
    #[error(
        "the snapshot of height {height} rebuilds to root {got}, not the certified {certified}"
    )]
    WrongRoot {
        /// Its height.
        height: u64,
        /// The root it rebuilds to.
        got: Hash,
        /// The certified header's.
        certified: Hash,
    },
}

impl BlockProducer {
    /// This shard's state now, as a snapshot; `None` when it keeps state the image
    /// lacks (two-phase, Byzantine) or holds a speculative candidate.
    pub(crate) fn snapshot(&mut self, shared: &Shared) -> Option<pb::Snapshot> {
        if self.two_phase.is_some() || shared.config.byzantine {
            return None;
        }
        let image = self.ledger.image()?;
        let c = lock(&shared.counters).clone();
        let flat = |v: &[Vec<(u64, u64)>]| v.iter().flatten().flat_map(|&(n, x)| [n, x]).collect();
        let (recent, handed_back) = lock(&shared.recent).ids();
        Some(pb::Snapshot {
            height: self.height,
            last_hash: self.last_hash.0.to_vec(),
            state_root: self.ledger.state_root().0.to_vec(),
            out_seq: self.out_seq.clone(),
            applied_seq: self.applied_seq.clone(),
            ledger: Some(image_to_wire(&image)),
            committed: c.committed,
            sent_cross: c.sent_cross,
            rejected: c.rejected,
            entered: c.entered,
            outbound: flat(&c.outbound),
            inbound: flat(&c.inbound),
            recent,
            handed_back,
        })
    }

    /// After block `self.height` is stored with its `header`: takes a snapshot when
    /// one is due and keeps it (the latest only) in the store.
    pub(crate) fn snapshot_if_due(
        &mut self,
        shared: &Shared,
        header: &pb::CertifiedHeader,
    ) -> crate::Result<()> {
        let every = shared.config.snapshot_every;
        let Some(store) = &shared.store else {
            return Ok(());
        };
        if every == 0 || self.height % every != 0 {
            return Ok(());
        }
        if let Some(snapshot) = self.snapshot(shared) {
            store.replace(
                self.height,
                &[
                    (SNAPSHOTS, &snapshot.encode_to_vec()),
                    (SNAPSHOT_HEADERS, &header.encode_to_vec()),
                ],
            )?;
        }
        Ok(())
    }

    /// Takes in `snapshot`, whose height's header is `header`: rebuilds its ledger and
    /// checks the root against the header's, then makes it this producer's state, the
    /// shard's figures and where its inbound channels resume. Nothing changes when it
    /// is refused.
    pub(crate) fn install(
        &mut self,
        shared: &Shared,
        snapshot: pb::Snapshot,
        header: &Header,
    ) -> Result<(), Refused> {
        let malformed = |why: &str| Refused::Malformed(why.to_string());
        let shards = shared.config.shards as usize;
        let hash = |b: &[u8]| <[u8; 32]>::try_from(b).map(Hash);
        let last_hash = hash(&snapshot.last_hash).map_err(|_| malformed("a tip hash"))?;
        if snapshot.height != header.height
            || last_hash != header.hash()
            || header.shard != shared.config.shard
        {
            return Err(malformed("its height or tip is not its header's"));
        }
        if snapshot.out_seq.len() != shards || snapshot.applied_seq.len() != shards {
            return Err(malformed("channel sequences of another cluster"));
        }
        let assets = shared.config.tokens as usize + 1;
        let channels = |v: &[u64]| -> Result<Vec<Vec<(u64, u64)>>, Refused> {
            if v.len() != assets * shards * 2 {
                return Err(malformed("channel figures of another cluster"));
            }
            Ok(v.chunks_exact(shards * 2)
                .map(|a| a.chunks_exact(2).map(|p| (p[0], p[1])).collect())
                .collect())
        };
        let (outbound, inbound) = (channels(&snapshot.outbound)?, channels(&snapshot.inbound)?);
        let image = snapshot
            .ledger
            .as_ref()
            .ok_or_else(|| malformed("no ledger"))
            .and_then(|l| {
                image_from_wire(l, (shared.config.shards, assets - 1)).map_err(Refused::Malformed)
            })?;
        // Before the block loop runs (a restart, state sync): every core may help.
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let mut ledger = Ledger::from_image(*State::world(&self.ledger), image, threads)
            .map_err(Refused::Malformed)?;
        let got = ledger.state_root();
        if got != header.state_root {
            return Err(Refused::WrongRoot {
                height: header.height,
                got,
                certified: header.state_root,
            });
        }
        self.ledger = ledger;
        self.height = snapshot.height;
        self.last_hash = last_hash;
        self.out_seq = snapshot.out_seq;
        self.applied_seq = snapshot.applied_seq;
        let mut c = lock(&shared.counters);
        c.height = self.height;
        c.state_root = got;
        c.committed = snapshot.committed;
        c.sent_cross = snapshot.sent_cross;
        c.rejected = snapshot.rejected;
        c.entered = snapshot.entered;
        c.outbound = outbound;
        c.inbound = inbound;
        for (asset, total) in c.balance_totals.iter_mut().enumerate() {
            *total = self.ledger.total(asset as u32);
        }
        drop(c);
        let cfg = &shared.config;
        lock(&shared.inbound).channels =
            InboundChannels::resume(cfg.shard, cfg.shards, &self.applied_seq);
        *lock(&shared.recent) =
            RecentIds::restored(&snapshot.recent, &snapshot.handed_back, self.ledger.epoch());
        Ok(())
    }
}

fn image_to_wire(image: &LedgerImage) -> pb::LedgerImage {
    let mut wire = pb::LedgerImage {
        epoch: image.epoch,
        placement: image
            .placement
            .table()
            .map(|t| table_to_bytes(image.placement.shards(), t))
            .unwrap_or_default(),
        ids: image.ids.clone(),
        balances: image.accounts.iter().map(|v| v[0]).collect(),
        nonces: image.accounts.iter().map(|v| v[1]).collect(),
        tokens: image.tokens.iter().flatten().copied().collect(),
        exporting_row: image.exporting.iter().map(|e| e.0).collect(),
        exporting_to: image.exporting.iter().map(|e| e.1).collect(),
        totals: image.totals.clone(),
        ..Default::default()
    };
    for &(key, value) in &image.objects {
        let (tag, a, b) = crate::state::key_parts(key);
        wire.object_tag.push(tag);
        wire.object_a.push(a);
        wire.object_b.push(b);
        wire.object_v0.push(value[0]);
        wire.object_v1.push(value[1]);
    }
    wire
}

/// The image `wire` describes, for a cluster of `shards` shards and `tokens` tokens.
fn image_from_wire(
    wire: &pb::LedgerImage,
    (shards, tokens): (u32, usize),
) -> Result<LedgerImage, String> {
    let rows = wire.ids.len();
    let n = wire.object_tag.len();
    if wire.balances.len() != rows
        || wire.nonces.len() != rows
        || wire.tokens.len() != tokens * rows
        || [
            &wire.object_a,
            &wire.object_b,
            &wire.object_v0,
            &wire.object_v1,
        ]
        .iter()
        .any(|c| c.len() != n)
        || wire.exporting_row.len() != wire.exporting_to.len()
    {
        return Err("columns of different lengths".into());
    }
    let objects = (0..n)
        .map(|i| {
            let key: Key =
                crate::state::key_of(wire.object_tag[i], wire.object_a[i], wire.object_b[i])?;
            Ok((key, [wire.object_v0[i], wire.object_v1[i]]))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(LedgerImage {
        epoch: wire.epoch,
        placement: if wire.placement.is_empty() {
            Placement::new(shards).ok_or("no shards")?
        } else {
            table_from_bytes(&wire.placement, shards)?
        },
        ids: wire.ids.clone(),
        accounts: wire
            .balances
            .iter()
            .zip(&wire.nonces)
            .map(|(&b, &n)| [b, n])
            .collect(),
        tokens: (0..tokens)
            .map(|t| wire.tokens[t * rows..(t + 1) * rows].to_vec())
            .collect(),
        objects,
        exporting: wire
            .exporting_row
            .iter()
            .copied()
            .zip(wire.exporting_to.iter().copied())
            .collect(),
        totals: wire.totals.clone(),
    })
}
