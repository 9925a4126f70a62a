//! The beacon process's command line, shared by the `beacon` binary and by
//! `shardsim __beacon` (the driver re-executing itself).

use std::time::Duration;

/// Flags of the beacon process.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Number of shards in the cluster.
    #[arg(long)]
    pub shards: u32,
    /// Time between beacon blocks ("100ms", "1s").
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    pub beacon_interval: Duration,
    /// Coordinate two-phase commit: every cross-shard receipt is a prepare that its
    /// participant must vote on within this many beacon blocks, or it aborts. Without
    /// it, the beacon only routes receipts (the `receipts` protocol).
    #[arg(long, value_name = "BLOCKS")]
    pub two_phase_deadline: Option<u64>,
    /// Keep the chain in a store in this directory, and resume from it after a crash
    /// (created if needed). Without it, state lives in memory only.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    /// Shard k's committee, given k-th: its validators' ed25519 public keys in hex,
    /// comma-separated (one per shard). The beacon accepts a shard's header only with
    /// a quorum certificate of these keys.
    #[arg(long = "committee", value_name = "KEYS", required = true)]
    pub committees: Vec<String>,
    /// Address to listen on; port 0 picks a free port. Anything but loopback needs
    /// `--tls`.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// The cluster's credentials folder (`shardsim` writes one per cluster): serve over
    /// mutual TLS as the beacon, every caller known by its certificate.
    #[arg(long, value_name = "DIR")]
    pub tls: Option<std::path::PathBuf>,
}

/// Binds, prints `READY <addr>` on stdout (the driver waits for that line), and runs
/// the beacon until Ctrl-C.
pub async fn main(args: Args) -> anyhow::Result<()> {
    let committees = args
        .committees
        .iter()
        .enumerate()
        .map(|(k, keys)| parse_committee(k as u32, keys))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let tls = shardsim_host::process::credentials(
        &args.listen,
        args.tls.as_deref(),
        shardsim_host::tls::Role::Beacon,
    )?;
    let (listener, addr) = shardsim_host::process::bind_and_announce(&args.listen).await?;
    tracing::info!(%addr, shards = args.shards, tls = tls.is_some(), "beacon listening");
    let config = crate::BeaconConfig {
        shards: args.shards,
        committees,
        interval: args.beacon_interval,
        two_phase: args.two_phase_deadline,
        data_dir: args.data_dir,
        tls,
    };
    let serve = crate::run(listener, config, std::future::pending());
    shardsim_host::process::serve_until_interrupted(serve, "beacon stopped").await
}

/// Shard `shard`'s committee from `--committee`: public keys in hex, comma-separated.
pub fn parse_committee(shard: u32, keys: &str) -> anyhow::Result<consensus::Committee> {
    use anyhow::Context;
    consensus::Committee::from_hex(shard, keys)
        .with_context(|| format!("--committee for shard {shard}"))
}
