//! The verdict fails when it must: a run that loses work, or whose process freezes,
//! exits 1, says why, and still writes its summary and charts.

use std::time::{Duration, Instant};

use crate::{logs, run_dir, scenario, shardsim, show};

/// Runs a 2-shard, half cross-shard scenario with `extra` appended and the
/// environment `env`; returns the exit code, the summary, the run folder's files and
/// the whole output, and how long the run took.
fn run_failing(
    name: &str,
    extra: &str,
    env: &[(&str, &str)],
) -> (
    Option<i32>,
    serde_json::Value,
    Vec<String>,
    String,
    Duration,
) {
    let text = format!(
        r#"name = "{name}"
seed = 5
duration = "3s"
warmup = "500ms"
[cluster]
shards = 2
block_interval = "50ms"
beacon_interval = "50ms"
storage = "memory"
[workload]
accounts = 2000
rate = 2000
cross_shard = 0.5
{extra}"#
    );
    run_json(name, &text, env)
}

/// Runs scenario `text` (named `name`) with `shardsim run --json` and the environment
/// `env`; returns the exit code, the summary, the run folder's files, the whole
/// output, and how long the run took.
fn run_json(
    name: &str,
    text: &str,
    env: &[(&str, &str)],
) -> (
    Option<i32>,
    serde_json::Value,
    Vec<String>,
    String,
    Duration,
) {
    let tmp = tempfile::tempdir().unwrap();
    let path = scenario(tmp.path(), name, text);
    let out = tmp.path().join("results");
    let began = Instant::now();
    let mut cmd = shardsim();
    cmd.args(["run", "--json", "--out"]).arg(&out).arg(&path);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().unwrap();
    let took = began.elapsed();
    let dir = run_dir(&out, name);
    let shown = format!("{}\n{}", show(&output), logs(&dir));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON summary ({e}):\n{shown}"));
    let files = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    (output.status.code(), summary, files, shown, took)
}

