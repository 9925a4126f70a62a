//! `shard-node`: one shard of a shardsim cluster, run by hand or on another host.
//! The driver (`shardsim`) starts the same code as `shardsim __shard`.

use clap::Parser;

/// One shard of a shardsim cluster.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    args: shard_node::cli::Args,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shardsim_host::process::init_tracing();
    shard_node::cli::main(Cli::parse().args).await
}
