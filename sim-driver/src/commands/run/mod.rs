//! One run of a scenario, start to finish.
//!
//! ```text
//!  1. results folder, scenario echo
//!  2. start beacon + shards (cluster)         ─ children, READY lines
//!  3. open Events streams, then Submit streams ─ events before load: nothing missed
//!  4. generator task: schedule → batches ──────► Submit streams (backpressure)
//!        └── Dispatched{ids, intended times} ──► tracker ◄── Events{block} (per shard)
//!  5. load ends at warmup + duration; drain until every transaction is resolved
//!  6. wait for quiescence, query Status everywhere, audit the invariants
//!  7. write summary.json, timeseries.csv, hlogs, charts; print the table; stop cluster
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use cross_shard::sync::lock;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use shardsim_host::netem::LinkDelay;
use shardsim_proto::pb;
use shardsim_proto::pb::beacon_client::BeaconClient;
use tokio::sync::{mpsc, watch};

use crate::cluster::Cluster;
use crate::cluster::faults::{self, Step};
use crate::load::generator::{self, ABANDON, GO, LoadEvent, STOP};
use crate::load::schedule::Schedule;
use crate::load::submit::SubmitPath;
use crate::measure::audit::audit_every_asset;
use crate::measure::observed::{Observer, Silence, rode_out};
use crate::measure::recovery::{self, FaultReport};
use crate::measure::settle::{RPC_TIMEOUT, settle};
use crate::measure::tracker::Tracker;
use crate::results::{self, CpuSeconds, Summary};
use crate::scenario::{Scenario, Target};

mod epochs;
mod link_fault;
mod progress;
mod restart;
mod traffic;
mod virtual_time;
mod watchdog;

use crate::cluster::{channel, shard_client};
use crate::results::results_dir;
use progress::Progress;
use restart::resume_if_caught_up;
use watchdog::{EventsLink, answers_again, stall_limit, watch, watch_shard};

/// How the run reports and where it writes.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Results go to `<out>/<scenario>/<run-id>/`.
    pub out: PathBuf,
    /// Show a progress bar (or progress lines when stderr is not a terminal).
    pub progress: bool,
    /// Becomes `true` when the user asks to stop (Ctrl-C): the load stops, the cluster
    /// drains briefly, and the results are written marked `partial`.
    pub stop: watch::Receiver<bool>,
    /// Drive the cluster this file names (attach mode) instead of starting one.
    pub cluster: Option<PathBuf>,
}

/// A stop signal that never fires, for runs nobody interrupts.
pub fn never_stop() -> watch::Receiver<bool> {
    // The receiver keeps the last value after the sender is dropped.
    watch::channel(false).1
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The run's results folder.
    pub dir: PathBuf,
    /// Its summary.
    pub summary: Summary,
}

/// How long after the load ends the driver waits for outstanding transactions.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// How long an interrupted or failed run drains before it writes its partial results.
const INTERRUPTED_DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// Messages queued into the driver's main loop. Bounded: a main loop that falls
/// behind slows its senders (the generator, the events streams and, through them, the
/// shards) instead of growing without limit.
const MAIN_QUEUE: usize = 4096;

/// Messages into the driver's main loop.
pub(super) enum Msg {
    /// Transactions `first..` handed to the submit streams, with intended send times
    /// and programs (empty: all `transfer`).
    Dispatched {
        first: u64,
        intended: Vec<u64>,
        programs: Vec<u8>,
    },
    /// A shard process's block events, stamped with the driver's clock on arrival
    /// (boxed: an event message is many lists). `slot` is the process (with
    /// committees, every validator reports every block; the tracker takes the first).
    Events {
        at: u64,
        slot: usize,
        events: Box<pb::BlockEvents>,
    },
    /// The generator has emitted its last transaction.
    LoadDone,
    /// A killed process was started again (fault `fault`), or failed to start.
    Restarted {
        fault: usize,
        process: Box<anyhow::Result<crate::cluster::Process>>,
    },
    /// A stream failed.
    Failed(anyhow::Error),
    /// The events stream of shard process `slot` broke, not after a kill of ours.
    EventsBroke { slot: usize, error: anyhow::Error },
    /// Process `slot` answered its watchdog's Status request (slot = the shard
    /// process's place in `Cluster::shards`, the beacon after them).
    Heard(usize),
}

