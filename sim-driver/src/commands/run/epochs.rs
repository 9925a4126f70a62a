//! CLPA on a running cluster: every `placement.epoch` of load the driver places the
//! accounts again from the traffic it offered, and announces the moves through the
//! beacon; the shards move the accounts (`cross_shard::migration`), and the driver
//! holds each moving account's calls until its move is complete
//! ([`crate::load::moving`]).
//!
//! ```text
//!  tick ── epoch due, last one settled? ──► CLPA (blocking thread)
//!  CLPA done ──► Moving::begin (routing switched, accounts held) ──► Announce (task)
//!  Announce answered ──► the epoch's beacon height
//!  events ──► resolved / refused / imported / switched ──► Moving::release
//! ```
//!
//! An epoch begins only once the last one has settled (no account held): a move
//! never chases a move.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cross_shard::migration::EpochChange;
use cross_shard::sync::lock;
use placement::clpa::ClpaParams;
use placement::graph::History;
use shardsim_proto::pb;
use shardsim_proto::pb::beacon_client::BeaconClient;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

use crate::load::moving::{EpochFigures, Moving, plan};
use crate::measure::tracker::Second;
use crate::scenario::Scenario;

/// The live epochs of a CLPA run.
pub(super) struct Epochs {
    pub(super) moving: Arc<Mutex<Moving>>,
    history: Option<History>,
    params: ClpaParams,
    length: Duration,
    next_at: Duration,
    /// Accounts one epoch may move from one shard to another
    /// ([`crate::load::moving::MAX_PAIR_RECEIPTS`] over the receipts each account's
    /// state takes at most, slots aside).
    max_moves: usize,
    clpa: Option<JoinHandle<(EpochChange, History, f64)>>,
    announce: Option<JoinHandle<Result<(u64, Instant), tonic::Status>>>,
    beacon: BeaconClient<Channel>,
    /// When the load began.
    start: Instant,
}

impl Epochs {
    /// Live epochs for `scenario` if it places by CLPA, routing from `placement`.
    pub(super) fn new(
        scenario: &Scenario,
        placement: cross_shard::Placement,
        beacon: BeaconClient<Channel>,
    ) -> Option<Epochs> {
        let p = &scenario.placement;
        if p.strategy != crate::scenario::StrategyKind::Clpa {
            return None;
        }
        let length = p
            .epoch
            .length(scenario.cluster.block_interval)
            .unwrap_or(Duration::from_secs(5));
        Some(Epochs {
            moving: Arc::new(Mutex::new(Moving::new(
                placement,
                scenario.workload.accounts,
            ))),
            history: Some(History::new(p.window)),
            params: ClpaParams {
                beta: p.beta,
                rounds: p.rounds,
                max_moves: p.max_moves,
            },
            length,
            next_at: length,
            max_moves: (crate::load::moving::MAX_PAIR_RECEIPTS
                / (2 + u64::from(scenario.workload.tokens))) as usize,
            clpa: None,
            announce: None,
            beacon,
            start: Instant::now(),
        })
    }

    /// The load begins now: epochs count from here.
    pub(super) fn started(&mut self, start: Instant) {
        self.start = start;
    }

    /// Moves the epochs on at `elapsed` into the load (`loading`: the load still
    /// runs); returns what failed, if anything.
    pub(super) async fn tick(&mut self, elapsed: Duration, loading: bool) -> Option<String> {
        if let Some(h) = self.announce.take_if(|h| h.is_finished()) {
            match h.await {
                Ok(Ok((height, at))) => {
                    if let Some(e) = lock(&self.moving).epochs.last_mut() {
                        e.beacon_height = height;
                        e.announced_s = Some(at.duration_since(self.start).as_secs_f64());
                    }
                }
                Ok(Err(status)) => {
                    return Some(format!("the beacon refused an epoch: {}", status.message()));
                }
                Err(e) => return Some(format!("announcing an epoch failed: {e}")),
            }
        }
        if let Some(h) = self.clpa.take_if(|h| h.is_finished()) {
            let (change, history, clpa_s) = match h.await {
                Ok(x) => x,
                Err(e) => return Some(format!("CLPA failed: {e}")),
            };
            self.history = Some(history);
            if change.moves.is_empty() {
                // Nothing to announce: the placement stands, and the next epoch is
                // placed a whole epoch later.
                tracing::info!(epoch = change.epoch, "CLPA moved no account");
                return None;
            }
            let figures = EpochFigures {
                began_s: elapsed.as_secs_f64(),
                accounts: change.moves.len() as u64,
                clpa_s,
                ..EpochFigures::default()
            };
            lock(&self.moving).begin(&change, Instant::now(), figures);
            let mut beacon = self.beacon.clone();
            let wire = pb::EpochChange::from(&change);
            self.announce = Some(tokio::spawn(async move {
                let height = beacon.announce(wire).await?.into_inner().height;
                Ok((height, Instant::now()))
            }));
        }
        let due = elapsed >= self.next_at && loading;
        if due && self.clpa.is_none() && self.announce.is_none() {
            let mut m = lock(&self.moving);
            if !m.settled() || !m.switched_everywhere() {
                // The last epoch is still moving accounts, or some shard has not yet
                // switched to it: this one waits.
                return None;
            }
            let touches = m.take_touches();
            let placement = m.placement();
            let epoch = m.epochs.last().map_or(0, |e| e.epoch) + 1;
            drop(m);
            let mut history = self.history.take()?;
            let params = self.params;
            let max_moves = self.max_moves;
            self.next_at = elapsed + self.length;
            self.clpa = Some(tokio::task::spawn_blocking(move || {
                let t = Instant::now();
                let change = plan(
                    &mut history,
                    &touches,
                    &placement,
                    &params,
                    (epoch, max_moves),
                );
                (change, history, t.elapsed().as_secs_f64())
            }));
        }
        None
    }

