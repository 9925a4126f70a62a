//! The shard process's command line, shared by the `shard-node` binary and by
//! `shardsim __shard` (the driver re-executing itself).

use std::time::Duration;

use crate::ShardConfig;

/// Flags of a shard process.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// This shard's id, in 0..shards.
    #[arg(long)]
    pub shard: u32,
    /// Number of shards in the cluster.
    #[arg(long)]
    pub shards: u32,
    /// Accounts in the cluster (ids 0..accounts).
    #[arg(long)]
    pub accounts: u64,
    /// Genesis balance of every account, in the native coin and in each token.
    #[arg(long, default_value_t = 1_000_000_000)]
    pub initial_balance: u64,
    /// Fungible tokens in the cluster (assets 1..=tokens).
    #[arg(long, default_value_t = 0)]
    pub tokens: u32,
    /// AMM pools in the cluster (each trades the native coin against a token).
    #[arg(long, default_value_t = 0)]
    pub pools: u32,
    /// NFT collections in the cluster.
    #[arg(long, default_value_t = 0)]
    pub collections: u32,
    /// DAO proposals in the cluster.
    #[arg(long, default_value_t = 0)]
    pub proposals: u32,
    /// Time between blocks ("100ms", "1s"), or "asap".
    #[arg(long, default_value = "100ms", value_parser = parse_interval)]
    pub block_interval: Interval,
    /// Most transactions per block.
    #[arg(long, default_value_t = 10_000)]
    pub max_block_txs: usize,
    /// Under `--vm evm`, the block's gas limit: the gas limits of its transactions sum
    /// to at most this (none by default).
    #[arg(long)]
    pub max_block_gas: Option<u64>,
    /// Most transactions waiting in the mempool (at least 65,536, the largest batch).
    #[arg(long, default_value_t = 100_000)]
    pub mempool_capacity: usize,
    /// Emulated one-way latency on the link with the beacon ("5ms").
    #[arg(long, default_value = "0ms", value_parser = humantime::parse_duration)]
    pub link_latency: Duration,
    /// Emulated jitter on the link with the beacon: up to this much more per message.
    #[arg(long, default_value = "0ms", value_parser = humantime::parse_duration)]
    pub link_jitter: Duration,
    /// Require every transaction to carry its sender's ed25519 signature.
    #[arg(long)]
    pub signatures: bool,
    /// Threads that verify signatures in parallel.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Executor for blocks.
    #[arg(long, value_enum, default_value = "sequential")]
    pub executor: crate::Executor,
    /// Run the sequential executor beside the chosen one and stop on any difference.
    #[arg(long)]
    pub verify_executor: bool,
    /// The machine that runs the programs: native functions, or their Solidity
    /// contracts on revm (transfer and token within the shard, sequential executor).
    #[arg(long, value_enum, default_value = "native")]
    pub vm: crate::Vm,
    /// Run the parallel executors' algorithms on every block, even where they predict
    /// a loss to the sequential executor (which they otherwise run instead).
    #[arg(long)]
    pub no_predict: bool,
    /// Misbehave on purpose: forge and replay receipts every fourth block (teaching,
    /// tests).
    #[arg(long)]
    pub byzantine: bool,
    /// Take part in two-phase commit, with the beacon's deadline in beacon blocks (must
    /// match the beacon's `--two-phase-deadline`). Without it: the receipts protocol.
    #[arg(long, value_name = "BLOCKS")]
    pub two_phase_deadline: Option<u64>,
    /// Keep the chain in a store in this directory, and resume from it after a crash
    /// (the directory is created if needed). Without it, state lives in memory only.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    /// Take a snapshot of the shard's state every this many blocks, kept in the store
    /// beside the chain: a restart then replays only the blocks after the latest, and
    /// a validator far behind its committee fetches one from its peers. 0: never.
    #[arg(long, value_name = "BLOCKS", default_value_t = 0)]
    pub snapshot_every: u64,
    /// A placement table (written by `shardsim`): accounts on the shards it names,
    /// the rest by hash; every process of the cluster must be given the same one.
    /// Without it, every account is placed by hash.
    #[arg(long, value_name = "FILE")]
    pub placement: Option<std::path::PathBuf>,
    /// A file holding this shard's validator secret key (32 bytes, hex), with which it
    /// certifies its headers for the beacon. The driver writes one per shard and run.
    #[arg(long, value_name = "FILE")]
    pub validator_key_file: std::path::PathBuf,
    /// A file of every shard's committee, known from genesis: line k is shard k's
    /// validators' public keys (hex, comma-separated, by index). With `--validator`,
    /// this shard is its line's committee; without them it proposes alone.
    #[arg(long, value_name = "FILE", requires = "validator")]
    pub committees: Option<std::path::PathBuf>,
    /// This validator's index in its shard's committee.
    #[arg(long, requires = "committees")]
    pub validator: Option<u32>,
    /// The URL of a validator with a lower index, as `INDEX=URL` (one for each; those
    /// with a higher index call this one).
    #[arg(long, value_name = "INDEX=URL")]
    pub peer: Vec<String>,
    /// How this validator behaves: honest, or Byzantine on purpose (equivocate,
    /// silent, wrong-root, withhold-votes) for tests and teaching.
    #[arg(long, default_value = "honest", value_parser = parse_behaviour)]
    pub behaviour: consensus::Behaviour,
    /// The beacon's URL, e.g. http://127.0.0.1:7000.
    #[arg(long)]
    pub beacon: String,
    /// Address to listen on; port 0 picks a free port. Anything but loopback needs
    /// `--tls`.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// The cluster's credentials folder (`shardsim` writes one per cluster): serve and
    /// call over mutual TLS as this shard's validator (`--beacon` and `--peer` URLs
    /// then use https).
    #[arg(long, value_name = "DIR")]
    pub tls: Option<std::path::PathBuf>,
}

