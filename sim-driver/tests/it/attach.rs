//! Attach mode: a cluster started by hand from the kit `shardsim genesis` writes — each
//! line of its start.sh run as it stands, but listening on 127.0.0.1 port 0 — driven by
//! `shardsim run --cluster`; a cluster that is not the scenario's, or no longer at
//! genesis, and a fault that needs a local process, refused with the reason.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Stdio};

use crate::{scenario, shardsim};

const TOML: &str = r#"name = "it-attach"
seed = 4
duration = "2s"
warmup = "500ms"
[cluster]
shards = 2
validators = 4
block_interval = "50ms"
beacon_interval = "50ms"
[workload]
accounts = 4000
rate = 2000
cross_shard = 0.3
"#;

/// The processes started by hand; killed (by pid) and reaped when dropped.
struct ByHand(Vec<Child>);

impl Drop for ByHand {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A word of start.sh without its quotes, its `$VARIABLES` replaced from `vars`.
fn unquote(word: &str, vars: &HashMap<String, String>) -> String {
    let w = word.trim_matches('"').trim_matches('\'');
    let mut out = w.to_string();
    // Longest names first: SHARD_1_VALIDATOR_1 before a prefix of it.
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for name in names {
        out = out.replace(&format!("${name}"), &vars[name]);
    }
    out
}

/// Runs each process line of `kit`/start.sh, every one listening on 127.0.0.1:0;
/// returns them and the addresses they took (by variable).
fn start_by_hand(kit: &Path) -> (ByHand, HashMap<String, String>) {
    let script = std::fs::read_to_string(kit.join("start.sh")).unwrap();
    let mut vars = HashMap::new();
    let mut started = ByHand(Vec::new());
    for line in script.lines().filter(|l| l.starts_with("\"$SHARDSIM\"")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (&"&", words) = words[1..].split_last().unwrap() else {
            panic!("a process line ends with &: {line}");
        };
        let at = words.iter().position(|w| *w == "--listen").unwrap();
        let listen = words[at + 1]
            .trim_matches('"')
            .trim_start_matches('$')
            .to_string();
        let args: Vec<String> = words[..at].iter().map(|w| unquote(w, &vars)).collect();
        let mut child = shardsim()
            .args(&args)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        started.0.push(child);
        let addr = ready
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("{line}: {ready}"));
        vars.insert(listen, addr.trim().to_string());
    }
    (started, vars)
}

fn run_attached(dir: &Path, scenario_text: &str, cluster: &Path) -> std::process::Output {
    let path = scenario(dir, "it-attach", scenario_text);
    shardsim()
        .args(["run", "--json", "--out"])
        .arg(dir.join("results"))
        .arg(&path)
        .arg("--cluster")
        .arg(cluster)
        .output()
        .unwrap()
}

#[test]
fn a_cluster_started_by_hand_from_its_kit_is_driven_and_a_different_one_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path = scenario(tmp.path(), "it-attach", TOML);
    let kit = tmp.path().join("kit");
    let out = shardsim()
        .args(["genesis"])
        .arg(&path)
        .arg("--out")
        .arg(&kit)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "start.sh",
        "cluster.toml",
        "committees",
        "tls/ca.pem",
        "tls/driver.key",
    ] {
        assert!(kit.join(f).exists(), "{f}");
    }
    let (_processes, addrs) = start_by_hand(&kit);
    assert_eq!(addrs.len(), 9, "the beacon and 2 × 4 validators: {addrs:?}");
    // What a readiness probe asks: the health service, over the kit's TLS.
    let health = |addr: &str, server: &str| {
        shardsim()
            .args(["health", addr, "--tls"])
            .arg(kit.join("tls"))
            .args(["--as", "driver", "--server", server])
            .output()
            .unwrap()
    };
    for (var, server) in [
        ("BEACON", "beacon"),
        ("SHARD_1_VALIDATOR_2", "shard-1/validator-2"),
    ] {
        let probe = health(&addrs[var], server);
        assert!(
            probe.status.success(),
            "{}",
            String::from_utf8_lossy(&probe.stderr)
        );
    }
    let wrong = health(&addrs["BEACON"], "shard-0/validator-0");
    assert!(
        !wrong.status.success(),
        "the beacon's certificate does not name a shard"
    );
    // The kit's cluster file, with the addresses the processes took.
    let mut cluster = std::fs::read_to_string(kit.join("cluster.toml")).unwrap();
    cluster = cluster.replace("127.0.0.1:7000", &addrs["BEACON"]);
    for k in 0..2 {
        for v in 0..4 {
            let default = format!("127.0.0.1:{}", 7001 + k * 4 + v);
            cluster = cluster.replace(&default, &addrs[&format!("SHARD_{k}_VALIDATOR_{v}")]);
        }
    }
    let file = kit.join("here.toml");
    std::fs::write(&file, cluster).unwrap();

    // Not the scenario's: refused, the difference named, before any load.
    let other = run_attached(
        tmp.path(),
        &TOML.replace("accounts = 4000", "accounts = 5000"),
        &file,
    );
    assert_eq!(other.status.code(), Some(2));
    let e = String::from_utf8_lossy(&other.stderr);
    assert!(
        e.contains("runs accounts 4000, the scenario says 5000"),
        "{e}"
    );
    let fault = format!(
        "{TOML}[[faults]]\nat = \"1s\"\nkill = \"shard-1/validator-2\"\nrestart_after = \"1s\"\n"
    );
    let refused = run_attached(tmp.path(), &fault, &file);
    let e = String::from_utf8_lossy(&refused.stderr);
    assert!(e.contains("needs a process this driver started"), "{e}");

    // The scenario's: driven like a cluster of its own, every invariant.
    let run = run_attached(tmp.path(), TOML, &file);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(s["invariants"]["ok"], true, "{s:#}");
    assert_eq!(s["invariants"]["consensus_safe"], true, "{s:#}");
    assert_eq!(s["lost"], 0, "{s:#}");
    // Once run, no longer at genesis: a second run is refused.
    let again = run_attached(tmp.path(), TOML, &file);
    let e = String::from_utf8_lossy(&again.stderr);
    assert!(
        !again.status.success() && e.contains("not at genesis"),
        "{e}"
    );
}
