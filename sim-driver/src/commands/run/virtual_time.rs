//! One run in virtual time (`cluster.mode = "virtual"`): the simulated cluster of
//! [`crate::simulate`] driven to its end, and the same results written as a process
//! run writes.
//!
//! ```text
//!  1. results folder, scenario echo, the genesis table (partition placement)
//!  2. the load (as the process driver prepares it) and the simulated cluster
//!  3. the event loop; every 250 virtual ms: figures, Ctrl-C, is the run over?
//!  4. load ends at warmup + duration; drain until every transaction is resolved and
//!     nothing is left anywhere (or 30 virtual s)
//!  5. every node's Status, the audit, summary.json with `simulator`, timeseries.csv,
//!     hlogs, charts
//! ```

use std::time::{Duration, Instant};

use anyhow::Context;

use super::{Progress, RunOptions, RunOutcome, open_run, schedule_of, traffic};
use crate::measure::audit::audit_every_asset;
use crate::measure::settle::{FinalStatus, quiescent, represent};
use crate::results::{self, SimulatorSummary, SimulatorWall};
use crate::scenario::Scenario;
use crate::simulate::cost::CostModel;
use crate::simulate::nodes::ShardNode;
use crate::simulate::world::{Event, SAMPLE, World};

/// How long after the load ends the run waits for outstanding transactions, in
/// virtual time (as the process driver's drain).
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// How long an interrupted or failed run drains.
const INTERRUPTED_DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// Runs `scenario` in virtual time, writes its results as a process run does, and
/// returns its summary.
pub async fn run(scenario: &Scenario, opts: &RunOptions) -> anyhow::Result<RunOutcome> {
    if opts.cluster.is_some() {
        anyhow::bail!(
            "a virtual run simulates its own cluster: --cluster (attach mode) drives real processes"
        );
    }
    let as_written = scenario;
    let prepared = crate::load::real::prepare(scenario, crate::cluster::INITIAL_BALANCE)
        .context("preparing the real traffic")?;
    let scenario = prepared.as_ref().map_or(scenario, |p| &p.scenario);
    let (run_id, dir, started) = open_run(opts, scenario, as_written)?;
    let table = traffic::write_table(prepared.as_ref(), &dir)?;
    let schedule = schedule_of(scenario, prepared.as_ref());
    let total = scenario.warmup + scenario.duration;
    let real = prepared
        .as_ref()
        .map(crate::load::real::RealTraffic::new)
        .transpose()?;
    let source = crate::load::generator::prepare_source(
        &crate::simulate::as_simulated(scenario),
        total,
        opts.progress,
        real,
        schedule.as_ref(),
    )
    .await?;
    let model = match &scenario.simulation.cost_model {
        Some(path) => CostModel::load(path)?,
        None => CostModel::default(),
    };
    let mut world = crate::simulate::world(
        scenario,
        (source, schedule),
        table.as_deref(),
        model.clone(),
    )?;
    let began = Instant::now();
    let progress = Progress::new(opts.progress, total);
    let end = drive(&mut world, opts, &progress);
    progress.finish();

    let c = &scenario.cluster;
    let n = c.validators as usize;
    let statuses: Vec<_> = world.shards.iter_mut().map(ShardNode::status).collect();
    let honest = |slot: usize| {
        c.byzantine_validator
            .as_ref()
            .is_none_or(|b| slot != b.shard as usize * n + b.validator as usize)
    };
    let (shards, validators) = represent(statuses, n, &honest, &[]);
    let beacon = world.beacon.state.status();
    let status = FinalStatus {
        quiescent: quiescent(&shards, &validators, &beacon),
        shards,
        validators,
        names: (0..world.shards.len() as u32)
            .map(|s| world.name(s))
            .collect(),
        beacon,
        silent: Vec::new(),
        tolerated: Vec::new(),
        submitted: world
            .shards
            .iter()
            .map(|n| Some((n.sent, n.accepted)))
            .collect(),
        held: (0..c.shards as usize).map(|k| world.held(k)).collect(),
    };
    let audit = audit_every_asset(scenario, &status);
    let placement = match &prepared {
        Some(p) => p.placement,
        None => cross_shard::Placement::new(c.shards).context("the run's placement")?,
    };
    let run_end = results::RunEnd {
        placement,
        migrations: Vec::new(),
        window: world.tracker.window(),
        failures: std::mem::take(&mut world.failures),
        observed: Vec::new(),
        backlog_at_load_end: end.backlog,
        drain_s: end.drain_s,
    };
    let mut summary =
        results::summarize(scenario, &run_id, &world.tracker, &status, &audit, &run_end);
    summary.partial |= end.interrupted;
    summary.traffic = prepared
        .as_ref()
        .map(|p| traffic::summary(scenario, p, &summary));
    let wall = began.elapsed().as_secs_f64().max(1e-9);
    let virtual_s = world.queue.now().as_secs_f64();
    summary.simulator = Some(SimulatorSummary {
        events: world.queue.handled,
        messages: world.net.messages,
        bytes: world.net.bytes,
        virtual_s,
        cost_model: model.source,
        crypto: if crate::simulate::modelled_signatures(scenario) {
            "modelled"
        } else if c.signatures {
            "real"
        } else {
            "none"
        }
        .into(),
        wall: SimulatorWall {
            seconds: wall,
            events_per_s: world.queue.handled as f64 / wall,
            speed: virtual_s / wall,
        },
    });
    results::write_summary(&dir, &summary)?;
    results::write_timeseries(&dir, &world.tracker.seconds)?;
    results::write_hlogs(&dir, started, &world.tracker)?;
    crate::charts::plot::run_charts(&dir)?;
    Ok(RunOutcome { dir, summary })
}