impl From<LoadEvent> for Msg {
    fn from(e: LoadEvent) -> Msg {
        match e {
            LoadEvent::Dispatched {
                first,
                intended,
                programs,
            } => Msg::Dispatched {
                first,
                intended,
                programs,
            },
            LoadEvent::Done => Msg::LoadDone,
            LoadEvent::Failed(e) => Msg::Failed(e),
        }
    }
}

/// Runs `scenario`, writes its results, and returns its summary.
pub async fn run(scenario: &Scenario, opts: &RunOptions) -> anyhow::Result<RunOutcome> {
    if scenario.cluster.mode == crate::scenario::Mode::Virtual {
        return virtual_time::run(scenario, opts).await;
    }
    traffic::refuse_unbuilt(scenario, opts.cluster.is_some())?;
    // Real traffic: surveyed once for the accounts and tokens genesis must hold; the
    // cluster runs the scenario derived from it, the echo stays the user's.
    let as_written = scenario;
    if opts.progress && as_written.workload.source != crate::scenario::Source::Synthetic {
        eprintln!("shardsim: surveying the workload's transactions for genesis…");
    }
    let prepared = crate::load::real::prepare(scenario, crate::cluster::INITIAL_BALANCE)
        .context("preparing the real traffic")?;
    let scenario = prepared.as_ref().map_or(scenario, |p| &p.scenario);
    // Attach mode: the running cluster is checked before anything is written.
    let attached = match &opts.cluster {
        Some(path) => {
            crate::cluster::attach::refuse_local_faults(scenario)?;
            let file = crate::cluster::attach::ClusterFile::load(path)?;
            Some(
                Cluster::attach(scenario, &file)
                    .await
                    .with_context(|| format!("attaching to the cluster of {}", path.display()))?,
            )
        }
        None => None,
    };
    let (run_id, dir, started) = open_run(opts, scenario, as_written)?;

    let mut cluster = match attached {
        Some(cluster) => cluster,
        None => {
            let table = traffic::write_table(prepared.as_ref(), &dir)?;
            Cluster::start(scenario, &dir, table).await?
        }
    };
    let outcome = drive(
        scenario,
        opts,
        &mut cluster,
        (&run_id, &dir, started),
        prepared.as_ref(),
    )
    .await;
    let outcome = match outcome {
        Ok(summary) => Ok(summary),
        Err(e) => Err(cluster.explain(e).await),
    };
    cluster.stop().await;
    let summary = outcome?;
    Ok(RunOutcome { dir, summary })
}

/// The run's folder, named by `scenario` (the one run) and the time, with the scenario
/// as the user wrote it echoed into it, and the run announced on stderr (with
/// progress): (run id, folder, when it started).
fn open_run(
    opts: &RunOptions,
    scenario: &Scenario,
    as_written: &Scenario,
) -> anyhow::Result<(String, PathBuf, SystemTime)> {
    let started = SystemTime::now();
    let (run_id, dir) = results_dir(&opts.out, &scenario.name, scenario.seed, started)?;
    std::fs::write(
        dir.join("scenario.toml"),
        toml::to_string(as_written).context("echoing the scenario")?,
    )?;
    if opts.progress {
        eprintln!(
            "shardsim: {} · seed {} · {} shards · rate {} · {}{} → {}",
            scenario.name,
            scenario.seed,
            scenario.cluster.shards,
            scenario.workload.rate,
            match scenario.workload.source {
                crate::scenario::Source::Synthetic => format!(
                    "{:.0}% cross-shard",
                    scenario.effective_cross_shard() * 100.0
                ),
                _ => format!(
                    "real traffic over {} accounts (the cross-shard share is a result)",
                    scenario.workload.accounts
                ),
            },
            match scenario.cluster.mode {
                crate::scenario::Mode::Process => "",
                crate::scenario::Mode::Virtual => " · in virtual time",
            },
            dir.display()
        );
        if scenario.cluster.shards == 1 && scenario.workload.cross_shard > 0.0 {
            eprintln!(
                "shardsim: note: with 1 shard no transfer can be cross-shard; cross_shard is 0 for this run"
            );
        }
    }
    Ok((run_id, dir, started))
}

/// When each transaction is due: a trace's own times, the scenario's rate, or none
/// (`rate = "max"`).
fn schedule_of(
    scenario: &Scenario,
    real: Option<&crate::load::real::Prepared>,
) -> Option<Schedule> {
    match real.and_then(|p| p.genesis.times.clone()) {
        Some(times) => Some(Schedule::at_times(times)),
        None => Schedule::of(scenario),
    }
}

