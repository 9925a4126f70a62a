//! `beacon`: the beacon of a shardsim cluster, run by hand or on another host.
//! The driver (`shardsim`) starts the same code as `shardsim __beacon`.

use clap::Parser;

/// The beacon of a shardsim cluster.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    args: beacon::cli::Args,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shardsim_host::process::init_tracing();
    beacon::cli::main(Cli::parse().args).await
}
