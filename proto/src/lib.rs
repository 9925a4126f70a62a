//! # The wire: gRPC services and messages of shardsim
//!
//! `proto/shardsim.proto` defines two services, compiled at build time by protox (no
//! `protoc` needed):
//!
//! ```text
//!   driver ──Submit(stream TxBatch)──────────► Shard
//!   driver ◄─Events(stream BlockEvents)──────── Shard
//!   Shard  ──SubmitHeaders(stream Submission)─► Beacon
//!   Shard  ◄─Subscribe(stream Inbound)───────── Beacon
//!   driver ──Status───────────────────────────► Shard, Beacon
//! ```
//!
//! The generated types are plain data that anyone on the network can fill in. This crate
//! also holds the **checked conversions** into the `cross-shard` types: a message is
//! turned into a domain value only through [`convert`], which refuses (with a
//! [`ConvertError`] naming the field) anything malformed — columns of different lengths,
//! hashes that are not 32 bytes, batches over [`MAX_BATCH_TXS`] or [`MAX_BLOCK_TXS`]. Services convert first
//! and act second, so no handler ever sees a malformed value.
//!
//! # Layout
//! - [`pb`]: the generated messages, clients and servers.
//! - [`convert`]: domain ↔ wire conversions with validation.
//! - [`store`]: the append-only log, on disk (redb), that shards and the beacon keep
//!   their stored records in.

pub mod convert;
pub mod store;

pub use convert::{ConvertError, MAX_BATCH_TXS, MAX_BLOCK_TXS, MAX_MESSAGE_BYTES};

/// Generated code, as prost and tonic write it.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod pb {
    tonic::include_proto!("shardsim.v1");
}
