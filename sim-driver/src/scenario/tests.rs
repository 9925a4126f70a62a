//! Scenario parsing and validation tests.

use super::parse::MAX_SCENARIO_BYTES;
use super::validate::{MAX_NAME_LEN, empty_shard};
use super::*;
use std::path::Path;

const GOOD: &str = r#"
name = "t"
seed = 7
duration = "3s"

[cluster]
shards = 2
block_interval = "asap"

[workload]
accounts = 1000
rate = "max"
"#;

fn error(text: &str) -> String {
    Scenario::from_toml(text, "s.toml").unwrap_err().to_string()
}

#[test]
fn parses_with_defaults() {
    let s = Scenario::from_toml(GOOD, "s.toml").unwrap();
    assert_eq!(s.seed, 7);
    assert_eq!(s.duration, Duration::from_secs(3));
    assert_eq!(s.warmup, Duration::from_secs(2));
    assert_eq!(s.cluster.block_interval, None);
    assert_eq!(s.cluster.beacon_interval, Duration::from_millis(100));
    assert_eq!(s.cluster.max_block_txs, 10_000);
    assert_eq!(s.workload.rate, Rate::Max);
    assert_eq!(s.workload.cross_shard, 0.2);
    assert_eq!(s.workload.skew, 0.0);
    assert_eq!(s.network, Network::default());
    assert!(s.phases.is_empty());
}

#[test]
fn unknown_field_names_file_line_and_field() {
    let e = error(&GOOD.replace("rate = \"max\"", "rat = 5"));
    assert!(e.starts_with("s.toml:12:1:"), "{e}");
    assert!(e.contains("unknown field `rat`"), "{e}");
}

#[test]
fn bad_values_name_the_field_and_line() {
    let e = error(&GOOD.replace("shards = 2", "shards = 0"));
    assert!(e.starts_with("s.toml:7:"), "{e}");
    assert!(e.contains("shards must be in 1..=1024"), "{e}");
    let e = error(&GOOD.replace("\"3s\"", "\"3 parsecs\""));
    assert!(
        e.starts_with("s.toml:4:") && e.contains("invalid duration"),
        "{e}"
    );
    let e = error(&GOOD.replace("rate = \"max\"", "rate = \"fast\""));
    assert!(e.starts_with("s.toml:12:") && e.contains("\"max\""), "{e}");
    let e = error(&GOOD.replace("rate = \"max\"", "rate = 0"));
    assert!(e.contains("rate in transactions per second"), "{e}");
    let e = error(&GOOD.replace("rate = \"max\"", "rate = 10\ncross_shard = 1.5"));
    assert!(
        e.starts_with("s.toml:13:") && e.contains("cross_shard"),
        "{e}"
    );
    let e = error(&GOOD.replace("\"asap\"", "\"0ms\""));
    assert!(e.contains("asap"), "{e}");
}

#[test]
fn type_errors_name_the_field() {
    let e = error(&GOOD.replace("shards = 2", "shards = \"four\""));
    assert!(
        e.starts_with("s.toml:7:") && e.contains("cluster.shards"),
        "{e}"
    );
    let e = error(&GOOD.replace("\"3s\"", "\"forever\""));
    assert!(e.starts_with("s.toml:4:") && e.contains("duration"), "{e}");
    let e = error(&GOOD.replace("rate = \"max\"", "rate = -5"));
    assert!(
        e.starts_with("s.toml:12:") && e.contains("workload.rate"),
        "{e}"
    );
}

#[test]
fn names_are_plain_short_path_components() {
    for bad in ["..", ".", ".hidden", "a/b", ""] {
        let e = error(&GOOD.replace("name = \"t\"", &format!("name = {bad:?}")));
        assert!(e.contains("must not start with '.'"), "{bad}: {e}");
    }
    let long = "x".repeat(MAX_NAME_LEN + 1);
    let e = error(&GOOD.replace("name = \"t\"", &format!("name = {long:?}")));
    assert!(e.contains("at most 100") && e.len() < 300, "{e}");
    let huge = format!("{GOOD}\n# {}\n", "y".repeat(MAX_SCENARIO_BYTES));
    assert!(error(&huge).contains("at most"));
}

