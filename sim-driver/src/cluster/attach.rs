//! # Attach mode: driving a cluster started elsewhere
//!
//! `shardsim run SCENARIO --cluster CLUSTER.toml` drives processes it did not start —
//! on other hosts, in Kubernetes, or started by hand — instead of spawning them. The
//! cluster file names where they listen and the driver's credentials:
//!
//! ```toml
//! beacon = "10.0.0.1:7000"
//! # per shard, its validators' addresses by index (one each for shards alone)
//! validators = [["10.0.0.2:7001"], ["10.0.0.3:7001"]]
//! # the folder with ca.pem, driver.pem and driver.key (relative to this file);
//! # without it the links are plain gRPC (loopback clusters)
//! credentials = "tls"
//! ```
//!
//! ```text
//!   load file ─► shape = scenario's? ─► beacon Status: shards, at genesis?
//!            ─► every validator's Status: its shard and index, the genesis facts
//!               (accounts, tokens, …, protocol, VM, committee size, genesis root)
//!               = the scenario's, at height 0?  ── any difference: refused, named
//!            ─► the run as usual (the driver's one clock; results, charts, invariants)
//! ```
//!
//! What needs a local process — `kill` and `freeze` faults, CPU figures — is not
//! available: such faults are refused before anything starts, and CPU time is reported
//! for the driver alone. Link faults go over gRPC and work as in a spawned cluster.
//! A cluster runs one scenario from genesis: one that has made blocks is refused.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use shardsim_host::tls::{Credentials, Role};
use shardsim_proto::pb;
use shardsim_proto::pb::beacon_client::BeaconClient;

use super::{Cluster, INITIAL_BALANCE, Process, channel, process_name, shard_client};
use crate::scenario::{Protocol, Scenario, VmKind};

/// A cluster file: where a running cluster's processes listen.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClusterFile {
    /// The beacon's `host:port`.
    pub beacon: String,
    /// Per shard, its validators' `host:port` by index.
    pub validators: Vec<Vec<String>>,
    /// The folder of the driver's credentials (relative to the file); none: plain
    /// gRPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<PathBuf>,
}

impl ClusterFile {
    /// Writes the file to `path`, `comment` (lines) first.
    pub fn write(&self, path: &Path, comment: &str) -> anyhow::Result<()> {
        let text = toml::to_string(self).context("writing a cluster file")?;
        std::fs::write(path, format!("{comment}{text}"))
            .with_context(|| format!("writing {}", path.display()))
    }

    /// Reads `path`; errors name the file (and line, for bad TOML).
    pub fn load(path: &Path) -> anyhow::Result<ClusterFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the cluster file {}", path.display()))?;
        let mut file: ClusterFile = toml::from_str(&text)
            .with_context(|| format!("the cluster file {}", path.display()))?;
        if let Some(c) = &mut file.credentials
            && c.is_relative()
        {
            *c = path.parent().unwrap_or(Path::new(".")).join(&*c);
        }
        Ok(file)
    }
}

/// Why a scenario cannot run against an attached cluster, if it cannot: faults that
/// need a process this driver started.
pub fn refuse_local_faults(scenario: &Scenario) -> anyhow::Result<()> {
    for (i, f) in scenario.faults.iter().enumerate() {
        let (what, target) = match (f.kill, f.freeze) {
            (Some(t), _) => ("kill", t),
            (_, Some(t)) => ("freeze", t),
            _ => continue,
        };
        bail!(
            "faults[{i}]: {what} {target} needs a process this driver started (a signal to its pid); with --cluster only link faults can be injected"
        );
    }
    Ok(())
}

impl Cluster {
    /// The running cluster `file` names, once checked to be `scenario`'s at genesis.
    pub async fn attach(scenario: &Scenario, file: &ClusterFile) -> anyhow::Result<Cluster> {
        let c = &scenario.cluster;
        let n = c.validators;
        if file.validators.len() != c.shards as usize {
            bail!(
                "the cluster file names {} shards, the scenario has {}",
                file.validators.len(),
                c.shards
            );
        }
        if let Some((k, v)) = file
            .validators
            .iter()
            .enumerate()
            .find(|(_, v)| v.len() != n as usize)
        {
            bail!(
                "the cluster file names {} validators for shard {k}, the scenario has {n} per shard",
                v.len()
            );
        }
        let tls = file
            .credentials
            .as_deref()
            .map(|dir| Credentials::load(dir, Role::Driver))
            .transpose()
            .context("loading the driver's credentials")?;
        let beacon = Process::attached("beacon", &file.beacon);
        let shards: Vec<Process> =
            file.validators
                .iter()
                .enumerate()
                .flat_map(|(k, addrs)| {
                    addrs.iter().enumerate().map(move |(v, a)| {
                        Process::attached(&process_name(k as u32, v as u32, n), a)
                    })
                })
                .collect();
        check_beacon(scenario, &beacon, tls.as_ref()).await?;
        // A committee agrees on its genesis; the facts it follows from are checked one
        // by one against the scenario.
        let mut roots: Vec<Option<(String, Vec<u8>)>> = vec![None; c.shards as usize];
        for (slot, p) in shards.iter().enumerate() {
            let root = check_validator(scenario, p, tls.as_ref()).await?;
            match &roots[slot / n as usize] {
                Some((first, r)) if *r != root => bail!(
                    "{} and {first} of one shard report different genesis roots",
                    p.name
                ),
                Some(_) => {}
                None => roots[slot / n as usize] = Some((p.name.clone(), root)),
            }
        }
        Ok(Cluster {
            beacon,
            shards,
            validators: n,
            keys: None,
            tls,
            hosts: None,
        })
    }
}

