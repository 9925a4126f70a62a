//! Settling a run: waiting until nothing is queued or in flight anywhere (or a time
//! limit), then every process's final status — each shard's with a recount of its state.

use std::time::{Duration, Instant};

use shardsim_proto::pb;
use shardsim_proto::pb::beacon_client::BeaconClient;
use shardsim_proto::pb::shard_client::ShardClient;
use tonic::transport::Channel;

/// What the shards and the beacon reported at the end.
#[derive(Debug, Clone)]
pub struct FinalStatus {
    /// Each shard's status, index = shard id (all zero for a shard that did not
    /// answer: see `silent`). With committees, the status of the honest validator
    /// that committed the most.
    pub shards: Vec<shardsim_proto::pb::ShardStatus>,
    /// With committees: every validator's status, by slot (`k · validators + v`),
    /// and whether it is honest; empty for shards that propose alone.
    pub validators: Vec<(shardsim_proto::pb::ShardStatus, bool)>,
    /// The shard processes' names, by slot (what `submitted` is indexed by).
    pub names: Vec<String>,
    /// The beacon's status (all zero if it did not answer).
    pub beacon: shardsim_proto::pb::BeaconStatus,
    /// Processes that did not answer the final Status request: nothing they hold can
    /// be checked, so every invariant that needs them fails.
    pub silent: Vec<String>,
    /// Committee members that did not answer either, in committees that kept a
    /// quorum (at most f silent): their committee's answers stand for them, and they
    /// are named as faults observed, not failures (`measure::observed`).
    pub tolerated: Vec<String>,
    /// Per shard process, (sent, accepted): transactions the driver sent on the submit
    /// stream and the process said it accepted; `None` when the stream did not end
    /// normally.
    pub submitted: Vec<Option<(u64, u64)>>,
    /// Per shard, transactions the driver still held for it, never sent (the shard
    /// had stopped reading).
    pub held: Vec<u64>,
    /// Whether nothing was left anywhere.
    pub quiescent: bool,
}

/// How long a finished run waits for the cluster to go quiet before its final Status.
const SETTLE_LIMIT: Duration = Duration::from_secs(10);
/// How long the driver waits for any one answer from a process (a Status, a fault
/// injection, a stream's end) before it counts the process as silent.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(1);

/// With committees (`n` validators per shard, statuses by slot), each shard is
/// represented by its honest validator with the most blocks (a lagging one would not
/// have reported what the driver saw), and every validator's status comes with whether
/// its chain counts for the agreement check: honest, and not `quiet` (a silent member's
/// chain cannot be compared — no evidence either way). A shard alone is its own.
pub fn represent(
    statuses: Vec<pb::ShardStatus>,
    n: usize,
    honest: &dyn Fn(usize) -> bool,
    quiet: &[usize],
) -> (Vec<pb::ShardStatus>, Vec<(pb::ShardStatus, bool)>) {
    if n == 1 {
        return (statuses, Vec::new());
    }
    let representatives = statuses
        .chunks(n)
        .enumerate()
        .map(|(k, committee)| {
            committee
                .iter()
                .enumerate()
                .filter(|(v, _)| honest(k * n + v))
                .max_by_key(|(_, s)| s.height)
                .map(|(_, s)| s.clone())
                .unwrap_or_default()
        })
        .collect();
    let all = statuses
        .into_iter()
        .enumerate()
        .map(|(i, s)| (s, honest(i) && !quiet.contains(&i)))
        .collect();
    (representatives, all)
}

/// Whether these final statuses show nothing queued or in flight anywhere: every
/// receipt emitted applied, none in flight at the beacon, no two-phase transaction
/// open, every mempool and receipt queue empty.
pub fn quiescent(
    shards: &[pb::ShardStatus],
    validators: &[(pb::ShardStatus, bool)],
    beacon: &pb::BeaconStatus,
) -> bool {
    let emitted: u64 = shards
        .iter()
        .flat_map(|s| &s.outbound)
        .map(|c| c.receipts)
        .sum();
    let applied: u64 = shards
        .iter()
        .flat_map(|s| &s.inbound)
        .map(|c| c.receipts)
        .sum();
    emitted == applied
        && beacon.inflight_receipts == 0
        && beacon.tp_open == 0
        && shards.iter().all(|s| s.tp_open == 0)
        && shards
            .iter()
            .chain(validators.iter().map(|v| &v.0))
            .all(|s| s.mempool_len == 0 && s.inbound_queued == 0)
}

/// Waits until nothing is queued or in flight anywhere (or a time limit: short when
/// `hurry`, after a failure or Ctrl-C), then takes every process's final status. A
/// process that does not answer within [`RPC_TIMEOUT`] is named in `silent`; the wait
/// ends there, since nothing it holds can move.
pub async fn settle(
    shards: &[ShardClient<Channel>],
    names: &[String],
    (n, honest): (usize, &dyn Fn(usize) -> bool),
    beacon: &BeaconClient<Channel>,
    submitted: Vec<Option<(u64, u64)>>,
    held: Vec<u64>,
    hurry: bool,
) -> FinalStatus {
    let limit = if hurry {
        Duration::from_secs(1)
    } else {
        SETTLE_LIMIT
    };
    let deadline = Instant::now() + limit;
    loop {
        let mut silent = Vec::new();
        let asks: Vec<_> = shards
            .iter()
            .map(|s| {
                let mut s = s.clone();
                // Each shard recounts its state for the audit (see `audit_every_asset`).
                let ask = pb::StatusRequest { recount: true };
                tokio::spawn(async move { tokio::time::timeout(RPC_TIMEOUT, s.status(ask)).await })
            })
            .collect();
        let mut b = beacon.clone();
        let beacon_answer =
            tokio::time::timeout(RPC_TIMEOUT, b.status(pb::StatusRequest::default())).await;
        let mut statuses = Vec::new();
        let mut quiet = Vec::new();
        for (i, ask) in asks.into_iter().enumerate() {
            match ask.await {
                Ok(Ok(Ok(status))) => statuses.push(status.into_inner()),
                _ => {
                    quiet.push(i);
                    statuses.push(pb::ShardStatus {
                        shard: (i / n) as u32,
                        ..Default::default()
                    });
                }
            }
        }
        // A committee with at most f members silent still speaks for its shard.
        let f = (n - 1) / 3;
        let tolerable = |i: &usize| n > 1 && quiet.iter().filter(|&&j| j / n == i / n).count() <= f;
        let (tolerated, untolerated): (Vec<usize>, Vec<usize>) =
            quiet.iter().copied().partition(tolerable);
        silent.extend(untolerated.iter().map(|&i| names[i].clone()));
        let tolerated: Vec<String> = tolerated.iter().map(|&i| names[i].clone()).collect();
        let b = match beacon_answer {
            Ok(Ok(status)) => status.into_inner(),
            _ => {
                silent.push("beacon".into());
                pb::BeaconStatus::default()
            }
        };
        let (statuses, validators) = represent(statuses, n, honest, &quiet);
        let quiescent = silent.is_empty() && quiescent(&statuses, &validators, &b);
        if quiescent || !silent.is_empty() || Instant::now() >= deadline {
            return FinalStatus {
                shards: statuses,
                validators,
                names: names.to_vec(),
                beacon: b,
                silent,
                tolerated,
                submitted,
                held,
                quiescent,
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
