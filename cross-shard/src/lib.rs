//! # Cross-shard: the vocabulary and the pure protocol logic of shardsim
//!
//! A **sharded** chain splits its state — here, accounts with balances — into disjoint
//! slices called **shards**. Each shard is its own process with its own chain of blocks,
//! so shards execute in parallel and the system's throughput grows with their number.
//! The price is that a transaction whose objects live on two shards cannot be executed
//! in one place: it becomes **cross-shard**.
//!
//! This crate holds everything the processes must agree on, with no I/O: the ids, which
//! shard an account lives on ([`placement`]), how a shard commits to the receipts it
//! sends ([`merkle`], [`receipt`]), how a receiving shard keeps them in order and applies
//! each exactly once ([`channel`]), how a shard commits to its state ([`state_hash`]),
//! and how the driver checks the run's invariants at the end ([`audit`]).
//!
//! ## Asynchronous receipts (the `receipts` protocol)
//!
//! A cross-shard transfer of `v` coins from account `a` on shard `S` to account `b` on
//! shard `D` happens in two halves, several blocks apart:
//!
//! ```text
//!  shard S (source)              beacon                         shard D (destination)
//!  ────────────────              ──────                         ─────────────────────
//!  1. block h: debit a by v,
//!     emit Receipt{tx, b, v}
//!     with seq n on channel S→D
//!  2. header h commits to the
//!     batch for D in its
//!     receipts_root ─────────────► 3. check S's chain
//!                                    (height, prev_hash),
//!                                    notarize header h in a
//!                                    beacon block (crosslink)
//!                                 4. send the beacon block ───────► store the notarized
//!                                                                    receipts_root of (S, h)
//!                                 5. deliver batch + Merkle ──────► 6. verify the path against
//!                                    path to its leaf                 the NOTARIZED root, check
//!                                                                     seq n is next on S→D
//!                                                                  7. block: credit b by v
//!                                 ◄──── 8. ack "applied < n+1" ─── (in D's next header)
//!                                 9. forget the batch
//! ```
//!
//! Between 1 and 7 the `v` coins are **in flight**: in no balance, but in a receipt.
//! Supply conservation therefore reads `Σ balances + Σ in-flight = genesis supply`.
//! Real chains (NEAR, MultiversX) work like this; they add validator signatures on the
//! beacon block, which this simulator leaves out: the beacon is trusted to notarize
//! honestly, and the shards are not trusted to send honest receipts.
//!
//! ## Terms
//! - **header**: a block's summary — shard, height, previous hash, state root, receipts
//!   root. Its hash links the shard's chain ([`Header`]).
//! - **crosslink**: a shard header as recorded (notarized) in a beacon block.
//! - **receipt**: the message half of a cross-shard transaction ([`Receipt`]).
//! - **channel**: the ordered stream of receipts from one shard to another; every receipt
//!   has a sequence number on its channel, starting at 0.
//!
//! # Layout
//! - [`ids`]: `ShardId`, `AccountId`, `TxId`, `Hash`, assets and the shared objects
//!   (pools, collections, proposals, NFTs).
//! - [`placement`]: account → shard, object → shard.
//! - [`header`]: shard block headers and their hashes.
//! - [`receipt`]: receipts (credits, refunds, and the cross-shard halves of swaps,
//!   mints and votes), per-destination batches and their commitment.
//! - [`merkle`]: binary Merkle trees with inclusion proofs.
//! - [`channel`]: per-(src, dst) sequence tracking on the receiving side.
//! - [`clock`]: the time protocol code is handed — the machine's, or a simulator's.
//! - [`state_hash`]: an incremental commitment to a shard's accounts.
//! - [`tx`]: transactions — calls of the native programs — and why one fails.
//! - [`signing`]: ed25519 transaction signatures, verified in batches.
//! - [`two_phase`]: the `two-phase` protocol's coordinator and participant lock table.
//! - [`audit`]: the invariants checked at the end of a run.
//! - [`amm`]: the constant-product pool's price rule and genesis reserve.
//! - [`threads`]: work shared out over a few threads, results in order.
//! - [`sync`]: locking a mutex, poisoning ignored.

pub mod amm;
pub mod audit;
pub mod channel;
pub mod clock;
pub mod error;
pub mod header;
pub mod ids;
pub mod merkle;
pub mod migration;
pub mod placement;
pub mod receipt;
pub mod signing;
pub mod state_hash;
pub mod sync;
pub mod threads;
pub mod two_phase;
pub mod tx;

pub use error::{Error, Result};
pub use header::Header;
pub use ids::{AccountId, Hash, NftId, Object, ShardId, TxId};
pub use placement::Placement;
pub use receipt::{Effect, Receipt, ReceiptBatch};
pub use tx::{Call, Program, RejectReason, Tx};
