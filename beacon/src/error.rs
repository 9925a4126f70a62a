//! Errors of the beacon.

use cross_shard::ShardId;
use shardsim_proto::ConvertError;

/// Why the beacon refused something or stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A message is not well formed.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A message field failed validation.
    #[error(transparent)]
    Convert(#[from] ConvertError),
    /// A header or batch breaks the protocol (chain, channel order, commitment).
    #[error(transparent)]
    Protocol(#[from] cross_shard::Error),
    /// A shard id outside the cluster.
    #[error("shard {shard} is not in 0..{shards}")]
    UnknownShard {
        /// The id received.
        shard: ShardId,
        /// Shards in the cluster.
        shards: u32,
    },
    /// A header without a quorum certificate of its shard's committee that proves it.
    #[error("shard {shard} header {height}: not certified by its committee: {why}")]
    Uncertified {
        /// The shard it names.
        shard: ShardId,
        /// The height it claims.
        height: u64,
        /// What is missing or wrong.
        why: String,
    },
    /// The configuration cannot describe a working beacon.
    #[error("invalid beacon configuration: {0}")]
    Config(String),
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] shardsim_proto::store::StoreError),
    /// A stored block does not replay to the block it was.
    #[error("stored beacon block {height} cannot be replayed: {why}")]
    Corrupt {
        /// The block.
        height: u64,
        /// What went wrong.
        why: String,
    },
    /// The gRPC server failed.
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        tonic::Status::invalid_argument(e.to_string())
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
