//! # Placement: which shard should hold each account
//!
//! A sharded chain is only as parallel as its traffic lets it be. A transaction whose
//! two objects live on one shard is executed there, in one block; one whose objects live
//! on two shards becomes **cross-shard** — a debit, a receipt through the beacon, a credit
//! blocks later, twice the work and three times the latency. Placing accounts by a hash of
//! their id spreads load evenly but ignores who transacts with whom: on real Ethereum
//! traffic it sends about `1 − 1/k` of transactions across `k` shards. Placing by the
//! **account graph** — accounts as vertices, transactions as weighted edges — keeps
//! accounts that transact together on one shard.
//!
//! ```text
//!  traffic ──► account graph ──every epoch──► strategy ──► directory e+1 ──► migration
//!             (last `window`      hash | clpa | partition    (account → shard)
//!              epochs)
//! ```
//!
//! ## Terms
//! - **epoch**: the span between placement decisions. A strategy places at the end of
//!   epoch `e` from what it has seen, and is **scored on epoch `e+1`**, which it has not.
//! - **directory**: account → shard for one epoch; hash placement is the empty one.
//! - **cross-shard share**: transactions whose two objects are on different shards.
//! - **load**: the transactions a shard executes any part of; **imbalance**: the busiest
//!   shard's load over the mean.
//! - **moved**: accounts whose shard changes between two epochs — each a migration the
//!   chain must carry out.
//!
//! ## Strategies
//! - `hash`: the baseline, never moves anything.
//! - `clpa`: constrained label propagation, as BlockEmulator ships it, every epoch.
//! - `partition`: a multilevel partitioner (METIS) over a warm-up prefix, once.
//!
//! Every strategy is a pure function of (graph so far, current directory) to the next
//! directory: no clock, no I/O, no randomness it is not handed.
//!
//! # Layout
//! - [`graph`]: transactions as touched pairs, the windowed history, the frozen graph.
//! - [`directory`]: account → shard for one epoch, over the hash default.
//! - [`clpa`]: constrained label propagation (its score formula is there).
//! - [`partition`]: METIS k-way partitioning of load-weighted graphs.
//! - [`study`]: the epoch-by-epoch replay that scores each strategy on unseen traffic.

pub mod clpa;
pub mod directory;
pub mod graph;
pub mod partition;
pub mod study;

pub use clpa::ClpaParams;
pub use directory::Directory;
pub use graph::Touch;
pub use study::{Strategy, StudyResult, Totals, partition_directory, study};
