//! The driver's submit path to one shard, and how it survives the shard's crash.
//!
//! The generator hands each shard's batches to a task that streams them to the shard.
//! The task also keeps every batch it sent ([`Retained`]) until the shard has reported
//! on each of its transactions (in a block's events). A killed shard loses its mempool;
//! the driver lost nothing:
//!
//! ```text
//!  generator ──batches──► task ──Submit stream──► shard-k        (running)
//!                          └─ retained: sent, not yet reported
//!  ── shard-k killed ──────────────────────────────────────────────────────────────
//!  generator ──batches──► task (holds them in retained)          (down)
//!  ── shard-k restarted, its stored events replayed to the driver ──────────────────
//!  main loop: rows of retained still unreported ──Resume──► task
//!  task ──resend, then the held batches, then live──► new Submit stream
//! ```
//!
//! Sending again is safe: a transaction the shard never saw is simply new to it, and
//! order is kept, so every sender's nonces still arrive in sequence.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cross_shard::sync::lock;

use anyhow::bail;
use shardsim_host::netem::{Delayed, LinkDelay};
use shardsim_proto::convert::push_optional;
use shardsim_proto::pb;
use shardsim_proto::pb::shard_client::ShardClient;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

/// Batches queued per shard between the generator and its Submit stream.
pub const SUBMIT_QUEUE: usize = 4;

/// Batches sent to a shard and not yet reported on in full, oldest first, numbered.
#[derive(Debug, Default)]
pub struct Retained {
    next: u64,
    batches: VecDeque<(u64, pb::TxBatch)>,
}

impl Retained {
    fn push(&mut self, batch: pb::TxBatch) {
        self.batches.push_back((self.next, batch));
        self.next += 1;
    }

    /// Forgets every transaction that has been reported on, wherever it stands: a
    /// batch all reported goes, and one mostly reported is cut down to its awaited
    /// rows (order kept). One slow transaction at the front keeps only itself, not
    /// everything sent after it.
    pub fn prune(&mut self, awaiting: impl Fn(u64) -> bool) {
        self.batches.retain_mut(|(_, b)| {
            let left = b.id.iter().filter(|&&id| awaiting(id)).count();
            // Cutting copies the rows left: worth it once most are gone.
            if left > 0 && left * 2 <= b.id.len() {
                *b = rows_where(b, &awaiting);
            }
            left > 0
        });
    }

    /// The transactions still awaited, in order, as batches; and the number of the
    /// newest batch looked at.
    pub fn unreported(&self, awaiting: impl Fn(u64) -> bool) -> (Vec<pb::TxBatch>, u64) {
        let resend = self
            .batches
            .iter()
            .map(|(_, b)| rows_where(b, &awaiting))
            .filter(|b| !b.id.is_empty())
            .collect();
        (resend, self.next)
    }

    /// Copies of the batches numbered `from` and later (those held after a resend list
    /// was made).
    fn from(&self, from: u64) -> Vec<pb::TxBatch> {
        self.batches
            .iter()
            .filter(|(n, _)| *n >= from)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// Transactions retained.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.batches.iter().map(|(_, b)| b.id.len()).sum()
    }
}

/// For a cluster of committees: one sender per shard, each handing every batch to the
/// submit paths of the shard's `n` validators (`paths[k · n .. (k + 1) · n]`), in the
/// same order, so that their mempools hold the same sequence. The slowest path sets
/// the pace (as one shard alone does); a killed validator's path keeps taking batches
/// and holds them for its restart.
pub fn fan_out(paths: Vec<mpsc::Sender<pb::TxBatch>>, n: usize) -> Vec<mpsc::Sender<pb::TxBatch>> {
    let mut shards = Vec::new();
    let mut paths = paths.into_iter();
    loop {
        let committee: Vec<_> = paths.by_ref().take(n).collect();
        if committee.is_empty() {
            return shards;
        }
        let (tx, mut rx) = mpsc::channel::<pb::TxBatch>(SUBMIT_QUEUE);
        tokio::spawn(async move {
            while let Some(batch) = rx.recv().await {
                for p in &committee {
                    // A path whose task ended is the run's failure to report, elsewhere.
                    let _ = p.send(batch.clone()).await;
                }
            }
        });
        shards.push(tx);
    }
}

/// The rows of `b` whose id satisfies `keep`, every column (and signature) with them.
fn rows_where(b: &pb::TxBatch, keep: impl Fn(u64) -> bool) -> pb::TxBatch {
    let mut out = pb::TxBatch::default();
    let at = |column: &[u32], i| column.get(i).copied().unwrap_or(0);
    let at64 = |column: &[u64], i| column.get(i).copied().unwrap_or(0);
    for (i, &id) in b.id.iter().enumerate() {
        if !keep(id) {
            continue;
        }
        let row = out.id.len();
        out.id.push(id);
        out.from.push(b.from[i]);
        out.to.push(b.to[i]);
        out.amount.push(b.amount[i]);
        out.nonce.push(b.nonce[i]);
        push_optional(&mut out.asset, row, at(&b.asset, i));
        push_optional(&mut out.kind, row, at(&b.kind, i));
        push_optional(&mut out.object, row, at64(&b.object, i));
        push_optional(&mut out.limit, row, at64(&b.limit, i));
        if let Some(sig) = b.signatures.get(64 * i..64 * (i + 1)) {
            out.signatures.extend_from_slice(sig);
        }
    }
    out
}

