//! # The load: what is offered, when, and how it reaches each shard
//!
//! ```text
//!  Workload (seeded calls) ──► generator (on the Schedule) ──batches──► SubmitPath ─► shard
//! ```
//!
//! May use the scenario; knows nothing of how the run is measured or reported.

pub mod ethereum_like;
pub mod generator;
pub mod real;
pub mod schedule;
pub mod submit;
pub mod trace;
pub mod workload;
