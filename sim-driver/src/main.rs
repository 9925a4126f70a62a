//! `shardsim`: run sharded-blockchain scenarios on a multi-process cluster.
//!
//! Thin on purpose: it parses flags and calls into the library. The hidden roles
//! `__shard` and `__beacon` are how the driver starts its cluster from this one binary.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sim_driver::run::{RunOptions, run};
use sim_driver::scenario::Scenario;

/// Run sharded-blockchain scenarios on a real multi-process cluster: a beacon and
/// shard processes on this machine, a seeded workload, and throughput, latency,
/// invariants and charts at the end.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one scenario file and write its results.
    ///
    /// Starts a beacon and the scenario's shards as child processes on 127.0.0.1,
    /// offers the workload, waits for every transaction to finish, checks the
    /// invariants, and writes summary.json, timeseries.csv, latency-*.hlog, the
    /// processes' logs and throughput/latency charts to OUT/<name>/<run-id>/.
    /// Exits with status 1 if an invariant fails.
    ///
    /// Example: shardsim run scenarios/quickstart.toml
    Run {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Where results go.
        #[arg(long, default_value = "results")]
        out: PathBuf,
        /// Print only the results folder and the summary table (no progress).
        #[arg(long)]
        quiet: bool,
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
                out,
                quiet,
            } => run_scenario(&scenario, out, quiet).await,
            Command::Shard(args) => {
                shard_node::cli::init_tracing();
                shard_node::cli::main(args)
                    .await
                    .map(|()| ExitCode::SUCCESS)
            }
            Command::Beacon(args) => {
                beacon::cli::init_tracing();
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

async fn run_scenario(
    path: &std::path::Path,
    out: PathBuf,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let scenario = Scenario::from_path(path)?;
    let opts = RunOptions {
        out,
        progress: !quiet,
    };
    let outcome = tokio::select! {
        r = run(&scenario, &opts) => r.with_context(|| format!("running {}", path.display()))?,
        _ = tokio::signal::ctrl_c() => {
            // Dropping the run future kills the cluster (Cluster's Drop).
            anyhow::bail!("interrupted; the cluster was stopped and no summary was written");
        }
    };
    println!("results: {}", outcome.dir.display());
    print!("{}", sim_driver::report::table(&outcome.summary));
    if outcome.summary.invariants.ok {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("shardsim: invariants failed (see summary.json)");
        Ok(ExitCode::from(1))
    }
}
