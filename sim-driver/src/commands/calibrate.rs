//! `shardsim calibrate`: the virtual driver's cost model, measured on this machine.
//!
//! A virtual run executes everything for real but charges each node's CPU by a cost
//! model (`simulate::cost`). The built-in model holds figures from docs/benchmarks.md;
//! this command measures them again, here, with the code that does the work, and
//! writes a model file a scenario names with `[virtual] cost_model`:
//!
//! ```text
//!  figure                      measured by
//!  native_tx_ns                bench-exec: the sequential executor on `uniform`
//!                              (execute + commit), per transaction
//!  blockstm_tx_ns              bench-exec: Block-STM forced on `uniform` at 2 threads,
//!                              less a native call, as the model charges it (divided
//!                              over the threads)
//!  signature_ns                bench-exec: one thread verifying the block's signatures
//!  evm_tx_ns, evm_gas_ns       bench-exec --vm evm: the sequential EVM executor on
//!                              transfer, erc20 and swap; time per call fitted to gas
//!                              per call (least squares)
//!  root_node_ns                a 1,024-shard block's receipts root patched with 20
//!                              destinations, per node hashed (a shard sealing a block
//!                              and the beacon checking its header both patch one path
//!                              per destination)
//!  header_ns                   the beacon's Chain: a header of a 64-shard cluster that
//!                              sends nothing, accepted, less its certificate's one
//!                              signature (charged apart)
//!  delivery_ns                 the same with 8 batches per header, notarized and cut
//!                              into views: what each batch adds, less its root path
//!  beacon_block_ns             notarizing a block of one crosslink per shard, cut
//!                              into every shard's view
//!  byte_ns                     a real gRPC stream on 127.0.0.1 of submissions the
//!                              beacon reads and ignores as duplicates, small and
//!                              large, back to back: the process's CPU time per byte,
//!                              halved (the model charges each end)
//!  block_ns, receipt_ns,       carried over from the model it starts from (the file
//!  message_ns                  says so). A message's own cost depends on how messages
//!                              bunch: back to back, a stream packs hundreds into one
//!                              write (~0.6 µs each here); alone, each pays wake-ups
//!                              that this process's runtime could not time apart from
//!                              its own (tried: a paced stream, less the pacing)
//! ```
//!
//! Every figure is the median of `--runs` runs. The cluster's shape does not enter: a
//! figure is one node's cost of one piece of work.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use cross_shard::{Hash, Header, Receipt, ReceiptBatch, merkle, receipt};
use prost::Message as _;
use shardsim_proto::pb;
use shardsim_proto::pb::beacon_client::BeaconClient;

use super::bench_exec::{self, Plan, Vm};
use crate::simulate::cost::CostModel;

/// The secret the measured committees' keys come from.
const SECRET: [u8; 32] = [7; 32];
/// The figures not measured (yet): carried over from the model calibrate starts from.
const CARRIED: [&str; 3] = ["block_ns", "message_ns", "receipt_ns"];
/// Shards of the measured beacon chain, and batches per header when measuring batches.
const SHARDS: u32 = 64;
const FANOUT: u32 = 8;
/// Patched receipts roots per measured run.
const ROOTS: u32 = 50;
/// Submissions per measured gRPC stream, and receipts in a large one's batch.
const STREAMED: usize = 2_000;
const LARGE_RECEIPTS: u64 = 400;

/// What `calibrate` measured, beside the model it writes.
#[derive(Debug, Clone)]
pub struct Calibration {
    /// The model: measured figures, and the rest carried over from `base`.
    pub model: CostModel,
    /// The model it started from.
    pub base: CostModel,
}

/// Measures this machine with `plan` (block size, runs), starting from `base` for
/// what it does not measure.
pub async fn run(plan: Plan, base: CostModel, progress: bool) -> anyhow::Result<Calibration> {
    plan.validate()?;
    let say = |what: &str| {
        if progress {
            eprintln!("calibrate: {what}");
        }
    };
    let scratch = tempfile::tempdir().context("a scratch folder for bench-exec")?;
    say("native executors and signatures (bench-exec)");
    let dir = scratch.path().to_path_buf();
    let native =
        tokio::task::spawn_blocking(move || bench_exec::run(&dir, plan, Vm::Native, false))
            .await
            .context("the benchmark thread")??;
    say("the EVM (bench-exec --vm evm)");
    let dir = scratch.path().to_path_buf();
    let evm = tokio::task::spawn_blocking(move || bench_exec::run(&dir, plan, Vm::Evm, false))
        .await
        .context("the benchmark thread")??;
    let executors = Executors::of(&native, &evm)?;
    say("the beacon's chain");
    let runs = plan.runs;
    let chain = tokio::task::spawn_blocking(move || ChainCosts::measure(runs))
        .await
        .context("the measuring thread")??;
    say("messages on a gRPC stream");
    let byte_ns = byte_cost(runs).await?;

    let mut model = base.clone();
    model.native_tx_ns = executors.native_tx_ns;
    model.blockstm_tx_ns = executors.blockstm_tx_ns;
    model.signature_ns = executors.signature_ns;
    model.evm_tx_ns = executors.evm_tx_ns;
    model.evm_gas_ns = executors.evm_gas_ns;
    model.header_ns = chain.header_ns.saturating_sub(executors.signature_ns);
    model.delivery_ns = chain.delivery_ns;
    model.beacon_block_ns = chain.block_ns;
    model.root_node_ns = chain.root_node_ns;
    model.byte_ns = byte_ns;
    model.source = format!(
        "shardsim calibrate ({} calls per block, {} runs); {} from: {}",
        plan.block,
        plan.runs,
        CARRIED.join(", "),
        base.source
    );
    Ok(Calibration { model, base })
}

