//! The cluster never outlives the driver.

use std::process::{Child, Stdio};
use std::time::Duration;

use crate::{children_of, is_dead, scenario, shardsim, wait_for};

/// Starts a long run and waits until its beacon and both shards are up; returns the
/// driver and its children's pids.
fn start_long_run(tmp: &std::path::Path) -> (Child, Vec<u32>) {
    let path = scenario(
        tmp,
        "long",
        "name = \"long\"\nduration = \"120s\"\n[cluster]\nshards = 2\n[workload]\naccounts = 1000\nrate = 1000\n",
    );
    let driver = shardsim()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(tmp.join("results"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = driver.id();
    let mut kids = Vec::new();
    let up = wait_for(Duration::from_secs(30), || {
        kids = children_of(pid);
        kids.len() == 3
    });
    assert!(
        up,
        "expected beacon + 2 shards under the driver, saw {kids:?}"
    );
    (driver, kids)
}

/// Reaps the driver and asserts every child died.
fn assert_children_die(mut driver: Child, kids: &[u32]) {
    let _ = driver.wait();
    let all_dead = wait_for(Duration::from_secs(10), || kids.iter().all(|&k| is_dead(k)));
    let alive: Vec<u32> = kids.iter().copied().filter(|&k| !is_dead(k)).collect();
    for pid in &alive {
        // Clean up what this test started before failing, so no orphan outlives it.
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    assert!(
        all_dead,
        "children still alive after the driver died: {alive:?}"
    );
}

#[test]
fn sigkill_of_the_driver_takes_the_cluster_down() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut driver, kids) = start_long_run(tmp.path());
    driver.kill().unwrap(); // SIGKILL: no destructor of the driver runs
    assert_children_die(driver, &kids);
}

#[test]
fn ctrl_c_drains_writes_partial_results_and_stops_the_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut driver, kids) = start_long_run(tmp.path());
    std::thread::sleep(Duration::from_millis(1500)); // let some load through
    let sent = std::process::Command::new("kill")
        .args(["-INT", &driver.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let mut status = None;
    let stopped = wait_for(Duration::from_secs(30), || {
        status = driver.try_wait().unwrap();
        status.is_some()
    });
    assert!(stopped, "the driver did not stop on SIGINT");
    assert_eq!(
        status.unwrap().code(),
        Some(130),
        "interrupted runs exit 130"
    );
    assert_children_die(driver, &kids);

    let dir = crate::run_dir(&tmp.path().join("results"), "long");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["partial"], true, "{summary:#}");
    assert!(summary["committed"].as_u64().unwrap() > 0, "{summary:#}");
    assert_eq!(summary["lost"], 0, "{summary:#}");
    assert_eq!(summary["invariants"]["ok"], true, "{summary:#}");
    assert!(dir.join("throughput.png").exists());
}

#[test]
fn a_dead_shard_fails_the_run_with_its_name_and_log() {
    let tmp = tempfile::tempdir().unwrap();
    let path = scenario(
        tmp.path(),
        "dies",
        "name = \"dies\"\nduration = \"120s\"\n[cluster]\nshards = 2\n[workload]\naccounts = 1000\nrate = 1000\n",
    );
    let mut driver = shardsim()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(tmp.path().join("results"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut kids = Vec::new();
    assert!(wait_for(Duration::from_secs(30), || {
        kids = children_of(driver.id());
        kids.len() == 3
    }));
    std::thread::sleep(Duration::from_millis(1000)); // mid-run, not during start-up
    // The last child started is shard 1 (beacon first, then shards in order).
    let victim = *kids.iter().max().unwrap();
    std::process::Command::new("kill")
        .args(["-9", &victim.to_string()])
        .status()
        .unwrap();
    let mut status = None;
    let ended = wait_for(Duration::from_secs(20), || {
        status = driver.try_wait().unwrap();
        status.is_some()
    });
    if !ended {
        let _ = driver.kill();
    }
    assert!(ended, "the driver kept running after a shard died");
    assert_eq!(status.unwrap().code(), Some(1), "a failed run exits 1");
    let mut stderr = String::new();
    std::io::Read::read_to_string(driver.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("shard-1 exited unexpectedly"), "{stderr}");
    assert!(stderr.contains("shard-1.log"), "{stderr}");
    assert_children_die(driver, &kids);
    // The run still wrote its results, marked partial, with the failure and the
    // window it really measured (about 1 s of a planned 120 s).
    let dir = crate::run_dir(&tmp.path().join("results"), "dies");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["partial"], true, "{summary:#}");
    assert_eq!(summary["invariants"]["ok"], false, "{summary:#}");
    assert!(
        summary["failures"]
            .to_string()
            .contains("shard-1 exited unexpectedly"),
        "{summary:#}"
    );
    // Named once, as dead: not also as a process that stopped answering.
    let naming_shard_1 = summary["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .filter(|f| {
            f.contains("shard-1") && (f.contains("exited") || f.contains("stopped answering"))
        })
        .count();
    assert_eq!(naming_shard_1, 1, "{summary:#}");
    let window = summary["measured_window_s"].as_f64().unwrap();
    assert!(window < 10.0, "the window is what ran: {window}");
    assert!(dir.join("throughput.png").exists());
}
