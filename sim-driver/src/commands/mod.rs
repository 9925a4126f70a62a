//! # Commands: orchestration only
//!
//! - [`run`]: one run, start to finish — start the cluster, drive the load, step the
//!   faults, watch the processes, settle, audit, write.
//! - [`sweep`]: the same scenario over shard counts and parameters.
//! - [`bench_exec`]: executor throughput in-process, without the network.
//! - [`deploy`]: a scenario's cluster as Kubernetes manifests.
//! - [`placement`]: what placing accounts well buys, on real traffic, without a cluster.
//! - [`genesis`]: the kit of a cluster started elsewhere (keys, certificates, the
//!   processes' commands, the cluster file to attach with).

pub mod bench_evm;
pub mod bench_exec;
pub mod deploy;
pub mod genesis;
pub mod placement;
pub mod run;
pub mod sweep;
