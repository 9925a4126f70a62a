//! The command line: clear errors, no processes started for a bad file.

use crate::{scenario, shardsim};

#[test]
fn bad_scenario_fails_fast_with_file_line_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let path = scenario(
        tmp.path(),
        "bad",
        "name = \"bad\"\nduration = \"1s\"\n[workload]\nrate = 100\ncross_shrd = 0.2\n",
    );
    let out = tmp.path().join("results");
    let output = shardsim()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.toml:5:1"), "{stderr}");
    assert!(stderr.contains("cross_shrd"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.exists(), "nothing was started or written");
}

#[test]
fn missing_file_is_named() {
    let output = shardsim()
        .args(["run", "/nonexistent/x.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/x.toml"), "{stderr}");
}

#[test]
fn help_explains_run_with_an_example() {
    let output = shardsim().args(["run", "--help"]).output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Example: shardsim run scenarios/quickstart.toml"),
        "{stdout}"
    );
}

#[test]
fn a_process_listening_beyond_loopback_without_credentials_refuses_to_start() {
    let keys = consensus::Committee::derived(&[1; 32], 0, 1)
        .unwrap()
        .to_hex();
    let output = shardsim()
        .args(["__beacon", "--shards", "1", "--committee", &keys])
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("0.0.0.0:0 (not loopback) needs the cluster's credentials"),
        "{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("READY"),
        "it never listened"
    );
    // With credentials it loads them and serves (on loopback: a test binds nothing
    // wider), and is stopped here at once.
    let tmp = tempfile::tempdir().unwrap();
    shardsim_host::tls::generate(tmp.path(), &[shardsim_host::tls::Role::Beacon]).unwrap();
    let mut child = shardsim()
        .args(["__beacon", "--shards", "1", "--committee", &keys])
        .args(["--listen", "127.0.0.2:0", "--tls"])
        .arg(tmp.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(line.starts_with("READY 127.0.0.2:"), "{line}");
}
