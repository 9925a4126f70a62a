//! # A cluster's kit: what its processes are started with
//!
//! Every cluster needs, before its first process starts, the things genesis fixes:
//! each validator's secret key (a file only it reads), every committee's public keys,
//! and — for links beyond loopback — the cluster's certificates. The driver writes a
//! kit into the run's `keys/` when it starts a cluster itself ([`super::Cluster::start`]),
//! and `shardsim genesis` writes one for a cluster started elsewhere, with the exact
//! command line of every process and the cluster file a driver attaches with:
//!
//! ```text
//!   kit/committees                    every committee's public keys (line k: shard k)
//!   kit/keys/shard-k.validator-i.key  one validator's secret key (0600)
//!   kit/tls/                          ca.pem, <role>.pem, <role>.key (with TLS)
//!   kit/start.sh                      one process per line, beacon first   (genesis)
//!   kit/cluster.toml                  their addresses, the driver's credentials (genesis)
//! ```

use std::path::{Path, PathBuf};

use anyhow::Context;
use shardsim_host::tls::Role;

use super::{INITIAL_BALANCE, file_stem, mempool_capacity, process_name, write_secret};
use crate::scenario::{Protocol, Scenario, VmKind};

/// A written kit.
#[derive(Debug)]
pub struct Kit {
    /// Every committee's public keys, in hex, by shard.
    committees: Vec<String>,
    /// The file holding them.
    committees_file: PathBuf,
    /// Each validator's key file, by slot (`k · validators + v`).
    key_files: Vec<PathBuf>,
    /// The certificates' folder, with TLS.
    pub tls_dir: Option<PathBuf>,
    /// The genesis placement table every validator loads, when accounts are placed by
    /// a partition rather than by hash.
    pub placement_file: Option<PathBuf>,
}

impl Kit {
    /// Writes `scenario`'s kit into `dir`: keys drawn from a fresh secret, and with
    /// `tls` a CA and a certificate for every process and the driver.
    pub fn write(scenario: &Scenario, dir: &Path, tls: bool) -> anyhow::Result<Kit> {
        // Every validator's key derives from one secret drawn here and never kept; a
        // validator gets only its own key, the beacon only the public ones.
        Kit::write_from(scenario, dir, tls, &rand::random())
    }

    /// The kit whose keys derive from `secret` (a virtual run's, drawn from its seed).
    pub fn write_from(
        scenario: &Scenario,
        dir: &Path,
        tls: bool,
        secret: &[u8; 32],
    ) -> anyhow::Result<Kit> {
        let c = &scenario.cluster;
        let n = c.validators;
        let keys = dir.join("keys");
        std::fs::create_dir_all(&keys).with_context(|| format!("creating {}", keys.display()))?;
        let mut committees = Vec::with_capacity(c.shards as usize);
        let mut key_files = Vec::with_capacity((c.shards * n) as usize);
        for shard in 0..c.shards {
            let committee = consensus::Committee::derived(secret, shard, n as usize)
                .context("deriving the committees")?;
            committees.push(committee.to_hex());
            for v in 0..n {
                let key = consensus::committee::validator_key(secret, shard, v as u16);
                let file = keys.join(format!("{}.key", file_stem(&process_name(shard, v, n))));
                write_secret(&file, &const_hex::encode(key.to_bytes()))?;
                key_files.push(file);
            }
        }
        // Every committee's public keys, which each validator checks proposals'
        // receipts against (their source headers' certificates).
        let committees_file = dir.join("committees");
        std::fs::write(&committees_file, committees.join("\n") + "\n")
            .with_context(|| format!("writing {}", committees_file.display()))?;
        let tls_dir = if tls {
            let tls_dir = dir.join("tls");
            let mut roles = vec![Role::Beacon, Role::Driver];
            roles.extend((0..c.shards * n).map(|slot| Role::Validator {
                shard: slot / n,
                index: slot % n,
            }));
            shardsim_host::tls::generate(&tls_dir, &roles)
                .context("making the cluster's certificates")?;
            Some(tls_dir)
        } else {
            None
        };
        Ok(Kit {
            committees,
            committees_file,
            key_files,
            tls_dir,
            placement_file: None,
        })
    }

