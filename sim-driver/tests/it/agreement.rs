//! The virtual driver held to the real thing: where the machine is not the limit, a
//! virtual run of a scenario must end where a process run of the same scenario and
//! seed ends, at the same throughput and near the same latency.

use std::path::Path;

use serde_json::Value;

use crate::{logs, run_dir, scenario, shardsim, show, state_roots};

/// Transfers only, far from every limit: every transaction succeeds, so the end state
/// does not depend on the order in which they were applied — only on which ones were.
const UNSATURATED: &str = r#"
name = "agree"
seed = 21
duration = "4s"
warmup = "1s"
[cluster]
shards = 1
block_interval = "100ms"
beacon_interval = "100ms"
max_block_txs = 10000
[workload]
accounts = 20000
rate = 2000
cross_shard = 0.3
"#;

fn run(tmp: &Path, label: &str, sets: &[String], virtual_time: bool) -> Value {
    let path = scenario(tmp, "agree", UNSATURATED);
    let out = tmp.join(label);
    let mut cmd = shardsim();
    cmd.args(["run", "--quiet", "--out"]).arg(&out);
    if virtual_time {
        cmd.arg("--virtual");
    }
    for s in sets {
        cmd.args(["--set", s]);
    }
    let output = cmd.arg(&path).output().unwrap();
    let dir = run_dir(&out, "agree");
    assert!(
        output.status.success(),
        "{label}: {}\n{}",
        show(&output),
        logs(&dir)
    );
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// `virtual` within `within` (a fraction) of `real`.
fn near(real: f64, virtual_: f64, within: f64) -> bool {
    (virtual_ - real).abs() <= within * real
}

/// Held to a release build: an unoptimized process cluster is itself the limit (its
/// committees take 10 ms to commit a block that takes 2 ms optimized), so the figures
/// would measure the build. CI runs it with `cargo test --release … -- --ignored`
/// (`.ci/run`).
#[test]
#[ignore = "needs a release build: cargo test --release -p sim-driver --test it agreement -- --ignored"]
fn virtual_runs_agree_with_process_runs_where_the_machine_is_not_the_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let mut table = String::from("shards validators | tps real/virtual | intra p50 | cross p50\n");
    let mut failed = Vec::new();
    for (shards, validators) in [(1, 1), (2, 1), (4, 1), (1, 4), (2, 4), (4, 4)] {
        let sets = vec![
            format!("cluster.shards={shards}"),
            format!("cluster.validators={validators}"),
        ];
        let label = format!("{shards}x{validators}");
        let real = run(tmp.path(), &format!("{label}-real"), &sets, false);
        let virt = run(tmp.path(), &format!("{label}-virtual"), &sets, true);
        assert_eq!(real["mode"], "process");
        assert_eq!(virt["mode"], "virtual");
        // The same transactions, all applied: the same state, whatever the order.
        assert_eq!(real["rejected"], 0, "{label}: {real:#}");
        assert_eq!(
            state_roots(&real),
            state_roots(&virt),
            "{label}: the runs end in other states"
        );
        let f = |s: &Value, path: &[&str]| {
            path.iter()
                .fold(s, |v, k| &v[*k])
                .as_f64()
                .unwrap_or_else(|| panic!("{path:?} in {s:#}"))
        };
        let tps = (f(&real, &["tps"]), f(&virt, &["tps"]));
        let intra = (
            f(&real, &["latency_ms", "intra", "p50"]),
            f(&virt, &["latency_ms", "intra", "p50"]),
        );
        let cross = (shards > 1).then(|| {
            (
                f(&real, &["latency_ms", "cross", "p50"]),
                f(&virt, &["latency_ms", "cross", "p50"]),
            )
        });
        table.push_str(&format!(
            "{shards} {validators} | {:.0}/{:.0} | {:.1}/{:.1} | {:?}\n",
            tps.0, tps.1, intra.0, intra.1, cross
        ));
        if !near(tps.0, tps.1, 0.05) {
            failed.push(format!("{label}: TPS {tps:?} differ by more than 5%"));
        }
        if !near(intra.0, intra.1, 0.20) {
            failed.push(format!(
                "{label}: intra p50 {intra:?} differ by more than 20%"
            ));
        }
        if let Some(cross) = cross
            && !near(cross.0, cross.1, 0.20)
        {
            failed.push(format!(
                "{label}: cross p50 {cross:?} differ by more than 20%"
            ));
        }
    }
    assert!(failed.is_empty(), "{}\n{table}", failed.join("\n"));
    eprintln!("{table}");
}
