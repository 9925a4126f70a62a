//! The `Beacon` gRPC service and the notarization loop.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use shardsim_proto::pb;
use shardsim_proto::pb::beacon_server::Beacon;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::chain::Chain;

type InboundSender = mpsc::UnboundedSender<Result<pb::Inbound, Status>>;

/// The chain and the open subscriptions, under one lock so that a subscriber's backlog
/// and the live deliveries after it are never interleaved out of order.
#[derive(Debug)]
pub struct State {
    /// The beacon chain.
    pub chain: Chain,
    /// Per shard, its open Subscribe stream (a reconnect replaces it).
    pub subscribers: Vec<Option<InboundSender>>,
}

/// The service; cheap to clone.
#[derive(Debug, Clone)]
pub struct BeaconService {
    /// Shared state.
    pub state: Arc<Mutex<State>>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BeaconService {
    /// A beacon for `shards` shards at genesis, coordinating two-phase commit with this
    /// deadline (in beacon blocks) when `two_phase` is given.
    pub fn new(shards: u32, two_phase: Option<u64>) -> BeaconService {
        BeaconService {
            state: Arc::new(Mutex::new(State {
                chain: Chain::new(shards, two_phase),
                subscribers: vec![None; shards as usize],
            })),
        }
    }

    /// Every `interval`, notarizes pending headers and sends the block and the
    /// deliveries to the subscribers. Runs forever.
    pub async fn notarize_every(&self, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let mut state = lock(&self.state);
            let Some(n) = state.chain.notarize() else {
                continue;
            };
            let block = pb::Inbound {
                kind: Some(pb::inbound::Kind::Block(n.block)),
            };
            for sub in state.subscribers.iter_mut() {
                if sub
                    .as_ref()
                    .is_some_and(|s| s.send(Ok(block.clone())).is_err())
                {
                    *sub = None;
                }
            }
            for (dst, delivery) in n.deliveries {
                let sub = &mut state.subscribers[dst as usize];
                let msg = pb::Inbound {
                    kind: Some(pb::inbound::Kind::Delivery(delivery)),
                };
                // A shard not subscribed now gets the batch from its backlog later.
                if sub.as_ref().is_some_and(|s| s.send(Ok(msg)).is_err()) {
                    *sub = None;
                }
            }
        }
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
                Ok(src) => shard = Some(src),
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
        }))
    }
}
