//! `shardsim placement` and `shardsim trace stats`: real traffic, no cluster.

use std::path::{Path, PathBuf};

use crate::{scenario, shardsim, show};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The single study folder under `<out>/<name>/placement/`.
fn study_dir(out: &Path, name: &str) -> PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(out.join(name).join("placement"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

/// Runs `cmd`, expecting it refused: exit 2, and `needle` in what it says on stderr.
fn refused(cmd: &mut std::process::Command, needle: &str) {
    let o = cmd.output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(needle),
        "{}",
        show(&o)
    );
}

/// Runs `scenario` on a cluster with `--set` each of `sets` (and memory storage) into
/// `out`, expects success, and returns the run's summary.
fn run_ok(scenario: &Path, name: &str, sets: &[&str], out: &Path) -> serde_json::Value {
    let mut cmd = shardsim();
    cmd.arg("run").arg(scenario);
    for set in sets.iter().chain(&["cluster.storage=\"memory\""]) {
        cmd.args(["--set", set]);
    }
    let o = cmd.args(["--quiet", "--out"]).arg(out).output().unwrap();
    let dir = crate::run_dir(out, name);
    assert!(o.status.success(), "{}\n{}", show(&o), crate::logs(&dir));
    read_json(&dir.join("summary.json"))
}

const LIKE: &str = r#"
name = "it-like"
seed = 3
duration = "4s"
warmup = "0s"
[cluster]
shards = 8
[workload]
source = "ethereum-like"
accounts = 20000
rate = 10000
[workload.ethereum_like]
community_size = 32
[placement]
strategy = "clpa"
epoch = "1s"
warmup = 1
"#;

#[test]
fn a_study_writes_its_table_and_charts_and_placement_beats_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let path = scenario(tmp.path(), "like", LIKE);
    let out = tmp.path().join("results");
    let o = shardsim()
        .arg("placement")
        .arg(&path)
        .args(["--shards", "4,16", "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", show(&o));
    let dir = study_dir(&out, "it-like");
    for f in [
        "placement.json",
        "placement.csv",
        "cross-shard-vs-shards.png",
        "cross-shard-vs-shards.svg",
        "imbalance-vs-shards.png",
        "placement-epochs.png",
        "placement-epochs.svg",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing in {}", dir.display());
    }
    let report = read_json(&dir.join("placement.json"));
    assert_eq!(report["transactions"], 40_000);
    assert_eq!(report["epochs"], 4);
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 6, "3 strategies × 2 shard counts");
    let share = |name: &str, k: u64| {
        results
            .iter()
            .find(|e| e["strategy"]["name"] == name && e["shards"] == k)
            .map(|e| e["totals"]["cross_share"].as_f64().unwrap())
            .unwrap()
    };
    assert!(share("hash", 16) > 0.9, "{report}");
    for s in ["clpa", "partition"] {
        assert!(share(s, 16) < share("hash", 16) * 0.7, "{s}: {report}");
    }
    let csv = std::fs::read_to_string(dir.join("placement.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7);
}

#[test]
fn a_study_of_the_real_sample_accounts_for_every_row() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("results");
    let o = shardsim()
        .arg("placement")
        .arg(repo().join("scenarios/ethereum-sample.toml"))
        .args([
            "--shards",
            "4",
            "--strategy",
            "hash,clpa",
            "--epoch-txs",
            "4000",
            "--json",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", show(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["transactions"], 18_938);
    let trace = &report["trace"];
    assert_eq!(trace["rows_read"], 18_938 + 2_224);
    assert_eq!(trace["erc20_joined"], 2_224);
    // Hash placement of the real sample at 4 shards: about 3 in 4 cross.
    let hash = report["results"][0]["totals"]["cross_share"]
        .as_f64()
        .unwrap();
    assert!((0.7..0.8).contains(&hash), "{hash}");
}

#[test]
fn studies_refuse_what_they_cannot_score_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let synthetic = scenario(
        tmp.path(),
        "synthetic",
        "name = \"s\"\nduration = \"1s\"\n[workload]\nrate = 100\n",
    );
    refused(shardsim().arg("placement").arg(&synthetic), "a dial");

    let like = scenario(tmp.path(), "like", LIKE);
    refused(
        shardsim()
            .arg("placement")
            .arg(&like)
            .args(["--epoch-txs", "100000", "--out"])
            .arg(tmp.path()),
        "makes 1 epoch",
    );
}

#[test]
fn trace_stats_prints_the_samples_figures() {
    let o = shardsim()
        .args(["trace", "stats"])
        .arg(repo().join("data/ethereum-sample/transactions.csv.gz"))
        .arg("--erc20")
        .arg(repo().join("data/ethereum-sample/erc20-transfers.csv.gz"))
        .arg("--json")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", show(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["transactions"], 18_938);
    assert_eq!(s["accounting"]["replayed"]["token"], 2_224);
    assert_eq!(s["hash_cross_share"][1][0], 16);

    let o = shardsim()
        .args(["trace", "stats", "/nonexistent/trace.csv"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/trace.csv"));
}

#[test]
fn a_cluster_replays_the_real_sample_and_accounts_for_every_row() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("results");
    let sample = repo().join("scenarios/ethereum-sample.toml");
    let sets = ["workload.rate=20000", "duration=3s"];
    let s = run_ok(&sample, "ethereum-sample", &sets, &out);
    let t = &s["traffic"];
    assert_eq!(t["transactions"], 18_938, "{t}");
    assert_eq!(t["submitted"], 18_938);
    assert_eq!(t["not_reached"], 0);
    assert_eq!(t["tokens"], 551, "one token per token contract");
    assert_eq!(t["trace"]["rows_read"], 21_162);
    assert_eq!(t["trace"]["erc20_joined"], 2_224);
    // Every row final: replayed values were funded, and nothing was lost.
    assert_eq!(s["committed"], 18_938, "{s}");
    assert_eq!(s["rejected"], 0);
    assert_eq!(
        s["programs"]["call"]["submitted"],
        3_384 + 28,
        "calls and creations"
    );
    assert_eq!(s["programs"]["token"]["submitted"], 2_224);
    // The cross-shard share is what hash placement does to real traffic: ~3 in 4.
    let cross = t["cross_shard_share"].as_f64().unwrap();
    assert!((0.7..0.8).contains(&cross), "{cross}");
    assert_eq!(s["invariants"]["ok"], true, "{}", s["invariants"]);
    // The echo is the scenario as written (its derived fields are derived again).
    let echo =
        std::fs::read_to_string(crate::run_dir(&out, "ethereum-sample").join("scenario.toml"))
            .unwrap();
    assert!(echo.contains("source = \"trace\""), "{echo}");
    assert!(!echo.contains("tokens = 551"), "{echo}");
}

#[test]
fn a_trace_at_its_own_timing_is_partitioned_from_its_first_seconds() {
    let tmp = tempfile::tempdir().unwrap();
    let sample = repo().join("scenarios/ethereum-sample.toml");
    let sets = [
        "workload.trace.timing=\"original\"",
        "workload.trace.max_gap=\"50ms\"",
        "placement.strategy=\"partition\"",
        "placement.epoch=\"1s\"",
        "placement.warmup=1",
        "duration=4s",
    ];
    let s = run_ok(&sample, "ethereum-sample", &sets, &tmp.path().join("r"));
    let t = &s["traffic"];
    // The rows of the first second of trace time placed the accounts; the rest ran.
    let placed_from = t["placed_from"].as_u64().unwrap();
    assert!((1..18_938).contains(&placed_from), "{t}");
    assert_eq!(
        t["transactions"].as_u64().unwrap() + placed_from,
        18_938,
        "{t}"
    );
    assert_eq!(t["submitted"], t["transactions"], "{t}");
    assert_eq!(s["rejected"], 0, "{}", s["rejected_by_reason"]);
    assert_eq!(s["invariants"]["ok"], true, "{}", s["invariants"]);
}

#[test]
fn a_cluster_replays_the_ethereum_like_generator() {
    let tmp = tempfile::tempdir().unwrap();
    let like = scenario(tmp.path(), "like", LIKE);
    let out = tmp.path().join("results");
    let sets = [
        "placement.strategy=\"hash\"",
        "cluster.shards=2",
        "duration=1s",
        "workload.rate=4000",
    ];
    let s = run_ok(&like, "it-like", &sets, &out);
    assert_eq!(s["traffic"]["source"], "ethereum-like");
    assert_eq!(s["traffic"]["submitted"], 4_000);
    assert_eq!(
        s["committed"].as_u64().unwrap() + s["rejected"].as_u64().unwrap(),
        4_000
    );
    assert_eq!(s["rejected"], 0, "{}", s["rejected_by_reason"]);
    // Two shards under hash placement: about half of all transactions cross.
    let cross = s["traffic"]["cross_shard_share"].as_f64().unwrap();
    assert!((0.4..0.6).contains(&cross), "{cross}");
    assert!(s["programs"]["call"]["submitted"].as_u64().unwrap() > 500);
    assert_eq!(s["invariants"]["ok"], true, "{}", s["invariants"]);
}

#[test]
fn a_cluster_placed_by_a_partition_before_genesis_crosses_shards_far_less() {
    let tmp = tempfile::tempdir().unwrap();
    let like = scenario(tmp.path(), "like", LIKE);
    let sets = |strategy: &'static str| {
        [
            strategy,
            "cluster.shards=4",
            "duration=2s",
            "workload.rate=5000",
        ]
    };
    let hash = run_ok(
        &like,
        "it-like",
        &sets("placement.strategy=\"hash\""),
        &tmp.path().join("hash"),
    );
    let out = tmp.path().join("partition");
    let part = run_ok(
        &like,
        "it-like",
        &sets("placement.strategy=\"partition\""),
        &out,
    );
    let t = &part["traffic"];
    assert_eq!(t["placement"], "partition");
    // Placed from the first epoch (1 s at 5,000 tx/s), which is not replayed.
    assert_eq!(t["placed_from"], 5_000);
    assert_eq!(t["submitted"], 10_000);
    assert!(t["accounts_off_hash"].as_u64().unwrap() > 1_000, "{t}");
    // Every process placed every account alike: the driver sent each transaction to
    // the shard that holds its sender, and nothing was refused.
    assert_eq!(part["rejected"], 0, "{}", part["rejected_by_reason"]);
    assert_eq!(part["invariants"]["ok"], true, "{}", part["invariants"]);
    let share = |s: &serde_json::Value| s["traffic"]["cross_shard_share"].as_f64().unwrap();
    assert!(share(&hash) > 0.7, "{}", share(&hash));
    assert!(
        share(&part) < share(&hash) * 0.75,
        "{} vs {}",
        share(&part),
        share(&hash)
    );
    let dir = crate::run_dir(&out, "it-like");
    assert!(dir.join("placement.bin").is_file());
}

#[test]
fn a_cluster_refuses_graph_placement_it_cannot_run_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let like = scenario(tmp.path(), "like", LIKE);
    let out = tmp.path().join("results");
    refused(
        shardsim()
            .arg("run")
            .arg(&like)
            .args(["--set", "cluster.protocol=\"two-phase\"", "--out"])
            .arg(&out),
        "not built for protocol = \"two-phase\"",
    );
    assert!(!out.exists(), "nothing written for a refused run");
    let synthetic = scenario(
        tmp.path(),
        "synthetic",
        "name = \"s\"\nduration = \"1s\"\n[workload]\nrate = 100\n[placement]\nstrategy = \"partition\"\n",
    );
    refused(shardsim().arg("run").arg(&synthetic), "account graph");
}

/// Real traffic on the EVM: the sample's stand-in calls run on the stand-in contract
/// and burn their trace's gas, every row final; and CLPA moves accounts between
/// running EVM shards with every invariant holding.
#[test]
fn real_traffic_runs_on_the_evm_and_its_accounts_migrate() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("results");
    let sample = repo().join("scenarios/ethereum-sample.toml");
    // Gas capped at 100,000 a call: the EVM in a debug build burns slowly.
    let sets = [
        "workload.rate=20000",
        "duration=3s",
        "cluster.vm=\"evm\"",
        "workload.trace.gas_cap=100000",
    ];
    let s = run_ok(&sample, "ethereum-sample", &sets, &out);
    assert_eq!(s["committed"], 18_938, "{s}");
    assert_eq!(s["rejected"], 0, "{}", s["rejected_by_reason"]);
    assert_eq!(s["invariants"]["ok"], true, "{}", s["invariants"]);
    let call = &s["programs"]["call"];
    assert_eq!(call["committed"], 3_384 + 28, "{call}");
    // The trace's gas, capped, is burnt: the costliest calls come within the margin.
    let max = s["gas"]["tx_max"].as_u64().unwrap();
    assert!((97_000..=100_000).contains(&max), "{}", s["gas"]);
    let like = scenario(tmp.path(), "like", LIKE);
    let out = tmp.path().join("like");
    let sets = [
        "cluster.vm=\"evm\"",
        "cluster.shards=4",
        "workload.rate=3000",
    ];
    let s = run_ok(&like, "it-like", &sets, &out);
    migrated(&s, 1);
}

