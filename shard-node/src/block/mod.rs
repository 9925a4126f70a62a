//! # The block pipeline
//!
//! `gather → execute → commit → header → record → events`, one block at a time, on a
//! thread of its own ([`producer`]); with its store ([`store`]), its events
//! ([`events`]) and the Byzantine mode ([`byzantine`]). It may use every other room of
//! the shard; none of them uses it.
//!
//! Three kinds of task share one [`crate::io::Shared`]:
//!
//! ```text
//!  Submit handlers ──push──► mempool ──take ≤ max_block_txs──┐
//!  beacon link ─────admit──► delayed-receipt queue ──take first─┤
//!                                                            ▼
//!                                                      block loop ──► header + batches ──► beacon link
//!                                                            └──────► BlockEvents ──────► Events subscribers
//! ```
//!
//! Only the block loop touches the ledger, so execution needs no locks; the mempool and
//! the inbound queue are the hand-off points, each behind a short-held mutex.
//!
//! **The block loop is a thread, not a task.** Execution, the state commit and the
//! store's fsync are CPU or disk work of milliseconds per block; on an async worker
//! they would stall every gRPC handler and the beacon link sharing it (the runtime has
//! one worker per core). So the loop runs on a blocking thread of its own and talks to
//! the async side through two bounded hand-offs: the [`crate::io::Doorbell`] (work arrived, a
//! recount is asked for) and each subscriber's bounded events queue.
//!
//! ```text
//!  Submit / beacon link ──Wake::Work──────► doorbell ──► block thread: tick or work ─► block
//!  Status{recount}      ──Wake::Recount──►          └──► between blocks: recount ─► reply
//! ```
//!
//! **Durability.** With a data directory, every block's *inputs* (the receipts and
//! transactions it took, the decisions and beacon height it saw) and its events are
//! written to the shard's store in one transaction before the block is announced.
//! Block production is deterministic, so replaying the stored inputs after a crash
//! ([`BlockProducer::recover`]) rebuilds exactly the state, the chain tip and the
//! channel counters the shard had; what was only in memory — the mempool, the inbound
//! queue — is sent again by its senders (the driver, the beacon). Every
//! `snapshot_every` blocks the whole state is kept too ([`snapshot`]), so a restart
//! replays only the blocks after the latest snapshot.

pub mod byzantine;
pub mod events;
mod migrate;
pub mod producer;
pub mod snapshot;
pub mod store;
#[cfg(test)]
mod tests;

pub use migrate::EXPORT_PER_BLOCK;
pub use producer::BlockProducer;
