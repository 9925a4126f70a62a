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
//!
//! Each folder is one room of the driver, and depends only on the rooms above it:
//!
//! - [`scenario`]: the scenario file — types, defaults, parsing with located errors,
//!   overrides, validation.
//! - [`load`]: the load — the seeded workload, real traffic (traces, the Ethereum-like
//!   generator), the schedule, the generator and the submit path to each shard (which
//!   resends what a crash lost).
//! - [`cluster`]: the processes — start, readiness, no orphans, kill, freeze, restart —
//!   and the `[[faults]]` timeline.
//! - [`measure`]: what happened — the per-transaction tracker, settling the cluster, the
//!   audit and the verdict (every invariant in one place).
//! - [`results`]: what is written and printed — summary types, files, tables, comparisons.
//! - [`charts`]: throughput and latency charts, and `plot` (charts redrawn from files).
//! - [`simulate`]: the virtual driver — the same protocol code on one virtual clock,
//!   with the network and every node's CPU simulated (`cluster.mode = "virtual"`).
//! - [`commands`]: `run`, `sweep`, `placement`, `bench-exec` — orchestration only.

pub mod charts;
pub mod cluster;
pub mod commands;
pub mod load;
pub mod measure;
pub mod results;
pub mod scenario;
pub mod simulate;