fn violations(summary: &serde_json::Value) -> String {
    summary["invariants"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_receipt_lost_for_good_fails_the_run_and_names_its_channel() {
    // Shard processes inherit the test fault: each drops the first receipt it admits.
    let (code, summary, _, shown, _) = run_failing(
        "it-lost-receipt",
        "",
        &[(shard_node::LOSE_RECEIPTS_ENV, "1")],
    );
    assert_eq!(code, Some(1), "{shown}");
    let inv = &summary["invariants"];
    assert_eq!(inv["ok"], false, "{shown}");
    assert_eq!(inv["all_final"], false, "{shown}");
    assert_eq!(inv["exactly_once"], false, "{shown}");
    let v = violations(&summary);
    assert!(
        v.contains("all final: 2 transactions are neither final nor rejected"),
        "{v}"
    );
    assert!(v.contains("receipts in flight (0→1: 1, 1→0: 1)"), "{v}");
    assert!(
        v.contains("channel 0→1: 1 receipts emitted but never applied"),
        "{v}"
    );
    assert_eq!(
        summary["partial"], false,
        "the run itself finished: {shown}"
    );
}

#[test]
fn the_same_run_without_the_fault_passes() {
    // The control for the test above: the verdict is not simply always false.
    let (code, summary, _, shown, _) = run_failing("it-lost-control", "", &[]);
    assert_eq!(code, Some(0), "{shown}");
    assert_eq!(summary["invariants"]["all_final"], true, "{shown}");
}

#[test]
fn a_frozen_shard_is_named_the_others_go_on_and_the_run_ends_partial() {
    let (code, summary, files, shown, took) = run_failing(
        "it-freeze-shard",
        "[[faults]]\nat = \"1s\"\nfreeze = \"shard-1\"\n",
        &[],
    );
    assert_eq!(code, Some(1), "{shown}");
    assert_eq!(summary["partial"], true, "{shown}");
    let failures = summary["failures"].to_string();
    assert!(
        failures.contains("shard-1 stopped answering"),
        "{failures}\n{shown}"
    );
    let v = violations(&summary);
    assert!(v.contains("shard-1 did not answer the final Status"), "{v}");
    assert_eq!(summary["invariants"]["ok"], false);
    // Shard 0 kept committing its own transactions after the freeze: its
    // throughput over the window is near its share of the offered load.
    let tps0 = summary["per_shard"][0]["tps"].as_f64().unwrap();
    assert!(tps0 > 400.0, "shard 0 stalled too: {tps0} tx/s\n{shown}");
    // Planned 3.5 s, a 5 s drain at most, and the final status: bounded.
    assert!(took < Duration::from_secs(25), "took {took:?}");
    for f in [
        "summary.json",
        "throughput.png",
        "latency.png",
        "timeseries.csv",
    ] {
        assert!(files.iter().any(|x| x == f), "{f} missing: {files:?}");
    }
}

#[test]
fn a_frozen_beacon_is_named_and_the_run_ends_partial() {
    let (code, summary, _, shown, took) = run_failing(
        "it-freeze-beacon",
        "[[faults]]\nat = \"1s\"\nfreeze = \"beacon\"\n",
        &[],
    );
    assert_eq!(code, Some(1), "{shown}");
    assert_eq!(summary["partial"], true, "{shown}");
    assert!(
        summary["failures"]
            .to_string()
            .contains("beacon stopped answering"),
        "{shown}"
    );
    assert!(took < Duration::from_secs(25), "took {took:?}");
}

#[test]
fn an_overloaded_run_shows_its_backlog() {
    // One shard taking at most 100 transactions per 100 ms block (1,000 tx/s), offered
    // 3,000 tx/s for 2 s: the mempool grows, and the drain absorbs it afterwards.
    let tmp = tempfile::tempdir().unwrap();
    let path = scenario(
        tmp.path(),
        "it-overload",
        r#"name = "it-overload"
duration = "2s"
warmup = "0s"
[cluster]
shards = 1
block_interval = "100ms"
max_block_txs = 100
storage = "memory"
[workload]
accounts = 1000
rate = 3000
"#,
    );
    let out = tmp.path().join("results");
    let output = shardsim()
        .args(["run", "--out"])
        .arg(&out)
        .arg(&path)
        .output()
        .unwrap();
    let dir = run_dir(&out, "it-overload");
    let shown = format!("{}\n{}", show(&output), logs(&dir));
    assert!(output.status.success(), "{shown}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("offered load exceeded capacity"),
        "{shown}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let b = &summary["backlog"];
    assert_eq!(b["exceeded_capacity"], true, "{b}");
    assert!(b["at_load_end"].as_u64().unwrap() > 2000, "{b}");
    assert!(b["max"].as_u64() >= b["at_load_end"].as_u64(), "{b}");
    assert!(b["drain_s"].as_f64().unwrap() > 1.0, "{b}");
    // The time series shows the mempool growing second by second.
    let csv = std::fs::read_to_string(dir.join("timeseries.csv")).unwrap();
    let mempool: Vec<u64> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(10).unwrap().parse().unwrap())
        .collect();
    assert!(mempool.iter().max().unwrap() > &2000, "{mempool:?}");
}

/// Runs `extra` at `rate` on two shards, each a committee of four (a block every
/// 200 ms), for 7 s (the stall limit is 3 s); returns the exit code, the summary and
/// the whole output.
fn run_committees(name: &str, rate: &str, extra: &str) -> (Option<i32>, serde_json::Value, String) {
    let text = format!(
        "name = \"{name}\"\nduration = \"7s\"\nwarmup = \"0s\"\n[cluster]\nshards = 2\nvalidators = 4\n\
         block_interval = \"200ms\"\nstorage = \"memory\"\n[workload]\naccounts = 2000\nrate = {rate}\n\
         cross_shard = 0.3\n{extra}"
    );
    let (code, summary, _, shown, _) = run_json(name, &text, &[]);
    (code, summary, shown)
}

/// Each validator's committed height at the end in shard `k`'s committee, by index.
fn heights(summary: &serde_json::Value, k: usize) -> Vec<u64> {
    summary["consensus"]["shards"][k]["heights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_u64().unwrap())
        .collect()
}

/// A committee of four rides out one silent member, the current leader as any other:
/// shard 1 loses validator 1 as the run starts — the leader of height 1 (proposers
/// rotate: height + round mod 4), whose proposal is then never made — and shard 0 its
/// validator 0 midway, a leader every fourth height. Both are named as faults
/// observed, and the run completes with every invariant.
#[test]
fn f_silent_validators_per_committee_are_named_and_the_run_completes() {
    let (code, s, shown) = run_committees(
        "it-tolerate",
        "2000",
        "[[faults]]\nat = \"1ms\"\nfreeze = \"shard-1/validator-1\"\n\
         [[faults]]\nat = \"1500ms\"\nfreeze = \"shard-0/validator-0\"\n",
    );
    assert_eq!(code, Some(0), "{shown}");
    assert_eq!(s["invariants"]["ok"], true, "{}", violations(&s));
    assert_eq!(s["partial"], false);
    assert_eq!(s["pending"], 0);
    let observed = s["faults_observed"].as_array().expect("faults observed");
    let who: Vec<&str> = observed
        .iter()
        .map(|o| o["who"].as_str().unwrap())
        .collect();
    assert_eq!(
        who,
        ["shard-1/validator-1", "shard-0/validator-0"],
        "{observed:?}"
    );
    for o in observed {
        assert_eq!(o["tolerated"], true, "{o}");
        assert!(o["back_s"].is_null(), "frozen to the end: {o}");
    }
    // Each frozen leader's turns were taken over after a view change; shard 1's frozen
    // member, the leader when it froze, never had a block committed.
    let shards = &s["consensus"]["shards"];
    for k in 0..2 {
        let after = shards[k]["blocks_after_view_change"].as_u64().unwrap();
        assert!(after > 0, "shard {k}: {:#}", shards[k]);
    }
    let leaders = &shards[1]["leaders"];
    assert!(
        leaders.get("1").is_none() && leaders.get("2").is_some(),
        "{:#}",
        shards[1]
    );
}

/// One silent member too many: the shard halts, the run ends non-zero naming both and
/// the transactions left pending in the shard.
#[test]
fn more_than_f_silent_validators_fail_the_run_and_name_what_is_pending() {
    let (code, s, shown) = run_committees(
        "it-quorum",
        "2000",
        "[[faults]]\nat = \"1s\"\nfreeze = \"shard-1/validator-2\"\n\
         [[faults]]\nat = \"1s\"\nfreeze = \"shard-1/validator-3\"\n",
    );
    assert_eq!(code, Some(1), "{shown}");
    let v = violations(&s);
    assert!(v.contains("shard 1 has lost its quorum"), "{v}");
    assert!(v.contains("in mempools (shard 1"), "{v}");
    for o in s["faults_observed"].as_array().unwrap() {
        assert_eq!(o["tolerated"], false, "{o}");
    }
}

/// The pid of the validator `v` of shard `k` among `driver`'s children.
fn validator_pid(driver: u32, k: u32, v: u32) -> Option<u32> {
    crate::children_of(driver).into_iter().find(|&pid| {
        let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            return false;
        };
        let args: Vec<String> = raw
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let has = |flag: &str, value: u32| {
            args.windows(2)
                .any(|w| w[0] == flag && w[1] == value.to_string())
        };
        has("--shard", k) && has("--validator", v)
    })
}

/// A validator killed by something other than the scenario (SIGKILL, by its pid, from
/// here) is named, and its committee's quorum carries the run to the end: exit 0.
#[test]
fn a_validator_killed_unscripted_is_named_and_the_run_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let name = "it-dies";
    let text = format!(
        "name = \"{name}\"\nduration = \"5s\"\nwarmup = \"0s\"\n[cluster]\nshards = 2\nvalidators = 4\n\
         storage = \"memory\"\n[workload]\naccounts = 2000\nrate = 2000\ncross_shard = 0.3\n"
    );
    let path = scenario(tmp.path(), name, &text);
    let out = tmp.path().join("results");
    let driver = shardsim()
        .args(["run", "--json", "--out"])
        .arg(&out)
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut victim = None;
    let found = crate::wait_for(Duration::from_secs(30), || {
        victim = validator_pid(driver.id(), 1, 2);
        victim.is_some()
    });
    assert!(found, "shard-1/validator-2 never started");
    // Into the load (the run's output says when it began; a second is enough here).
    std::thread::sleep(Duration::from_millis(2500));
    let pid = victim.unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = driver.wait_with_output().unwrap();
    let shown = format!("{}\n{}", show(&output), logs(&run_dir(&out, name)));
    assert_eq!(output.status.code(), Some(0), "{shown}");
    let s: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(s["invariants"]["ok"], true, "{}", violations(&s));
    let observed = s["faults_observed"].as_array().expect("faults observed");
    assert!(
        observed.iter().any(|o| o["who"] == "shard-1/validator-2"
            && o["tolerated"] == true
            && o["how"].as_str().unwrap().contains("exited unexpectedly")),
        "{observed:?}"
    );
}

/// A member frozen past the stall limit and then let go catches up: its fault shows
/// its end, and its chain, compared with the others' at the end, agrees with theirs.
#[test]
fn a_frozen_validator_that_resumes_catches_up_and_its_fault_shows_its_end() {
    // Blocks every 200 ms: the 4 s freeze leaves it ~20 blocks behind, which its
    // peers' recent blocks cover.
    let (code, s, shown) = run_committees(
        "it-thaw",
        "2000",
        "[[faults]]\nat = \"1s\"\nfreeze = \"shard-1/validator-2\"\nduration = \"4s\"\n",
    );
    assert_eq!(code, Some(0), "{shown}");
    assert_eq!(s["invariants"]["ok"], true, "{}", violations(&s));
    assert_eq!(s["invariants"]["consensus_safe"], true);
    let observed = s["faults_observed"].as_array().expect("faults observed");
    assert_eq!(observed.len(), 1, "{observed:?}");
    let o = &observed[0];
    assert_eq!(o["who"], "shard-1/validator-2");
    assert_eq!(o["tolerated"], true);
    let back = o["back_s"].as_f64().expect("answered again");
    assert!(back >= 5.0, "after its thaw at 5 s: {o}");
    // It answered the final Status, level with its committee: it caught up.
    let heights = heights(&s, 1);
    let top = *heights.iter().max().unwrap();
    assert!(heights[2] + 1 >= top && top > 20, "{heights:?}");
}

/// Under `rate = "max"` the slowest submit path sets each shard's pace: a frozen
/// member's path, once its silence is tolerated, takes every batch, so its committee
/// goes on at the pace of the others and every transaction is final.
#[test]
fn a_frozen_validator_does_not_hold_up_its_shard_under_max_load() {
    let (code, s, shown) = run_committees(
        "it-max-freeze",
        "\"max\"",
        "[[faults]]\nat = \"1s\"\nfreeze = \"shard-1/validator-2\"\n",
    );
    assert_eq!(code, Some(0), "{shown}");
    assert_eq!(s["invariants"]["ok"], true, "{}", violations(&s));
    assert_eq!(s["pending"], 0);
}

/// State sync: a committee member killed and brought back on an empty disk takes the
/// shard's state from its peers' latest snapshot — checked against the certified
/// header of its height — instead of executing the chain from genesis, then catches
/// up block by block. Validators 0 and 1 serve corrupted chunks (a test fault): each
/// is refused against its manifest and fetched from another peer. (The snapshot most
/// peers offer is taken, its chunks asked of them in index order, so a corrupt one is
/// met whichever two of the three agree.)
#[test]
fn a_validator_back_on_an_empty_disk_syncs_from_a_snapshot_despite_corrupt_chunks() {
    let text = "name = \"it-sync\"\nduration = \"6s\"\nwarmup = \"0s\"\n[cluster]\nshards = 2\n\
         validators = 4\nblock_interval = \"100ms\"\nsnapshot_every = 4\n[workload]\n\
         accounts = 2000\nrate = 1500\ncross_shard = 0.3\n\
         [[faults]]\nat = \"3s\"\nkill = \"shard-0/validator-2\"\nrestart_after = \"500ms\"\nwipe = true\n";
    let (code, s, _, shown, _) = run_json(
        "it-sync",
        text,
        &[(
            shard_node::CORRUPT_SNAPSHOT_ENV,
            "shard-0/validator-0,shard-0/validator-1",
        )],
    );
    assert_eq!(code, Some(0), "{shown}");
    assert_eq!(s["invariants"]["ok"], true, "{}", violations(&s));
    let shard = &s["consensus"]["shards"][0];
    let synced = shard["synced"]["2"].as_u64().unwrap_or(0);
    assert!(
        synced >= 4,
        "validator 2 took a snapshot: {shard:#}\n{shown}"
    );
    assert!(
        shard["snapshot_chunks_refused"].as_u64().unwrap() > 0,
        "a corrupt chunk was refused: {shard:#}"
    );
    let heights = heights(&s, 0);
    assert!(
        heights.iter().all(|&h| h == heights[0]) && heights[0] > synced,
        "level with its committee at the end, past the snapshot: {heights:?}"
    );
}
