//! The `Beacon` gRPC service and the notarization loop.
//!
//! Two locks, for two different promises:
//!
//! ```text
//!  state (std mutex, held for microseconds): the chain + subscribers
//!      SubmitHeaders, Status, and the loop's notarize / send steps take it
//!  announce (async mutex, held across the fsync): the loop and Subscribe
//!      loop:      [announce: notarize (state) ─► fsync ─► send to subscribers (state)]
//!      Subscribe: [announce: backlog + register (state)]
//! ```
//!
//! A block must be durable before any shard hears of it (a shard forgets what a
//! notarized block holds; a beacon that lost that block after a crash would leave a gap
//! no one fills). `announce` keeps that promise for the backlog of a new subscriber as
//! well as for the live sends, while the fsync itself runs with the state lock released
//! and on a blocking thread: headers are accepted and Status answered meanwhile.

use std::sync::{Arc, Mutex};

use cross_shard::sync::lock;
use std::time::Duration;

use prost::Message;
use shardsim_host::tls::{Role, require};
use shardsim_proto::pb;
use shardsim_proto::pb::beacon_server::Beacon;
use shardsim_proto::store::Log;
use std::pin::Pin;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::chain::{Chain, Outcome};
use crate::error::Error;

/// The store's table of beacon blocks' accepted submissions ([`pb::BeaconRecord`]).
const RECORDS: &str = "blocks";

type InboundSender = mpsc::Sender<Result<pb::Inbound, Status>>;

/// Most open subscriptions per shard (a committee's size at most): beyond it the oldest
/// is closed, so that a client subscribing again and again holds no more memory.
pub const MAX_SUBSCRIBERS: usize = consensus::committee::MAX_VALIDATORS;

/// Messages queued per subscriber. One that falls this far behind is dropped; its shard
/// resubscribes and gets everything unacknowledged again from the backlog.
pub const INBOUND_QUEUE: usize = 4096;

/// The chain and the open subscriptions, under one lock so that a subscriber's backlog
/// and the live deliveries after it are never interleaved out of order.
#[derive(Debug)]
pub struct State {
    /// The beacon chain.
    pub chain: Chain,
    /// Per shard, its open Subscribe streams: every validator of its committee
    /// subscribes, and a second subscriber never closes the first (a stream that has
    /// gone is forgotten at the next send).
    pub subscribers: Vec<Vec<InboundSender>>,
    /// Height the chain resumed at from the store (0: a fresh start).
    pub recovered_height: u64,
}

impl State {
    /// The `Status` answer.
    pub fn status(&self) -> pb::BeaconStatus {
        let (inflight_receipts, inflight_value) = self.chain.in_flight();
        pb::BeaconStatus {
            height: self.chain.height(),
            shard_heights: self.chain.shard_heights(),
            inflight_receipts,
            inflight_value,
            headers_rejected: self.chain.headers_rejected,
            receipts_forged: self.chain.receipts_forged,
            receipts_replayed: self.chain.receipts_replayed,
            tp_open: self.chain.two_phase_open(),
            tp_commits: self.chain.two_phase.commits,
            tp_aborts: self.chain.two_phase.aborts,
            votes_late: self.chain.two_phase.votes_late,
            votes_forged: self.chain.two_phase.votes_forged,
            votes_duplicate: self.chain.two_phase.votes_duplicate,
            notarized_heights: self.chain.notarized_heights(),
            headers_duplicate: self.chain.headers_duplicate,
            headers_out_of_order: self.chain.headers_out_of_order,
            recovered_height: self.recovered_height,
        }
    }
}

/// The service; cheap to clone.
#[derive(Debug, Clone)]
pub struct BeaconService {
    /// Shared state.
    pub state: Arc<Mutex<State>>,
    /// The store, with a data directory.
    store: Option<Arc<Log>>,
    /// Held from a block's notarization until it is sent, and by Subscribe (see the
    /// module's chapter).
    announce: Arc<tokio::sync::Mutex<()>>,
    /// Served over mutual TLS: every caller is known by its certificate's role, and a
    /// shard's streams are its own validators' alone.
    pub authenticated: bool,
}

impl BeaconService {
    /// A beacon for one shard per committee, coordinating two-phase commit with this deadline
    /// (in beacon blocks) when `two_phase` is given. With a `store`, the chain is
    /// rebuilt from it (replaying every stored block) and every new block is stored.
    pub fn new(
        committees: Vec<consensus::Committee>,
        two_phase: Option<u64>,
        store: Option<Log>,
    ) -> crate::Result<BeaconService> {
        let shards = committees.len() as u32;
        let mut chain = Chain::new(committees, two_phase);
        if let Some(store) = &store {
            store.try_for_each(RECORDS, 0, |height, record: pb::BeaconRecord| {
                replay(&mut chain, height, &record)
            })?;
            chain.record_inputs();
        }
        Ok(BeaconService {
            state: Arc::new(Mutex::new(State {
                recovered_height: chain.height(),
                chain,
                subscribers: vec![Vec::new(); shards as usize],
            })),
            store: store.map(Arc::new),
            announce: Arc::new(tokio::sync::Mutex::new(())),
            authenticated: false,
        })
    }

