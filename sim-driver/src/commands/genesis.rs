//! `shardsim genesis`: a kit for a cluster started elsewhere — keys, committees,
//! certificates, the exact command of every process (`start.sh`) and the cluster file
//! a driver attaches with (`shardsim run SCENARIO --cluster DIR/cluster.toml`).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use crate::cluster::Kit;
use crate::cluster::attach::ClusterFile;
use crate::scenario::Scenario;

/// The first port of the addresses the kit proposes (the beacon's; validators after).
pub const BASE_PORT: u16 = 7000;

/// The shell variable holding the address of the process at `slot` (the beacon:
/// `None`).
pub fn address_variable(slot: Option<u32>, validators: u32) -> String {
    match slot {
        None => "BEACON".into(),
        Some(s) => format!("SHARD_{}_VALIDATOR_{}", s / validators, s % validators),
    }
}

/// Writes `scenario`'s kit into `dir` (which must not exist, or be empty).
pub fn write(scenario: &Scenario, dir: &Path) -> anyhow::Result<()> {
    super::refuse_kit_for_real_traffic(scenario)?;
    if dir.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        anyhow::bail!(
            "{} is not empty: a kit is made once per cluster (its keys are new each time)",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))?;
    let kit = Kit::write(scenario, &dir, true)?;
    let c = &scenario.cluster;
    let n = c.validators;
    let slots = c.shards * n;
    let var = |slot| address_variable(slot, n);
    // The cluster file: where each process listens, and the driver's credentials.
    let port = |slot: u32| format!("127.0.0.1:{}", BASE_PORT as u32 + 1 + slot);
    ClusterFile {
        beacon: format!("127.0.0.1:{BASE_PORT}"),
        validators: (0..c.shards)
            .map(|k| (0..n).map(|v| port(k * n + v)).collect())
            .collect(),
        credentials: Some("tls".into()),
    }
    .write(
        &dir.join("cluster.toml"),
        "# The running cluster's addresses (host:port), as in start.sh, and the driver's\n\
         # credentials. Change an address here and in start.sh together.\n",
    )?;
    // start.sh: one process per line, the beacon first, each validator after those
    // it calls. Addresses are variables with the kit's defaults.
    let mut sh = String::from(
        "#!/bin/sh\n\
         # Starts this cluster's processes: one per line, in this order (each validator\n\
         # calls the beacon and the validators before it). Run each line on its host;\n\
         # an address is where that process listens (host:port), reachable by the\n\
         # others. The defaults put everything on this machine.\n\
         set -e\n\
         : \"${SHARDSIM:=shardsim}\"\n",
    );
    writeln!(sh, ": \"${{BEACON:=127.0.0.1:{BASE_PORT}}}\"")?;
    for slot in 0..slots {
        writeln!(sh, ": \"${{{}:={}}}\"", var(Some(slot)), port(slot))?;
    }
    // An argument as the shell reads it back: URLs with variables in double quotes
    // (expanded), anything unusual in single quotes.
    let word = |a: &String| {
        if a.contains('$') {
            format!("\"{a}\"")
        } else if a
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_./:=,".contains(ch))
        {
            a.clone()
        } else {
            format!("'{a}'")
        }
    };
    let mut line = |args: Vec<String>, listen: String| {
        let args: Vec<String> = args.iter().map(word).collect();
        // Each process starts at once: a validator keeps calling the beacon and its
        // peers until they answer.
        let _ = writeln!(
            sh,
            "\"$SHARDSIM\" {} --listen \"${listen}\" &",
            args.join(" ")
        );
    };
    line(kit.beacon_args(scenario), var(None));
    for slot in 0..slots {
        let k = slot / n;
        let peers: Vec<String> = (k * n..slot)
            .map(|p| format!("https://${}", var(Some(p))))
            .collect();
        line(
            kit.shard_args(scenario, slot, "https://$BEACON", &peers),
            var(Some(slot)),
        );
    }
    sh.push_str("wait\n");
    let start = dir.join("start.sh");
    std::fs::write(&start, sh)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&start, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}
