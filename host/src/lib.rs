//! # The host: what every shardsim process needs from the machine it runs on
//!
//! Three things that every process (driver, beacon, shard) shares and that belong to no
//! protocol:
//!
//! - [`netem`]: the emulated network — latency, jitter, and injected drops and
//!   duplicates on any message stream. Each process delays what it sends and receives
//!   on its own links, so the driver and the shards use the same code for it.
//! - [`process`]: a service process's entry scaffolding — logs to stderr, `READY
//!   <addr>` on stdout for the driver, and a clean stop on Ctrl-C.
//! - [`tls`]: the cluster's credentials — a CA made per cluster, a certificate per
//!   process naming its role, mutual TLS on every link once a cluster leaves loopback.
//!
//! Nothing here knows about shards, receipts or the wire format.

pub mod netem;
pub mod process;
pub mod tls;
