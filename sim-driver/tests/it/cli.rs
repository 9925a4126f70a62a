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
