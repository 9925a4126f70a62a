//! Runs in virtual time (`--virtual`): one process, one clock, the protocol's own code.

use std::path::Path;

use serde_json::Value;

use crate::{run_dir, scenario, shardsim, show, state_roots};

/// A small cross-shard scenario with jitter, so that the network's seeded delays matter.
const SMALL: &str = r#"
name = "vt"
seed = 11
duration = "2s"
warmup = "1s"
[cluster]
shards = 3
block_interval = "50ms"
beacon_interval = "50ms"
max_block_txs = 2000
[workload]
accounts = 3000
rate = 6000
cross_shard = 0.4
skew = 0.6
[network]
latency = "3ms"
jitter = "4ms"
"#;

/// Runs `text` with `--virtual` and extra `args` into `out`; returns the run folder.
fn run_virtual(
    text: &str,
    out: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (bool, String, std::path::PathBuf) {
    let tmp = out.parent().unwrap();
    let path = scenario(tmp, "vt", text);
    let mut cmd = shardsim();
    cmd.args(["run", "--virtual", "--quiet", "--out"])
        .arg(out)
        .args(args)
        .arg(&path);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().unwrap();
    (output.status.success(), show(&output), run_dir(out, "vt"))
}

fn summary(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// summary.json without what the wall clock decides: the run's folder name and the
/// simulator's own timing.
fn without_wall_clock(dir: &Path) -> Value {
    let mut s = summary(dir);
    let o = s.as_object_mut().unwrap();
    o.remove("run_id");
    o["simulator"].as_object_mut().unwrap().remove("wall");
    s
}

#[test]
fn two_virtual_runs_with_the_same_seed_are_identical_and_another_seed_is_not() {
    let tmp = tempfile::tempdir().unwrap();
    // Committees: consensus messages, timeouts and every validator's events in the mix.
    let committees = ["--set", "cluster.validators=4"];
    let dirs: Vec<_> = ["a", "b"]
        .iter()
        .map(|name| {
            let (ok, shown, dir) = run_virtual(SMALL, &tmp.path().join(name), &committees, &[]);
            assert!(ok, "{shown}");
            dir
        })
        .collect();
    let (a, b) = (without_wall_clock(&dirs[0]), without_wall_clock(&dirs[1]));
    assert_eq!(a, b, "same scenario, same seed: the same summary");
    let series = |d: &Path| std::fs::read(d.join("timeseries.csv")).unwrap();
    assert_eq!(
        series(&dirs[0]),
        series(&dirs[1]),
        "and the same time series"
    );
    assert_eq!(a["mode"], "virtual");
    assert_eq!(a["invariants"]["ok"], true, "{a:#}");
    assert!(a["cross_shard"]["committed"].as_u64().unwrap() > 0);
    assert!(a["simulator"]["events"].as_u64().unwrap() > 1000);
    // The comparison can fail: another seed draws other transactions and delays, and
    // ends in other state roots.
    let other_seed = [&committees[..], &["--set", "seed=12"]].concat();
    let (ok, shown, other) = run_virtual(SMALL, &tmp.path().join("c"), &other_seed, &[]);
    assert!(ok, "{shown}");
    let c = without_wall_clock(&other);
    assert_eq!(state_roots(&a), state_roots(&b));
    assert_ne!(
        state_roots(&a),
        state_roots(&c),
        "another seed, another chain"
    );
}

#[test]
fn virtual_runs_keep_every_invariant_under_both_protocols_the_evm_and_committees() {
    let tmp = tempfile::tempdir().unwrap();
    for (i, sets) in [
        vec!["cluster.protocol=two-phase"],
        vec![
            "cluster.vm=evm",
            "workload.mix={ token = 1 }",
            "workload.tokens=1",
        ],
        vec![
            "cluster.executor=block-stm",
            "cluster.threads_per_shard=2",
            "cluster.block_interval=asap",
        ],
        vec!["cluster.validators=4"],
        vec![
            "cluster.validators=4",
            "cluster.byzantine_validator={ shard = 1, validator = 2, behaviour = \"equivocate\" }",
        ],
    ]
    .iter()
    .enumerate()
    {
        let args: Vec<&str> = sets.iter().flat_map(|s| ["--set", *s]).collect();
        let (ok, shown, dir) = run_virtual(SMALL, &tmp.path().join(format!("r{i}")), &args, &[]);
        let s = summary(&dir);
        assert!(ok, "{sets:?}: {shown}");
        assert_eq!(s["invariants"]["ok"], true, "{sets:?}: {s:#}");
        assert_eq!(s["lost"], 0, "{sets:?}");
        assert!(s["committed"].as_u64().unwrap() > 5000, "{sets:?}: {s:#}");
    }
}

/// The virtual driver's verdict is the process driver's: receipts a shard drops
/// (the test fault every shard reads from its environment) fail the run.
#[test]
fn a_virtual_run_that_loses_receipts_fails_its_invariants() {
    let tmp = tempfile::tempdir().unwrap();
    let (ok, shown, dir) = run_virtual(
        SMALL,
        &tmp.path().join("lossy"),
        &[],
        &[(shard_node::LOSE_RECEIPTS_ENV, "3")],
    );
    assert!(!ok, "a run that lost receipts passed: {shown}");
    let s = summary(&dir);
    assert_eq!(s["invariants"]["ok"], false, "{s:#}");
    assert_eq!(s["invariants"]["all_final"], false, "{s:#}");
    // The failing run names the command that replays it, and that command does: the
    // same run, to the event.
    let echo = dir.join("scenario.toml");
    assert!(
        shown.contains(&format!(
            "replay this run exactly: shardsim run {}",
            echo.display()
        )),
        "{shown}"
    );
    let again = tmp.path().join("again");
    let output = shardsim()
        .args(["run", "--quiet", "--out"])
        .arg(&again)
        .arg(&echo)
        .env(shard_node::LOSE_RECEIPTS_ENV, "3")
        .output()
        .unwrap();
    assert!(!output.status.success(), "{}", show(&output));
    assert_eq!(
        without_wall_clock(&dir),
        without_wall_clock(&run_dir(&again, "vt"))
    );
}

#[test]
fn the_virtual_driver_refuses_what_it_does_not_simulate_yet_and_process_mode_refuses_1024_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let path = scenario(tmp.path(), "vt", SMALL);
    let out = tmp.path().join("out");
    let refused = |args: &[&str], expect: &str| {
        let output = shardsim()
            .args(["run", "--quiet", "--out"])
            .arg(&out)
            .args(args)
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{}", show(&output));
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
    };
    refused(
        &[
            "--virtual",
            "--set",
            "placement.strategy=clpa",
            "--set",
            "workload.source=ethereum-like",
        ],
        "does not run placement.strategy = \"clpa\"",
    );
    refused(
        &[
            "--set",
            "cluster.shards=1024",
            "--set",
            "workload.accounts=10000",
        ],
        "run it in virtual time",
    );
    refused(&["--virtual", "--set", "cluster.shards=1025"], "shards");
    assert!(!out.exists(), "nothing written for a refused scenario");
}

/// `virtual.crypto = "modelled"`: a signed cluster's transactions are neither signed
/// nor checked, and the shards are charged for checking them all the same — so the run
/// takes as long in virtual time as a real check would make it, and says so.
#[test]
fn modelled_signatures_are_charged_not_made_and_the_summary_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let signed = ["--set", "cluster.signatures=true"];
    let run = |name: &str, crypto: &str| {
        let set = format!("virtual.crypto={crypto}");
        let args = [&signed[..], &["--set", &set]].concat();
        let (ok, shown, dir) = run_virtual(SMALL, &tmp.path().join(name), &args, &[]);
        assert!(ok, "{crypto}: {shown}");
        summary(&dir)
    };
    let real = run("real", "real");
    let modelled = run("modelled", "modelled");
    assert_eq!(real["simulator"]["crypto"], "real");
    assert_eq!(modelled["simulator"]["crypto"], "modelled");
    for s in [&real, &modelled] {
        assert_eq!(s["invariants"]["ok"], true, "{s:#}");
    }
    // The same charges in both: the same blocks at the same times.
    assert_eq!(real["latency_ms"], modelled["latency_ms"]);
    assert_eq!(real["committed"], modelled["committed"]);
    // [virtual] means nothing to a process run: refused, not ignored.
    let path = scenario(tmp.path(), "vt", SMALL);
    let output = shardsim()
        .args(["validate", "--set", "virtual.crypto=modelled"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!output.status.success(), "{}", show(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .contains("[virtual] says how a virtual run simulates")
            || String::from_utf8_lossy(&output.stderr)
                .contains("[virtual] says how a virtual run simulates"),
        "{}",
        show(&output)
    );
}

#[test]
fn calibrate_writes_a_cost_model_that_a_virtual_run_charges_by() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("here.toml");
    let output = shardsim()
        .args([
            "calibrate",
            "--quiet",
            "--runs",
            "1",
            "--block",
            "200",
            "--out",
        ])
        .arg(&model)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", show(&output));
    let text = std::fs::read_to_string(&model).unwrap();
    let figures: toml::Table = toml::from_str(&text).unwrap();
    // Measured figures are this machine's, and something.
    for measured in ["native_tx_ns", "signature_ns", "header_ns", "delivery_ns"] {
        let v = figures[measured].as_integer().unwrap();
        assert!(v > 0, "{measured} = {v}\n{text}");
    }
    for measured in ["evm_gas_ns", "root_node_ns", "byte_ns"] {
        let v = figures[measured].as_float().unwrap();
        assert!(v > 0.0, "{measured} = {v}\n{text}");
    }
    let source = figures["source"].as_str().unwrap().to_string();
    assert!(source.starts_with("shardsim calibrate"), "{source}");
    // A run charged by it says so; one charged by a machine twenty times slower at
    // blocks takes longer over the same blocks.
    let slow = tmp.path().join("slow.toml");
    let block_ns = figures["block_ns"].as_integer().unwrap();
    let mut slower = figures.clone();
    slower.insert("block_ns".into(), toml::Value::Integer(block_ns * 20));
    slower.insert("source".into(), "slow".into());
    std::fs::write(&slow, toml::to_string(&slower).unwrap()).unwrap();
    let run = |name: &str, model: &Path| {
        let set = format!("virtual.cost_model={}", model.display());
        let (ok, shown, dir) = run_virtual(SMALL, &tmp.path().join(name), &["--set", &set], &[]);
        assert!(ok, "{name}: {shown}");
        summary(&dir)
    };
    let here = run("here", &model);
    let slowly = run("slow", &slow);
    assert_eq!(here["simulator"]["cost_model"], source.as_str());
    assert_eq!(slowly["simulator"]["cost_model"], "slow");
    let p50 = |s: &Value| s["latency_ms"]["intra"]["p50"].as_f64().unwrap();
    assert!(
        p50(&slowly) > p50(&here),
        "{} vs {}",
        p50(&slowly),
        p50(&here)
    );
}