/// What a restarted shard's submit task needs: a client of the new process, what to
/// send again first, and where the resend list stopped.
#[derive(Debug)]
pub struct Resume {
    /// A client of the restarted process.
    pub client: ShardClient<Channel>,
    /// Transactions to send again, in order.
    pub resend: Vec<pb::TxBatch>,
    /// Batches numbered from here on were not looked at for `resend`: send them too.
    pub through: u64,
}

/// One shard's submit path, as the main loop sees it.
#[derive(Debug)]
pub struct SubmitPath {
    /// Batches sent and not yet reported on.
    pub retained: Arc<Mutex<Retained>>,
    /// Kills of this shard so far, counted by the main loop *before* each kill: a
    /// stream that breaks after the count moved on broke because of the kill.
    pub kills: Arc<AtomicU64>,
    /// Transactions the task has taken from the generator but not yet put on the
    /// stream (a shard that stopped reading leaves them here).
    pub held: Arc<AtomicU64>,
    /// Hands the task a restarted shard (one restart at a time: a shard is killed
    /// again only after it came back).
    pub resume: mpsc::Sender<Resume>,
    /// The task: (transactions sent, transactions the shard accepted) over the streams
    /// that ended normally.
    pub task: JoinHandle<anyhow::Result<(u64, u64)>>,
    /// Lifts the hold limit for good (see [`SubmitPath::unbound`]).
    unbounded: tokio::sync::watch::Sender<bool>,
}

