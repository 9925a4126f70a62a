//! The load generator: the workload's calls, cut into per-shard batches on the
//! schedule (or as fast as the shards take them, `rate = "max"`), handed to each
//! shard's submit path, and announced to the run's main loop before they go.
//!
//! ```text
//!  Source ──take──► batch per shard ──Dispatched{ids, intended times}──► main loop
//!                        └──────────────────────────────────────────► SubmitPath
//! ```
//!
//! `halt` stops it: [`STOP`] after the round in hand (Ctrl-C), [`ABANDON`] at once,
//! even in the middle of a blocked send, with what it still held reported as unsent.

use std::time::{Duration, Instant};

use anyhow::Context;
use shardsim_proto::convert::{push_optional, push_tx};
use shardsim_proto::pb;
use tokio::sync::{mpsc, watch};

use crate::load::real::RealTraffic;
use crate::load::schedule::Schedule;
use crate::load::workload::{Source, Workload};
use crate::scenario::Scenario;

/// How often the open-loop generator wakes up to emit what is due.
pub const TICK: Duration = Duration::from_millis(2);
/// Transactions generated per round in `max` mode.
pub const MAX_CHUNK: usize = 8192;
/// Most transactions one tick may emit (a late tick catches up over several).
pub const TICK_CAP: u64 = 50_000;

/// What the generator tells the run's main loop.
#[derive(Debug)]
pub enum LoadEvent {
    /// Transactions `first..` handed to the submit streams, with intended send times
    /// and programs (empty: all `transfer`).
    Dispatched {
        /// The first transaction id of the round.
        first: u64,
        /// Intended send time of each, ns since start.
        intended: Vec<u64>,
        /// Program of each (empty: all transfers).
        programs: Vec<u8>,
    },
    /// The generator has emitted its last transaction.
    Done,
    /// A submit stream closed under it.
    Failed(anyhow::Error),
}

/// The transactions to send: live, or all prepared and signed up front when the
/// cluster checks signatures (scenario validation guarantees a numeric rate then).
/// `real` is the scenario's real traffic, when its source is a trace or the
/// Ethereum-like generator; `schedule` the run's (none under `rate = "max"`).
pub async fn prepare_source(
    scenario: &Scenario,
    total: Duration,
    progress: bool,
    real: Option<RealTraffic>,
    schedule: Option<&Schedule>,
) -> anyhow::Result<Source> {
    let live = match real {
        Some(r) => Source::Real(Box::new(r)),
        None => Source::Live(Box::new(Workload::new(scenario))),
    };
    let Some(schedule) = schedule.filter(|_| scenario.cluster.signatures) else {
        return Ok(live);
    };
    let mut live = live;
    let count = schedule.due_before(total);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if progress {
        eprintln!(
            "shardsim: signing {count} transactions on {threads} threads before the load starts…"
        );
    }
    let began = Instant::now();
    let source = tokio::task::spawn_blocking(move || {
        let next = move || live.take().map(|(shard, t, _)| (shard, t));
        Source::signed(next, count, threads)
    })
    .await
    .context("signing the workload")?;
    if progress {
        eprintln!("shardsim: signed in {:.1} s", began.elapsed().as_secs_f64());
    }
    Ok(source)
}

/// The generator runs on (see [`generate`]'s `halt`).
pub const GO: u8 = 0;
/// The generator ends after handing over the round in hand.
pub const STOP: u8 = 1;
/// The generator ends at once; what it had not handed over is reported as unsent.
pub const ABANDON: u8 = 2;

/// Hands the main loop `msg`, waiting for room in its queue unless the load is
/// abandoned meanwhile (the main loop is finishing and may no longer read). Returns
/// whether it was handed over.
async fn tell<M: From<LoadEvent>>(
    events: &mpsc::Sender<M>,
    halt: &mut watch::Receiver<u8>,
    msg: LoadEvent,
) -> bool {
    tokio::select! {
        biased;
        sent = events.send(M::from(msg)) => sent.is_ok(),
        _ = halt.wait_for(|&h| h >= ABANDON) => false,
    }
}

/// Per shard, the transactions of `batches` (dispatched, never handed over).
fn unsent(batches: &[pb::TxBatch]) -> Vec<u64> {
    batches.iter().map(|b| b.id.len() as u64).collect()
}