/// The executors' figures, from bench-exec's reports.
struct Executors {
    native_tx_ns: u64,
    blockstm_tx_ns: u64,
    signature_ns: u64,
    evm_tx_ns: u64,
    evm_gas_ns: f64,
}

/// Nanoseconds per item at `per_second`.
fn ns_per(per_second: f64) -> f64 {
    1e9 / per_second
}

impl Executors {
    fn of(native: &bench_exec::Report, evm: &bench_exec::Report) -> anyhow::Result<Executors> {
        let cell = |executor: &str, threads: usize, predict: bool| {
            native
                .executors
                .iter()
                .find(|r| {
                    r.workload == "uniform"
                        && r.executor == executor
                        && r.threads == threads
                        && r.predict == predict
                })
                .map(|r| ns_per(r.tps.median))
                .with_context(|| format!("bench-exec gave no {executor} row at {threads} threads"))
        };
        let native_tx = cell("sequential", 1, true)?;
        let stm = cell("block-stm", 2, false)?;
        let signature = native
            .verification
            .iter()
            .find(|v| v.threads == 1)
            .map(|v| ns_per(v.tps.median))
            .context("bench-exec gave no one-thread verification row")?;
        // Time per call against gas per call, over the sequential EVM executor's
        // workloads: the slope is the gas's cost, the intercept the call's own.
        let points: Vec<(f64, f64)> = evm
            .evm
            .iter()
            .filter(|r| {
                r.executor == "sequential"
                    && r.threads == 1
                    && ["transfer", "erc20", "swap"].contains(&r.workload.as_str())
            })
            .map(|r| (r.gas_per_tx as f64, ns_per(r.tps.median)))
            .collect();
        let (mut intercept, mut slope) = fit(&points)
            .context("bench-exec --vm evm gave too few sequential rows of different gas to fit")?;
        if intercept < 0.0 {
            // A call cannot cost less than nothing: the best line through the origin.
            let (sxy, sxx) = points
                .iter()
                .fold((0.0, 0.0), |(sxy, sxx), &(x, y)| (sxy + x * y, sxx + x * x));
            (intercept, slope) = (0.0, sxy / sxx);
        }
        Ok(Executors {
            native_tx_ns: native_tx.round() as u64,
            // The model divides Block-STM's calls, with their bookkeeping, over the
            // threads: what two threads took, less the call itself.
            blockstm_tx_ns: (2.0 * stm - native_tx).max(0.0).round() as u64,
            signature_ns: signature.round() as u64,
            evm_tx_ns: intercept.round() as u64,
            evm_gas_ns: slope.max(0.0),
        })
    }
}

/// The least-squares line `y = a + b·x` through `points`: `(a, b)`, or `None` without
/// two different x.
fn fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(sx, sy), &(x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let (sxx, sxy) = points.iter().fold((0.0, 0.0), |(sxx, sxy), &(x, y)| {
        (sxx + (x - mx) * (x - mx), sxy + (x - mx) * (y - my))
    });
    if points.len() < 2 || sxx <= f64::EPSILON {
        return None;
    }
    let b = sxy / sxx;
    Some((my - b * mx, b))
}

/// The median of `samples` (the lower middle one); runs are at least one.
fn median<T: PartialOrd + Copy>(mut samples: Vec<T>) -> T {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    samples[(samples.len() - 1) / 2]
}

/// The beacon chain's figures.
struct ChainCosts {
    root_node_ns: f64,
    header_ns: u64,
    delivery_ns: u64,
    block_ns: u64,
}