    fn tls_args(&self) -> Vec<String> {
        self.tls_dir
            .iter()
            .flat_map(|d| ["--tls".to_string(), d.display().to_string()])
            .collect()
    }

    /// The beacon's arguments (to `shardsim`), without `--listen` and `--data-dir`.
    pub fn beacon_args(&self, scenario: &Scenario) -> Vec<String> {
        let c = &scenario.cluster;
        let mut args = vec![
            "__beacon".into(),
            "--shards".into(),
            c.shards.to_string(),
            "--beacon-interval".into(),
            humantime::format_duration(c.beacon_interval).to_string(),
        ];
        if c.protocol == Protocol::TwoPhase {
            args.extend(["--two-phase-deadline".into(), c.deadline.to_string()]);
        }
        for keys in &self.committees {
            args.extend(["--committee".into(), keys.clone()]);
        }
        args.extend(self.tls_args());
        args
    }

    /// The arguments of the validator at `slot`, calling the beacon at `beacon_url`
    /// and the validators before it in its committee at `peers` (by index), without
    /// `--listen` and `--data-dir`.
    pub fn shard_args(
        &self,
        scenario: &Scenario,
        slot: u32,
        beacon_url: &str,
        peers: &[String],
    ) -> Vec<String> {
        let c = &scenario.cluster;
        let n = c.validators;
        let (shard, v) = (slot / n, slot % n);
        let block_interval = c.block_interval.map_or("asap".to_string(), |d| {
            humantime::format_duration(d).to_string()
        });
        let mut args: Vec<String> = [
            "__shard",
            "--shard",
            &shard.to_string(),
            "--shards",
            &c.shards.to_string(),
            "--accounts",
            &scenario.workload.accounts.to_string(),
            "--initial-balance",
            &INITIAL_BALANCE.to_string(),
            "--tokens",
            &scenario.workload.tokens.to_string(),
            "--pools",
            &scenario.pools().to_string(),
            "--collections",
            &scenario.workload.collections.to_string(),
            "--proposals",
            &scenario.workload.proposals.to_string(),
            "--block-interval",
            &block_interval,
            "--max-block-txs",
            &c.max_block_txs.to_string(),
            "--mempool-capacity",
            &mempool_capacity(c.max_block_txs).to_string(),
            "--threads",
            &c.threads_per_shard.to_string(),
            "--executor",
            c.executor.flag(),
            "--vm",
            match c.vm {
                VmKind::Native => "native",
                VmKind::Evm => "evm",
            },
            "--link-latency",
            &humantime::format_duration(scenario.network.latency).to_string(),
            "--link-jitter",
            &humantime::format_duration(scenario.network.jitter).to_string(),
            "--beacon",
            beacon_url,
            "--validator-key-file",
            &self.key_files[slot as usize].display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(
            self.placement_file
                .iter()
                .flat_map(|f| ["--placement".to_string(), f.display().to_string()]),
        )
        .collect();
        if c.signatures {
            args.push("--signatures".into());
        }
        if c.verify_executor {
            args.push("--verify-executor".into());
        }
        if !c.predict_executor {
            args.push("--no-predict".into());
        }
        if c.protocol == Protocol::TwoPhase {
            args.extend(["--two-phase-deadline".into(), c.deadline.to_string()]);
        }
        if c.snapshot_every > 0 {
            args.extend(["--snapshot-every".into(), c.snapshot_every.to_string()]);
        }
        if c.byzantine_shard == Some(shard) {
            args.push("--byzantine".into());
        }
        if let Some(gas) = c.max_block_gas {
            args.extend(["--max-block-gas".into(), gas.to_string()]);
        }
        if n > 1 {
            args.extend([
                "--committees".into(),
                self.committees_file.display().to_string(),
                "--validator".into(),
                v.to_string(),
            ]);
            // Each validator calls those before it, already listening.
            for (i, url) in peers.iter().enumerate() {
                args.extend(["--peer".into(), format!("{i}={url}")]);
            }
            if let Some(b) = &c.byzantine_validator
                && (b.shard, b.validator) == (shard, v)
            {
                args.extend(["--behaviour".into(), b.behaviour.clone()]);
            }
        }
        args.extend(self.tls_args());
        args
    }
}