async fn check_beacon(
    scenario: &Scenario,
    p: &Process,
    tls: Option<&Credentials>,
) -> anyhow::Result<()> {
    let mut beacon = BeaconClient::new(channel(p, tls).await?);
    let s = beacon
        .status(pb::StatusRequest::default())
        .await
        .with_context(|| format!("status of the beacon at {}", p.addr))?
        .into_inner();
    let shards = s.notarized_heights.len() as u32;
    if shards != scenario.cluster.shards {
        bail!(
            "the beacon at {} runs {shards} shards, the scenario has {}",
            p.addr,
            scenario.cluster.shards
        );
    }
    if s.height > 0 {
        bail!(
            "the beacon at {} is at height {}, not at genesis: a cluster runs one scenario from its start",
            p.addr,
            s.height
        );
    }
    Ok(())
}

/// Checks `p` against `scenario`; returns the genesis root it reports.
async fn check_validator(
    scenario: &Scenario,
    p: &Process,
    tls: Option<&Credentials>,
) -> anyhow::Result<Vec<u8>> {
    let c = &scenario.cluster;
    let w = &scenario.workload;
    let s = shard_client(p, tls)
        .await?
        .status(pb::StatusRequest::default())
        .await
        .with_context(|| format!("status of {} at {}", p.name, p.addr))?
        .into_inner();
    let Role::Validator { shard, index } = super::role_of(&p.name) else {
        unreachable!("a shard process's name names its role");
    };
    let g = s.genesis.with_context(|| {
        format!(
            "{} at {} reports no genesis (an older shardsim?)",
            p.name, p.addr
        )
    })?;
    let index_seen = s.consensus.as_ref().map_or(0, |k| k.validator);
    let vm = match c.vm {
        VmKind::Native => "native",
        VmKind::Evm => "evm",
    };
    let deadline = (c.protocol == Protocol::TwoPhase).then_some(c.deadline);
    let facts: [(&str, String, String); 13] = [
        ("shard", s.shard.to_string(), shard.to_string()),
        ("validator index", index_seen.to_string(), index.to_string()),
        ("shards", g.shards.to_string(), c.shards.to_string()),
        (
            "validators",
            g.validators.to_string(),
            c.validators.to_string(),
        ),
        ("accounts", g.accounts.to_string(), w.accounts.to_string()),
        (
            "initial balance",
            g.initial_balance.to_string(),
            INITIAL_BALANCE.to_string(),
        ),
        ("tokens", g.tokens.to_string(), w.tokens.to_string()),
        ("pools", g.pools.to_string(), scenario.pools().to_string()),
        (
            "collections",
            g.collections.to_string(),
            w.collections.to_string(),
        ),
        (
            "proposals",
            g.proposals.to_string(),
            w.proposals.to_string(),
        ),
        ("vm", g.vm.clone(), vm.to_string()),
        (
            "two-phase deadline",
            format!("{:?}", g.two_phase_deadline),
            format!("{deadline:?}"),
        ),
        (
            "signatures",
            g.signatures.to_string(),
            c.signatures.to_string(),
        ),
    ];
    if let Some((what, runs, wants)) = facts.iter().find(|(_, a, b)| a != b) {
        bail!(
            "{} at {} runs {what} {runs}, the scenario says {wants}",
            p.name,
            p.addr
        );
    }
    // The facts agree: so must the genesis they make.
    let expected = shard_node::io::Shared::genesis_root_of(&g, shard)
        .with_context(|| format!("{} reports no shards", p.name))?;
    if g.state_root != expected.0 {
        bail!(
            "{} at {} reports genesis root {}, the scenario's is {}",
            p.name,
            p.addr,
            const_hex::encode(&g.state_root),
            const_hex::encode(expected.0)
        );
    }
    if s.height > 0 {
        bail!(
            "{} at {} is at height {}, not at genesis: a cluster runs one scenario from its start",
            p.name,
            p.addr,
            s.height
        );
    }
    Ok(g.state_root)
}
