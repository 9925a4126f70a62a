//! The `Shard` gRPC service: what the driver calls.

use std::sync::Arc;

use std::pin::Pin;
use std::time::Duration;

use cross_shard::Tx;
use shardsim_host::tls::Role;
use shardsim_proto::convert::{signatures_from_wire, txs_from_wire};
use shardsim_proto::pb;
use shardsim_proto::pb::shard_server::Shard;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use cross_shard::sync::lock;

use crate::io::shared::Admission;
use crate::io::{EVENTS_QUEUE, Shared};

/// How long a Status with a recount waits for the block thread to finish the block in
/// hand and count.
const RECOUNT_PATIENCE: Duration = Duration::from_secs(5);
use crate::io::sigverify::SigVerifier;

/// The service; cheap to clone.
#[derive(Debug, Clone)]
pub struct ShardService {
    /// The node's state.
    pub shared: Arc<Shared>,
}

impl ShardService {
    /// Over mutual TLS, the caller's role, which `allowed` must accept (see
    /// [`shardsim_host::tls::require`]); on loopback, `None`.
    fn require<T>(
        &self,
        request: &Request<T>,
        allowed: impl Fn(Role) -> bool,
        what: &str,
    ) -> Result<Option<Role>, Status> {
        shardsim_host::tls::require(request, self.shared.config.tls.is_some(), allowed, what)
    }

    /// Checks a batch's signatures off the async runtime (on the verifier's threads).
    async fn admit_signed(
        &self,
        verifier: Arc<SigVerifier>,
        batch: &pb::TxBatch,
        txs: Vec<Tx>,
    ) -> Result<Admission, Status> {
        let mut sigs = Vec::new();
        signatures_from_wire(batch, &mut sigs)?;
        let (txs, sigs, verdicts) = tokio::task::spawn_blocking(move || {
            let verdicts = verifier.verify(&txs, &sigs);
            (txs, sigs, verdicts)
        })
        .await
        .map_err(|e| Status::internal(format!("signature check failed: {e}")))?;
        // A committee's validator keeps them as signed, for its proposals.
        Ok(Admission::checked(
            txs,
            sigs,
            &verdicts,
            self.shared.peers.is_some(),
        ))
    }
}

#[tonic::async_trait]
impl Shard for ShardService {
    async fn submit(
        &self,
        request: Request<Streaming<pb::TxBatch>>,
    ) -> Result<Response<pb::SubmitReply>, Status> {
        self.require(
            &request,
            |r| r == Role::Driver,
            "submit transactions (the driver does)",
        )?;
        let mut stream = request.into_inner();
        let mut txs = Vec::new();
        let mut accepted = 0u64;
        while let Some(batch) = stream.message().await? {
            txs.clear();
            txs_from_wire(&batch, &mut txs)?;
            accepted += txs.len() as u64;
            let mut bad = Vec::new();
            let mut signed = Vec::new();
            match &self.shared.verifier {
                Some(verifier) => {
                    let a = self.admit_signed(verifier.clone(), &batch, txs).await?;
                    (txs, bad, signed) = (a.admitted, a.bad, a.signed);
                }
                // Bytes nobody checks would look like signed transactions in a stored
                // block and on the wire: refuse them rather than carry them silently.
                None if !batch.signatures.is_empty() => {
                    return Err(Status::invalid_argument(
                        "TxBatch: a signature column was sent, but this shard does not check signatures (cluster.signatures = false)",
                    ));
                }
                None => {}
            }
            if txs.is_empty() && bad.is_empty() {
                continue;
            }
            // A batch never exceeds MAX_BATCH_TXS ≤ mempool_capacity (checked at start-up),
            // so this wait always ends once blocks drain the mempool.
            if !txs.is_empty() {
                let permits = self
                    .shared
                    .space
                    .acquire_many(txs.len() as u32)
                    .await
                    .map_err(|_| Status::unavailable("shard is shutting down"))?;
                permits.forget();
            }
            let mut batch = Admission {
                admitted: std::mem::take(&mut txs),
                bad,
                signed,
            };
            self.shared.admit(&mut batch);
            // The read buffer back, emptied, for the next batch.
            txs = batch.admitted;
        }
        Ok(Response::new(pb::SubmitReply { accepted }))
    }

    type EventsStream =
        Pin<Box<dyn Stream<Item = Result<pb::BlockEvents, Status>> + Send + 'static>>;

