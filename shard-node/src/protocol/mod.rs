//! # Cross-shard protocols, the shard's side
//!
//! **Owns** what a shard keeps of the protocols between blocks. **May not** do I/O or
//! run blocks: the session (`io`) feeds it, the pipeline (`block`) drains it.
//!
//! - [`inbound`]: receipts admitted from the beacon, waiting for a block (the
//!   delayed-receipt queue).
//! - [`outgoing`]: header submissions kept until notarized, resent at a paced rate.
//! - [`two_phase`]: the shard's part in two-phase commit, as home and as participant.
//!
//! The pure protocol logic (channels, the coordinator, the lock table) lives in
//! `cross_shard`; this module holds what a shard keeps of it between blocks.

pub mod inbound;
pub mod outgoing;
pub mod two_phase;

pub use inbound::{HeldProof, Inbound, QueuedReceipt};
pub use outgoing::{MAX_RETRANSMIT, Outgoing, RETRANSMIT};
