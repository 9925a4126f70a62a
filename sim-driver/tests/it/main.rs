//! Integration tests of the `shardsim` binary: real beacon and shard processes on
//! loopback, each test in its own temp dir.

mod agreement;
mod attach;
mod cli;
mod committee;
mod deploy;
mod faults;
mod hostile;
mod netns;
mod orphans;
mod placement;
mod run;
mod sweep;
mod tls;
mod verdict;
mod virtual_time;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn shardsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shardsim"))
}

/// Writes a scenario file into `dir` and returns its path.
pub fn scenario(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// The single run folder under `<out>/<name>/`.
pub fn run_dir(out: &Path, name: &str) -> PathBuf {
    let mut dirs: Vec<_> = std::fs::read_dir(out.join(name))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.pop().unwrap()
}

/// Every process log in a run folder, for failure messages.
pub fn logs(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "log") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            out.push_str(&format!("==== {}\n{text}\n", path.display()));
        }
    }
    out
}

/// Each shard's final state root in a summary.json, by shard.
pub fn state_roots(summary: &serde_json::Value) -> Vec<String> {
    summary["per_shard"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["state_root"].as_str().unwrap().to_string())
        .collect()
}

/// Shows a finished command's output.
pub fn show(output: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Pids of the live (non-zombie) children of `parent`, from /proc.
pub fn children_of(parent: u32) -> Vec<u32> {
    let mut kids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the command name, which is in parentheses and may hold spaces.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(parent) && fields[0] != "Z" {
            kids.push(pid);
        }
    }
    kids
}

/// Whether `pid` is gone (or a zombie waiting to be reaped).
pub fn is_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 2..].split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// Polls `cond` every 50 ms until it holds or `limit` passes.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}