/// Checks a CLPA run's summary: every invariant, nothing rejected, accounts moved in
/// at least `epochs` epochs, each switched on every shard and complete. (How many
/// epochs fit in a 4 s run depends on the machine's pace: an epoch waits for the last
/// to settle, and CLPA itself takes longer in a debug build on a loaded machine.)
fn migrated(s: &serde_json::Value, epochs: usize) -> &serde_json::Value {
    assert_eq!(s["invariants"]["ok"], true, "{}", s["invariants"]);
    assert_eq!(s["rejected"], 0, "{}", s["rejected_by_reason"]);
    assert_eq!(s["traffic"]["placement"], "clpa");
    let m = &s["traffic"]["migration"];
    let list = m["epochs"].as_array().unwrap();
    assert!(list.len() >= epochs, "{m}");
    assert!(m["accounts_moved"].as_u64().unwrap() > 0, "{m}");
    assert!(m["bytes_moved"].as_u64().unwrap() > 0, "{m}");
    for e in list {
        assert_eq!(e["still_moving"], 0, "{e}");
        assert!(e["switch_s"].is_f64(), "every shard switched: {e}");
        assert!(e["switch_blocks"].as_u64().unwrap() >= 1, "{e}");
        assert!(e["beacon_height"].as_u64().unwrap() > 0, "{e}");
    }
    m
}

