//! `shardsim`: run sharded-blockchain scenarios on a multi-process cluster.
//!
//! Thin on purpose: it parses flags and calls into the library. The hidden roles
//! `__shard` and `__beacon` are how the driver starts its cluster from this one binary.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use sim_driver::commands::run::{RunOptions, run};
use sim_driver::commands::sweep::{Param, SweepOptions, sweep};
use sim_driver::results;
use sim_driver::scenario::{Mode, Scenario};
use tokio::sync::watch;

/// Run sharded-blockchain scenarios on a real multi-process cluster: a beacon and
/// shard processes on this machine, a seeded workload, and throughput, latency,
/// invariants and charts at the end.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Flags shared by the commands that load a scenario.
#[derive(Debug, Args)]
struct Overrides {
    /// Override a scenario field: --set cluster.shards=8 --set workload.rate=max.
    /// Later --set flags win over earlier ones; all win over the file.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

/// How a command reports.
#[derive(Debug, Args)]
struct Output {
    /// Where results go.
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// No progress; print only the results folder and the summary table.
    #[arg(long)]
    quiet: bool,
    /// Print the summary as JSON on stdout (and nothing else there); implies --quiet.
    #[arg(long)]
    json: bool,
}

/// Where `shardsim deploy` deploys to.
#[derive(Debug, Subcommand)]
enum DeployTarget {
    /// Kubernetes: a namespace, a Secret with the cluster's keys and certificates, the
    /// beacon as a StatefulSet with a Service, each shard's committee as a StatefulSet
    /// with a headless Service (pod shard-K-I is validator I), readiness probes on the
    /// gRPC health service, and the driver as a Job that attaches to them and keeps
    /// the results in a volume. Build the image with the repository's Dockerfile, then
    /// `kubectl apply -f OUT`; README "Kubernetes" takes it from there.
    ///
    /// Example: shardsim deploy kubernetes scenarios/quickstart.toml --out k8s --image registry.example/shardsim:1
    Kubernetes {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Where the manifests go.
        #[arg(long)]
        out: PathBuf,
        /// The container image (the repository's Dockerfile builds it).
        #[arg(long, default_value = "shardsim:latest")]
        image: String,
        /// The namespace (default: shardsim-<scenario name>).
        #[arg(long)]
        namespace: Option<String>,
        #[command(flatten)]
        overrides: Overrides,
    },
}

/// `shardsim trace …`.
#[derive(Debug, Subcommand)]
enum TraceCommand {
    /// Print what a trace looks like: rows read, replayed by kind and dropped by reason;
    /// accounts; the contract-call share; the busiest 1, 10 and 100 recipients' share;
    /// how often a pair transacts again; the degree distribution with its fitted
    /// power-law exponent; and the cross-shard share under hash placement at 4, 16 and
    /// 64 shards. Reads XBlock-ETH transaction or ERC-20 CSVs (.csv, .csv.gz) and
    /// JSON-RPC blocks (a .json or .json.gz file, or a directory of them), streamed.
    ///
    /// Example: shardsim trace stats data/ethereum-sample/transactions.csv.gz
    ///
    /// Example: shardsim trace stats data/ethereum-sample/transactions.csv.gz --erc20 data/ethereum-sample/erc20-transfers.csv.gz --json
    ///
    /// Example: shardsim trace stats scenarios/ethereum-like.toml --txs 200000
    Stats {
        /// The trace, or a scenario (.toml) whose workload is a trace or the
        /// ethereum-like generator: then the transactions it would offer.
        file: PathBuf,
        /// An ERC-20 transfer CSV to join to a transaction CSV by transaction hash.
        #[arg(long)]
        erc20: Option<PathBuf>,
        /// With a scenario: at most this many transactions (default: the run's
        /// (warmup + duration) × rate).
        #[arg(long, value_name = "N")]
        txs: Option<u64>,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one scenario file and write its results.
    ///
    /// Starts a beacon and the scenario's shards as child processes on 127.0.0.1,
    /// offers the workload, waits for every transaction to finish, checks the
    /// invariants, and writes summary.json, timeseries.csv, latency-*.hlog, the
    /// processes' logs and throughput/latency charts to OUT/<name>/<run-id>/.
    /// Exits with status 1 if an invariant fails — among them, any transaction not
    /// final or rejected after the drain — or if the run could not finish: a process
    /// died, or stopped answering (no events and no Status reply for 3 s, or 10 block
    /// intervals if longer); the results are then written marked partial, naming it.
    /// Exits 2 on an error. Ctrl-C stops the load, drains for up to 5 s and writes the
    /// results marked partial (status 130), in at most 15 s; a second Ctrl-C aborts
    /// at once.
    ///
    /// Example: shardsim run scenarios/quickstart.toml
    ///
    /// Example: shardsim run scenarios/quickstart.toml --set cluster.shards=8 --set workload.rate=max --json
    ///
    /// Example: shardsim run scenarios/quickstart.toml --cluster kit/cluster.toml
    Run {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Drive a cluster started elsewhere instead of starting one: a file naming
        /// the beacon's and every validator's address and the driver's credentials
        /// (`shardsim genesis` writes one with the keys the processes need). The
        /// cluster must be the scenario's, at genesis; kill and freeze faults need a
        /// local process and are refused.
        #[arg(long, value_name = "CLUSTER.toml")]
        cluster: Option<PathBuf>,
        /// Run in virtual time: the same protocol code on a simulated cluster inside this
        /// process, on one virtual clock, with the network and each node's CPU simulated
        /// (cluster.mode = "virtual"). Up to 1,024 shards; the same seed gives the same run.
        #[arg(long = "virtual")]
        virtual_time: bool,
        #[command(flatten)]
        overrides: Overrides,
        #[command(flatten)]
        output: Output,
    },
    /// Check scenario files without running them.
    ///
    /// Each error names the file, line, column and field, says what was expected, and
    /// suggests the nearest valid name for a misspelled one. Exits 1 if any file is invalid.
    ///
    /// Example: shardsim validate scenarios/*.toml
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Run a scenario at several shard counts (and parameter values) and chart the result.
    ///
    /// Every point is a full multi-process run; all points are validated before the
    /// first starts. Writes sweep.json, sweep.csv, throughput-vs-shards.png|svg (with the
    /// ideal linear line from the smallest point) and latency-vs-shards.png|svg to
    /// OUT/<name>/sweep-<time>/, and each point's run under points/.
    /// Exits 1 if an invariant fails at any point.
    ///
    /// Example: shardsim sweep scenarios/quickstart.toml --shards 1,2,4,8 --rate-per-shard 10000
    ///
    /// Example: shardsim sweep scenarios/quickstart.toml --shards 2,4 --param workload.cross_shard=0.1,0.5
    Sweep {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Shard counts to run, comma-separated (default: the scenario's own).
        #[arg(long, value_delimiter = ',')]
        shards: Vec<u32>,
        /// Another parameter to sweep: KEY=V1,V2,… (repeatable; every combination runs).
        #[arg(long = "param", value_name = "KEY=V1,V2")]
        params: Vec<Param>,
        /// Offer N tx/s per shard: workload.rate = N × shards at each point, so the load
        /// grows with the cluster.
        #[arg(long, value_name = "N")]
        rate_per_shard: Option<u64>,
        /// Run in virtual time: the same protocol code on a simulated cluster inside this
        /// process, on one virtual clock, with the network and each node's CPU simulated
        /// (cluster.mode = "virtual"). Up to 1,024 shards; the same seed gives the same run.
        #[arg(long = "virtual")]
        virtual_time: bool,
        #[command(flatten)]
        overrides: Overrides,
        #[command(flatten)]
        output: Output,
    },
    /// Write the kit of a cluster to be started elsewhere: validator keys, every
    /// committee's public keys, the cluster's certificates, start.sh (the exact
    /// command of every process, one per line, with addresses as variables) and
    /// cluster.toml (their addresses and the driver's credentials).
    ///
    /// Start the processes with start.sh (on one machine as it is, or each line on
    /// its host with the addresses set), then drive them with
    /// `shardsim run SCENARIO --cluster DIR/cluster.toml`.
    ///
    /// Example: shardsim genesis scenarios/quickstart.toml --out kit
    Genesis {
        /// The scenario file (TOML) the cluster will run.
        scenario: PathBuf,
        /// The kit's folder (new, or empty).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Write the manifests that run a scenario's cluster somewhere else.
    Deploy {
        #[command(subcommand)]
        target: DeployTarget,
    },
    /// Ask a cluster process whether it serves (the standard gRPC health service):
    /// exit 0 if it does, 1 if not. Kubernetes readiness probes run it.
    ///
    /// Example: shardsim health 127.0.0.1:7000 --tls kit/tls --as driver --server beacon
    Health {
        /// The process's host:port.
        addr: String,
        /// The cluster's credentials folder: the call runs over mutual TLS.
        #[arg(long, value_name = "DIR")]
        tls: Option<PathBuf>,
        /// With --tls, whose certificate to present: beacon, driver or
        /// shard-K/validator-I.
        #[arg(long = "as", value_name = "ROLE", default_value = "driver")]
        me: shardsim_host::tls::Role,
        /// With --tls, the role of the process asked (its certificate must name it).
        #[arg(long, value_name = "ROLE", default_value = "beacon")]
        server: shardsim_host::tls::Role,
    },
    /// Redraw every chart of a run or sweep folder from its data files.
    ///
    /// Example: shardsim plot results/quickstart/20261124T183222Z-seed42
    Plot {
        /// A run folder (with timeseries.csv) or a sweep folder (with sweep.json).
        dir: PathBuf,
    },
    /// Print two runs' summaries side by side, with the change from the first.
    ///
    /// Example: shardsim compare results/quickstart/RUN_A results/quickstart/RUN_B
    Compare {
        /// First run folder (or its summary.json).
        a: PathBuf,
        /// Second run folder (or its summary.json).
        b: PathBuf,
        /// Also draw the two runs together into this folder: compare.png/.svg
        /// (cross-shard transactions final and rejected per second, receipts in flight
        /// and two-phase transactions open, faults marked) and compare-latency.png/.svg
        /// (latency by percentile). Needs the run folders, not just their summaries.
        #[arg(long, value_name = "DIR")]
        charts: Option<PathBuf>,
        /// The runs' names in the charts, as A,B (default: their protocols when they
        /// differ, else A and B).
        #[arg(long, value_name = "A,B", value_delimiter = ',', requires = "charts")]
        labels: Option<Vec<String>>,
    },
    /// Measure the executors in-process, without the network.
    ///
    /// Runs one large block through the sequential, the parallel and the block-stm
    /// executor (1 and 2 threads) for four workloads (uniform, hot10, hot50, chained):
    /// execution and commit, without signature checks, each cell the median of RUNS
    /// with its min and max, and every run checked to reproduce the sequential
    /// executor's state root and outputs (a mismatch aborts with no figure). Signature
    /// verification is timed on its own, at 1 and 2 threads. Prints the tables and
    /// writes OUT/bench-exec.json.
    ///
    /// Example: shardsim bench-exec --out results --runs 7
    BenchExec {
        /// Where bench-exec.json goes.
        #[arg(long, default_value = "results")]
        out: PathBuf,
        /// Timed runs per cell (1..=101).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Calls in the benchmark's block (100..=1000000).
        #[arg(long, default_value_t = 20_000)]
        block: usize,
        /// `native`: the native programs through every executor; `evm`: the Solidity
        /// contracts on revm — six workloads (transfer, erc20, swap, hot-pool, dependent,
        /// mixed) through every EVM executor, and bare revm on the first two — every run
        /// checked against the native programs.
        #[arg(long, value_enum, default_value = "native")]
        vm: sim_driver::commands::bench_exec::Vm,
        /// Print only the table.
        #[arg(long)]
        quiet: bool,
    },
    /// Measure the virtual driver's cost model on this machine and write it.
    ///
    /// Runs the real executors (bench-exec, native and EVM), signature checks, the
    /// beacon's chain and a gRPC stream on 127.0.0.1, and writes each figure as the
    /// median of RUNS runs into a cost model file; figures it does not measure yet
    /// (block_ns, receipt_ns, message_ns) are carried over from the model it starts
    /// from. Name the file in a scenario with `[virtual] cost_model = "FILE"`. Takes
    /// about ten seconds at the defaults; do not run it beside other work.
    ///
    /// Example: shardsim calibrate --out my-machine.toml
    Calibrate {
        /// Where the model goes.
        #[arg(long, default_value = "cost-model.toml")]
        out: PathBuf,
        /// The model whose unmeasured figures are carried over (default: the built-in
        /// one).
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
        /// Timed runs per figure (1..=101).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Calls in the executors' benchmark block (100..=1000000).
        #[arg(long, default_value_t = 5_000)]
        block: usize,
        /// Print only the table.
        #[arg(long)]
        quiet: bool,
    },
    /// What placing accounts well buys, without running a cluster.
    ///
    /// Replays the scenario's real traffic (workload.source = "trace" or
    /// "ethereum-like") epoch by epoch through each strategy at each shard count: each
    /// places from what it has seen and is scored on the epoch after, never on the data
    /// it placed from. Writes placement.json, placement.csv and charts (cross-shard
    /// share and load imbalance against shards, and per epoch the cross-shard share and
    /// the accounts moved) to OUT/<name>/placement/<stamp>-seed<seed>/, and prints the
    /// table. The strategies' parameters come from the scenario's [placement].
    ///
    /// Example: shardsim placement scenarios/ethereum-like.toml --shards 2,4,8,16,32,64
    ///
    /// Example: shardsim placement scenarios/ethereum-sample.toml --shards 4,16,64 --strategy hash,clpa --epoch-txs 2000
    Placement {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Shard counts, comma-separated (default: the scenario's own).
        #[arg(long, value_delimiter = ',')]
        shards: Vec<u32>,
        /// Strategies, comma-separated: hash, clpa, partition (default: all three).
        #[arg(long = "strategy", value_delimiter = ',')]
        strategies: Vec<sim_driver::scenario::StrategyKind>,
        /// At most this many transactions (default: a trace's every row; the
        /// generator's (warmup + duration) × rate).
        #[arg(long, value_name = "N")]
        txs: Option<u64>,
        /// Transactions per epoch, in place of placement.epoch × workload.rate.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        epoch_txs: Option<u64>,
        #[command(flatten)]
        overrides: Overrides,
        #[command(flatten)]
        output: Output,
    },
    /// Look at a trace file.
    Trace {
        #[command(subcommand)]
        command: TraceCommand,
    },
    /// Run as a shard process (started by `run`).
    #[command(name = "__shard", hide = true)]
    Shard(shard_node::cli::Args),
    /// Run as the beacon process (started by `run`).
    #[command(name = "__beacon", hide = true)]
    Beacon(beacon::cli::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("shardsim: error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run {
                scenario,
                cluster,
                virtual_time,
                overrides,
                output,
            } => {
                let sets = with_mode(virtual_time, overrides.sets);
                run_scenario(&scenario, cluster, &sets, &output).await
            }
            Command::Validate { files, overrides } => Ok(validate(&files, &overrides.sets)),
            Command::Sweep {
                scenario,
                shards,
                params,
                rate_per_shard,
                virtual_time,
                overrides,
                output,
            } => {
                let opts = SweepOptions {
                    shards,
                    params,
                    rate_per_shard,
                    sets: with_mode(virtual_time, overrides.sets),
                    out: output.out.clone(),
                    progress: !(output.quiet || output.json),
                    stop: stop_on_ctrl_c(),
                };
                run_sweep(&scenario, &opts, output.json).await
            }
            Command::Genesis {
                scenario,
                out,
                overrides,
            } => {
                let s = Scenario::load(&scenario, &overrides.sets)?;
                sim_driver::commands::genesis::write(&s, &out)?;
                println!(
                    "kit: {}\n  start the processes: {}/start.sh (SHARDSIM=path/to/shardsim; addresses as variables)\n  then drive them:     shardsim run {} --cluster {}/cluster.toml",
                    out.display(),
                    out.display(),
                    scenario.display(),
                    out.display()
                );
                Ok(ExitCode::SUCCESS)
            }
            Command::Deploy {
                target:
                    DeployTarget::Kubernetes {
                        scenario,
                        out,
                        image,
                        namespace,
                        overrides,
                    },
            } => {
                let s = Scenario::load(&scenario, &overrides.sets)?;
                let opts = sim_driver::commands::deploy::Options { image, namespace };
                sim_driver::commands::deploy::write(&s, &out, &opts)?;
                println!(
                    "manifests: {}\n  kubectl apply -f {}   (then README \"Kubernetes\": wait for the driver Job, copy the results)",
                    out.display(),
                    out.display()
                );
                Ok(ExitCode::SUCCESS)
            }
            Command::Health {
                addr,
                tls,
                me,
                server,
            } => health(&addr, tls.as_deref(), me, server).await,
            Command::Plot { dir } => {
                let stems = sim_driver::charts::plot::plot(&dir)?;
                for stem in stems {
                    println!("{}", dir.join(format!("{stem}.png")).display());
                    println!("{}", dir.join(format!("{stem}.svg")).display());
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::Compare {
                a,
                b,
                charts,
                labels,
            } => {
                let (sa, sb) = (results::read_summary(&a)?, results::read_summary(&b)?);
                print!(
                    "{}",
                    results::compare_table(&sa, &sb, &sa.run_id, &sb.run_id)
                );
                if let Some(dir) = charts {
                    let labels = match labels.as_deref() {
                        None => None,
                        Some([a, b]) => Some([a.clone(), b.clone()]),
                        Some(other) => anyhow::bail!(
                            "--labels takes two names, A,B ({} given)",
                            other.len()
                        ),
                    };
                    for stem in sim_driver::charts::plot::compare_charts(&a, &b, labels, &dir)? {
                        println!("{}", dir.join(format!("{stem}.png")).display());
                        println!("{}", dir.join(format!("{stem}.svg")).display());
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::Calibrate {
                out,
                from,
                runs,
                block,
                quiet,
            } => {
                use sim_driver::commands::calibrate;
                let base = match &from {
                    Some(path) => sim_driver::simulate::cost::CostModel::load(path)?,
                    None => sim_driver::simulate::cost::CostModel::default(),
                };
                let plan = sim_driver::commands::bench_exec::Plan { block, runs };
                let c = calibrate::run(plan, base, !quiet).await?;
                calibrate::write(&out, &c)?;
                print!("{}", calibrate::table(&c)?);
                println!("written: {}", out.display());
                Ok(ExitCode::SUCCESS)
            }
            Command::BenchExec {
                out,
                runs,
                block,
                vm,
                quiet,
            } => {
                let plan = sim_driver::commands::bench_exec::Plan { block, runs };
                let report = tokio::task::spawn_blocking(move || {
                    sim_driver::commands::bench_exec::run(&out, plan, vm, !quiet)
                })
                .await
                .context("the benchmark thread")??;
                print!("{}", sim_driver::commands::bench_exec::table(&report));
                Ok(ExitCode::SUCCESS)
            }
            Command::Placement {
                scenario,
                shards,
                strategies,
                txs,
                epoch_txs,
                overrides,
                output,
            } => {
                let s = Scenario::load(&scenario, &overrides.sets)?;
                let opts = sim_driver::commands::placement::Options {
                    shards,
                    strategies,
                    txs,
                    epoch_txs,
                    out: output.out.clone(),
                    progress: !(output.quiet || output.json),
                };
                let (dir, report) = tokio::task::spawn_blocking(move || {
                    sim_driver::commands::placement::run(&s, &opts)
                })
                .await
                .context("the placement thread")?
                .with_context(|| format!("studying placement for {}", scenario.display()))?;
                if output.json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    println!("placement: {}", dir.display());
                    print!(
                        "{}",
                        sim_driver::commands::placement::csv(&report).replace(',', "\t")
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::Trace {
                command:
                    TraceCommand::Stats {
                        file,
                        erc20,
                        txs,
                        json,
                    },
            } => trace_stats(file, erc20, txs, json),
            Command::Shard(args) => {
                shardsim_host::process::init_tracing();
                shard_node::cli::main(args)
                    .await
                    .map(|()| ExitCode::SUCCESS)
            }
            Command::Beacon(args) => {
                shardsim_host::process::init_tracing();
                beacon::cli::main(args).await.map(|()| ExitCode::SUCCESS)
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shardsim: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The first Ctrl-C asks the run to stop gracefully (drain, write partial results);
/// a second one exits at once (the children die with the driver).
fn stop_on_ctrl_c() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!(
            "\nshardsim: stopping: draining and writing partial results (Ctrl-C again to abort)"
        );
        let _ = tx.send(true);
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("shardsim: aborted");
            std::process::exit(130);
        }
    });
    rx
}

/// Exit status of an interrupted run whose partial results were written.
const INTERRUPTED: u8 = 130;

/// `--virtual` is `--set cluster.mode=virtual`, before the user's own `--set`s.
fn with_mode(virtual_time: bool, sets: Vec<String>) -> Vec<String> {
    match virtual_time {
        true => std::iter::once("cluster.mode=virtual".to_string())
            .chain(sets)
            .collect(),
        false => sets,
    }
}

async fn run_scenario(
    path: &Path,
    cluster: Option<PathBuf>,
    sets: &[String],
    output: &Output,
) -> anyhow::Result<ExitCode> {
    let scenario = Scenario::load(path, sets)?;
    let opts = RunOptions {
        out: output.out.clone(),
        progress: !(output.quiet || output.json),
        stop: stop_on_ctrl_c(),
        cluster,
    };
    let outcome = run(&scenario, &opts)
        .await
        .with_context(|| format!("running {}", path.display()))?;
    if output.json {
        println!("{}", serde_json::to_string_pretty(&outcome.summary)?);
    } else {
        println!("results: {}", outcome.dir.display());
        print!("{}", results::table(&outcome.summary));
    }
    let failed = !outcome.summary.failures.is_empty() || !outcome.summary.invariants.ok;
    if failed && outcome.summary.mode == Mode::Virtual.name() {
        // The echoed scenario holds every override and the seed: in virtual time it
        // replays the run event for event.
        eprintln!(
            "shardsim: replay this run exactly: shardsim run {}",
            outcome.dir.join("scenario.toml").display()
        );
    }
    if !outcome.summary.failures.is_empty() {
        eprintln!(
            "shardsim: the run failed: {}; partial results in {}",
            outcome.summary.failures.join("; "),
            outcome.dir.display()
        );
        return Ok(ExitCode::from(1));
    }
    if outcome.summary.partial {
        eprintln!(
            "shardsim: interrupted; partial results in {}",
            outcome.dir.display()
        );
        return Ok(ExitCode::from(INTERRUPTED));
    }
    Ok(verdict(outcome.summary.invariants.ok))
}

async fn run_sweep(path: &Path, opts: &SweepOptions, json: bool) -> anyhow::Result<ExitCode> {
    let (dir, report) = sweep(path, opts)
        .await
        .with_context(|| format!("sweeping {}", path.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("sweep: {}", dir.display());
        print!(
            "{}",
            sim_driver::commands::sweep::csv(&report).replace(',', "\t")
        );
    }
    if report.partial {
        eprintln!("shardsim: interrupted; partial sweep in {}", dir.display());
        return Ok(ExitCode::from(INTERRUPTED));
    }
    Ok(verdict(report.ok))
}

fn validate(files: &[PathBuf], sets: &[String]) -> ExitCode {
    let mut ok = true;
    for file in files {
        match Scenario::load(file, sets) {
            Ok(s) => println!(
                "ok: {} ({}: {} shards, rate {}, {} + {} warm-up)",
                file.display(),
                s.name,
                s.cluster.shards,
                s.workload.rate,
                humantime::format_duration(s.duration),
                humantime::format_duration(s.warmup)
            ),
            Err(e) => {
                ok = false;
                eprintln!("error: {e}");
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `shardsim trace stats`.
fn trace_stats(
    file: PathBuf,
    erc20: Option<PathBuf>,
    txs: Option<u64>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use sim_driver::load::{real, trace};
    let mut stats = trace::stats::StatsBuilder::default();
    let acct = if file.extension().is_some_and(|e| e == "toml") {
        let scenario = Scenario::load(&file, &[])?;
        real::for_each(&scenario, txs, |row, _| stats.add(&row))?
    } else {
        let files = trace::TraceFiles {
            path: file.clone(),
            erc20,
            gas_cap: u64::MAX,
        };
        Some(
            trace::read(&files, |row| stats.add(&row))
                .with_context(|| format!("reading {}", file.display()))?,
        )
    };
    let s = stats.finish(acct);
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        println!("{}\n{s}", file.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn verdict(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("shardsim: invariants failed (see summary.json)");
        ExitCode::from(1)
    }
}

/// `shardsim health`: SERVING → exit 0, anything else → 1 (with what it said).
async fn health(
    addr: &str,
    tls: Option<&Path>,
    me: shardsim_host::tls::Role,
    server: shardsim_host::tls::Role,
) -> anyhow::Result<ExitCode> {
    use tonic_health::pb::health_check_response::ServingStatus;
    let creds = tls
        .map(|d| shardsim_host::tls::Credentials::load(d, me))
        .transpose()?;
    let url = format!("{}://{addr}", shardsim_host::tls::scheme(creds.is_some()));
    let channel = shardsim_host::tls::endpoint(&url, creds.as_ref(), server)?
        .connect_timeout(std::time::Duration::from_secs(2))
        .timeout(std::time::Duration::from_secs(2))
        .connect()
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let reply = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .with_context(|| format!("health of {addr}"))?
        .into_inner();
    if reply.status == ServingStatus::Serving as i32 {
        println!("{addr}: serving");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{addr}: not serving ({})", reply.status);
        Ok(ExitCode::from(1))
    }
}
