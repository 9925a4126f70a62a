//! # The scenario runner: measuring a sharded chain honestly
//!
//! `shardsim run scenario.toml` answers one question: *how many transactions per
//! second does this cluster finish, how long does each take, and did it stay correct?*
//!
//! It starts a real cluster — a beacon process and one process per shard, on loopback —
//! and offers it a seeded workload of transfers. Some transfers stay on one shard;
//! others cross shards and finish only when their receipt is applied on the
//! destination. The driver follows every transaction from its intended send time to
//! finality on one clock, then checks the invariants and writes results and charts.
//!
//! ```text
//!  scenario.toml ──► Scenario ──► Cluster::start ──► beacon, shard 0..n (child processes)
//!                                     │
//!       Workload (seeded) ──batches──►│ Submit ─► shards ─► blocks ─► Events ─► Tracker
//!                                     │                                          │
//!                         Status ◄────┘  audit (supply, exactly-once, accounted) ◄┘
//!                                     │
//!                results/<name>/<run-id>/ summary.json, timeseries.csv, *.hlog, *.png|svg
//! ```
//!
//! Terms: **offered rate** (what the driver sends, open loop, on a fixed schedule) vs
//! **throughput** (what becomes final per second); **intended send time** (the
//! transaction's slot in the schedule, from which latency is measured so that a
//! backed-up sender cannot hide queueing delay); **measured window** (after warm-up);
//! **quiescence** (nothing left in any mempool or receipt queue).
//!
//! # Layout
//! - [`scenario`]: the scenario file, parsed strictly with located errors.
//! - [`workload`]: the seeded transfer generator.
//! - [`schedule`]: when each transaction is due (rate, steps, ramps).
//! - [`cluster`]: child processes, readiness, no orphans, kill and restart.
//! - [`submit`]: the submit path to a shard, which resends what a crash lost.
//! - [`faults`]: the `[[faults]]` schedule and recovery times.
//! - [`metrics`]: per-transaction fate, latency histograms, per-second counts.
//! - [`report`]: summary.json, timeseries.csv, HdrHistogram logs, the table.
//! - [`charts`]: throughput and latency charts (PNG and SVG).
//! - [`run`]: one run, start to finish.
//! - [`sweep`]: the same scenario over shard counts and parameters.
//! - [`plot`]: charts redrawn from a run's or sweep's data files.
//! - [`bench_exec`]: executor throughput in-process (`shardsim bench-exec`).

pub mod bench_exec;
pub mod charts;
pub mod cluster;
pub mod faults;
pub mod metrics;
pub mod plot;
pub mod report;
pub mod run;
pub mod scenario;
pub mod schedule;
pub mod submit;
pub mod sweep;
pub mod workload;