#[test]
fn clpa_moves_accounts_between_running_shards_alone_and_under_committees() {
    let tmp = tempfile::tempdir().unwrap();
    let like = scenario(tmp.path(), "like", LIKE);
    let out = tmp.path().join("results");
    let s = run_ok(&like, "it-like", &[], &out);
    let m = migrated(&s, 1);
    // Placement pays once it has moved accounts: its best epoch crosses shards far less
    // than genesis's hash placement (~0.9 at 8 shards; CLPA ~0.3, whatever the pace).
    let genesis = m["genesis_cross_shard_share"].as_f64().unwrap();
    let best = m["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["cross_shard_share"].as_f64())
        .fold(1.0, f64::min);
    assert!(
        genesis > 0.8 && best < genesis * 0.75,
        "genesis {genesis}, best epoch {best}"
    );
    // The same with every shard a committee of four: the switch is a block input the
    // committee checks against the beacon's announcement.
    let out = tmp.path().join("committees");
    let s = run_ok(
        &like,
        "it-like",
        &[
            "cluster.shards=2",
            "cluster.validators=4",
            "workload.rate=4000",
        ],
        &out,
    );
    migrated(&s, 1);
}

#[test]
fn a_migration_survives_kill_9_of_its_shards() {
    let tmp = tempfile::tempdir().unwrap();
    // Durable storage; shard 1 is killed as the first epoch's moves begin and shard 2
    // as the second's, each restarted from its store a moment later.
    let faults = "[[faults]]\nat = \"1200ms\"\nkill = \"shard-1\"\nrestart_after = \"600ms\"\n\
                  [[faults]]\nat = \"2250ms\"\nkill = \"shard-2\"\nrestart_after = \"600ms\"\n";
    let like = scenario(tmp.path(), "like", &format!("{LIKE}{faults}"));
    let out = tmp.path().join("results");
    let o = shardsim()
        .arg("run")
        .arg(&like)
        .args(["--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let dir = crate::run_dir(&out, "it-like");
    assert!(o.status.success(), "{}\n{}", show(&o), crate::logs(&dir));
    let s = read_json(&dir.join("summary.json"));
    migrated(&s, 1);
    assert_eq!(s["recovery"]["restarts"], 2, "{}", s["recovery"]);
}
