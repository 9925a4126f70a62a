//! # Virtual time: the same protocol code on a simulated cluster
//!
//! A process cluster on one machine measures the machine once its processes outnumber
//! the cores. A virtual run (`cluster.mode = "virtual"`, `shardsim run --virtual`)
//! runs the cluster's nodes in this one process, on one virtual clock, so that a
//! thousand shards cost what their work costs and nothing else — and so that the same
//! seed gives the same run, event for event.
//!
//! It is not a model of the protocol. Each node is the protocol's own code: a shard is
//! [`shard_node::block::BlockProducer`] with the [`shard_node::io::Shared`] hand-off
//! points its gRPC handlers fill, the beacon is [`beacon::chain::Chain`], the
//! messages between them are the protobuf messages the processes send, and blocks
//! are really executed (their state roots and receipts are real). What is simulated
//! is everything around that code:
//!
//! ```text
//!             ┌──────── protocol core: the same code as the processes run ─────────┐
//!             │  BlockProducer · Shared::admit · beacon_session::take · Chain       │
//!             └───────────────▲──────────────────────────────────┬──────────────────┘
//!                 inputs, at  │ the time the clock says          │ outputs: headers,
//!                             │                                  ▼ events, deliveries
//!   clock (virtual) ◄── EventQueue (time, seq) ◄── Network (latency, jitter, bandwidth)
//!                               ▲                      per-node CPU (cost model)
//!                               └── driver: generator rounds, Tracker, verdict
//! ```
//!
//! - [`queue`]: one event queue ordered by (virtual time, sequence).
//! - [`network`]: the `[network]` section as delays, seeded per link, in order.
//! - [`cost`]: how long each piece of work keeps a node's CPU busy.
//! - [`nodes`]: a shard and the beacon around their protocol code.
//! - [`config`]: each node's configuration, parsed from the flags a process gets.
//! - [`world`]: the event loop.
//!
//! **Determinism.** Nothing a node sees comes from the machine: time is the clock's,
//! randomness is seeded (the workload, each link's jitter), keys derive from the seed,
//! and events at the same time keep the order they were scheduled in. Two runs of the
//! same scenario and seed write the same summary.json (but for its wall-clock fields:
//! `run_id` and `simulator.wall`) and the same timeseries.csv.
//!
//! **Not yet simulated** (refused by name by the scenario's validation): committees,
//! faults, CLPA's migrations, TLS and network namespaces.

pub mod config;
pub mod cost;
pub mod network;
pub mod nodes;
pub mod queue;
pub mod world;

use std::path::Path;
use std::time::Duration;

use rand::{Rng, SeedableRng};

use crate::load::schedule::Schedule;
use crate::load::workload::Source;
use crate::measure::tracker::Tracker;
use crate::scenario::Scenario;
use cost::CostModel;
use network::Network;
use nodes::{BeaconNode, ShardNode};
use world::{Load, World};

/// The scenario the simulated nodes and the load run: the scenario itself, but under
/// `virtual.crypto = "modelled"` without signatures — none is made or checked, and the
/// shards' CPUs are charged for checking them all the same ([`nodes::ShardNode`]).
pub fn as_simulated(scenario: &Scenario) -> std::borrow::Cow<'_, Scenario> {
    if modelled_signatures(scenario) {
        let mut s = scenario.clone();
        s.cluster.signatures = false;
        std::borrow::Cow::Owned(s)
    } else {
        std::borrow::Cow::Borrowed(scenario)
    }
}

/// Whether the scenario's signatures are charged but neither made nor checked
/// (`cluster.signatures` under `virtual.crypto = "modelled"`).
pub fn modelled_signatures(scenario: &Scenario) -> bool {
    scenario.cluster.signatures && scenario.simulation.crypto == crate::scenario::Crypto::Modelled
}

/// Mixed into the seed for the nodes' start times (see `world`).
const PHASE_SALT: u64 = 0x5048_4153_4553;
/// Between two processes' starts in a process run: each waits for the one before to
/// say READY (measured 1–7 ms on the 2-core machine, docs/architecture.md §53).
pub const LAUNCH_GAP: Duration = Duration::from_millis(2);

/// The simulated cluster of `scenario` at genesis, with its load (`source` on
/// `schedule`) and the driver's tracker; `placement` is the genesis table's file
/// when accounts are placed by a partition.
pub fn world(
    scenario: &Scenario,
    (source, schedule): (Source, Option<Schedule>),
    placement: Option<&Path>,
    model: CostModel,
) -> anyhow::Result<World> {
    let modelled = modelled_signatures(scenario);
    let secret = config::secret(scenario.seed);
    let configs = config::shard_configs(&as_simulated(scenario), &secret, placement)?;
    let committees = config::committees(scenario, &secret)?;
    let clock = cross_shard::clock::Clock::virtual_();
    let c = &scenario.cluster;
    let node_cost = cost::Node {
        vm: c.vm,
        executor: c.executor,
        threads: c.threads_per_shard,
        shards: c.shards,
    };
    // The nodes start as the process driver starts its processes — the beacon, then
    // each shard process `LAUNCH_GAP` after the one before — so their block loops tick
    // in the same phases as a process run's. (All ticking at once would make every
    // receipt wait a whole beacon interval and a whole block interval.) The load begins
    // once all are up: a node's start is its phase within its first interval, and
    // where the load begins in the beacon's is drawn from the seed.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(scenario.seed ^ PHASE_SALT);
    let beacon_start = c.beacon_interval.mul_f64(rng.random::<f64>());
    let interval = c
        .block_interval
        .unwrap_or(c.beacon_interval)
        .as_nanos()
        .max(1);
    let mut shards = Vec::with_capacity(configs.len());
    for (slot, config) in configs.into_iter().enumerate() {
        let launched = beacon_start + LAUNCH_GAP * (slot as u32 + 1);
        clock.set(Duration::from_nanos(
            (launched.as_nanos() % interval) as u64,
        ));
        let mut node = ShardNode::new(config, clock.clone(), node_cost)?;
        node.next_tick = clock.now();
        node.modelled_signatures = modelled;
        shards.push(node);
    }
    clock.set(Duration::ZERO);
    let total = scenario.warmup + scenario.duration;
    let window = (scenario.warmup.as_nanos() as u64, total.as_nanos() as u64);
    let two_phase = (c.protocol == crate::scenario::Protocol::TwoPhase).then_some(c.deadline);
    Ok(World {
        clock,
        queue: Default::default(),
        net: Network::new(
            scenario.network.latency,
            scenario.network.jitter,
            scenario.network.bandwidth,
            scenario.seed,
        ),
        model,
        beacon: BeaconNode::new(committees, two_phase, beacon_start),
        validators: c.validators,
        block_interval: c.block_interval,
        beacon_interval: c.beacon_interval,
        load: Load {
            source,
            schedule,
            end: total,
            done: false,
            on_wire: vec![0; shards.len()],
        },
        shards,
        tracker: Tracker::new(c.shards, window),
        failures: Vec::new(),
    })
}