#[test]
fn shards_without_accounts_are_refused() {
    // 5 shards, 10 accounts: placement by hash leaves a shard empty.
    assert!(empty_shard(5, 10).is_some());
    assert_eq!(empty_shard(5, 10_000), None);
    let e = error(
        &GOOD
            .replace("shards = 2", "shards = 5")
            .replace("accounts = 1000", "accounts = 10"),
    );
    assert!(e.contains("without an account"), "{e}");
}

#[test]
fn missing_required_field_is_named() {
    let e = error(&GOOD.replace("duration = \"3s\"\n", ""));
    assert!(e.contains("duration"), "{e}");
}

#[test]
fn inconsistent_values_are_refused() {
    let e = error(&GOOD.replace("accounts = 1000", "accounts = 3"));
    assert!(
        e.contains("workload.accounts = 3") && e.contains("cluster.shards = 2"),
        "{e}"
    );
    let e = error(&GOOD.replace("name = \"t\"", "name = \"../x\""));
    assert!(e.contains("name"), "{e}");
}

/// A block's gas limit must fit the largest call the workload makes: under real traffic
/// a stand-in call burns its trace's gas.
#[test]
fn a_block_gas_limit_must_fit_the_largest_stand_in_call() {
    let like = |gas: u64| {
        GOOD.replace(
            "shards = 2",
            &format!("shards = 2\nvm = \"evm\"\nmax_block_gas = {gas}"),
        )
        .replace(
            "rate = \"max\"",
            "rate = \"max\"\nsource = \"ethereum-like\"",
        )
    };
    let e = error(&like(150_000));
    assert!(
        e.contains("max_block_gas = 150000") && e.contains("at least 500000"),
        "{e}"
    );
    Scenario::from_toml(&like(500_000), "like").unwrap();
}

#[test]
fn faults_are_checked_against_the_cluster() {
    let with = |fault: &str| format!("{GOOD}[[faults]]\n{fault}\n");
    let ok = Scenario::from_toml(
        &with("at = \"1s\"\nkill = \"beacon\"\nrestart_after = \"1s\""),
        "f",
    )
    .unwrap();
    assert_eq!(ok.faults[0].kill, Some(Target::Beacon));
    for (fault, expect) in [
        (
            "at = \"1s\"\nkill = \"shard-2\"\nrestart_after = \"1s\"",
            "shards 0..2",
        ),
        ("at = \"1s\"\nkill = \"shard-1\"", "needs restart_after"),
        (
            "at = \"1s\"\nkill = \"node-1\"\nrestart_after = \"1s\"",
            "unknown process \"node-1\"",
        ),
        (
            "at = \"1s\"\nlink = \"beacon\"\ndrop = 0.1",
            "must name a shard",
        ),
        (
            "at = \"1s\"\nlink = \"shard-0\"",
            "needs some delay, drop or duplicate",
        ),
        (
            "at = \"1s\"\nlink = \"shard-0\"\ndrop = 0.95",
            "drop and duplicate must be in",
        ),
        ("at = \"1s\"", "exactly one of kill"),
        (
            "at = \"1h\"\nkill = \"beacon\"\nrestart_after = \"1s\"",
            "but the run ends",
        ),
    ] {
        let e = error(&with(fault));
        assert!(e.contains(expect), "{fault}: {e}");
    }
    let memory = with("at = \"1s\"\nkill = \"beacon\"\nrestart_after = \"1s\"")
        .replace("shards = 2", "shards = 2\nstorage = \"memory\"");
    assert!(error(&memory).contains("storage = \"disk\""));
    let two_phase = with("at = \"1s\"\nlink = \"shard-0\"\ndrop = 0.1")
        .replace("shards = 2", "shards = 2\nprotocol = \"two-phase\"");
    assert!(error(&two_phase).contains("protocol = \"receipts\""));
    // A crash under two-phase is fine: locks, votes and decisions are durable.
    let crash = with("at = \"1s\"\nkill = \"shard-1\"\nrestart_after = \"1s\"")
        .replace("shards = 2", "shards = 2\nprotocol = \"two-phase\"");
    Scenario::from_toml(&crash, "s.toml").unwrap();
}

