//! Sweeps, plot, compare and validate, on real clusters.

use std::path::Path;

use crate::{scenario, shardsim, show};

const SWEEP: &str = r#"
name = "it-sweep"
seed = 5
duration = "1s"
warmup = "500ms"
[cluster]
shards = 1
block_interval = "50ms"
beacon_interval = "50ms"
[workload]
accounts = 2000
rate = 1000
cross_shard = 0.3
"#;

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The single sweep folder under `<out>/it-sweep/`.
fn sweep_dir(out: &Path) -> std::path::PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(out.join("it-sweep"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("sweep-")
        })
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

#[test]
fn sweep_over_one_and_two_shards_then_plot_and_compare() {
    let tmp = tempfile::tempdir().unwrap();
    let path = scenario(tmp.path(), "it-sweep", SWEEP);
    let out = tmp.path().join("results");
    let output = shardsim()
        .args([
            "sweep",
            "--shards",
            "1,2",
            "--rate-per-shard",
            "1500",
            "--json",
            "--out",
        ])
        .arg(&out)
        .arg(&path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", show(&output));
    let dir = sweep_dir(&out);

    // --json prints the sweep report, which is also sweep.json.
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let report = read_json(&dir.join("sweep.json"));
    assert_eq!(printed, report);
    let points = report["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(report["ok"], true);
    for (p, shards) in points.iter().zip([1, 2]) {
        assert_eq!(p["shards"], shards);
        assert_eq!(p["summary"]["shards"], shards);
        assert_eq!(p["summary"]["config"]["workload"]["rate"], 1500 * shards);
        assert_eq!(p["summary"]["invariants"]["ok"], true);
        assert_eq!(p["summary"]["lost"], 0);
        assert!(
            dir.join(p["run_dir"].as_str().unwrap())
                .join("summary.json")
                .exists()
        );
    }
    assert_eq!(
        points[0]["summary"]["cross_shard"]["committed"], 0,
        "one shard: nothing crosses"
    );
    assert!(
        points[1]["summary"]["cross_shard"]["committed"]
            .as_u64()
            .unwrap()
            > 0
    );
    let csv = std::fs::read_to_string(dir.join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    for chart in ["throughput-vs-shards", "latency-vs-shards"] {
        for ext in ["png", "svg"] {
            assert!(dir.join(format!("{chart}.{ext}")).metadata().unwrap().len() > 0);
        }
    }

    // plot redraws the sweep's and a run's charts identically from their data files.
    let run_dir = dir.join(points[1]["run_dir"].as_str().unwrap());
    let charts = || -> Vec<String> {
        let sweep_files =
            ["throughput-vs-shards.svg", "latency-vs-shards.svg"].map(|f| dir.join(f));
        let run_files = ["throughput.svg", "latency.svg"].map(|f| run_dir.join(f));
        sweep_files
            .iter()
            .chain(&run_files)
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect::<Vec<String>>()
    };
    let before = charts();
    for f in [
        "throughput-vs-shards.svg",
        "latency-vs-shards.svg",
        "throughput-vs-shards.png",
    ] {
        std::fs::remove_file(dir.join(f)).unwrap();
    }
    for f in ["throughput.svg", "latency.svg", "latency.png"] {
        std::fs::remove_file(run_dir.join(f)).unwrap();
    }
    for d in [&dir, &run_dir] {
        let o = shardsim().arg("plot").arg(d).output().unwrap();
        assert!(o.status.success(), "{}", show(&o));
    }
    let after = charts();
    assert_eq!(before, after, "plot reproduces the charts");
    assert!(dir.join("throughput-vs-shards.png").exists() && run_dir.join("latency.png").exists());

    // compare prints both runs with deltas.
    let first = dir.join(points[0]["run_dir"].as_str().unwrap());
    let o = shardsim()
        .arg("compare")
        .arg(&first)
        .arg(&run_dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", show(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("throughput (tx/s)") && table.contains('%'),
        "{table}"
    );
    // …and draws them together, named as asked.
    let together = dir.join("together");
    let o = shardsim()
        .arg("compare")
        .arg(&first)
        .arg(&run_dir)
        .arg("--charts")
        .arg(&together)
        .args(["--labels", "one shard,two shards"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", show(&o));
    for f in ["compare.png", "compare-latency.png"] {
        assert!(together.join(f).exists(), "{f}");
    }
    let svg = std::fs::read_to_string(together.join("compare.svg")).unwrap();
    assert!(
        svg.contains("one shard: cross-shard final")
            && svg.contains("two shards: receipts in flight"),
        "the runs' names label the lines"
    );
    // A summary alone has no time series to draw.
    let lonely = dir.join("lonely");
    std::fs::create_dir(&lonely).unwrap();
    std::fs::copy(first.join("summary.json"), lonely.join("summary.json")).unwrap();
    let o = shardsim()
        .arg("compare")
        .arg(lonely.join("summary.json"))
        .arg(&run_dir)
        .arg("--charts")
        .arg(&together)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(show(&o).contains("scenario.toml"), "{}", show(&o));
}

#[test]
fn validate_reports_each_file() {
    let tmp = tempfile::tempdir().unwrap();
    let good = scenario(tmp.path(), "good", SWEEP);
    let bad = scenario(
        tmp.path(),
        "bad",
        &SWEEP.replace("accounts = 2000", "acounts = 2000"),
    );
    let o = shardsim().arg("validate").arg(&good).output().unwrap();
    assert!(o.status.success(), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("ok:"));
    let o = shardsim()
        .arg("validate")
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("bad.toml:11:1") && stderr.contains("did you mean `accounts`?"),
        "{stderr}"
    );
    // --set is applied before validating.
    let o = shardsim()
        .arg("validate")
        .arg(&good)
        .args(["--set", "cluster.shards=65"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
}

/// A sweep in virtual time: past what one machine runs as processes (100 shards of 4
/// validators: 401 processes), every point a virtual run with every invariant, and
/// the sweep's files as a process sweep writes them.
#[test]
fn a_virtual_sweep_reaches_past_the_process_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let path = scenario(tmp.path(), "it-sweep", SWEEP);
    let out = tmp.path().join("results");
    let output = shardsim()
        .args([
            "sweep",
            "--virtual",
            "--shards",
            "1,100",
            "--rate-per-shard",
            "200",
            "--set",
            "cluster.validators=4",
            "--set",
            "workload.accounts=20000",
            "--json",
            "--out",
        ])
        .arg(&out)
        .arg(&path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", show(&output));
    let dir = sweep_dir(&out);
    let report = read_json(&dir.join("sweep.json"));
    assert_eq!(report["ok"], true, "{report:#}");
    let points = report["points"].as_array().unwrap();
    for (p, shards) in points.iter().zip([1, 100]) {
        let s = &p["summary"];
        assert_eq!(s["shards"], shards);
        assert_eq!(s["mode"], "virtual");
        assert_eq!(s["invariants"]["ok"], true, "{s:#}");
        assert_eq!(s["invariants"]["consensus_safe"], true, "{s:#}");
        assert!(s["simulator"]["events"].as_u64().unwrap() > 0);
    }
    assert!(
        points[1]["summary"]["cross_shard"]["committed"]
            .as_u64()
            .unwrap()
            > 0,
        "{report:#}"
    );
    for chart in ["throughput-vs-shards.png", "latency-vs-shards.svg"] {
        assert!(dir.join(chart).metadata().unwrap().len() > 0);
    }
}
