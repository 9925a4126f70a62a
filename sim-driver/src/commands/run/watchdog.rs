//! Watching the cluster while it runs: a watchdog per process (Status every half
//! second; silence names it, and a committee member's silence is observed rather than
//! failed while its committee keeps a quorum: `measure::observed`), and each shard's
//! Events stream into the main loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use shardsim_host::netem::{Delayed, LinkDelay};
use shardsim_proto::pb;
use shardsim_proto::pb::shard_client::ShardClient;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use super::Msg;
use crate::measure::observed::Observer;
use crate::measure::settle::RPC_TIMEOUT;
use crate::scenario::{Scenario, Target};

/// The least silence that names a process as stalled.
const STALL_FLOOR: Duration = Duration::from_secs(3);
/// How often each process is asked for its Status while the run goes on.
const WATCH_EVERY: Duration = Duration::from_millis(500);
/// How long a process may stay silent — no events and no Status reply — before the
/// driver names it as stalled: ten block intervals, and never less than 3 s (a busy
/// shard on two cores may take a second to answer).
pub(super) fn stall_limit(scenario: &Scenario) -> Duration {
    let block = scenario
        .cluster
        .block_interval
        .unwrap_or(Duration::from_millis(10));
    (block * 10).max(STALL_FLOOR)
}

/// Asks process `slot` for its Status (`ask`) every half second and reports each
/// answer; a request that fails or takes over [`RPC_TIMEOUT`] reports nothing.
pub(super) fn watch<F, Fut, T>(
    slot: usize,
    tx: mpsc::Sender<Msg>,
    mut ask: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, tonic::Status>> + Send,
    T: Send,
{
    tokio::spawn(async move {
        loop {
            let answer = tokio::time::timeout(RPC_TIMEOUT, ask()).await;
            if matches!(answer, Ok(Ok(_))) && tx.send(Msg::Heard(slot)).await.is_err() {
                return;
            }
            tokio::time::sleep(WATCH_EVERY).await;
        }
    })
}

/// The watchdog of shard `slot`.
pub(super) fn watch_shard(
    slot: usize,
    client: ShardClient<Channel>,
    tx: mpsc::Sender<Msg>,
) -> tokio::task::JoinHandle<()> {
    watch(slot, tx, move || {
        let mut c = client.clone();
        async move { c.status(pb::StatusRequest::default()).await }
    })
}

/// Opens shards' Events streams into the main loop.
pub(super) struct EventsLink {
    pub(super) tx: mpsc::Sender<Msg>,
    pub(super) start: Instant,
    pub(super) link: LinkDelay,
}

impl EventsLink {
    /// Streams the events of shard process `slot` (named `name`; from its store above
    /// `after`, then live) into the main loop. A stream that breaks after a kill of the
    /// process (`kills` moved on) ends quietly; any other break fails the run.
    pub(super) async fn open(
        &self,
        slot: usize,
        name: &str,
        client: &ShardClient<Channel>,
        after: Option<u64>,
        seed: u64,
        kills: Arc<AtomicU64>,
    ) -> anyhow::Result<()> {
        let generation = kills.load(Ordering::SeqCst);
        let stream = client
            .clone()
            .events(pb::EventsRequest { after })
            .await
            .with_context(|| format!("opening the events stream of {name}"))?
            .into_inner();
        let mut stream = Delayed::new(stream, self.link, seed);
        let (tx, start, name) = (self.tx.clone(), self.start, name.to_string());
        tokio::spawn(async move {
            loop {
                match stream.next().await {
                    Some(Ok(events)) => {
                        let at = start.elapsed().as_nanos() as u64;
                        let events = Box::new(events);
                        if tx.send(Msg::Events { at, slot, events }).await.is_err() {
                            return;
                        }
                    }
                    None => return,
                    Some(Err(_)) if kills.load(Ordering::SeqCst) != generation => return,
                    Some(Err(status)) => {
                        let error = anyhow::anyhow!("events stream of {name}: {status}");
                        let _ = tx.send(Msg::EventsBroke { slot, error }).await;
                        return;
                    }
                }
            }
        });
        Ok(())
    }
}

/// Slot `slot` answered at `now_s`: a silence the run had observed ends, and the slot
/// is watched again (a second silence is a second fault).
pub(super) fn answers_again(
    slot: usize,
    observer: &mut Observer,
    stalled: &mut [bool],
    now_s: f64,
    progress: &super::progress::Progress,
    target_of: &impl Fn(usize) -> Target,
) {
    if stalled.get(slot) == Some(&true) && observer.heard(slot, now_s) {
        stalled[slot] = false;
        progress.note(&format!(
            "{} answers again at {now_s:.1} s",
            target_of(slot)
        ));
    }
}