#[test]
fn echo_round_trips() {
    let s = Scenario::from_toml(GOOD, "s.toml").unwrap();
    let text = toml::to_string(&s).unwrap();
    assert_eq!(Scenario::from_toml(&text, "echo").unwrap(), s);
}

#[test]
fn misspelled_field_gets_a_suggestion() {
    let e = error(&GOOD.replace("rate = \"max\"", "rat = 5"));
    assert!(e.contains("did you mean `rate`?"), "{e}");
    let e = error(&GOOD.replace("shards = 2", "shrads = 2"));
    assert!(e.contains("did you mean `shards`?"), "{e}");
    let e = error(&GOOD.replace("rate = \"max\"", "rate = 1\nzzzzzzzz = 5"));
    assert!(!e.contains("did you mean"), "nothing close: {e}");
}

fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn overrides_win_over_the_file_and_defaults() {
    let (_d, path) = write(GOOD);
    let sets = [
        "cluster.shards=8".to_string(),
        "workload.rate=2500".to_string(),
        "cluster.block_interval=50ms".to_string(),
        "warmup=\"0s\"".to_string(),
    ];
    let s = Scenario::load(&path, &sets).unwrap();
    assert_eq!(s.cluster.shards, 8);
    assert_eq!(s.workload.rate, Rate::PerSecond(2500));
    assert_eq!(s.cluster.block_interval, Some(Duration::from_millis(50)));
    assert_eq!(s.warmup, Duration::ZERO);
    assert_eq!(
        s.workload.accounts, 1000,
        "untouched fields keep the file's value"
    );
    // The later of two overrides of the same key wins.
    let s = Scenario::load(
        &path,
        &["workload.rate=5".into(), "workload.rate=max".into()],
    )
    .unwrap();
    assert_eq!(s.workload.rate, Rate::Max);
}

