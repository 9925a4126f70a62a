//! Errors of a shard process.

/// Why a shard stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot describe a working shard.
    #[error("invalid shard configuration: {0}")]
    Config(String),
    /// The beacon could not be reached at start-up.
    #[error("cannot reach the beacon at {url}: {source}")]
    BeaconUnreachable {
        /// The beacon's address.
        url: String,
        /// The last connection error.
        source: tonic::transport::Error,
    },
    /// A stream to or from the beacon failed or ended.
    #[error("lost the beacon ({stream}): {status}")]
    BeaconLink {
        /// Which stream: `subscribe` or `submit_headers`.
        stream: &'static str,
        /// What the transport said.
        status: tonic::Status,
    },
    /// `verify_executor` found the chosen executor disagreeing with the sequential
    /// reference: a bug in the executor.
    #[error(
        "the {executor:?} executor disagrees with the sequential one at height {height} (a bug)"
    )]
    ExecutorMismatch {
        /// The executor that disagreed.
        executor: crate::Executor,
        /// The block.
        height: u64,
    },
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] shardsim_proto::store::StoreError),
    /// A stored block cannot be replayed.
    #[error("stored block {height} cannot be replayed: {why}")]
    Corrupt {
        /// The block.
        height: u64,
        /// What is wrong with it.
        why: String,
    },
    /// This validator's execution of a block its committee decided differs from the
    /// certified header: this validator (or the quorum) computed wrongly.
    #[error("block {height}: the committee certified {certified}, this validator computed {mine}")]
    Diverged {
        /// The block.
        height: u64,
        /// The certified header's hash.
        certified: cross_shard::Hash,
        /// The header this validator computed.
        mine: cross_shard::Hash,
    },
    /// The gRPC server failed.
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
