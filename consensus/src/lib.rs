//! # Consensus inside a shard
//!
//! A shard of a real sharded chain is not one machine but a **committee** of
//! validators, each holding the shard's whole state, that must agree on every block.
//! A committee of `n` tolerates `f = ⌊(n−1)/3⌋` Byzantine validators — ones that crash,
//! stay silent, lie about the state or sign two conflicting blocks — which is why a
//! shard is only as safe as its committee's honest two-thirds, and why a sharded chain
//! samples committees large enough that no shard gets more than a third of bad ones.
//!
//! This crate is the protocol those validators run, with no I/O:
//!
//! ```text
//!   validator i of shard s                                  beacon / destination shards
//!   ──────────────────────                                  ───────────────────────────
//!   Machine (Tendermint) ── Proposal / Vote ──► peers       Committee (public keys)
//!        │ App::execute(block) → state root                      │
//!        │ quorum of precommits = QuorumCert ──────────────────► QuorumCert::verify
//!        ▼                                                       (one batch verification)
//!   App::commit(block, cert)
//! ```
//!
//! **Terms.** A *height* is a block number; each height runs *rounds* (views), each with
//! its own *proposer* (leader), rotating. A *quorum* is `n − f` validators; any two
//! quorums share an honest one. A *quorum certificate* (QC) is a quorum's signed
//! precommits for one block and the state root after it.
//!
//! **Why Tendermint** (argued at length in docs/architecture.md): it decides one block
//! per height with every validator executing it before voting, so a vote can name the
//! state root, and a validator never holds a tree of speculative states — chained
//! HotStuff pipelines proposals over uncommitted parents, which would force every
//! validator to execute forks. Its view change is part of the normal round structure
//! (a locked value, a round timeout), not a separate sub-protocol as in PBFT.
//!
//! # Layout
//! - [`committee`]: who the validators are, `f`, the quorum, the proposer rotation and
//!   validator keys.
//! - [`vote`]: signed votes and proposals, quorum certificates and their batch check.
//! - [`machine`]: Tendermint as a pure state machine over an [`machine::App`].
//! - `sim` (tests): a seeded lossy network, crashes and Byzantine validators, with the
//!   safety and liveness properties and their mutation tests.

pub mod committee;
pub mod machine;
#[cfg(test)]
mod sim;
pub mod vote;

pub use committee::{Committee, ValidatorId};
pub use machine::{
    App, Behaviour, Block, Fault, Machine, Message, Output, Proposal, SignedState, Step, Timeouts,
};
pub use vote::{Kind, QuorumCert, Value, Vote};

/// What can go wrong in consensus code called from outside.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A committee must have 1 to [`committee::MAX_VALIDATORS`] validators.
    #[error("shard {shard}: a committee of {validators} validators (1 to 256 allowed)")]
    CommitteeSize {
        /// The shard.
        shard: cross_shard::ShardId,
        /// The size asked for.
        validators: usize,
    },
    /// A committee's public key that is not one.
    #[error("shard {shard}: committee key {index}: {why}")]
    BadKey {
        /// The shard.
        shard: cross_shard::ShardId,
        /// The key's place in the list.
        index: usize,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A behaviour name that is not one.
    #[error(
        "unknown behaviour {0:?}: expected honest, equivocate, silent, wrong-root, withhold-votes or forge-receipts"
    )]
    UnknownBehaviour(String),
    /// A quorum certificate that does not prove what it claims.
    #[error("shard {shard} height {height}: certificate refused: {why}")]
    BadCertificate {
        /// The shard.
        shard: cross_shard::ShardId,
        /// The height it claims.
        height: u64,
        /// What is wrong with it.
        why: String,
    },
}

/// A result of this crate.
pub type Result<T> = std::result::Result<T, Error>;