#[test]
fn override_errors_name_the_override() {
    let (_d, path) = write(GOOD);
    let e = Scenario::load(&path, &["workload.rat=5".into()])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("--set workload.rat=5") && e.contains("did you mean `rate`?"),
        "{e}"
    );
    let e = Scenario::load(&path, &["cluster.shards=0".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("shards must be in 1..=1024"), "{e}");
    let e = Scenario::load(&path, &["noequals".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("key=value"), "{e}");
    // An error in the file itself still points at its line.
    let (_d, bad) = write(&GOOD.replace("seed = 7", "seed = 7 7"));
    let e = Scenario::load(&bad, &["cluster.shards=3".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("s.toml:3:"), "{e}");
}

#[test]
fn mix_weights_are_checked() {
    let with = |extra: &str| GOOD.replace("rate = \"max\"", &format!("rate = 10\n{extra}"));
    let s =
        Scenario::from_toml(&with("tokens = 3\nmix = { transfer = 3, token = 1 }"), "s").unwrap();
    assert_eq!(s.workload.mix.token_fraction(), 0.25);
    let e = error(&with("mix = { token = 1 }"));
    assert!(e.contains("workload.tokens"), "{e}");
    let e = error(&with("mix = { transfer = 0 }"));
    assert!(e.contains("at least one program"), "{e}");
    let e = error(&with("mix = { swap = 1 }"));
    assert!(e.contains("workload.tokens ≥ 1 and workload.pools"), "{e}");
    let e = error(&with("tokens = 1\npools = 0\nmix = { swap = 1 }"));
    assert!(e.contains("workload.pools"), "{e}");
    let e = error(&with("collections = 0\nmix = { nft = 1 }"));
    assert!(e.contains("workload.collections"), "{e}");
    let e = error(&with("proposals = 0\nmix = { vote = 1 }"));
    assert!(e.contains("workload.proposals"), "{e}");
    let e = error(&with("mix = { swapp = 1 }"));
    assert!(
        e.contains("unknown field `swapp`") && e.contains("`swap`"),
        "{e}"
    );
    let s = Scenario::from_toml(
        &with("tokens = 1\nmix = { swap = 1, nft = 1, vote = 2 }"),
        "s",
    )
    .unwrap();
    assert_eq!((s.pools(), s.workload.collections), (8, 8));
    assert_eq!(s.workload.mix.weights(), [1.0, 0.0, 1.0, 1.0, 2.0]);
    let s = Scenario::from_toml(&with(""), "s").unwrap();
    assert_eq!(s.pools(), 0, "no pools without tokens");
}

#[test]
fn phases_are_checked() {
    let with = |phases: &str| GOOD.replace("rate = \"max\"", "rate = 100") + phases;
    let ok = Scenario::from_toml(
            &with("[[phases]]\nat = \"1s\"\nrate = 200\nramp = \"1s\"\n[[phases]]\nat = \"2s\"\nrate = 0\n"),
            "s.toml",
        )
        .unwrap();
    assert_eq!(ok.phases.len(), 2);
    assert_eq!(ok.phases[0].ramp, Duration::from_secs(1));
    assert_eq!(ok.phases[1].ramp, Duration::ZERO);
    let e = error(&with(
        "[[phases]]\nat = \"1s\"\nrate = 2\nramp = \"2s\"\n[[phases]]\nat = \"2s\"\nrate = 1\n",
    ));
    assert!(e.contains("phase 2 starts before phase 1"), "{e}");
    let e = error(&with("[[phases]]\nat = \"9s\"\nrate = 2\n"));
    assert!(e.contains("run ends at 5s"), "{e}");
    let e = error(&(GOOD.to_string() + "[[phases]]\nat = \"1s\"\nrate = 2\n"));
    assert!(e.contains("numeric workload.rate"), "{e}");
    let e = error(&with("[[phases]]\nat = \"1s\"\nrate = 2\nspeed = 3\n"));
    assert!(e.contains("unknown field `speed`"), "{e}");
}

/// Every dotted key of a value: `a`, `a.b`; arrays of tables contribute `a` and `a.b`.
fn keys(prefix: &str, v: &toml::Value, out: &mut std::collections::BTreeSet<String>) {
    let tables: Vec<&toml::Table> = match v {
        toml::Value::Table(t) => vec![t],
        toml::Value::Array(a) => a.iter().filter_map(toml::Value::as_table).collect(),
        _ => return,
    };
    for t in tables {
        for (k, v) in t {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            // Sections (`[cluster]`) are not fields; tables inside them are.
            if !prefix.is_empty() || !matches!(v, toml::Value::Table(_)) {
                out.insert(key.clone());
            }
            keys(&key, v, out);
        }
    }
}

#[test]
fn scenario_reference_lists_every_field() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/scenario-reference.md"),
    )
    .unwrap();
    // A scenario with every optional part present.
    let full = GOOD
        .replace(
            "rate = \"max\"",
            "rate = 10\ntokens = 2\nmix = { transfer = 1, token = 1 }",
        )
        .replace(
            "shards = 2",
            "shards = 2\nbyzantine_shard = 1\nexecutor = \"parallel\"",
        )
        + "[network]\nlatency = \"1ms\"\n[[phases]]\nat = \"1s\"\nrate = 5\n"
        + "[[faults]]\nat = \"1s\"\nkill = \"shard-1\"\nrestart_after = \"1s\"\n"
        + "[[faults]]\nat = \"1s\"\nlink = \"shard-0\"\ndelay = \"1ms\"\ndrop = 0.1\nduplicate = 0.1\nduration = \"1s\"\n"
        + "[[faults]]\nat = \"1s\"\nfreeze = \"shard-1\"\n";
    let mut s = Scenario::from_toml(&full, "full").unwrap();
    // Under another VM than this scenario's (a gas limit needs vm = "evm").
    s.cluster.max_block_gas = Some(1_000_000);
    // Under committees (a wiped disk needs a validator's peers).
    s.faults[0].wipe = true;
    // On hosts of their own (a bandwidth needs them).
    s.network.bandwidth = Some(100_000_000);
    // And committees (which refuse a byzantine_shard).
    s.cluster.byzantine_validator = Some(super::ByzantineValidator {
        shard: 0,
        validator: 1,
        behaviour: "silent".into(),
    });
    // In virtual time (where [virtual] applies).
    s.simulation = super::VirtualSpec {
        crypto: super::Crypto::Modelled,
        cost_model: Some("m.toml".into()),
    };
    // With a trace table (which only a trace source takes).
    s.workload.trace = Some(super::TraceSpec {
        path: "t.csv".into(),
        erc20: Some("e.csv".into()),
        timing: super::Timing::Original,
        speed: 2.0,
        max_gap: std::time::Duration::from_secs(1),
        gas_cap: 100_000,
    });
    let mut in_code = std::collections::BTreeSet::new();
    keys("", &toml::Value::try_from(&s).unwrap(), &mut in_code);
    let in_doc: std::collections::BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect();
    assert_eq!(
        in_doc, in_code,
        "docs/scenario-reference.md and the code disagree"
    );
    // The example in the reference is a valid scenario.
    let example = doc
        .split("```toml\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    Scenario::from_toml(example, "docs/scenario-reference.md").unwrap();
}

proptest::proptest! {
    /// Any text at all gets a verdict, never a panic.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let _ = Scenario::from_toml(&text, "fuzz");
    }

    /// A valid scenario with one line replaced by arbitrary TOML-ish text: an error
    /// names a line inside the file, never a panic.
    #[test]
    fn mutated_scenarios_never_panic(line in 0usize..13, text in "[a-z_]{0,12} ?=? ?(\"[a-z0-9]{0,6}\"|-?[0-9]{1,22}|[0-9]\\.[0-9]+|max|asap|\\[|\\{)?") {
        let mut lines: Vec<&str> = GOOD.lines().collect();
        let i = line.min(lines.len() - 1);
        lines[i] = &text;
        let mutated = lines.join("\n");
        if let Err(ScenarioError::Parse { line, .. }) = Scenario::from_toml(&mutated, "fuzz") {
            proptest::prop_assert!(line >= 1 && line <= lines.len() + 1);
        }
    }
}