/// Everything between a started cluster and a written summary.
async fn drive(
    scenario: &Scenario,
    opts: &RunOptions,
    cluster: &mut Cluster,
    (run_id, dir, started): (&str, &Path, SystemTime),
    real: Option<&crate::load::real::Prepared>,
) -> anyhow::Result<Summary> {
    // One client per shard process (with committees, per validator): slot
    // `k · validators + v`.
    let n = cluster.validators as usize;
    let shards = scenario.cluster.shards as usize;
    let mut clients = Vec::new();
    let tls = cluster.tls.clone();
    for p in &cluster.shards {
        clients.push(shard_client(p, tls.as_ref()).await?);
    }
    let names: Vec<String> = cluster.shards.iter().map(|p| p.name.clone()).collect();
    let targets: Vec<Target> = (0..clients.len()).map(|s| cluster.target(s)).collect();
    let beacon = BeaconClient::new(channel(&cluster.beacon, tls.as_ref()).await?);

    let (tx, mut rx) = mpsc::channel(MAIN_QUEUE);
    // Signing (if any) happens before the clock starts: the schedule, and every
    // latency, count from the moment the load can really begin.
    // The schedule: the rate's, or a trace's own times.
    let schedule = schedule_of(scenario, real);
    // CLPA: the directory changes every epoch, and the traffic routes by it.
    let mut epochs = real.and_then(|p| epochs::Epochs::new(scenario, p.placement, beacon.clone()));
    let traffic = real
        .map(crate::load::real::RealTraffic::new)
        .transpose()?
        .map(|t| match &epochs {
            Some(e) => t.with_moving(e.moving.clone()),
            None => t,
        });
    let source = generator::prepare_source(
        scenario,
        scenario.warmup + scenario.duration,
        opts.progress,
        traffic,
        schedule.as_ref(),
    )
    .await?;
    let start = Instant::now();
    if let Some(e) = epochs.as_mut() {
        e.started(start);
    }
    // Every driver↔shard link carries the scenario's emulated delay, each direction
    // with its own jitter seed.
    let link = LinkDelay {
        latency: scenario.network.latency,
        jitter: scenario.network.jitter,
    };
    let link_seed =
        |shard: usize, direction: u64| scenario.seed ^ ((shard as u64) << 8 | direction);
    let open_loop = schedule.is_some();
    let mut paths = Vec::new();
    let mut senders = Vec::new();
    for (i, client) in clients.iter().enumerate() {
        let (path, sender) = SubmitPath::start(
            names[i].clone(),
            client.clone(),
            link,
            link_seed(i, 0),
            open_loop,
        );
        paths.push(path);
        senders.push(sender);
    }
    // A committee's client sends every batch to every validator of the shard.
    let senders = if n == 1 {
        senders
    } else {
        crate::load::submit::fan_out(senders, n)
    };
    // Events before load, so that no block's events can be missed.
    let events_link = EventsLink {
        tx: tx.clone(),
        start,
        link,
    };
    for (i, client) in clients.iter().enumerate() {
        events_link
            .open(
                i,
                &names[i],
                client,
                None,
                link_seed(i, 1),
                paths[i].kills.clone(),
            )
            .await?;
    }
    // One watchdog per process: index = slot, the beacon last.
    let beacon_slot = clients.len();
    let mut watchdogs: Vec<tokio::task::JoinHandle<()>> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| watch_shard(i, c.clone(), tx.clone()))
        .collect();
    let b = beacon.clone();
    watchdogs.push(watch(beacon_slot, tx.clone(), move || {
        let mut c = b.clone();
        async move { c.status(pb::StatusRequest::default()).await }
    }));
    let target_of = |slot: usize| {
        if slot == beacon_slot {
            Target::Beacon
        } else {
            targets[slot]
        }
    };

    let total = scenario.warmup + scenario.duration;
    let window = (scenario.warmup.as_nanos() as u64, total.as_nanos() as u64);
    // `halt` stops the generator early: STOP (Ctrl-C) after the round in hand,
    // ABANDON (a failure) at once, even in the middle of a blocked send.
    let (halt_tx, halt) = watch::channel(if *opts.stop.borrow() { STOP } else { GO });
    let raise = |level: u8| {
        halt_tx.send_if_modified(|h| {
            let higher = *h < level;
            *h = (*h).max(level);
            higher
        });
    };
    let mut generator = tokio::spawn(generator::generate(
        source,
        schedule.clone(),
        start,
        total,
        senders,
        tx.clone(),
        halt,
    ));
    let mut generator_done = false;
    // Per shard, transactions the generator had dispatched but not handed over when
    // it was abandoned.
    let mut unsent: Vec<u64> = vec![0; shards];

    let mut tracker = Tracker::new(scenario.cluster.shards, window);
    let progress = Progress::new(opts.progress, total);
    let mut load_done = false;
    let mut drain_deadline = None;
    let mut stop = opts.stop.clone();
    let mut interrupted = *stop.borrow();
    let mut ticker = tokio::time::interval(Duration::from_millis(250));
    let steps = faults::schedule(&scenario.faults);
    let mut next_step = 0;
    let mut reports: Vec<FaultReport> = scenario
        .faults
        .iter()
        .map(|f| FaultReport::new(f, f.at.as_secs_f64()))
        .collect();
    // Per shard process, after a restart: the height its store resumed at, and the
    // fault.
    let mut catching_up: Vec<Option<(u64, usize)>> = vec![None; clients.len()];
    let mut restarts_pending = 0usize;
    // Grey-failure detection: when each process last answered, whether it is down on
    // purpose (killed, not yet back), and whether it has been named as stalled.
    let mut heard = vec![Instant::now(); beacon_slot + 1];
    let mut down = vec![false; beacon_slot + 1];
    let mut stalled = vec![false; beacon_slot + 1];
    let stall_limit = stall_limit(scenario);
    // Silences a committee rides out are observed, not failed (`measure::observed`).
    let mut observer = Observer::new(shards, n, beacon_slot + 1);
    // A committee member's events stream that broke, and when: a failure unless the
    // member turns out to have died (then its death is judged) within a second.
    let mut broke: Vec<Option<(Instant, String)>> = vec![None; beacon_slot + 1];
    // Why the run cannot finish; `end_now` when the cause leaves nothing worth
    // waiting for (a process died, a stream broke).
    let mut failures: Vec<String> = Vec::new();
    // The backlog when the load stopped, and when the drain found nothing left.
    let mut load_end: Option<(Instant, Vec<u64>)> = None;
    let mut drain_s = None;
    let seconds = |at: Instant| at.duration_since(start).as_secs_f64();
    let slot_of = |target: Target| match target {
        Target::Shard(k) => k as usize,
        Target::Validator(k, v) => k as usize * n + v as usize,
        Target::Beacon => beacon_slot,
    };
    loop {
        let mut end_now = false;
        let next_at = steps
            .get(next_step)
            .map(|&(at, _)| tokio::time::Instant::from_std(start + at));
        tokio::select! {
            changed = stop.changed(), if !interrupted => {
                // A dropped sender (Err) is no request to stop.
                interrupted = changed.is_ok() && *stop.borrow();
                if interrupted {
                    end_now = true;
                }
            }
            res = &mut generator, if !generator_done => {
                generator_done = true;
                // Its LoadDone, if it sent one, is already queued; if it ended
                // without (its stream broke), the load is over all the same.
                load_done = true;
                match res {
                    Ok(left) => unsent = left,
                    Err(e) => {
                        failures.push(format!("the load generator failed: {e}"));
                        end_now = true;
                    }
                }
            }
            () = tokio::time::sleep_until(next_at.unwrap_or_else(tokio::time::Instant::now)), if next_at.is_some() && !interrupted && failures.is_empty() => {
                let (_, step) = steps[next_step];
                next_step += 1;
                let now = seconds(Instant::now());
                match step {
                    Step::Kill(f) => {
                        let target = scenario.faults[f].kill.context("a kill step has a target")?;
                        if target != Target::Beacon {
                            paths[slot_of(target)].kills.fetch_add(1, Ordering::SeqCst);
                        }
                        down[slot_of(target)] = true;
                        cluster.kill(target).await?;
                        reports[f].at_s = now;
                        progress.note(&format!("fault: killed {target}"));
                    }
                    Step::Restart(f) => {
                        let target = scenario.faults[f].kill.context("a restart step has a target")?;
                        let spec = cluster.process(target).spec();
                        if scenario.faults[f].wipe {
                            spec.wipe()?;
                        }
                        let tx = tx.clone();
                        let tls = tls.clone();
                        tokio::spawn(async move {
                            let mut process = Cluster::restart(spec).await;
                            // A shard is back once it serves: its store replayed, which
                            // takes as long as the blocks after its latest snapshot.
                            if target != Target::Beacon
                                && let Ok(p) = process.as_mut()
                                && let Err(e) = p.serving(tls.as_ref()).await
                            {
                                process = Err(e);
                            }
                            let _ = tx.send(Msg::Restarted { fault: f, process: Box::new(process) }).await;
                        });
                        restarts_pending += 1;
                        reports[f].restarted_at_s = Some(now);
                        progress.note(&format!("fault: restarting {target}"));
                    }
                    Step::Freeze(f) => {
                        let target = scenario.faults[f].freeze.context("a freeze step has a target")?;
                        cluster.freeze(target)?;
                        reports[f].at_s = now;
                        progress.note(&format!("fault: froze {target} (SIGSTOP)"));
                    }
                    Step::Thaw(f) => {
                        let target = scenario.faults[f].freeze.context("a thaw step has a target")?;
                        cluster.thaw(target)?;
                        reports[f].healed_at_s = Some(now);
                        progress.note(&format!("fault: thawed {target} (SIGCONT)"));
                    }
                    Step::LinkOn(f) | Step::LinkOff(f) => {
                        let fault = &scenario.faults[f];
                        let Some(target) = fault.link.filter(|t| *t != Target::Beacon) else {
                            bail!("fault {} has no link target", f + 1);
                        };
                        let on = matches!(step, Step::LinkOn(_));
                        if let Some(silent) = link_fault::inject(&mut clients[slot_of(target)], fault, f, on).await? {
                            failures.push(silent);
                        }
                        if on {
                            reports[f].at_s = now;
                        } else {
                            reports[f].healed_at_s = Some(now);
                        }
                        progress.note(&format!(
                            "fault: link {target} {}",
                            if on { "faulty" } else { "healed" }
                        ));
                    }
                }
            }
            msg = rx.recv() => match msg {
                Some(Msg::Dispatched { first, intended, programs }) => {
                    tracker.dispatched(first, &intended, &programs);
                }
                Some(Msg::Events { at, slot, events }) => {
                    if let Some(h) = heard.get_mut(slot) {
                        *h = Instant::now();
                    }
                    answers_again(slot, &mut observer, &mut stalled, seconds(Instant::now()), &progress, &target_of);
                    epochs::read_events(epochs.as_ref(), &mut tracker, at, &events, start.elapsed())?;
                    if catching_up.get(slot).is_some_and(Option::is_some) {
                        resume_if_caught_up(slot, slot / n, &mut catching_up, &tracker, &paths, &clients, &mut reports, seconds(Instant::now()));
                    }
                }
                Some(Msg::Heard(slot)) => {
                    if let Some(h) = heard.get_mut(slot) {
                        *h = Instant::now();
                    }
                    answers_again(slot, &mut observer, &mut stalled, seconds(Instant::now()), &progress, &target_of);
                }
                Some(Msg::Restarted { fault, process }) => {
                    restarts_pending -= 1;
                    let target = scenario.faults[fault].kill.context("a restart has a target")?;
                    match *process {
                        Err(e) => {
                            failures.push(format!("{target} could not be restarted: {e:#}"));
                            end_now = true;
                        }
                        Ok(process) => {
                            reports[fault].ready_at_s = Some(seconds(Instant::now()));
                            let slot = slot_of(target);
                            if target != Target::Beacon {
                                let k = slot;
                                let mut client = shard_client(&process, tls.as_ref()).await?;
                                let height = tokio::time::timeout(RPC_TIMEOUT, client.status(pb::StatusRequest::default()))
                                    .await
                                    .with_context(|| format!("status of restarted {target}: no answer"))?
                                    .with_context(|| format!("status of restarted {target}"))?
                                    .into_inner()
                                    .height;
                                // The driver missed the events of blocks the shard made just
                                // before it died: its store has them.
                                let after = tracker.last_height(k / n);
                                events_link
                                    .open(k, &names[k], &client, Some(after), link_seed(k, 1) ^ (1 << 32), paths[k].kills.clone())
                                    .await?;
                                watchdogs[k].abort();
                                watchdogs[k] = watch_shard(k, client.clone(), tx.clone());
                                clients[k] = client;
                                catching_up[k] = Some((height, fault));
                                resume_if_caught_up(k, k / n, &mut catching_up, &tracker, &paths, &clients, &mut reports, seconds(Instant::now()));
                            }
                            down[slot] = false;
                            heard[slot] = Instant::now();
                            *cluster.process(target) = process;
                            progress.note(&format!("fault: {target} is back"));
                        }
                    }
                }
                Some(Msg::LoadDone) => {
                    load_done = true;
                    let backlog = tracker
                        .mempools()
                        .iter()
                        .enumerate()
                        .map(|(k, m)| m + held_for(&paths, k, n))
                        .collect();
                    load_end = Some((Instant::now(), backlog));
                    let limit = if interrupted || !failures.is_empty() { INTERRUPTED_DRAIN_LIMIT } else { DRAIN_LIMIT };
                    drain_deadline = Some(Instant::now() + limit);
                }
                Some(Msg::Failed(e)) => {
                    failures.push(format!("{e:#}"));
                    end_now = true;
                }
                Some(Msg::EventsBroke { slot, error }) => {
                    if n > 1 && slot < beacon_slot {
                        broke[slot] = Some((Instant::now(), format!("{error:#}")));
                    } else {
                        failures.push(format!("{error:#}"));
                        end_now = true;
                    }
                }
                None => bail!("every stream closed before the run ended"),
            },
            _ = ticker.tick() => {
                if let Some(e) = epochs.as_mut()
                    && let Some(failed) = e.tick(start.elapsed(), !load_done).await
                {
                    failures.push(failed);
                    end_now = true;
                }
                match cluster.dead() {
                    Ok(Some((target, why))) => {
                        let text = format!("{why:#}");
                        // Reported once, however many ticks it stays dead — and as
                        // dead, not also as silent.
                        let slot = slot_of(target);
                        down[slot] = true;
                        broke[slot] = None;
                        let how = text.lines().next().unwrap_or("exited").to_string();
                        let times = (seconds(heard[slot]), seconds(Instant::now()));
                        match observer.silent(slot, (target.to_string(), how), times, |s| down[s]) {
                            Silence::Tolerated => {
                                // Its streams' breaks are a kill's from now on.
                                paths[slot].kills.fetch_add(1, Ordering::SeqCst);
                                cluster.written_off(target);
                                progress.note(&format!("{text}\ntolerated: shard {} keeps its quorum", slot / n));
                            }
                            _ => {
                                if !failures.contains(&text) {
                                    failures.push(text);
                                }
                                end_now = true;
                            }
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let text = format!("checking the cluster's processes: {e:#}");
                        if !failures.contains(&text) {
                            failures.push(text);
                        }
                        end_now = true;
                    }
                }
                let now = Instant::now();
                for b in &mut broke {
                    if let Some((_, text)) = b.take_if(|(at, _)| now.duration_since(*at) > Duration::from_secs(1)) {
                        failures.push(text);
                        end_now = true;
                    }
                }
                for slot in 0..heard.len() {
                    let silent = now.duration_since(heard[slot]);
                    if !down[slot] && !stalled[slot] && silent > stall_limit {
                        stalled[slot] = true;
                        let text = format!(
                            "{} stopped answering at {:.1} s: no events and no Status reply for {:.1} s (frozen, or too overloaded to answer)",
                            target_of(slot),
                            seconds(heard[slot]),
                            silent.as_secs_f64()
                        );
                        let how = format!("no events and no Status reply for {:.1} s", silent.as_secs_f64());
                        let times = (seconds(heard[slot]), seconds(now));
                        match observer.silent(slot, (target_of(slot).to_string(), how), times, |s| down[s]) {
                            Silence::Tolerated => {
                                // Its path must not set its shard's pace any more.
                                if let Some(p) = paths.get(slot) {
                                    p.unbound();
                                }
                                progress.note(&format!("{text}; tolerated: shard {} keeps its quorum", slot / n));
                            }
                            Silence::QuorumLost(silent) => {
                                let who: Vec<String> = silent.iter().map(|&s| target_of(s).to_string()).collect();
                                let text = format!(
                                    "{text}; shard {} has lost its quorum: {} of its {n} validators are silent or down ({}), more than the {} a committee tolerates",
                                    slot / n,
                                    silent.len(),
                                    who.join(", "),
                                    (n - 1) / 3
                                );
                                progress.note(&text);
                                failures.push(text);
                            }
                            Silence::NotTolerable => {
                                progress.note(&text);
                                failures.push(text);
                            }
                        }
                    }
                }
                // In `max` mode the generator may still be handing a slow shard its
                // last round when the planned end passes: that round is offered load,
                // announced already, and is waited for. A shard that cannot take it
                // any more is a failure named elsewhere (silent, dead: the load is
                // abandoned then); a silent member its committee rides out no longer
                // sets the pace (`SubmitPath::unbound`). Past the drain's limit the
                // generator is told to stop in any case.
                if !load_done && start.elapsed() > total + DRAIN_LIMIT {
                    raise(ABANDON);
                }
                let at = start.elapsed().as_nanos() as u64;
                for p in &paths {
                    lock(&p.retained).prune(|id| tracker.awaiting(id));
                }
                for k in 0..shards {
                    tracker.held(at, k, held_for(&paths, k, n));
                }
                progress.update(start.elapsed(), &tracker, load_done);
            }
        }
        if end_now {
            // What ran is what is measured; the load stops and a short drain follows.
            tracker.close_window(start.elapsed().as_nanos() as u64);
            raise(if failures.is_empty() { STOP } else { ABANDON });
        }
        if (interrupted || !failures.is_empty())
            && let Some(d) = drain_deadline.as_mut()
        {
            // Whatever the drain was for, a failed run only waits briefly.
            *d = (*d).min(Instant::now() + INTERRUPTED_DRAIN_LIMIT);
        }
        if let Some(deadline) = drain_deadline {
            // Nothing unresolved counts only once every queued message is read: the
            // generator's last dispatch can still wait in the queue when its end is
            // seen (the select picks among ready branches at random).
            // Under CLPA, also every account's move: its old shard exports it over
            // several blocks, which may end after the last transaction is final.
            let settled = tracker.unresolved() == 0
                && rx.is_empty()
                && restarts_pending == 0
                && catching_up.iter().all(Option::is_none)
                && epochs
                    .as_ref()
                    .is_none_or(|e| cross_shard::sync::lock(&e.moving).settled());
            if settled && let Some((at, _)) = &load_end {
                drain_s = Some(at.elapsed().as_secs_f64());
            }
            if settled || Instant::now() >= deadline {
                break;
            }
        }
        if load_done && drain_deadline.is_none() {
            // The generator ended without its LoadDone (it failed).
            drain_deadline = Some(Instant::now() + INTERRUPTED_DRAIN_LIMIT);
        }
    }
    progress.finish();
    drop(tx);
    for w in &watchdogs {
        w.abort();
    }
    raise(ABANDON);
    if !generator_done {
        match tokio::time::timeout(RPC_TIMEOUT, &mut generator).await {
            Ok(Ok(left)) => unsent = left,
            Ok(Err(e)) => failures.push(format!("the load generator failed: {e}")),
            Err(_) => generator.abort(),
        }
    }
    // Each submit task ends once its stream is drained; one to a frozen shard never
    // does, and what it held is reported rather than waited for.
    let give_up = tokio::time::Instant::now() + RPC_TIMEOUT;
    // Calls of moving accounts the driver still holds count as held too; a move that
    // never completed is a failure, named.
    let moving_unsent = match &epochs {
        Some(e) => {
            let m = lock(&e.moving);
            let unsent = m.unsent();
            if !m.settled() {
                failures.push(format!(
                    "{} accounts were still moving when the run ended (their new shard never reported them imported, or their old shard never answered a call): {} of their calls were never sent",
                    m.still_moving(),
                    unsent.iter().sum::<u64>()
                ));
            }
            unsent
        }
        None => vec![0; shards],
    };
    let held: Vec<u64> = unsent
        .iter()
        .enumerate()
        .map(|(k, u)| held_for(&paths, k, n) + u + moving_unsent[k])
        .collect();
    let mut submitted = Vec::new();
    for (i, mut p) in paths.into_iter().enumerate() {
        match tokio::time::timeout_at(give_up, &mut p.task).await {
            Ok(Ok(Ok(counts))) => submitted.push(Some(counts)),
            Ok(Ok(Err(e))) => {
                // A silent process's stream is named by its silence (a failure, or a
                // fault its committee rode out), not again here.
                if !stalled[i] && !rode_out(&observer.faults, &names[i]) {
                    failures.push(format!("{e:#}"));
                }
                submitted.push(None);
            }
            Ok(Err(e)) => {
                failures.push(format!("the submit task of {} failed: {e}", names[i]));
                submitted.push(None);
            }
            Err(_) => {
                p.task.abort();
                submitted.push(None);
            }
        }
    }

    let hurry = interrupted || !failures.is_empty();
    let honest = |slot: usize| {
        scenario
            .cluster
            .byzantine_validator
            .as_ref()
            .is_none_or(|b| slot != b.shard as usize * n + b.validator as usize)
    };
    let status = settle(
        &clients,
        &names,
        (n, &honest),
        &beacon,
        submitted,
        held,
        hurry,
    )
    .await;
    // Dispatches and events that arrived while settling.
    while let Ok(msg) = rx.try_recv() {
        if let Msg::Dispatched {
            first,
            intended,
            programs,
        } = &msg
        {
            tracker.dispatched(*first, intended, programs);
        }
        if let Msg::Events { at, events, .. } = msg {
            epochs::read_events(epochs.as_ref(), &mut tracker, at, &events, start.elapsed())?;
        }
    }
    for (report, fault) in reports.iter_mut().zip(&scenario.faults) {
        if let Some(target) = fault.kill {
            recovery::measure_recovery(report, target, &tracker);
        }
    }
    // Members silent only at the end, whose committees kept their quorum.
    let now_s = seconds(Instant::now());
    for name in &status.tolerated {
        if let Some(slot) = names.iter().position(|x| x == name)
            && !observer.tolerated(slot)
        {
            let how = "did not answer the final Status request".to_string();
            let times = (seconds(heard[slot]), now_s);
            observer.silent(slot, (name.clone(), how), times, |s| down[s]);
        }
    }
    let audit = audit_every_asset(scenario, &status);
    // Where the driver last routed each account: the live directory, under CLPA.
    let placement = match (real, &epochs) {
        (_, Some(e)) => lock(&e.moving).placement(),
        (Some(p), None) => p.placement,
        (None, None) => {
            cross_shard::Placement::new(scenario.cluster.shards).context("the run's placement")?
        }
    };
    let end = results::RunEnd {
        placement,
        migrations: epochs
            .as_ref()
            .map(|e| lock(&e.moving).audit())
            .unwrap_or_default(),
        window: tracker.window(),
        failures,
        observed: observer.faults,
        backlog_at_load_end: load_end.map(|(_, b)| b).unwrap_or_default(),
        drain_s,
    };
    let mut summary = results::summarize(scenario, run_id, &tracker, &status, &audit, &end);
    summary.recovery.resubmitted = reports.iter().filter_map(|r| r.resubmitted).sum();
    summary.recovery.restarts = reports.iter().filter(|r| r.ready_at_s.is_some()).count() as u64;
    summary.faults = reports;
    summary.partial |= interrupted;
    summary.traffic = real.map(|p| traffic::summary(scenario, p, &summary));
    if let (Some(t), Some(e)) = (summary.traffic.as_mut(), &epochs) {
        let load_end_s = tracker.window().1 as f64 / 1e9;
        t.migration = Some(epochs::summary(
            &lock(&e.moving),
            &tracker.seconds,
            load_end_s,
        ));
        t.placement = "clpa".into();
    }
    summary.cpu_seconds = CpuSeconds {
        wall: start.elapsed().as_secs_f64(),
        driver: crate::cluster::cpu_seconds(std::process::id()).unwrap_or(0.0),
        beacon: cluster.beacon.cpu_seconds().unwrap_or(0.0),
        shards: cluster
            .shards
            .iter()
            .map(|p| p.cpu_seconds().unwrap_or(0.0))
            .collect(),
    };

    results::write_summary(dir, &summary)?;
    results::write_timeseries(dir, &tracker.seconds)?;
    results::write_hlogs(dir, started, &tracker)?;
    // Charts from the files just written, exactly as `shardsim plot` redraws them.
    crate::charts::plot::run_charts(dir)?;
    Ok(summary)
}

/// Transactions the driver holds for shard `k` and has sent to none of its processes:
/// the least any of its validators' submit paths holds.
fn held_for(paths: &[SubmitPath], k: usize, n: usize) -> u64 {
    paths[k * n..(k + 1) * n]
        .iter()
        .map(|p| p.held.load(Ordering::Relaxed))
        .min()
        .unwrap_or(0)
}
