//! What each simulated node is started with: exactly what a process of the same
//! scenario is started with. The driver writes the cluster's kit (keys drawn from the
//! run's seed rather than at random, so that the run repeats), builds each shard's
//! command line as it would for a process ([`Kit::shard_args`]) and parses it with the
//! shard's own flag parser ([`shard_node::cli::config`]). No second mapping from a
//! scenario to a shard's configuration exists to drift from the first.

use std::path::Path;

use anyhow::Context;
use clap::{Args as _, FromArgMatches as _};
use shard_node::ShardConfig;

use crate::cluster::kit::Kit;
use crate::scenario::Scenario;

/// The secret every validator key of a virtual run derives from: the run's seed's.
pub fn secret(seed: u64) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"shardsim/virtual-keys/v1");
    h.update(&seed.to_le_bytes());
    *h.finalize().as_bytes()
}

/// Every committee (index = shard), as the beacon gets them.
pub fn committees(
    scenario: &Scenario,
    secret: &[u8; 32],
) -> anyhow::Result<Vec<consensus::Committee>> {
    let n = scenario.cluster.validators as usize;
    (0..scenario.cluster.shards)
        .map(|k| consensus::Committee::derived(secret, k, n).context("deriving the committees"))
        .collect()
}

/// Each shard process's configuration, by slot, with `placement` the genesis table's
/// file when accounts are placed by a partition.
pub fn shard_configs(
    scenario: &Scenario,
    secret: &[u8; 32],
    placement: Option<&Path>,
) -> anyhow::Result<Vec<ShardConfig>> {
    let dir = tempfile::tempdir().context("a temporary folder for the cluster's keys")?;
    let mut kit = Kit::write_from(scenario, dir.path(), false, secret)?;
    kit.placement_file = placement.map(Path::to_path_buf);
    let c = &scenario.cluster;
    (0..c.shards * c.validators)
        .map(|slot| {
            // Addresses name nodes of the simulated network; nothing dials them.
            let (k, v) = (slot / c.validators, slot % c.validators);
            let peers: Vec<String> = (0..v)
                .map(|i| format!("http://shard-{k}-validator-{i}.virtual"))
                .collect();
            let args = kit.shard_args(scenario, slot, "http://beacon.virtual", &peers);
            let command = shard_node::cli::Args::augment_args(clap::Command::new("__shard"));
            let matches = command
                .try_get_matches_from(&args)
                .with_context(|| format!("slot {slot}: the shard's flags {args:?}"))?;
            let args = shard_node::cli::Args::from_arg_matches(&matches)?;
            shard_node::cli::config(args).with_context(|| format!("slot {slot}'s configuration"))
        })
        .collect()
}
