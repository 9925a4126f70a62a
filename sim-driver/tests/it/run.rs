//! A whole run in a real cluster.

use std::path::{Path, PathBuf};

use crate::{logs, run_dir, scenario, shardsim, show};

#[test]
fn two_shard_run_commits_cross_shard_transfers_and_keeps_every_invariant() {
    let tmp = tempfile::tempdir().unwrap();
    let path = scenario(
        tmp.path(),
        "it-run",
        r#"
name = "it-run"
seed = 9
duration = "2s"
warmup = "1s"
[cluster]
shards = 2
block_interval = "50ms"
beacon_interval = "50ms"
max_block_txs = 5000
[workload]
accounts = 2000
rate = 4000
cross_shard = 0.5
skew = 0.5
"#,
    );
    let out = tmp.path().join("results");
    let output = shardsim()
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(&path)
        .output()
        .unwrap();
    let dir = run_dir(&out, "it-run");
    assert!(output.status.success(), "{}\n{}", show(&output), logs(&dir));

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let n = |k: &str| {
        summary[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} in {summary:#}"))
    };
    assert!(n("committed") > 0, "{summary:#}");
    assert!(summary["cross_shard"]["committed"].as_u64().unwrap() > 0);
    assert_eq!(n("lost"), 0);
    assert_eq!(n("pending"), 0);
    assert_eq!(n("submitted"), n("committed") + n("rejected"));
    assert_eq!(summary["seed"], 9);
    assert_eq!(summary["shards"], 2);
    for k in [
        "supply_conserved",
        "exactly_once",
        "all_accounted",
        "all_final",
        "ok",
    ] {
        assert_eq!(summary["invariants"][k], true, "{k}: {summary:#}");
    }
    assert_eq!(
        summary["backlog"]["exceeded_capacity"], false,
        "{summary:#}"
    );
    for k in ["intra", "cross", "all"] {
        let p = &summary["latency_ms"][k];
        assert!(p["p50"].as_f64().unwrap() > 0.0, "{k}: {p}");
        assert!(p["p50"].as_f64() <= p["p99"].as_f64() && p["p99"].as_f64() <= p["max"].as_f64());
    }
    assert!(summary["tps"].as_f64().unwrap() > 0.0);
    assert!(
        summary["per_shard"][0]["dependency_ratio"].is_null(),
        "not measured by the sequential executor"
    );
    let cpu = &summary["cpu_seconds"];
    assert_eq!(cpu["shards"].as_array().unwrap().len(), 2, "{cpu}");
    assert!(
        cpu["driver"].as_f64().unwrap() > 0.0 && cpu["wall"].as_f64().unwrap() > 0.0,
        "{cpu}"
    );

    for file in [
        "summary.json",
        "timeseries.csv",
        "latency-intra.hlog",
        "latency-cross.hlog",
        "throughput.png",
        "throughput.svg",
        "latency.png",
        "latency.svg",
        "cross-shard.png",
        "cross-shard.svg",
        "beacon.log",
        "shard-0.log",
        "shard-1.log",
        "scenario.toml",
    ] {
        let meta = std::fs::metadata(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(meta.len() > 0, "{file} is empty");
    }
    assert!(
        !dir.join("keys").exists(),
        "the run's validator keys are removed when its cluster stops"
    );
    let csv = std::fs::read_to_string(dir.join("timeseries.csv")).unwrap();
    assert!(csv.starts_with(
        "second,shard,final,final_cross,rejected,receipts_emitted,receipts_applied,delayed_receipts_max,oldest_delayed_us,aborts,mempool_max,driver_held_max,gas,commits,commit_us,accounts_in,tp_open_max\n"
    ));
    let column = |i: usize| -> u64 {
        csv.lines()
            .skip(1)
            .map(|l| l.split(',').nth(i).unwrap().parse::<u64>().unwrap())
            .sum()
    };
    let cross = summary["cross_shard"]["committed"].as_u64().unwrap();
    assert_eq!(
        (column(5), column(6)),
        (cross, cross),
        "every receipt emitted and applied once"
    );
    let finals: u64 = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(
        finals,
        n("committed"),
        "the time series adds up to the total"
    );
    let mut untagged = 0;
    for kind in ["intra", "cross"] {
        let (measured, per_second) = read_hlog(&dir.join(format!("latency-{kind}.hlog")));
        untagged += per_second;
        // The measured interval is the summary's population, to the last count.
        let p = &summary["latency_ms"][kind];
        let ms = |q: f64| measured.value_at_quantile(q) as f64 / 1000.0;
        assert_eq!(measured.len(), p["count"].as_u64().unwrap(), "{kind}: {p}");
        assert_eq!(ms(0.5), p["p50"].as_f64().unwrap(), "{kind}: {p}");
        assert_eq!(ms(0.9), p["p90"].as_f64().unwrap(), "{kind}: {p}");
        assert_eq!(ms(0.99), p["p99"].as_f64().unwrap(), "{kind}: {p}");
        assert_eq!(measured.max() as f64 / 1000.0, p["max"].as_f64().unwrap());
    }
    assert_eq!(
        untagged,
        n("committed"),
        "the per-second intervals hold every final transaction once"
    );
    let svg = std::fs::read_to_string(dir.join("throughput.svg")).unwrap();
    assert!(
        svg.contains("Throughput") && svg.contains("shard 1"),
        "title and legend"
    );
    // The table names the invariants.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("supply ok"), "{stdout}");
}

/// Runs a scenario (`name` must match its `name =`) with `--json` in a temp dir,
/// asserts it succeeded, and returns the summary it printed.
/// Reads an interval log with the hdrhistogram crate's reader (not the writer's code):
/// checks the header lines of the format, and returns the interval tagged `measured`
/// and how many values the untagged intervals hold.
fn read_hlog(path: &std::path::Path) -> (hdrhistogram::Histogram<u64>, u64) {
    use base64::Engine;
    use hdrhistogram::serialization::Deserializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    for line in [
        "#[Histogram log format version 1.3]",
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    let start = text
        .lines()
        .find(|l| l.starts_with("#[StartTime: "))
        .unwrap();
    assert!(
        start.contains("(seconds since epoch), 20"),
        "a date: {start}"
    );
    let (mut measured, mut untagged) = (None, 0);
    let mut seen_start = (false, false);
    let mut de = Deserializer::new();
    for entry in IntervalLogIterator::new(&bytes) {
        match entry.unwrap_or_else(|e| panic!("{}: {e:?}", path.display())) {
            LogEntry::StartTime(_) => seen_start.0 = true,
            LogEntry::BaseTime(_) => seen_start.1 = true,
            LogEntry::Interval(i) => {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(i.encoded_histogram())
                    .unwrap();
                let h: hdrhistogram::Histogram<u64> = de.deserialize(&mut raw.as_slice()).unwrap();
                match i.tag() {
                    Some(t) if t.as_str() == "measured" => measured = Some(h),
                    Some(t) => panic!("unexpected tag {}", t.as_str()),
                    None => untagged += h.len(),
                }
            }
        }
    }
    assert_eq!(seen_start, (true, true), "StartTime and BaseTime lines");
    (measured.expect("a measured interval"), untagged)
}

pub fn run_json(name: &str, toml: &str) -> serde_json::Value {
    let tmp = tempfile::tempdir().unwrap();
    run_in(tmp.path(), name, toml).0
}

/// Runs scenario `toml` (named `name`) with its results under `tmp`; asserts it
/// passed; returns its summary and its run folder.
pub fn run_in(tmp: &Path, name: &str, toml: &str) -> (serde_json::Value, PathBuf) {
    let path = scenario(tmp, name, toml);
    let out = tmp.join("results");
    let output = shardsim()
        .args(["run", "--json", "--out"])
        .arg(&out)
        .arg(&path)
        .output()
        .unwrap();
    let dir = run_dir(&out, name);
    assert!(output.status.success(), "{}\n{}", show(&output), logs(&dir));
    (serde_json::from_slice(&output.stdout).unwrap(), dir)
}

#[test]
fn network_latency_delays_every_link() {
    let summary = run_json(
        "it-net",
        r#"
name = "it-net"
duration = "1s"
warmup = "500ms"
[cluster]
shards = 2
block_interval = "20ms"
beacon_interval = "20ms"
[network]
latency = "40ms"
jitter = "10ms"
[workload]
accounts = 1000
rate = 1000
cross_shard = 0.5
"#,
    );
    assert_eq!(summary["invariants"]["ok"], true, "{summary:#}");
    assert_eq!(summary["config"]["network"]["latency"], "40ms");
    // Every message waits at least 40 ms on each link it crosses. An intra-shard
    // transfer crosses two (submit, events); a cross-shard one four (submit, source →
    // beacon, beacon → destination, events). These are lower bounds, not timings.
    let intra_p50 = summary["latency_ms"]["intra"]["p50"].as_f64().unwrap();
    let cross_p50 = summary["latency_ms"]["cross"]["p50"].as_f64().unwrap();
    assert!(intra_p50 >= 80.0, "intra p50 {intra_p50} ms");
    assert!(cross_p50 >= 160.0, "cross p50 {cross_p50} ms");
}

#[test]
fn signed_run_verifies_every_signature_and_keeps_every_invariant() {
    let summary = run_json(
        "it-signed",
        r#"
name = "it-signed"
duration = "1s"
warmup = "500ms"
[cluster]
shards = 2
block_interval = "50ms"
beacon_interval = "50ms"
signatures = true
threads_per_shard = 2
[workload]
accounts = 500
rate = 2000
cross_shard = 0.3
"#,
    );
    assert_eq!(summary["invariants"]["ok"], true, "{summary:#}");
    assert_eq!(summary["config"]["cluster"]["signatures"], true);
    assert_eq!(
        summary["submitted"], 3000,
        "1.5 s at 2,000 tx/s, all signed up front"
    );
    assert_eq!(
        summary["committed"], 3000,
        "every honest signature verifies: {summary:#}"
    );
    assert_eq!(summary["rejected"], 0);
}

#[test]
fn byzantine_shard_is_caught_and_supply_is_conserved() {
    let summary = run_json(
        "it-byz",
        r#"
name = "it-byz"
duration = "1s"
warmup = "500ms"
[cluster]
shards = 3
block_interval = "20ms"
beacon_interval = "20ms"
byzantine_shard = 1
[workload]
accounts = 3000
rate = 3000
cross_shard = 0.5
"#,
    );
    let security = &summary["security"];
    assert!(
        security["receipts_forged"].as_u64().unwrap() > 0,
        "{summary:#}"
    );
    assert!(
        security["receipts_replayed"].as_u64().unwrap() > 0,
        "{summary:#}"
    );
    assert_eq!(
        security["receipts_rejected"].as_u64(),
        Some(
            security["receipts_forged"].as_u64().unwrap()
                + security["receipts_replayed"].as_u64().unwrap()
        )
    );
    assert_eq!(
        summary["invariants"]["supply_conserved"], true,
        "{summary:#}"
    );
    assert_eq!(summary["invariants"]["ok"], true, "{summary:#}");
    assert_eq!(summary["lost"], 0);
}

#[test]
fn mixed_native_and_token_transfers_keep_each_assets_supply() {
    // Run with the parallel executor, checked against the sequential one on every block.
    let summary = run_json(
        "it-mix",
        r#"
name = "it-mix"
duration = "1s"
warmup = "500ms"
[cluster]
shards = 2
block_interval = "20ms"
beacon_interval = "20ms"
executor = "parallel"
verify_executor = true
predict_executor = false
threads_per_shard = 2
[workload]
accounts = 2000
rate = 4000
cross_shard = 0.5
tokens = 2
mix = { transfer = 1, token = 1 }
"#,
    );
    assert_eq!(summary["invariants"]["ok"], true, "{summary:#}");
    let programs = &summary["programs"];
    let n = |p: &str, k: &str| {
        programs[p][k]
            .as_u64()
            .unwrap_or_else(|| panic!("{p}.{k}: {summary:#}"))
    };
    assert_eq!(n("transfer", "submitted") + n("token", "submitted"), 6000);
    assert!(n("token", "committed") > 2000, "{programs}");
    for shard in summary["per_shard"].as_array().unwrap() {
        let ratio = shard["dependency_ratio"]
            .as_f64()
            .expect("the parallel executor reports it");
        assert!((0.0..=1.0).contains(&ratio), "{shard}");
    }
    assert_eq!(n("transfer", "committed") + n("token", "committed"), 6000);
    // Token receipts crossed shards too (each asset is audited on its own).
    assert!(summary["cross_shard"]["receipts_applied"].as_u64().unwrap() > 2000);
}

#[test]
fn every_program_signed_and_verified_under_block_stm_keeps_every_invariant() {
    // Transfers, tokens, swaps, NFTs and votes, a third of them cross-shard, signed, run
    // by Block-STM with the sequential executor checking every block. A zero slippage
    // allowance makes swaps fail once their pool's price moves, so refunds travel too.
    let summary = run_json(
        "it-programs",
        r#"
name = "it-programs"
duration = "1s"
warmup = "500ms"
[cluster]
shards = 2
block_interval = "20ms"
beacon_interval = "20ms"
executor = "block-stm"
verify_executor = true
predict_executor = false
signatures = true
threads_per_shard = 2
[workload]
accounts = 2000
rate = 4000
cross_shard = 0.3
tokens = 2
pools = 4
slippage = 0.0
mix = { transfer = 1, token = 1, swap = 2, nft = 2, vote = 1 }
hot = { fraction = 0.2, objects = 1 }
"#,
    );
    assert_eq!(summary["invariants"]["ok"], true, "{summary:#}");
    assert_eq!(summary["lost"], 0, "{summary:#}");
    let programs = &summary["programs"];
    let n = |p: &str, k: &str| programs[p][k].as_u64().unwrap_or(0);
    let mut total = 0;
    for p in ["transfer", "token", "swap", "nft", "vote"] {
        assert!(n(p, "committed") > 100, "{p} commits: {programs}");
        assert_eq!(
            n(p, "committed") + n(p, "rejected"),
            n(p, "submitted"),
            "{p}: every call ends, committed or failed with a reason: {programs}"
        );
        total += n(p, "submitted");
    }
    assert_eq!(total, 6000);
    assert!(
        programs["swap"]["reasons"]["slippage"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "swaps fail on slippage and are refunded: {programs}"
    );
    assert_eq!(
        programs["swap"]["reasons"]["bad_signature"].as_u64(),
        None,
        "{programs}"
    );
    for shard in summary["per_shard"].as_array().unwrap() {
        assert!(
            shard["reexecuted"].is_u64(),
            "block-stm reports re-executions: {shard}"
        );
        assert!(shard["dependency_ratio"].is_f64(), "{shard}");
    }
}

#[test]
fn two_phase_run_commits_and_aborts_atomically_and_keeps_every_invariant() {
    // Every program, half of the calls cross-shard, under two-phase commit, with a hot
    // pool (locks, waits) and a zero slippage allowance (votes no → aborts).
    let tmp = tempfile::tempdir().unwrap();
    let (summary, dir) = run_in(
        tmp.path(),
        "it-2pc",
        r#"
name = "it-2pc"
duration = "1s"
warmup = "500ms"
[cluster]
shards = 3
block_interval = "20ms"
beacon_interval = "20ms"
protocol = "two-phase"
deadline = 8
executor = "parallel"
verify_executor = true
predict_executor = false
[workload]
accounts = 3000
rate = 3000
cross_shard = 0.5
tokens = 2
pools = 4
slippage = 0.0
mix = { transfer = 2, token = 1, swap = 2, nft = 1, vote = 1 }
hot = { fraction = 0.3, objects = 1 }
"#,
    );
    let inv = &summary["invariants"];
    assert_eq!(inv["ok"], true, "{summary:#}");
    assert_eq!(inv["atomic"], true, "{summary:#}");
    assert_eq!(summary["lost"], 0, "{summary:#}");
    assert_eq!(summary["drained"], true, "{summary:#}");
    let tp = &summary["two_phase"];
    let commits = tp["commits"].as_u64().unwrap();
    let aborts = tp["aborts"].as_u64().unwrap();
    assert!(commits > 500, "{tp}");
    assert!(
        tp["aborts_by_reason"]["slippage"].as_u64().unwrap_or(0) > 0,
        "a swap whose pool moved is voted down and aborted: {tp}"
    );
    assert!(
        tp["lock_wait_ms"]["count"].as_u64().unwrap() > 0,
        "the hot pool makes prepares wait: {tp}"
    );
    assert_eq!(
        (
            tp["beacon_commits"].as_u64().unwrap(),
            tp["beacon_aborts"].as_u64().unwrap()
        ),
        (commits, aborts),
        "the driver saw both shards apply every decision the beacon made: {tp}"
    );
    assert_eq!(summary["cross_shard"]["committed"], commits, "{summary:#}");
    // Honest shards forge and repeat no vote; a vote can come late, though: a prepare
    // that waited for the hot pool until its deadline votes just as the beacon aborts it.
    assert_eq!(summary["security"]["votes_forged"], 0, "{summary:#}");
    assert_eq!(summary["security"]["votes_duplicate"], 0, "{summary:#}");
    // Per second, what each channel emits is applied, what comes home after a decision
    // (swap outputs, mints, refunds) included: nothing stays in flight at the end.
    let csv = std::fs::read_to_string(dir.join("timeseries.csv")).unwrap();
    let column = |i: usize| -> u64 {
        csv.lines()
            .skip(1)
            .map(|l| l.split(',').nth(i).unwrap().parse::<u64>().unwrap())
            .sum()
    };
    assert_eq!(column(5), column(6), "receipts emitted, applied");
    assert!(column(16) > 0, "undecided calls are counted per second");
}

#[test]
fn byzantine_two_phase_participant_late_and_forged_votes_are_refused() {
    let summary = run_json(
        "it-byz-2pc",
        r#"
name = "it-byz-2pc"
duration = "1s"
warmup = "500ms"
[cluster]
shards = 3
block_interval = "20ms"
beacon_interval = "20ms"
protocol = "two-phase"
deadline = 4
byzantine_shard = 1
[workload]
accounts = 3000
rate = 3000
cross_shard = 0.5
"#,
    );
    let security = &summary["security"];
    assert!(security["votes_late"].as_u64().unwrap() > 0, "{security}");
    assert!(security["votes_forged"].as_u64().unwrap() > 0, "{security}");
    assert!(
        security["receipts_rejected"].as_u64().unwrap() > 0,
        "{security}"
    );
    assert!(
        summary["two_phase"]["aborts_by_reason"]["timeout"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "withheld votes make their transactions time out: {summary:#}"
    );
    let inv = &summary["invariants"];
    assert_eq!(inv["supply_conserved"], true, "{summary:#}");
    assert_eq!(inv["atomic"], true, "{summary:#}");
    assert_eq!(inv["ok"], true, "{summary:#}");
    assert_eq!(summary["lost"], 0);
}

#[test]
fn a_parallel_executor_on_one_thread_predicts_a_loss_and_runs_every_block_sequentially() {
    // One thread: waves can only cost, so with prediction on (the default) every block
    // falls back to the sequential executor, and the summary says how many did.
    let summary = run_json(
        "it-predict",
        r#"
name = "it-predict"
duration = "1s"
warmup = "200ms"
[cluster]
shards = 2
block_interval = "20ms"
executor = "parallel"
[workload]
accounts = 1000
rate = 2000
"#,
    );
    assert_eq!(summary["invariants"]["ok"], true, "{summary:#}");
    for shard in summary["per_shard"].as_array().unwrap() {
        let height = shard["height"].as_u64().unwrap();
        assert!(height > 10, "{shard}");
        assert_eq!(shard["fell_back_blocks"], height, "every block: {shard}");
        assert!(
            shard["dependency_ratio"].is_null(),
            "no waves were cut: {shard}"
        );
    }
}

#[test]
fn an_evm_cluster_runs_every_program_across_shards_and_keeps_every_invariant() {
    // The five programs as Solidity contracts on revm in each shard, 30% of calls
    // crossing shards through the bridge precompile, on Block-STM checked against the
    // sequential EVM on every block (verify_executor): the recount, the accounting and
    // exactly-once hold as natively, and the gas shows that bytecode ran.
    let summary = run_json(
        "it-evm",
        r#"
name = "it-evm"
duration = "1s"
warmup = "300ms"
[cluster]
shards = 2
block_interval = "20ms"
vm = "evm"
executor = "block-stm"
threads_per_shard = 2
verify_executor = true
predict_executor = false
[workload]
accounts = 2000
rate = 2000
cross_shard = 0.3
tokens = 2
pools = 4
collections = 4
proposals = 4
slippage = 0.005
mix = { transfer = 2, token = 2, swap = 2, nft = 2, vote = 1 }
"#,
    );
    assert_eq!(summary["invariants"]["ok"], true, "{summary:#}");
    assert!(summary["committed"].as_u64().unwrap() > 1500, "{summary:#}");
    assert!(
        summary["cross_shard"]["committed"].as_u64().unwrap() > 300,
        "cross-shard calls went through the bridge: {summary:#}"
    );
    let gas = &summary["gas"];
    let per_tx = gas["per_tx"]
        .as_f64()
        .expect("gas is reported under the EVM");
    assert!(per_tx > 21_000.0, "{gas}");
    assert!(gas["mgas_per_s"].as_f64().unwrap() > 0.0, "{gas}");
    // Gas by program: every program's calls ran bytecode; the receipts' share apart.
    for program in ["transfer", "token", "swap", "nft", "vote"] {
        let per_tx = summary["programs"][program]["gas_per_tx"]
            .as_f64()
            .unwrap_or(0.0);
        assert!(per_tx >= 21_000.0, "{program}: {per_tx} gas per call");
    }
    assert!(gas["receipts"].as_u64().unwrap() > 0, "{gas}");
    // Contract reverts are reported by their native reason.
    let reasons = &summary["rejected_by_reason"];
    assert!(
        reasons["already_voted"].as_u64().unwrap_or(0) > 0
            && reasons["not_owner"].as_u64().unwrap_or(0) > 0,
        "{reasons}"
    );
}

#[test]
fn two_phase_commit_runs_the_contracts_atomically() {
    // Swaps and votes across shards under two-phase commit, on the EVM: each participant
    // votes by dry-running the call on its contract, commits or aborts by the beacon's
    // decision; supply, exactly-once and the accounting hold, and both verdicts occur.
    let summary = run_json(
        "it-evm-2pc",
        r#"
name = "it-evm-2pc"
duration = "1s"
warmup = "300ms"
[cluster]
shards = 2
block_interval = "20ms"
beacon_interval = "20ms"
vm = "evm"
protocol = "two-phase"
[workload]
accounts = 1000
rate = 1500
cross_shard = 0.6
tokens = 1
pools = 2
proposals = 2
slippage = 0.0005
mix = { transfer = 1, token = 1, swap = 2, vote = 1 }
hot = { fraction = 0.5, objects = 1 }
"#,
    );
    assert_eq!(summary["invariants"]["ok"], true, "{summary:#}");
    let tp = &summary["two_phase"];
    assert!(tp["commits"].as_u64().unwrap_or(0) > 0, "{tp}");
    assert!(tp["aborts"].as_u64().unwrap_or(0) > 0, "{tp}");
}

#[test]
fn a_block_gas_limit_caps_what_each_evm_block_takes() {
    // Room for ten value transfers (21,000 gas each) per block: every transfer still
    // becomes final, in at least a tenth as many blocks.
    let summary = run_json(
        "it-evm-gas",
        r#"
name = "it-evm-gas"
duration = "1s"
[cluster]
shards = 1
block_interval = "20ms"
vm = "evm"
max_block_gas = 210000
[workload]
accounts = 1000
rate = 1000
mix = { transfer = 1 }
"#,
    );
    assert_eq!(summary["invariants"]["ok"], true, "{summary:#}");
    let committed = summary["committed"].as_u64().unwrap();
    assert_eq!(
        summary["submitted"].as_u64().unwrap(),
        committed,
        "{summary:#}"
    );
    let height = summary["per_shard"][0]["height"].as_u64().unwrap();
    assert!(
        committed > 500 && height * 10 >= committed,
        "at most ten a block: {committed} in {height} blocks"
    );
}

#[test]
fn an_evm_scenario_with_what_the_evm_does_not_run_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let path = scenario(
        tmp.path(),
        "it-evm-no",
        "name = \"it-evm-no\"\nduration = \"1s\"\n[cluster]\nshards = 2\nvm = \"evm\"\nbyzantine_shard = 1\n[workload]\naccounts = 100\nrate = 10\n",
    );
    let output = shardsim().args(["validate"]).arg(&path).output().unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("cluster.vm = \"evm\"") && err.contains("byzantine_shard"),
        "{err}"
    );
}