/// One round of the load, as both drivers cut it: a call from `source` for each
/// intended send time into its shard's batch in `batches`, each call's program into
/// `programs` (left empty while every call is a native transfer). Returns true when
/// the source ran out, with `intended` cut to what was really taken: only that counts
/// as dispatched, and the load is over.
pub fn fill_round(
    source: &mut Source,
    intended: &mut Vec<u64>,
    batches: &mut [pb::TxBatch],
    programs: &mut Vec<u8>,
) -> bool {
    // Calls of moved accounts released since the last round go first: a newer call of
    // the same sender is either behind them here or queued behind them. A round takes
    // at most MAX_CHUNK of them, so that with its own calls a batch stays within a
    // submission's limit (MAX_BATCH_TXS).
    for (shard, t) in source.ready(MAX_CHUNK) {
        push_tx(&mut batches[shard as usize], &t);
    }
    for k in 0..intended.len() {
        let Some((shard, t, sig)) = source.take() else {
            // A prepared source holds exactly what the schedule asks for, and real
            // traffic ends where it ends.
            intended.truncate(k);
            return true;
        };
        push_optional(programs, k, t.call.program() as u8);
        if shard == crate::load::moving::HELD {
            // Its sender is moving: dispatched now, sent once the move is done.
            continue;
        }
        let batch = &mut batches[shard as usize];
        push_tx(batch, &t);
        if let Some(sig) = sig {
            batch.signatures.extend_from_slice(sig);
        }
    }
    false
}

/// Emits the workload on `schedule` (or as fast as accepted when there is none: rate
/// `max`) until `total`.
pub async fn generate<M: From<LoadEvent> + Send + 'static>(
    mut source: Source,
    schedule: Option<Schedule>,
    start: Instant,
    total: Duration,
    senders: Vec<mpsc::Sender<pb::TxBatch>>,
    events: mpsc::Sender<M>,
    mut halt: watch::Receiver<u8>,
) -> Vec<u64> {
    let end = total.as_nanos() as u64;
    let mut batches = vec![pb::TxBatch::default(); senders.len()];
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut told_done = false;
    loop {
        let now = start.elapsed().as_nanos() as u64;
        let first = source.generated();
        let mut intended = Vec::new();
        let mut programs = Vec::new();
        let finished = match &schedule {
            Some(schedule) => {
                ticker.tick().await;
                let now = start.elapsed().as_nanos() as u64;
                let due = schedule.due_before(Duration::from_nanos(now.min(end)));
                let count = due.saturating_sub(first).min(TICK_CAP);
                intended.extend((first..first + count).map(|k| schedule.due_at(k)));
                now >= end && first + count >= due
            }
            None => {
                if now >= end {
                    true
                } else {
                    intended.resize(MAX_CHUNK, now);
                    false
                }
            }
        };
        let finished =
            fill_round(&mut source, &mut intended, &mut batches, &mut programs) || finished;
        if !intended.is_empty()
            && !tell(
                &events,
                &mut halt,
                LoadEvent::Dispatched {
                    first,
                    intended,
                    programs,
                },
            )
            .await
        {
            // The main loop has gone, or abandons the load: these transactions were
            // never announced, so they are not part of the run (nor held by anyone).
            return vec![0; batches.len()];
        }
        for (i, batch) in batches.iter_mut().enumerate() {
            if batch.id.is_empty() {
                continue;
            }
            // In `max` mode a shard that stops reading holds the generator here; the
            // main loop abandons it on a failure or once the planned end has passed.
            // Room first (`biased`): a send that can go never loses to the halt.
            let permit = tokio::select! {
                biased;
                permit = senders[i].reserve() => permit,
                _ = halt.wait_for(|&h| h >= ABANDON) => {
                    let _ = events.try_send(M::from(LoadEvent::Done));
                    return unsent(&batches);
                }
            };
            match permit {
                Ok(permit) => permit.send(std::mem::take(batch)),
                Err(_) => {
                    let failed =
                        LoadEvent::Failed(anyhow::anyhow!("submit stream of shard {i} closed"));
                    tell(&events, &mut halt, failed).await;
                    return unsent(&batches);
                }
            }
        }
        if *halt.borrow() >= STOP || (finished && !source.moves()) {
            if !told_done {
                tell(&events, &mut halt, LoadEvent::Done).await;
            }
            return unsent(&batches);
        }
        // When accounts move, the load is over once the traffic is, but calls held for
        // moving accounts (and calls a shard hands back) are still to be sent: the
        // generator goes on sending them through the drain, until it is told to stop.
        if finished && !told_done {
            told_done = true;
            if !tell(&events, &mut halt, LoadEvent::Done).await {
                return unsent(&batches);
            }
        }
        if schedule.is_none() {
            if finished {
                // Only held calls are left: wait for them without spinning.
                tokio::time::sleep(TICK).await;
            }
            tokio::task::yield_now().await;
        }
    }
}
