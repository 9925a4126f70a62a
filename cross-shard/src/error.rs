//! The errors of the protocol logic.

use crate::ids::ShardId;

/// What can go wrong when a shard checks what it receives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A receipt batch arrived whose first sequence number is beyond the next expected
    /// one: receipts in between are missing, so applying it would break ordering.
    #[error("gap on channel {src}→{dst}: expected seq {expected}, batch starts at {got}")]
    ChannelGap {
        /// Sending shard.
        src: ShardId,
        /// Receiving shard.
        dst: ShardId,
        /// The next sequence number the receiver can apply.
        expected: u64,
        /// The batch's first sequence number.
        got: u64,
    },
    /// A Merkle path does not lead from the batch to the notarized root.
    #[error(
        "receipt batch {src}→{dst} at source height {height} does not match the notarized receipts root"
    )]
    BadProof {
        /// Sending shard.
        src: ShardId,
        /// Receiving shard.
        dst: ShardId,
        /// Source block height the batch claims.
        height: u64,
    },
    /// A delivery refers to a source header that no beacon block has notarized.
    #[error("no notarized header for shard {src} at height {height}")]
    NotNotarized {
        /// Sending shard.
        src: ShardId,
        /// Source block height the batch claims.
        height: u64,
    },
    /// A header does not extend its shard's chain.
    #[error("header of shard {shard} at height {height} does not extend the chain: {why}")]
    BadHeader {
        /// Shard of the header.
        shard: ShardId,
        /// Height of the header.
        height: u64,
        /// What is wrong (height, previous hash).
        why: &'static str,
    },
    /// A batch's sender or receiver is not the shard it should be.
    #[error("receipt batch {src}→{dst} does not belong here: {why}")]
    Misrouted {
        /// Claimed sending shard.
        src: ShardId,
        /// Claimed receiving shard.
        dst: ShardId,
        /// Which end is wrong.
        why: &'static str,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
