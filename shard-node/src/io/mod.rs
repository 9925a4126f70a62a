//! # The shard's edges: everything async, everything on the wire
//!
//! The gRPC service the driver calls ([`service`]), the session with the beacon
//! ([`beacon_session`]), and signature checks on admission ([`sigverify`]). This is
//! where `pb` messages are decoded into the shard's own types and checked; the block
//! pipeline and the executors below never see an unchecked message.

pub mod beacon_session;
pub mod service;
pub mod sigverify;