/// One header per shard of a `SHARDS`-shard cluster at `height` (after the headers
/// whose hashes are `prev`, or genesis), each sending `receipts` receipts to each of the
/// `fanout` shards after it, as its producer would submit it; with the headers' hashes.
fn submissions(
    fanout: u32,
    receipts: u64,
    height: u64,
    prev: Option<&[Hash]>,
) -> (Vec<pb::HeaderSubmission>, Vec<Hash>) {
    (0..SHARDS)
        .map(|src| {
            let mut batches: Vec<ReceiptBatch> = (1..=fanout)
                .map(|k| ReceiptBatch {
                    src,
                    dst: (src + k) % SHARDS,
                    first_seq: (height - 1) * receipts,
                    receipts: (0..receipts)
                        .map(|i| Receipt::credit(i, i * 7919 + u64::from(k), 1_000_000, 0))
                        .collect(),
                })
                .collect();
            batches.sort_by_key(|b| b.dst);
            let leaves = receipt::leaves(src, SHARDS, &batches);
            let header = Header {
                shard: src,
                height,
                prev_hash: prev.map_or(Hash::ZERO, |p| p[src as usize]),
                state_root: Hash::ZERO,
                receipts_root: merkle::root(&leaves),
                tx_count: 0,
                inputs: Hash::ZERO,
            };
            let key = consensus::committee::validator_key(&SECRET, src, 0);
            let submission = pb::HeaderSubmission {
                header: Some(pb::Header::from(&header)),
                cert: Some(shardsim_proto::convert::cert_to_wire(
                    &consensus::QuorumCert::of_header(&key, &header),
                )),
                leaf_dsts: batches.iter().map(|b| b.dst).collect(),
                leaves: batches.iter().map(|b| b.leaf().0.to_vec()).collect(),
                batches: batches.iter().map(pb::ReceiptBatch::from).collect(),
                ..Default::default()
            };
            (submission, header.hash())
        })
        .unzip()
}

/// One-validator committees of the measured cluster.
fn committees() -> anyhow::Result<Vec<consensus::Committee>> {
    (0..SHARDS)
        .map(|k| consensus::Committee::derived(&SECRET, k, 1).context("a measured committee"))
        .collect()
}

impl ChainCosts {
    /// Every shard's first header accepted and notarized (untimed: the chain learns each
    /// shard's empty leaves then), then every shard's second header accepted, and the
    /// block notarized and cut into views: `(accept, notarize)` of the second round.
    fn once(fanout: u32) -> anyhow::Result<(Duration, Duration)> {
        let mut chain = beacon::chain::Chain::new(committees()?, None);
        let (first, hashes) = submissions(fanout, 1, 1, None);
        for s in &first {
            chain.accept(s).context("a measured header was refused")?;
        }
        chain.notarize().context("no block")?;
        let (second, _) = submissions(fanout, 1, 2, Some(&hashes));
        let started = Instant::now();
        for s in &second {
            chain.accept(s).context("a measured header was refused")?;
        }
        let accepted = started.elapsed();
        let started = Instant::now();
        let n = chain.notarize().context("no block")?;
        let views = n
            .into_parts(SHARDS)
            .map(|(_, v, d)| v.crosslinks.len() + d.len());
        std::hint::black_box(views.sum::<usize>());
        Ok((accepted, started.elapsed()))
    }

    fn measure(runs: usize) -> anyhow::Result<ChainCosts> {
        let (mut accept, mut block, mut routed) = (Vec::new(), Vec::new(), Vec::new());
        let mut node = Vec::new();
        // A 1,024-shard block's root, patched with 20 destinations.
        let tree = merkle::Tree::new(&receipt::empty_leaves(0, 1024));
        let changes: Vec<(usize, Hash)> = (0..20)
            .map(|i| (i * 51, blake3::hash(&[i as u8]).into()))
            .collect();
        let hashed = tree.patched(&changes).map_or(1, |p| p.hashed()) as u32;
        for _ in 0..runs {
            let (a, b) = Self::once(0)?;
            let (fa, fb) = Self::once(FANOUT)?;
            accept.push(a);
            block.push(b);
            routed.push((fa + fb).saturating_sub(a + b));
            let started = Instant::now();
            for _ in 0..ROOTS {
                let patched = tree.patched(std::hint::black_box(&changes));
                std::hint::black_box(patched.map(|p| p.root()));
            }
            node.push(started.elapsed() / ROOTS);
        }
        let per = |d: Duration, n: u32| d.as_nanos() as f64 / f64::from(n);
        let root_node_ns = per(median(node), hashed);
        // What each batch added, less the path it patched in its header's root (the
        // model charges those nodes apart).
        let path_ns = crate::simulate::cost::path_nodes(SHARDS) as f64 * root_node_ns;
        Ok(ChainCosts {
            header_ns: per(median(accept), SHARDS) as u64,
            delivery_ns: (per(median(routed), SHARDS * FANOUT) - path_ns).max(0.0) as u64,
            block_ns: median(block).as_nanos() as u64,
            root_node_ns,
        })
    }
}