    async fn events(
        &self,
        request: Request<pb::EventsRequest>,
    ) -> Result<Response<Self::EventsStream>, Status> {
        self.require(&request, |_| true, "")?;
        // Live events go through a bounded queue (see `node::publish_events`); stored
        // ones, read once, go first.
        let (tx, rx) = mpsc::channel(EVENTS_QUEUE);
        let after = request.into_inner().after;
        let mut stored = Vec::new();
        // Holding the subscribers' lock while reading the store: no block is published
        // in between, so nothing falls between the stored events and the live ones. A
        // block stored but not yet published may come twice; heights tell them apart.
        let mut subscribers = lock(&self.shared.subscribers);
        if let Some(after) = after {
            let Some(store) = &self.shared.store else {
                return Err(Status::failed_precondition(
                    "this shard keeps no store (started without --data-dir): only live events",
                ));
            };
            store
                .try_for_each(crate::io::EVENTS, after, |_, events: pb::BlockEvents| {
                    stored.push(Ok(events));
                    Ok::<_, shardsim_proto::store::StoreError>(())
                })
                .map_err(|e| Status::internal(e.to_string()))?;
        }
        subscribers.push(tx);
        let stream = tokio_stream::iter(stored).chain(ReceiverStream::new(rx));
        Ok(Response::new(Box::pin(stream)))
    }

    type ConsensusStream =
        Pin<Box<dyn Stream<Item = Result<pb::ConsensusMessage, Status>> + Send + 'static>>;

    async fn consensus(
        &self,
        request: Request<Streaming<pb::ConsensusMessage>>,
    ) -> Result<Response<Self::ConsensusStream>, Status> {
        let shard = self.shared.config.shard;
        let caller = self.require(
            &request,
            |r| matches!(r, Role::Validator { shard: s, .. } if s == shard),
            "open a consensus stream (this shard's validators do)",
        )?;
        let Some(links) = &self.shared.peers else {
            return Err(Status::failed_precondition(
                "this shard is not a committee of validators",
            ));
        };
        let mut inbound = request.into_inner();
        let from = match inbound.message().await? {
            Some(pb::ConsensusMessage {
                kind: Some(pb::consensus_message::Kind::Hello(from)),
            }) => from,
            _ => {
                return Err(Status::invalid_argument(
                    "a Consensus stream opens with a hello naming the caller's index",
                ));
            }
        };
        if let Some(role) = caller
            && role != (Role::Validator { shard, index: from })
        {
            return Err(Status::permission_denied(format!(
                "{role} said hello as validator {from} of shard {shard}"
            )));
        }
        if !links.accepts(from) {
            return Err(Status::permission_denied(format!(
                "validator {from} may not call this one (only validators with a higher index, below the committee's size, do)"
            )));
        }
        let (out, rx) = mpsc::channel(64);
        crate::io::peers::spawn_session(
            self.shared.clone(),
            links.clone(),
            from as u16,
            inbound,
            out,
        );
        Ok(Response::new(Box::pin(ReceiverStream::new(rx).map(Ok))))
    }

    async fn inject_fault(
        &self,
        request: Request<pb::LinkFault>,
    ) -> Result<Response<pb::LinkFaultReply>, Status> {
        self.require(
            &request,
            |r| r == Role::Driver,
            "inject faults (the driver does)",
        )?;
        let fault = {
            let f = request.get_ref();
            shardsim_host::netem::LinkFault::checked(f.delay_us, f.drop, f.duplicate)
        }
        .map_err(Status::invalid_argument)?;
        tracing::info!(?fault, "fault injected on the beacon link");
        *lock(&self.shared.link_faults) = fault;
        Ok(Response::new(pb::LinkFaultReply {}))
    }

    async fn status(
        &self,
        request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::ShardStatus>, Status> {
        self.require(&request, |_| true, "")?;
        let shared = &self.shared;
        let (c, mempool_len) = if request.get_ref().recount {
            let answer = shared
                .doorbell
                .recount()
                .ok_or_else(|| Status::unavailable("the block loop is not taking requests"))?;
            let r = tokio::time::timeout(RECOUNT_PATIENCE, answer)
                .await
                .map_err(|_| Status::deadline_exceeded("the block loop did not recount in time"))?
                .map_err(|_| Status::unavailable("the block loop stopped"))?;
            (r.counters, r.waiting)
        } else {
            let waiting = lock(&shared.mempool).len() + lock(&shared.bad_signatures).len();
            (lock(&shared.counters).clone(), waiting as u64)
        };
        Ok(Response::new(shared.status(c, mempool_len)))
    }
}
