//! # The load: what is offered, when, and how it reaches each shard
//!
//! ```text
//!  Workload (seeded calls) ──┐
//!  RealTraffic (a trace, or ├─► generator (on the Schedule) ──batches──► SubmitPath ─► shard
//!   the Ethereum-like one) ──┘
//! ```
//!
//! Two kinds of traffic. The **synthetic** workload (`workload`) draws calls of the five
//! programs with the cross-shard share as a dial. **Real traffic** — a replayed trace
//! (`trace`) or the Ethereum-like generator (`ethereum_like`) — has a structure of its
//! own (who transacts with whom), so the cross-shard share is a *result*; `real` turns it
//! into the cluster's transactions after surveying it for genesis.
//!
//! May use the scenario; knows nothing of how the run is measured or reported.

pub mod ethereum_like;
pub mod generator;
pub mod moving;
pub mod real;
pub mod schedule;
pub mod submit;
pub mod trace;
pub mod workload;