/// CPU time this process has used, all threads, to the nanosecond (`/proc`'s figures
/// count in 10 ms ticks).
#[allow(unsafe_code)]
fn process_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Streams `STREAMED` copies of `s` to the beacon at `addr` (it takes the first and
/// ignores the rest as duplicates): the process's CPU time per copy.
async fn stream(addr: std::net::SocketAddr, s: &pb::HeaderSubmission) -> anyhow::Result<f64> {
    let mut client = BeaconClient::connect(format!("http://{addr}"))
        .await
        .context("connecting to the measured beacon")?;
    let copies: Vec<pb::HeaderSubmission> = vec![s.clone(); STREAMED];
    let before = process_cpu();
    client
        .submit_headers(tokio_stream::iter(copies))
        .await
        .context("the measured stream")?;
    Ok((process_cpu() - before).as_nanos() as f64 / STREAMED as f64)
}

/// The cost of a message's byte on a real gRPC stream, at each end.
async fn byte_cost(runs: usize) -> anyhow::Result<f64> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = beacon::BeaconConfig {
        shards: SHARDS,
        committees: committees()?,
        interval: Duration::from_millis(100),
        two_phase: None,
        data_dir: None,
        tls: None,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(beacon::run(listener, config, async {
        let _ = stopped.await;
    }));
    // Two shards' headers (each is accepted once, then ignored): one with nothing
    // to route, one with a large batch.
    let small = submissions(0, 0, 1, None).0.swap_remove(0);
    let large = submissions(1, LARGE_RECEIPTS, 1, None).0.swap_remove(1);
    let sizes = [small.encoded_len(), large.encoded_len()].map(|b| b as f64);
    let (mut per_small, mut per_large) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        per_small.push(stream(addr, &small).await?);
        per_large.push(stream(addr, &large).await?);
    }
    let _ = stop.send(());
    let _ = server.await;
    // Each copy is paid at both ends: encoded and written, read and decoded; a
    // byte's cost is the slope between the small and the large copies.
    let (small_ns, large_ns) = (median(per_small) / 2.0, median(per_large) / 2.0);
    Ok(((large_ns - small_ns) / (sizes[1] - sizes[0])).max(0.0))
}

/// The model as a file: a header saying where it comes from, then the figures.
pub fn write(path: &Path, c: &Calibration) -> anyhow::Result<()> {
    let text = format!(
        "# A cost model for shardsim's virtual driver, written by `shardsim calibrate`.\n\
         # Name it in a scenario: [virtual] cost_model = \"{}\"\n\
         # The meaning of each figure: sim-driver/src/simulate/cost-model.toml.\n\n{}",
        path.file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned()),
        toml::to_string(&c.model).context("the model as TOML")?
    );
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The measured figures beside the model's they replace, by name.
pub fn table(c: &Calibration) -> anyhow::Result<String> {
    let was = toml::Table::try_from(&c.base).context("the model as a table")?;
    let now = toml::Table::try_from(&c.model).context("the model as a table")?;
    let show = |v: Option<&toml::Value>| match v {
        Some(toml::Value::Integer(n)) => n.to_string(),
        Some(toml::Value::Float(x)) => format!("{x:.3}"),
        _ => "?".into(),
    };
    let mut out = format!("{:<16} {:>14} {:>14}\n", "figure", "was", "measured");
    for name in now.keys().filter(|&k| k != "source") {
        let measured = if CARRIED.contains(&name.as_str()) {
            "(carried over)".to_string()
        } else {
            show(now.get(name))
        };
        out.push_str(&format!(
            "{name:<16} {:>14} {measured:>14}\n",
            show(was.get(name))
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fit_finds_a_line_and_refuses_one_point() {
        // Three points on y = 1000 + 0.1·x.
        let (a, b) = fit(&[
            (20_000.0, 3_000.0),
            (50_000.0, 6_000.0),
            (100_000.0, 11_000.0),
        ])
        .unwrap();
        assert!((b - 0.1).abs() < 1e-9, "{b}");
        assert!((a - 1_000.0).abs() < 1e-6, "{a}");
        assert!(fit(&[(1.0, 2.0)]).is_none());
        assert!(fit(&[(1.0, 2.0), (1.0, 3.0)]).is_none());
    }

    #[test]
    fn the_measured_headers_are_accepted_and_route_their_batches() {
        let mut chain = beacon::chain::Chain::new(committees().unwrap(), None);
        for s in submissions(FANOUT, 1, 1, None).0 {
            chain.accept(&s).unwrap();
        }
        let n = chain.notarize().unwrap();
        assert_eq!(n.delivery_count(), (SHARDS * FANOUT) as usize);
    }
}