impl SubmitPath {
    /// Starts the task for `shard`; returns the path and the generator's sender.
    /// `open_loop`: the schedule decides what is sent when (see `Task`'s
    /// `hold_limit`).
    pub fn start(
        name: String,
        client: ShardClient<Channel>,
        link: LinkDelay,
        seed: u64,
        open_loop: bool,
    ) -> (SubmitPath, mpsc::Sender<pb::TxBatch>) {
        let (batches, from_generator) = mpsc::channel(SUBMIT_QUEUE);
        let (resume, resumes) = mpsc::channel(1);
        let retained = Arc::new(Mutex::new(Retained::default()));
        let kills = Arc::new(AtomicU64::new(0));
        let held = Arc::new(AtomicU64::new(0));
        let (unbounded, unbounded_rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(run(
            Task {
                name,
                hold_limit: if open_loop { usize::MAX } else { SUBMIT_QUEUE },
                unbounded: unbounded_rx,
                held: held.clone(),
                link,
                seed,
                retained: retained.clone(),
                kills: kills.clone(),
            },
            client,
            from_generator,
            resumes,
        ));
        (
            SubmitPath {
                retained,
                kills,
                held,
                resume,
                task,
                unbounded,
            },
            batches,
        )
    }

    /// From now on the task takes every batch, however many wait for the stream: its
    /// validator is silent and its committee rides that out, so in `max` mode it must
    /// not set the pace of its shard's fan-out (the others would wait for it). What
    /// it holds goes to the validator if it answers again.
    pub fn unbound(&self) {
        let _ = self.unbounded.send(true);
    }
}

struct Task {
    /// The shard process, for messages.
    name: String,
    /// Most batches taken from the generator before the stream has room for them:
    /// unlimited for an open-loop schedule (what is due is due, whatever one shard
    /// does), [`SUBMIT_QUEUE`] in `max` mode (where waiting *is* the load control).
    hold_limit: usize,
    /// Whether the limit has been lifted (a silent committee member's path).
    unbounded: tokio::sync::watch::Receiver<bool>,
    /// Transactions taken and not yet on the stream.
    held: Arc<AtomicU64>,
    link: LinkDelay,
    seed: u64,
    retained: Arc<Mutex<Retained>>,
    kills: Arc<AtomicU64>,
}

async fn run(
    mut t: Task,
    mut client: ShardClient<Channel>,
    mut batches: mpsc::Receiver<pb::TxBatch>,
    mut resumes: mpsc::Receiver<Resume>,
) -> anyhow::Result<(u64, u64)> {
    let mut totals = (0u64, 0u64);
    let mut first: Vec<pb::TxBatch> = Vec::new();
    let mut load_done = false;
    loop {
        // One stream to the current process.
        let generation = t.kills.load(Ordering::SeqCst);
        let (tx, rx) = mpsc::channel(SUBMIT_QUEUE);
        let mut c = client.clone();
        let (link, seed) = (t.link, t.seed);
        let mut call = tokio::spawn(async move {
            c.submit(Delayed::new(ReceiverStream::new(rx), link, seed))
                .await
        });
        let mut sent = 0u64;
        let mut broken = false;
        for b in first.drain(..) {
            sent += b.id.len() as u64;
            if tx.send(b).await.is_err() {
                broken = true;
                break;
            }
        }
        // Batches taken from the generator and not yet on the stream. Taking them at
        // once means a shard that stops reading (frozen, overloaded) holds up only its
        // own transactions, never the generator and so every other shard.
        let mut waiting: VecDeque<pb::TxBatch> = VecDeque::new();
        while !(broken || load_done && waiting.is_empty()) {
            let room = waiting.len() < t.hold_limit || *t.unbounded.borrow();
            let lifted = *t.unbounded.borrow();
            tokio::select! {
                // The limit lifted while the task waited on a full queue: look again.
                changed = t.unbounded.changed(), if !lifted => {
                    if changed.is_err() {
                        // The main loop is gone (the run is ending): stop watching,
                        // and take what the generator still hands over.
                        t.unbounded = tokio::sync::watch::channel(true).1;
                    }
                }
                b = batches.recv(), if room && !load_done => match b {
                    Some(b) => {
                        t.held.fetch_add(b.id.len() as u64, Ordering::Relaxed);
                        waiting.push_back(b);
                    }
                    None => load_done = true,
                },
                permit = tx.reserve(), if !waiting.is_empty() => match permit {
                    Ok(permit) => {
                        let b = waiting.pop_front().unwrap_or_default();
                        t.held.fetch_sub(b.id.len() as u64, Ordering::Relaxed);
                        lock(&t.retained).push(b.clone());
                        sent += b.id.len() as u64;
                        permit.send(b);
                    }
                    Err(_) => broken = true,
                },
                // The call ends before its stream only when the shard fails it.
                _ = &mut call => broken = true,
            }
        }
        // What never reached the stream is kept with what did: after a restart both
        // are sent again in order.
        for b in waiting.drain(..) {
            t.held.fetch_sub(b.id.len() as u64, Ordering::Relaxed);
            lock(&t.retained).push(b);
        }
        if !broken {
            drop(tx);
            if let Ok(Ok(reply)) = (&mut call).await {
                totals.0 += sent;
                totals.1 += reply.into_inner().accepted;
                return Ok(totals);
            }
        }
        call.abort();
        if t.kills.load(Ordering::SeqCst) == generation {
            bail!("submit stream of {} failed", t.name);
        }
        // The shard was killed: hold new batches until it is back.
        let resume = loop {
            tokio::select! {
                b = batches.recv(), if !load_done => match b {
                    Some(b) => lock(&t.retained).push(b),
                    None => load_done = true,
                },
                r = resumes.recv() => match r {
                    Some(r) => break r,
                    None => bail!("{} was not restarted", t.name),
                },
            }
        };
        client = resume.client;
        first = resume.resend;
        first.extend(lock(&t.retained).from(resume.through));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(ids: &[u64]) -> pb::TxBatch {
        pb::TxBatch {
            id: ids.to_vec(),
            from: ids.iter().map(|i| i + 100).collect(),
            to: ids.to_vec(),
            amount: vec![1; ids.len()],
            nonce: ids.to_vec(),
            kind: ids.iter().map(|&i| (i % 2) as u32).collect(),
            signatures: ids.iter().flat_map(|&i| [i as u8; 64]).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn unreported_rows_are_resent_in_order_with_their_columns_and_signatures() {
        let mut r = Retained::default();
        r.push(batch(&[0, 1, 2]));
        r.push(batch(&[3, 4]));
        r.push(batch(&[5]));
        let awaiting = |id: u64| id == 1 || id >= 4;
        r.prune(awaiting);
        assert_eq!(
            r.len(),
            3,
            "only the unreported rows stay: 1 (cut from its batch), 4 and 5"
        );
        let (resend, through) = r.unreported(awaiting);
        assert_eq!(through, 3);
        let ids: Vec<Vec<u64>> = resend.iter().map(|b| b.id.clone()).collect();
        assert_eq!(ids, vec![vec![1], vec![4], vec![5]]);
        assert_eq!(resend[0].from, vec![101]);
        assert_eq!(resend[0].kind, vec![1]);
        assert_eq!(resend[0].signatures, vec![1; 64]);
        assert!(
            resend[1].kind.is_empty(),
            "an all-zero optional column stays empty"
        );
        r.prune(|id| id >= 5);
        assert_eq!(
            r.len(),
            1,
            "batches are forgotten once all of them is reported, wherever they stand"
        );
        r.push(batch(&[6]));
        assert_eq!(r.from(through).len(), 1);
    }
}