    /// Every `interval`, notarizes pending headers, stores the block's inputs, and
    /// sends the block, the deliveries and each shard's tip to the subscribers. Returns
    /// only if the store fails.
    pub async fn notarize_every(&self, interval: Duration) -> Error {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = self.notarize_once().await {
                return e;
            }
        }
    }

    /// One beacon interval's work: the next block, if there is one to make, stored
    /// before anyone hears of it, then sent; the tips in any case.
    async fn notarize_once(&self) -> crate::Result<()> {
        let _announcing = self.announce.lock().await;
        let notarized = lock(&self.state).chain.notarize();
        let Some(mut n) = notarized else {
            send_tips(&mut lock(&self.state));
            return Ok(());
        };
        if let Some(store) = &self.store {
            let record = pb::BeaconRecord {
                accepted: std::mem::take(&mut n.accepted),
                epoch: n.epoch.clone(),
            }
            .encode_to_vec();
            let (store, height) = (store.clone(), n.block.height);
            tokio::task::spawn_blocking(move || store.append(height, &[(RECORDS, &record)]))
                .await
                .map_err(|_| Error::Config("the store's writer thread panicked".into()))??;
        }
        let mut state = lock(&self.state);
        let shards = state.chain.shards();
        for (dst, messages) in n.into_messages(shards) {
            // A shard not subscribed now gets its batches from its backlog later.
            for m in messages {
                send(&mut state.subscribers[dst as usize], m);
            }
        }
        send_tips(&mut state);
        Ok(())
    }
}

/// Replays one stored block: its submissions, then the block, which must come out at
/// the stored height.
fn replay(chain: &mut Chain, height: u64, record: &pb::BeaconRecord) -> crate::Result<()> {
    let corrupt = |why: String| Error::Corrupt { height, why };
    if let Some(e) = &record.epoch {
        chain.propose_epoch(e.clone()).map_err(corrupt)?;
    }
    for s in &record.accepted {
        match chain.accept(s) {
            Ok((_, Outcome::Fresh)) => {}
            Ok((shard, outcome)) => {
                return Err(corrupt(format!(
                    "shard {shard}'s submission replays as {outcome:?}"
                )));
            }
            Err(e) => return Err(corrupt(e.to_string())),
        }
    }
    match chain.notarize() {
        Some(n) if n.block.height == height => Ok(()),
        other => Err(corrupt(format!(
            "replays as block {:?}",
            other.map(|n| n.block.height)
        ))),
    }
}

/// Sends every subscriber its tip: what it should have by now.
fn send_tips(state: &mut State) {
    let State {
        chain, subscribers, ..
    } = state;
    for (dst, sub) in subscribers.iter_mut().enumerate() {
        let tip = pb::Inbound {
            kind: Some(pb::inbound::Kind::Tip(chain.tip(dst as u32))),
        };
        send(sub, tip);
    }
}

/// Sends `msg` to a shard's subscribers, forgetting each whose stream has gone or that
/// has fallen [`INBOUND_QUEUE`] messages behind: its stream ends, its validator
/// resubscribes, and the backlog brings it everything not acknowledged.
fn send(subs: &mut Vec<InboundSender>, msg: pb::Inbound) {
    // A copy for each subscriber but the last, which takes the message itself (a
    // delivery can be megabytes, and a shard usually has one subscriber).
    let mut left = subs.len();
    let mut msg = Some(msg);
    subs.retain(|s| {
        left -= 1;
        let m = if left == 0 { msg.take() } else { msg.clone() };
        m.is_some_and(|m| s.try_send(Ok(m)).is_ok())
    });
}

#[tonic::async_trait]
impl Beacon for BeaconService {
    async fn submit_headers(
        &self,
        request: Request<Streaming<pb::HeaderSubmission>>,
    ) -> Result<Response<pb::SubmitHeadersReply>, Status> {
        // Over TLS, the stream is the caller's shard's, whatever its headers claim.
        let caller = require(
            &request,
            self.authenticated,
            |r| matches!(r, Role::Validator { .. }),
            "submit headers (a shard's validators do)",
        )?
        .and_then(|r| match r {
            Role::Validator { shard, .. } => Some(shard),
            _ => None,
        });
        let mut stream = request.into_inner();
        let mut accepted = 0u64;
        let mut shard = caller;
        while let Some(submission) = stream.message().await? {
            let claimed = submission.header.as_ref().map(|h| h.shard);
            if caller.is_some() && claimed != caller {
                return Err(Status::permission_denied(format!(
                    "a certificate of shard {} sent a header of shard {claimed:?}",
                    caller.unwrap_or_default()
                )));
            }
            if shard.is_some() && claimed != shard {
                return Err(Status::invalid_argument(format!(
                    "header stream of shard {shard:?} carried a header of shard {claimed:?}"
                )));
            }
            let result = lock(&self.state).chain.accept(&submission);
            match result {
                Ok((src, _)) => shard = Some(src),
                Err(e) => {
                    tracing::warn!(?claimed, "header refused: {e}");
                    return Err(e.into());
                }
            }
            accepted += 1;
        }
        Ok(Response::new(pb::SubmitHeadersReply { accepted }))
    }

