//! # The shard's edges: everything async, everything on the wire
//!
//! **May not** execute transactions or build blocks; it hands everything to the
//! block thread through [`shared`].
//!
//! The gRPC service the driver calls ([`service`]), the session with the beacon
//! ([`beacon_session`]), signature checks on admission ([`sigverify`]), and the
//! hand-off points they share with the block thread — mempool, inbound queue,
//! counters, events queues, doorbell ([`shared`]). This is
//! where `pb` messages are decoded into the shard's own types and checked; the block
//! pipeline and the executors below never see an unchecked message.

pub mod beacon_session;
pub mod peers;
pub mod service;
pub mod shared;
pub mod sigverify;

pub use shared::{
    CERTIFIED, Counters, Doorbell, EVENTS, EVENTS_QUEUE, EventSender, RECORDS, RecentIds, Recount,
    SIGNED, SLOW_SUBSCRIBER, Shared, Wake,
};