/// How the event loop ended.
struct End {
    /// Per shard, the backlog (mempool + stream) when the load stopped.
    backlog: Vec<u64>,
    /// Seconds from the end of the load until nothing was unresolved.
    drain_s: Option<f64>,
    /// Ctrl-C stopped it.
    interrupted: bool,
}

/// The event loop, with the driver's part: sampling, the drain, Ctrl-C.
fn drive(world: &mut World, opts: &RunOptions, progress: &Progress) -> End {
    world.start();
    let mut load_end: Option<Duration> = None;
    let mut backlog = Vec::new();
    let mut drain_s = None;
    let mut deadline = Duration::MAX;
    let mut interrupted = false;
    while let Some(event) = world.step() {
        let Event::Sample = event else {
            world.handle(event);
            continue;
        };
        let now = world.queue.now();
        let at = now.as_nanos() as u64;
        for k in 0..world.tracker.mempools().len() {
            let held = world.held(k);
            world.tracker.held(at, k, held);
        }
        progress.update(now, &world.tracker, world.load.done);
        interrupted |= *opts.stop.borrow();
        let failing = interrupted || !world.failures.is_empty();
        if failing && !world.load.done {
            // What ran is what is measured; the load stops and a short drain follows.
            world.tracker.close_window(at);
            world.load.done = true;
        }
        if failing {
            deadline = deadline.min(now + INTERRUPTED_DRAIN_LIMIT);
        }
        if world.load.done && load_end.is_none() {
            load_end = Some(now);
            backlog = (0..world.tracker.mempools().len())
                .map(|k| world.tracker.mempools()[k] + world.held(k))
                .collect();
            deadline = deadline.min(now + DRAIN_LIMIT);
        }
        if let Some(ended) = load_end {
            let settled = world.tracker.unresolved() == 0;
            if settled && drain_s.is_none() {
                drain_s = Some((now - ended).as_secs_f64());
            }
            if (settled && world.quiet()) || now >= deadline {
                break;
            }
        }
        world.queue.at(now + SAMPLE, Event::Sample);
    }
    End {
        backlog,
        drain_s,
        interrupted,
    }
}