/// A block interval: a duration, or `asap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval(pub Option<Duration>);

/// Parses "asap" or a humantime duration ("100ms").
pub fn parse_interval(s: &str) -> Result<Interval, String> {
    if s == "asap" {
        return Ok(Interval(None));
    }
    let d = humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e} (or \"asap\")"))?;
    if d.is_zero() {
        return Err("a block interval of 0 is not allowed; use \"asap\"".into());
    }
    Ok(Interval(Some(d)))
}

fn parse_behaviour(s: &str) -> Result<consensus::Behaviour, String> {
    s.parse().map_err(|e: consensus::Error| e.to_string())
}

/// A validator's place in its committee, from the flags.
fn committee(args: &Args) -> anyhow::Result<Option<crate::config::CommitteeConfig>> {
    use anyhow::Context;
    let (Some(file), Some(me)) = (&args.committees, args.validator) else {
        if !args.peer.is_empty() {
            anyhow::bail!("--peer needs --committees and --validator");
        }
        return Ok(None);
    };
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading the committees {}", file.display()))?;
    let committees = text
        .lines()
        .enumerate()
        .map(|(k, keys)| {
            consensus::Committee::from_hex(k as u32, keys.trim())
                .with_context(|| format!("{} line {}", file.display(), k + 1))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let committee = committees
        .get(args.shard as usize)
        .cloned()
        .with_context(|| {
            format!(
                "{}: {} committees, none for shard {}",
                file.display(),
                committees.len(),
                args.shard
            )
        })?;
    let me = consensus::ValidatorId::try_from(me)
        .ok()
        .filter(|&v| (v as usize) < committee.len())
        .with_context(|| {
            format!(
                "--validator {me}: the committee has {} validators",
                committee.len()
            )
        })?;
    let peers = args
        .peer
        .iter()
        .map(|p| {
            let (index, url) = p
                .split_once('=')
                .with_context(|| format!("--peer {p:?}: expected INDEX=URL"))?;
            let index: consensus::ValidatorId = index
                .parse()
                .with_context(|| format!("--peer {p:?}: {index:?} is not a validator index"))?;
            Ok((index, url.to_string()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Some(crate::config::CommitteeConfig {
        committee,
        committees,
        me,
        peers,
        behaviour: args.behaviour,
    }))
}

/// Binds, prints `READY <addr>` on stdout (the driver waits for that line), and runs
/// the shard until Ctrl-C or a fatal error.
pub async fn main(args: Args) -> anyhow::Result<()> {
    let beacon = args.beacon.clone();
    let listen = args.listen.clone();
    let config = config(args)?;
    let (listener, addr) = shardsim_host::process::bind_and_announce(&listen).await?;
    tracing::info!(shard = config.shard, %addr, %beacon, "shard listening");
    let serve = crate::run(listener, config, &beacon, std::future::pending());
    shardsim_host::process::serve_until_interrupted(serve, "shard stopped").await
}

/// The configuration the flags describe, with the files they name read (the key, the
/// committees, the placement table, the credentials) and checked.
pub fn config(args: Args) -> anyhow::Result<ShardConfig> {
    use anyhow::Context;
    let path = &args.validator_key_file;
    let hex = std::fs::read_to_string(path)
        .with_context(|| format!("reading the validator key {}", path.display()))?;
    let secret: [u8; 32] = const_hex::decode_to_array(hex.trim())
        .with_context(|| format!("{}: a validator key is 32 bytes of hex", path.display()))?;
    let committee = committee(&args)?;
    let role = shardsim_host::tls::Role::Validator {
        shard: args.shard,
        index: args.validator.unwrap_or(0),
    };
    let tls = shardsim_host::process::credentials(&args.listen, args.tls.as_deref(), role)?;
    let placed = match &args.placement {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading the placement table {}", path.display()))?;
            Some(
                cross_shard::placement::table_from_bytes(&bytes, args.shards)
                    .map_err(anyhow::Error::msg)
                    .with_context(|| format!("{}", path.display()))?,
            )
        }
        None => None,
    };
    let mut config = ShardConfig {
        placed,
        shard: args.shard,
        shards: args.shards,
        accounts: args.accounts,
        initial_balance: args.initial_balance,
        tokens: args.tokens,
        pools: args.pools,
        collections: args.collections,
        proposals: args.proposals,
        block_interval: args.block_interval.0,
        max_block_txs: args.max_block_txs,
        max_block_gas: args.max_block_gas,
        mempool_capacity: args.mempool_capacity,
        beacon_link: shardsim_host::netem::LinkDelay {
            latency: args.link_latency,
            jitter: args.link_jitter,
        },
        signatures: args.signatures,
        threads: args.threads,
        byzantine: args.byzantine,
        executor: args.executor,
        verify_executor: args.verify_executor,
        vm: args.vm,
        predict_executor: !args.no_predict,
        two_phase: args.two_phase_deadline,
        data_dir: args.data_dir,
        lose_receipts: std::env::var(crate::LOSE_RECEIPTS_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        snapshot_every: args.snapshot_every,
        corrupt_snapshot: false,
        validator_key: ed25519_dalek::SigningKey::from_bytes(&secret),
        committee,
        tls,
    };
    if let Some(k) = &config.committee {
        let me = format!("shard-{}/validator-{}", config.shard, k.me);
        config.corrupt_snapshot = std::env::var(crate::CORRUPT_SNAPSHOT_ENV)
            .is_ok_and(|names| names.split(',').any(|n| n.trim() == me));
        if config.corrupt_snapshot {
            tracing::warn!("test fault: the snapshot chunks served will be corrupted");
        }
    }
    if config.lose_receipts > 0 {
        tracing::warn!(
            n = config.lose_receipts,
            "test fault: the first receipts admitted will be dropped unapplied"
        );
    }
    config.validate()?;
    Ok(config)
}