    /// One block's events (the first copy of the block): its outcomes, refusals,
    /// imports and switch.
    pub(super) fn events(&self, ev: &pb::BlockEvents, elapsed: Duration) -> anyhow::Result<()> {
        let mut m = lock(&self.moving);
        for &id in ev
            .committed
            .iter()
            .chain(&ev.sent_cross)
            .chain(&ev.rejected)
        {
            m.resolved(id);
        }
        if let Some(batch) = &ev.moved {
            let mut txs = Vec::new();
            shardsim_proto::convert::block_txs_from_wire(batch, &mut txs)?;
            for t in txs {
                m.refused(t);
            }
        }
        m.forwarded(ev.forwarded.len() as u64);
        m.block(ev.shard, elapsed.as_secs_f64());
        m.exported_bytes(ev.exported_bytes);
        for &a in &ev.imported {
            m.imported(ev.shard, a, ev.beacon_height);
        }
        if let Some(e) = ev.switched_epoch {
            for &a in &ev.exported {
                m.exported(ev.shard, e, a, ev.beacon_height);
            }
            m.switched(ev.shard, e, elapsed.as_secs_f64());
        }
        m.release(Instant::now());
        Ok(())
    }
}

/// Reads one block's events into the tracker and — for the first copy of a block, under
/// CLPA — into the live epochs.
pub(super) fn read_events(
    epochs: Option<&Epochs>,
    tracker: &mut crate::measure::tracker::Tracker,
    at: u64,
    events: &pb::BlockEvents,
    elapsed: Duration,
) -> anyhow::Result<()> {
    if let Some(e) = epochs
        && events.height > tracker.last_height(events.shard as usize)
    {
        e.events(events, elapsed)?;
    }
    tracker.events(at, events);
    Ok(())
}

/// Seconds `from..to` of `seconds` (whole seconds, clipped to the run).
fn span(seconds: &[Second], from: f64, to: f64) -> &[Second] {
    let (a, b) = (
        from.floor() as usize,
        (to.floor() as usize).min(seconds.len()),
    );
    seconds.get(a.min(b)..b).unwrap_or_default()
}

/// The cross-shard share of the transactions final in `span`.
fn share(span: &[Second]) -> Option<f64> {
    let (all, cross) = span
        .iter()
        .flat_map(|s| &s.shards)
        .fold((0u64, 0u64), |(n, c), s| {
            (n + s.final_total, c + s.final_cross)
        });
    (all > 0).then(|| cross as f64 / all as f64)
}

/// The busiest shard's final transactions over the mean, in `span`.
fn imbalance(span: &[Second]) -> Option<f64> {
    let shards = span.first()?.shards.len();
    let loads: Vec<u64> = (0..shards)
        .map(|k| span.iter().map(|s| s.shards[k].final_total).sum())
        .collect();
    max_over_mean(&loads)
}

/// The largest of `loads` over their mean (`None` when they are all zero).
pub(super) fn max_over_mean(loads: &[u64]) -> Option<f64> {
    let mean = loads.iter().sum::<u64>() as f64 / loads.len().max(1) as f64;
    (mean > 0.0).then(|| *loads.iter().max().unwrap_or(&0) as f64 / mean)
}

/// summary.json's `traffic.migration` from the epochs' figures and the run's seconds,
/// the last epoch's share counted to `load_end_s` (the drain's seconds, when mostly
/// receipts finish, would tilt it).
pub(super) fn summary(
    moving: &Moving,
    seconds: &[Second],
    load_end_s: f64,
) -> crate::results::MigrationSummary {
    let end = load_end_s.min(seconds.len() as f64);
    let began: Vec<f64> = moving.epochs.iter().map(|e| e.began_s).collect();
    let pct = |v: &mut Vec<f64>, q: f64| {
        if v.is_empty() {
            return 0.0;
        }
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * q).round() as usize]
    };
    let mut all: Vec<f64> = moving
        .epochs
        .iter()
        .flat_map(|e| e.held_ms.iter().copied())
        .collect();
    let last = moving.epochs.len().saturating_sub(1);
    let epochs = moving
        .epochs
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut held = e.held_ms.clone();
            let during = span(seconds, e.began_s, began.get(i + 1).copied().unwrap_or(end));
            crate::results::EpochSummary {
                epoch: e.epoch,
                began_s: e.began_s,
                beacon_height: e.beacon_height,
                accounts: e.accounts,
                bytes: e.bytes,
                switch_s: e
                    .announced_s
                    .zip(e.all_switched_s)
                    .map(|(a, s)| (s - a).max(0.0)),
                switch_blocks: e.switch_blocks(),
                unavailable_p50_ms: pct(&mut held, 0.5),
                unavailable_p99_ms: pct(&mut held, 0.99),
                still_moving: if i == last { moving.still_moving() } else { 0 },
                calls_refused: e.refused,
                receipts_forwarded: e.forwarded,
                clpa_s: e.clpa_s,
                load_imbalance: imbalance(during),
                cross_shard_share: share(during),
            }
        })
        .collect::<Vec<_>>();
    crate::results::MigrationSummary {
        accounts_moved: epochs.iter().map(|e| e.accounts).sum(),
        bytes_moved: epochs.iter().map(|e| e.bytes).sum(),
        unavailable_p50_ms: pct(&mut all, 0.5),
        unavailable_p99_ms: pct(&mut all, 0.99),
        calls_refused: epochs.iter().map(|e| e.calls_refused).sum(),
        receipts_forwarded: epochs.iter().map(|e| e.receipts_forwarded).sum(),
        genesis_cross_shard_share: share(span(seconds, 0.0, began.first().copied().unwrap_or(end))),
        epochs,
    }
}
