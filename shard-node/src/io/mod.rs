//! # The shard's edges: everything async, everything on the wire
//!
//! **May not** execute transactions or build blocks; it hands everything to the
//! block thread through [`shared`].
//!
//! The gRPC service the driver calls ([`service`]), the session with the beacon
//! ([`beacon_session`]), a committee validator's links to its peers ([`peers`]),
//! signature checks on admission ([`sigverify`]), a snapshot's bytes in chunks for state
//! sync ([`chunks`]), and the hand-off points they share
//! with the block thread — mempool, inbound queue, counters, events queues, doorbell
//! ([`shared`]). This is where `pb` messages are decoded into the shard's own types and
//! checked; the block pipeline and the executors below never see an unchecked
//! message. The one exception is consensus traffic, carried in its `pb` form to the
//! validator on the block thread, which decodes and checks it there
//! ([`crate::validator::wire`]) next to the machine that verifies its signatures.

pub mod beacon_session;
pub mod chunks;
pub mod peers;
pub mod service;
pub mod shared;
pub mod sigverify;

pub use shared::{
    Admission, CERTIFIED, Counters, Doorbell, EVENTS, EVENTS_QUEUE, EventSender, RECORDS,
    RecentIds, Recount, SIGNED, SLOW_SUBSCRIBER, SNAPSHOT_HEADERS, SNAPSHOTS, Shared, Wake,
};
