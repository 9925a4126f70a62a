//! # Commands: orchestration only
//!
//! - [`run`]: one run, start to finish — start the cluster, drive the load, step the
//!   faults, watch the processes, settle, audit, write.
//! - [`sweep`]: the same scenario over shard counts and parameters.
//! - [`bench_exec`]: executor throughput in-process, without the network.
//! - [`calibrate`]: the virtual driver's cost model, measured on this machine.
//! - [`deploy`]: a scenario's cluster as Kubernetes manifests.
//! - [`placement`]: what placing accounts well buys, on real traffic, without a cluster.
//! - [`genesis`]: the kit of a cluster started elsewhere (keys, certificates, the
//!   processes' commands, the cluster file to attach with).

pub mod bench_evm;
pub mod bench_exec;
pub mod calibrate;
pub mod deploy;
pub mod genesis;
pub mod placement;
pub mod run;
pub mod sweep;

/// A cluster's kit (`genesis`, `deploy`) is written from the scenario alone; real
/// traffic's genesis is surveyed from the traffic and a partition's table made from
/// it, when the driver starts the cluster itself. Refused by name rather than written
/// for a cluster that would not be the scenario's.
pub fn refuse_kit_for_real_traffic(scenario: &crate::scenario::Scenario) -> anyhow::Result<()> {
    use crate::scenario::{Source, StrategyKind};
    if scenario.workload.source != Source::Synthetic {
        anyhow::bail!(
            "workload.source replays real traffic, whose genesis (accounts, tokens) is surveyed when `shardsim run` starts the cluster itself; a kit for a cluster started elsewhere cannot hold it yet"
        );
    }
    if scenario.placement.strategy != StrategyKind::Hash {
        anyhow::bail!(
            "placement.strategy = {:?}: a cluster started elsewhere places by hash only",
            scenario.placement.strategy.name()
        );
    }
    Ok(())
}
