//! The `Beacon` gRPC service and the notarization loop.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use prost::Message;
use shardsim_proto::pb;
use shardsim_proto::pb::beacon_server::Beacon;
use shardsim_proto::store::Log;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::chain::{Chain, Outcome};
use crate::error::Error;

/// The store's table of beacon blocks' accepted submissions ([`pb::BeaconRecord`]).
const RECORDS: &str = "blocks";

type InboundSender = mpsc::UnboundedSender<Result<pb::Inbound, Status>>;

/// The chain and the open subscriptions, under one lock so that a subscriber's backlog
/// and the live deliveries after it are never interleaved out of order.
#[derive(Debug)]
pub struct State {
    /// The beacon chain.
    pub chain: Chain,
    /// Per shard, its open Subscribe stream (a reconnect replaces it).
    pub subscribers: Vec<Option<InboundSender>>,
    /// The store, with a data directory.
    store: Option<Log>,
    /// Height the chain resumed at from the store (0: a fresh start).
    pub recovered_height: u64,
}

/// The service; cheap to clone.
#[derive(Debug, Clone)]
pub struct BeaconService {
    /// Shared state.
    pub state: Arc<Mutex<State>>,
}

/// Locks the state, ignoring poisoning: no critical section leaves it half-changed.
pub fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BeaconService {
    /// A beacon for `shards` shards, coordinating two-phase commit with this deadline
    /// (in beacon blocks) when `two_phase` is given. With a `store`, the chain is
    /// rebuilt from it (replaying every stored block) and every new block is stored.
    pub fn new(
        shards: u32,
        two_phase: Option<u64>,
        store: Option<Log>,
    ) -> crate::Result<BeaconService> {
        let mut chain = Chain::new(shards, two_phase);
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
                subscribers: vec![None; shards as usize],
                store,
            })),
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
            let mut state = lock(&self.state);
            let Some(n) = state.chain.notarize() else {
                send_tips(&mut state);
                continue;
            };
            if let Some(store) = &state.store {
                let record = pb::BeaconRecord {
                    accepted: n.accepted,
                };
                if let Err(e) = store.append(n.block.height, &[(RECORDS, &record.encode_to_vec())])
                {
                    return e.into();
                }
            }
            let block = pb::Inbound {
                kind: Some(pb::inbound::Kind::Block(n.block)),
            };
            for sub in state.subscribers.iter_mut() {
                send(sub, block.clone());
            }
            for (dst, delivery) in n.deliveries {
                // A shard not subscribed now gets the batch from its backlog later.
                send(
                    &mut state.subscribers[dst as usize],
                    pb::Inbound {
                        kind: Some(pb::inbound::Kind::Delivery(delivery)),
                    },
                );
            }
            send_tips(&mut state);
        }
    }
}

/// Replays one stored block: its submissions, then the block, which must come out at
/// the stored height.
fn replay(chain: &mut Chain, height: u64, record: &pb::BeaconRecord) -> crate::Result<()> {
    let corrupt = |why: String| Error::Corrupt { height, why };
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

/// Sends `msg` to a subscriber, forgetting it if its stream has gone.
fn send(sub: &mut Option<InboundSender>, msg: pb::Inbound) {
    if sub.as_ref().is_some_and(|s| s.send(Ok(msg)).is_err()) {
        *sub = None;
    }
}

#[tonic::async_trait]
impl Beacon for BeaconService {
    async fn submit_headers(
        &self,
        request: Request<Streaming<pb::HeaderSubmission>>,
    ) -> Result<Response<pb::SubmitHeadersReply>, Status> {
        let mut stream = request.into_inner();
        let mut accepted = 0u64;
        let mut shard = None;
        while let Some(submission) = stream.message().await? {
            let claimed = submission.header.as_ref().map(|h| h.shard);
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

    type SubscribeStream = UnboundedReceiverStream<Result<pb::Inbound, Status>>;

    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let shard = request.into_inner().shard;
        let mut state = lock(&self.state);
        let shards = state.chain.shards();
        if shard >= shards {
            return Err(Status::invalid_argument(format!(
                "shard {shard} is not in 0..{shards}"
            )));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        for msg in state.chain.backlog(shard) {
            // The receiver is alive: it is in our hands until we return it.
            let _ = tx.send(Ok(msg));
        }
        state.subscribers[shard as usize] = Some(tx);
        tracing::info!(shard, "shard subscribed");
        Ok(Response::new(UnboundedReceiverStream::new(rx)))
    }

    async fn status(
        &self,
        _request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::BeaconStatus>, Status> {
        let state = lock(&self.state);
        let (inflight_receipts, inflight_value) = state.chain.in_flight();
        Ok(Response::new(pb::BeaconStatus {
            height: state.chain.height(),
            shard_heights: state.chain.shard_heights(),
            inflight_receipts,
            inflight_value,
            headers_rejected: state.chain.headers_rejected,
            receipts_forged: state.chain.receipts_forged,
            receipts_replayed: state.chain.receipts_replayed,
            tp_open: state.chain.two_phase_open(),
            tp_commits: state.chain.two_phase.commits,
            tp_aborts: state.chain.two_phase.aborts,
            votes_late: state.chain.two_phase.votes_late,
            votes_forged: state.chain.two_phase.votes_forged,
            votes_duplicate: state.chain.two_phase.votes_duplicate,
            notarized_heights: state.chain.notarized_heights(),
            headers_duplicate: state.chain.headers_duplicate,
            headers_out_of_order: state.chain.headers_out_of_order,
            recovered_height: state.recovered_height,
        }))
    }
}
