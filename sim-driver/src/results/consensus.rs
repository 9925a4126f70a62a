//! `summary.json`'s `consensus` section: how each committee decided its blocks, from
//! the blocks' events (commit latency, rounds, leaders, as the tracker kept them) and
//! from every validator's own Status (view changes, timeouts, messages, misbehaviour
//! seen).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::summary::Percentiles;
use crate::measure::settle::FinalStatus;
use crate::measure::tracker::Tracker;
use crate::scenario::Scenario;

/// Consensus inside the shards' committees.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConsensusSummary {
    /// The protocol: Tendermint (docs/architecture.md §39).
    pub protocol: String,
    /// Validators per shard.
    pub validators: u32,
    /// Faulty validators each committee tolerates: ⌊(validators − 1)/3⌋.
    pub faults_tolerated: u32,
    /// Precommits that certify a block: validators − faults_tolerated.
    pub quorum: u32,
    /// Per shard.
    pub shards: Vec<CommitteeSummary>,
}

/// One committee's consensus over the run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CommitteeSummary {
    /// The shard.
    pub shard: u32,
    /// Blocks committed (reported to the driver).
    pub blocks: u64,
    /// Commit latency per block, from the proposal (as the first validator to report
    /// saw it) to its commit, ms.
    pub commit_ms: Percentiles,
    /// Blocks decided in a round above 0: after at least one view change.
    pub blocks_after_view_change: u64,
    /// Rounds begun above round 0 (view changes), most seen by one honest validator.
    pub view_changes: u64,
    /// Timeouts that fired with effect, most seen by one honest validator.
    pub timeouts: u64,
    /// Consensus messages all validators sent, per block.
    pub messages_per_block: f64,
    /// Their bytes, per block.
    pub bytes_per_block: f64,
    /// Committed blocks by the validator that proposed them (index → blocks).
    pub leaders: BTreeMap<u32, u64>,
    /// Misbehaviour the honest validators reported: equivocations (two proposals or
    /// two votes for one step), votes naming a wrong state root, malformed or badly
    /// signed messages.
    pub equivocations: u64,
    /// See `equivocations`.
    pub wrong_roots: u64,
    /// See `equivocations`.
    pub bad_messages: u64,
    /// Proposals the honest validators refused for their inputs: receipts without a
    /// valid proof and certificate or out of channel order, transactions not signed
    /// by their senders.
    #[serde(default)]
    pub inputs_refused: u64,
    /// Each validator's committed height at the end, by index (0: it did not answer):
    /// a member that fell behind and caught up ends level with the others.
    #[serde(default)]
    pub heights: Vec<u64>,
    /// State sync: each validator that took the shard's state from its peers' snapshot
    /// when it started, with the snapshot's height (index → height).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub synced: BTreeMap<u32, u64>,
    /// Snapshot chunks refused on the way: not the bytes their manifest names.
    #[serde(default)]
    pub snapshot_chunks_refused: u64,
}

/// The consensus figures of every honest validator that answered.
pub(super) fn honest_validators(
    status: &FinalStatus,
) -> impl Iterator<Item = &shardsim_proto::pb::ConsensusStatus> {
    status
        .validators
        .iter()
        .filter(|(_, honest)| *honest)
        .filter_map(|(s, _)| s.consensus.as_ref())
}

/// The consensus section from the validators' own statuses and the blocks' events.
pub(super) fn consensus_summary(
    scenario: &Scenario,
    tracker: &Tracker,
    status: &FinalStatus,
) -> Option<ConsensusSummary> {
    let n = scenario.cluster.validators;
    if n < 2 {
        return None;
    }
    let f = (n - 1) / 3;
    let shards = status
        .validators
        .chunks(n as usize)
        .enumerate()
        .map(|(k, committee)| {
            let track = tracker.committees.get(k);
            let blocks = track.map_or(0, |t| t.commit.len());
            let honest = || {
                committee
                    .iter()
                    .filter(|(_, h)| *h)
                    .filter_map(|(s, _)| s.consensus.as_ref())
            };
            let all = || committee.iter().filter_map(|(s, _)| s.consensus.as_ref());
            let per_block = |total: u64| {
                if blocks == 0 {
                    0.0
                } else {
                    total as f64 / blocks as f64
                }
            };
            CommitteeSummary {
                shard: k as u32,
                blocks,
                commit_ms: track.map_or_else(Percentiles::default, |t| Percentiles::of(&t.commit)),
                blocks_after_view_change: track.map_or(0, |t| t.late_rounds),
                view_changes: honest().map(|c| c.view_changes).max().unwrap_or(0),
                timeouts: honest().map(|c| c.timeouts).max().unwrap_or(0),
                messages_per_block: per_block(all().map(|c| c.messages_sent).sum()),
                bytes_per_block: per_block(all().map(|c| c.bytes_sent).sum()),
                leaders: track.map(|t| t.leaders.clone()).unwrap_or_default(),
                equivocations: honest().map(|c| c.equivocations).sum(),
                wrong_roots: honest().map(|c| c.wrong_roots).sum(),
                bad_messages: honest().map(|c| c.bad_signatures).sum(),
                inputs_refused: honest().map(|c| c.inputs_refused).sum(),
                heights: committee.iter().map(|(s, _)| s.height).collect(),
                synced: all()
                    .filter(|c| c.synced_height > 0)
                    .map(|c| (c.validator, c.synced_height))
                    .collect(),
                snapshot_chunks_refused: all().map(|c| c.snapshot_chunks_refused).sum(),
            }
        })
        .collect();
    Some(ConsensusSummary {
        protocol: "tendermint".into(),
        validators: n,
        faults_tolerated: f,
        quorum: n - f,
        shards,
    })
}