    type SubscribeStream = Pin<Box<dyn Stream<Item = Result<pb::Inbound, Status>> + Send>>;

    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let shard = request.get_ref().shard;
        require(
            &request,
            self.authenticated,
            |r| matches!(r, Role::Validator { shard: s, .. } if s == shard),
            &format!("subscribe as shard {shard} (its validators do)"),
        )?;
        // No block between notarization and its announcement: the backlog holds only
        // durable blocks, and the live sends pick up after it.
        let _announcing = self.announce.lock().await;
        let mut state = lock(&self.state);
        let shards = state.chain.shards();
        if shard >= shards {
            return Err(Status::invalid_argument(format!(
                "shard {shard} is not in 0..{shards}"
            )));
        }
        let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
        let known = request.get_ref().epoch;
        let backlog: Vec<_> = state
            .chain
            .backlog(shard, known)
            .into_iter()
            .map(Ok)
            .collect();
        let subs = &mut state.subscribers[shard as usize];
        if subs.len() >= MAX_SUBSCRIBERS {
            subs.remove(0);
        }
        subs.push(tx);
        drop(state);
        tracing::info!(shard, "shard subscribed");
        let stream = tokio_stream::iter(backlog).chain(ReceiverStream::new(rx));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn announce(
        &self,
        request: Request<pb::EpochChange>,
    ) -> Result<Response<pb::AnnounceReply>, Status> {
        require(
            &request,
            self.authenticated,
            |r| matches!(r, Role::Driver),
            "announce an epoch (the driver does)",
        )?;
        let change = request.into_inner();
        let epoch = change.epoch;
        lock(&self.state)
            .chain
            .propose_epoch(change)
            .map_err(Status::invalid_argument)?;
        // Answered once the block that carries it has been made (and stored).
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let _stored = self.announce.lock().await;
            if let Some(height) = lock(&self.state).chain.epoch_height(epoch) {
                return Ok(Response::new(pb::AnnounceReply { height }));
            }
        }
    }

    async fn status(
        &self,
        request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::BeaconStatus>, Status> {
        require(&request, self.authenticated, |_| true, "")?;
        Ok(Response::new(lock(&self.state).status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::tests::{committees, submission};
    use cross_shard::Hash;
    use cross_shard::two_phase::{Verdict, Vote};
    use shardsim_proto::convert::{decision_from_wire, vote_to_wire};

    /// The two-phase decisions shard 1 would get on subscribing: (beacon block, tx,
    /// commit?).
    fn decided(service: &BeaconService) -> Vec<(u64, u64, bool)> {
        let backlog = lock(&service.state).chain.backlog(1, 0);
        let blocks = backlog.into_iter().filter_map(|m| match m.kind {
            Some(pb::inbound::Kind::Block(b)) => Some(b),
            _ => None,
        });
        blocks
            .flat_map(|b| {
                b.decisions
                    .iter()
                    .map(|d| {
                        let d = decision_from_wire(d).unwrap();
                        (b.height, d.tx, matches!(d.verdict, Verdict::Commit { .. }))
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[tokio::test]
    async fn a_restarted_coordinator_resumes_its_open_transactions_from_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("beacon.redb");
        let open = || {
            let store = Log::open(&path, "beacon").unwrap();
            BeaconService::new(committees(), Some(3), Some(store)).unwrap()
        };
        let beacon = open();
        // Block 1 opens txs 0 and 1, prepared by shard 0 on shard 1 (deadline 1 + 3).
        let (prepare, _) = submission(0, 1, Hash::ZERO, &[(1, 0, 2)], &[]);
        lock(&beacon.state).chain.accept(&prepare).unwrap();
        beacon.notarize_once().await.unwrap();
        // Shard 1's vote yes on tx 0 is counted, then the beacon dies before the next
        // block: the vote was never stored.
        let (mut vote, _) = submission(1, 1, Hash::ZERO, &[], &[(0, 2)]);
        vote.votes = vec![vote_to_wire(0, Vote::Yes { output: 0 })];
        lock(&beacon.state).chain.accept(&vote).unwrap();
        drop(beacon);

        // Back from its log: block 1 replayed, both transactions open again with their
        // deadline; shard 1, whose header was never notarized, sends it again.
        let beacon = open();
        assert_eq!(lock(&beacon.state).chain.height(), 1);
        assert_eq!(lock(&beacon.state).chain.two_phase_open(), 2);
        lock(&beacon.state).chain.accept(&vote).unwrap();
        for _ in 0..3 {
            beacon.notarize_once().await.unwrap();
        }
        // Tx 0 commits in the next block; tx 1, never voted on, aborts at its deadline.
        assert_eq!(decided(&beacon), [(2, 0, true), (4, 1, false)]);
        assert_eq!(lock(&beacon.state).chain.two_phase_open(), 0);
        // And a second restart replays the decisions as they were made.
        drop(beacon);
        let beacon = open();
        assert_eq!(decided(&beacon), [(2, 0, true), (4, 1, false)]);
    }
}
