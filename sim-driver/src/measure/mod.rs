//! # Measuring a run: what happened to every transaction, and whether it was right
//!
//! ```text
//!  Events ──► Tracker (fate, latency, per second) ─┐
//!  Status{recount} ──► settle ──► FinalStatus ─────┼──► audit ──► verdict (Invariants)
//! ```
//!
//! Every invariant is decided here ([`verdict`]), from the sources named in
//! docs/architecture.md; nothing here writes files or draws.

pub mod agreement;
pub mod audit;
pub mod observed;
pub mod recovery;
pub mod settle;
pub mod tracker;
pub mod verdict;