#[test]
fn shipped_scenarios_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            Scenario::from_path(&path).unwrap();
            seen += 1;
        }
    }
    assert!(seen >= 2);
}

#[test]
fn hosts_and_bandwidth_parse_and_bandwidth_needs_hosts_of_their_own() {
    let netns = |extra: &str| format!("{GOOD}\n[network]\nhosts = \"netns\"\n{extra}");
    let s = Scenario::from_toml(&netns("bandwidth = \"100mbit\""), "s.toml").unwrap();
    assert_eq!(s.network.hosts, HostKind::Netns);
    assert_eq!(s.network.bandwidth, Some(100_000_000));
    let s = Scenario::from_toml(&netns("bandwidth = \"1Gbit\""), "s.toml").unwrap();
    assert_eq!(s.network.bandwidth, Some(1_000_000_000));
    for bad in ["fast", "10kbit", "0mbit", "12", "5 mbit"] {
        let e = error(&netns(&format!("bandwidth = \"{bad}\"")));
        assert!(
            e.contains("bandwidth") && e.starts_with("s.toml:"),
            "{bad}: {e}"
        );
    }
    let e = error(&format!("{GOOD}\n[network]\nbandwidth = \"100mbit\""));
    assert!(e.contains("needs network.hosts = \"netns\""), "{e}");
    let e = error(&format!("{GOOD}\n[network]\nhosts = \"docker\""));
    assert!(e.contains("loopback") && e.contains("netns"), "{e}");
}
