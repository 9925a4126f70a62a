//! Hosts of their own: a run with `network.hosts = "netns"` — the beacon and two shards
//! each in a network namespace of its own, joined by a bridge, over mutual TLS, with
//! 20 ms of latency and the kernel shaping each host's bandwidth — probed while it
//! runs. Needs root and network namespaces (CI has both); skipped, saying so, where
//! they cannot be made.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use shardsim_proto::pb;
use shardsim_proto::pb::beacon_client::BeaconClient;
use tonic::transport::Endpoint;

use crate::{run_dir, scenario, shardsim};

/// Whether this machine lets us make a network namespace (and so run the test).
fn namespaces_allowed() -> Result<(), String> {
    let probe = format!("shardsim-probe-{}", std::process::id());
    let made = Command::new("ip")
        .args(["netns", "add", &probe])
        .output()
        .map_err(|e| format!("no iproute2: {e}"))?;
    if !made.status.success() {
        return Err(String::from_utf8_lossy(&made.stderr).trim().to_string());
    }
    let _ = Command::new("ip").args(["netns", "del", &probe]).output();
    Ok(())
}

/// The network namespaces a driver with pid `pid` made that still exist.
fn left_behind(pid: u32) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("shardsim-{pid}-")))
        .map(str::to_string)
        .collect()
}

/// `text` without its terminal colour codes (`ESC [ … m`).
fn plain_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The driver under test, by its pid. Dropped — the test passed or failed — it is
/// killed if it still runs, and whatever namespaces it left are removed.
struct Driver(Option<std::process::Child>, u32);

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in left_behind(self.1) {
            let _ = Command::new("ip").args(["netns", "del", &ns]).output();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &format!("ssd{}", self.1)])
            .output();
    }
}

#[test]
fn a_cluster_on_hosts_of_its_own_crosses_a_real_network_over_mutual_tls() {
    if let Err(why) = namespaces_allowed() {
        eprintln!("skipped: network namespaces cannot be made here ({why}); CI runs this as root");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let name = "it-netns";
    let path = scenario(
        tmp.path(),
        name,
        r#"name = "it-netns"
seed = 3
duration = "3s"
warmup = "500ms"
[cluster]
shards = 2
block_interval = "50ms"
beacon_interval = "50ms"
[network]
hosts = "netns"
latency = "20ms"
bandwidth = "100mbit"
[workload]
accounts = 4000
rate = 2000
cross_shard = 0.3
"#,
    );
    let out = tmp.path().join("results");
    let child = shardsim()
        .args(["run", "--json", "--out"])
        .arg(&out)
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut driver = Driver(Some(child), pid);

    // While it runs: the beacon listens on its host's address, not loopback.
    let deadline = Instant::now() + Duration::from_secs(30);
    let beacon = loop {
        let log = std::fs::read_dir(out.join(name))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| std::fs::read_to_string(e.ok()?.path().join("beacon.log")).ok());
        if let Some(addr) = log.map(|l| plain_text(&l)).and_then(|l| {
            let at = l.find("beacon listening addr=")? + "beacon listening addr=".len();
            l[at..].split_whitespace().next().map(str::to_string)
        }) {
            break addr;
        }
        assert!(Instant::now() < deadline, "the beacon never listened");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        beacon.starts_with("10.213.0.2:"),
        "the beacon on host 0: {beacon}"
    );
    let hosts = left_behind(pid);
    assert_eq!(
        hosts.len(),
        4,
        "beacon, two shards and the switch: {hosts:?}"
    );
    // The kernel shapes what each host sends.
    let qdisc = Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("shardsim-{pid}-1"),
            "tc",
            "qdisc",
            "show",
            "dev",
            "eth0",
        ])
        .output()
        .unwrap();
    let qdisc = String::from_utf8_lossy(&qdisc.stdout).to_string();
    assert!(
        qdisc.contains("tbf") && qdisc.contains("100Mbit"),
        "{qdisc}"
    );
    // A client without the cluster's certificate is refused, over the real path.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let plain = Endpoint::from_shared(format!("http://{beacon}"))
            .unwrap()
            .connect_lazy();
        let r = BeaconClient::new(plain)
            .status(pb::StatusRequest::default())
            .await;
        assert!(r.is_err(), "plain gRPC answered: {r:?}");
    });

    let output = driver.0.take().unwrap().wait_with_output().unwrap();
    let dir = run_dir(&out, name);
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        crate::logs(&dir)
    );
    let s: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(s["invariants"]["ok"], true, "{s:#}");
    assert_eq!(s["lost"], 0, "{s:#}");
    // Latency: the driver's two links (to the shard, back with its events) at 20 ms
    // each, plus the block's wait.
    let p50 = s["latency_ms"]["intra"]["p50"].as_f64().unwrap();
    assert!(
        p50 >= 40.0,
        "intra-shard p50 {p50} ms reflects 2 × 20 ms: {s:#}"
    );
    // Nothing left: namespaces, the driver's link, processes.
    assert!(left_behind(pid).is_empty(), "{:?}", left_behind(pid));
    let link = Command::new("ip")
        .args(["link", "show", &format!("ssd{pid}")])
        .output()
        .unwrap();
    assert!(!link.status.success(), "the driver's link is gone");
    let ps = Command::new("pgrep")
        .args(["-f", &dir.display().to_string()])
        .output()
        .unwrap();
    assert!(ps.stdout.is_empty(), "no process of the run is left");
}
