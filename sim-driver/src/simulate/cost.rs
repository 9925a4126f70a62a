//! The cost model: how long each piece of work keeps a node's CPU busy.
//!
//! A virtual run executes every block for real — its state root, receipts and outcomes
//! are the real ones — but the *time* that took on this process, shared by every
//! simulated node, says nothing about one node of its own. So the simulator charges
//! each node's CPU by this model instead: a block by what its events say it did (calls
//! executed, incarnations, gas, receipts), an admission by its signatures, a message
//! by its size. The defaults (`cost-model.toml`, beside this file) are figures from
//! docs/benchmarks.md; `shardsim calibrate` measures them on this machine.
//!
//! **Parallel executors are charged by their schedule.** The work of a block's calls
//! is divided over the node's `threads_per_shard` cores, except the calls that
//! depended on an earlier one (they wait for it) and what Block-STM did again
//! (re-executed incarnations, each with its bookkeeping); a block that the executor
//! ran sequentially (`fell_back`) is charged as one core's.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use shard_node::block::events::Work;

use crate::scenario::{ExecutorKind, VmKind};

/// The model: nanoseconds per piece of work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostModel {
    /// Where the figures come from.
    pub source: String,
    /// A block's fixed work.
    pub block_ns: u64,
    /// A native call, executed and committed.
    pub native_tx_ns: u64,
    /// An inbound receipt applied.
    pub receipt_ns: u64,
    /// An EVM call's cost beyond its gas.
    pub evm_tx_ns: u64,
    /// One unit of gas.
    pub evm_gas_ns: f64,
    /// Block-STM's bookkeeping per incarnation.
    pub blockstm_tx_ns: u64,
    /// One ed25519 check.
    pub signature_ns: u64,
    /// A message sent or taken in (each end pays it).
    pub message_ns: u64,
    /// Each byte of it.
    pub byte_ns: f64,
    /// A header accepted by the beacon (its certificate's signatures and its
    /// receipts root's leaves apart).
    pub header_ns: u64,
    /// Each inner node of a receipts root hashed: a block sending batches to `k` of
    /// `n` shards patches `k` paths of `⌈log2 n⌉` nodes, at its shard (sealing it) and
    /// at the beacon (checking its header).
    pub root_node_ns: f64,
    /// A beacon block made.
    pub beacon_block_ns: u64,
    /// Each receipt batch the block routes (its Merkle path, the delivery).
    pub delivery_ns: u64,
}

/// The model kept in the repo.
pub const DEFAULT: &str = include_str!("cost-model.toml");

impl Default for CostModel {
    fn default() -> CostModel {
        toml::from_str(DEFAULT).expect("the built-in cost model parses (a test checks)")
    }
}

/// What a node runs its blocks with, for charging them.
#[derive(Debug, Clone, Copy)]
pub struct Node {
    /// The machine its programs run on.
    pub vm: VmKind,
    /// Its executor.
    pub executor: ExecutorKind,
    /// Its cores (`threads_per_shard`).
    pub threads: u32,
    /// Shards in the cluster (leaves of each block's receipts root).
    pub shards: u32,
}

/// Inner nodes on one leaf's path in a receipts root over `shards` leaves.
pub fn path_nodes(shards: u32) -> u64 {
    u64::from(shards.max(1).next_power_of_two().trailing_zeros())
}

impl CostModel {
    /// The model in `path`.
    pub fn load(path: &Path) -> anyhow::Result<CostModel> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the cost model {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{}: not a cost model", path.display()))
    }

    /// The CPU time of executing the blocks whose `work` is summed here, on `node`.
    pub fn work(&self, node: Node, work: &Work) -> Duration {
        let calls = work.calls as f64;
        // Each call's own work: its fixed cost, and under the EVM its gas.
        let (call_ns, receipts_ns) = match node.vm {
            VmKind::Native => (
                calls * self.native_tx_ns as f64,
                (work.receipts * self.receipt_ns) as f64,
            ),
            VmKind::Evm => (
                calls * self.evm_tx_ns as f64 + work.call_gas as f64 * self.evm_gas_ns,
                (work.receipts * self.evm_tx_ns) as f64 + work.receipt_gas as f64 * self.evm_gas_ns,
            ),
        };
        let per_call = if work.calls == 0 {
            0.0
        } else {
            call_ns / calls
        };
        let threads = f64::from(node.threads.max(1));
        // Calls run sequentially: the sequential executor's, and those of blocks a
        // parallel executor ran sequentially after predicting a loss.
        let (alone, shared) = match node.executor {
            ExecutorKind::Sequential => (work.calls, 0),
            _ => (work.fell_back, work.calls - work.fell_back),
        };
        let shared = shared as f64;
        let dependent = work.dependent as f64;
        let again = work.reexecuted as f64;
        let parallel_ns = match node.executor {
            ExecutorKind::Sequential => 0.0,
            // Waves: the independent calls share the cores; each dependent one waits.
            ExecutorKind::Parallel => {
                (shared - dependent) * per_call / threads + dependent * per_call
            }
            // Optimistic: incarnations again on conflict, each with its bookkeeping.
            ExecutorKind::BlockStm => {
                (shared - dependent + again) * per_call / threads
                    + dependent * per_call
                    + (shared + again) * self.blockstm_tx_ns as f64 / threads
            }
        };
        let root_ns = (work.batches * path_nodes(node.shards)) as f64 * self.root_node_ns;
        let ns = (work.blocks * self.block_ns) as f64
            + root_ns
            + receipts_ns
            + alone as f64 * per_call
            + parallel_ns;
        Duration::from_nanos(ns as u64)
    }

    /// Checking `signatures` ed25519 signatures on `threads` cores.
    pub fn signatures(&self, signatures: usize, threads: u32) -> Duration {
        Duration::from_nanos(signatures as u64 * self.signature_ns / u64::from(threads.max(1)))
    }

    /// Sending or taking in one message of `bytes`.
    pub fn message(&self, bytes: usize) -> Duration {
        Duration::from_nanos(self.message_ns + (bytes as f64 * self.byte_ns) as u64)
    }

    /// The beacon accepting one header with `signatures` in its certificate, sending
    /// `batches` batches in a cluster of `shards` shards.
    pub fn header(&self, signatures: usize, batches: usize, shards: u32) -> Duration {
        let root_ns = ((batches as u64 * path_nodes(shards)) as f64 * self.root_node_ns) as u64;
        Duration::from_nanos(self.header_ns + root_ns + signatures as u64 * self.signature_ns)
    }

    /// The beacon making one block that routes `deliveries` batches.
    pub fn beacon_block(&self, deliveries: usize) -> Duration {
        Duration::from_nanos(self.beacon_block_ns + deliveries as u64 * self.delivery_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_model_parses_and_charges_parallel_work_by_its_schedule() {
        let m = CostModel::default();
        let block = Work {
            blocks: 1,
            calls: 1000,
            ..Work::default()
        };
        let node = |executor, threads| Node {
            vm: VmKind::Native,
            executor,
            threads,
            shards: 1,
        };
        let seq = m.work(node(ExecutorKind::Sequential, 2), &block);
        let par = m.work(node(ExecutorKind::Parallel, 2), &block);
        assert_eq!(
            seq,
            Duration::from_nanos(m.block_ns + 1000 * m.native_tx_ns)
        );
        assert_eq!(
            par,
            Duration::from_nanos(m.block_ns + 1000 * m.native_tx_ns / 2)
        );
        // A chain of dependent calls gains nothing from the second core.
        let chained = Work {
            dependent: 1000,
            ..block
        };
        assert_eq!(m.work(node(ExecutorKind::Parallel, 2), &chained), seq);
        // A block run sequentially after a predicted loss is one core's work.
        let fell = Work {
            fell_back: 1000,
            ..block
        };
        assert_eq!(m.work(node(ExecutorKind::BlockStm, 2), &fell), seq);
        // Block-STM's incarnations cost their work and bookkeeping again.
        let stm = m.work(node(ExecutorKind::BlockStm, 2), &block);
        let again = m.work(
            node(ExecutorKind::BlockStm, 2),
            &Work {
                reexecuted: 500,
                ..block
            },
        );
        assert!(again > stm && stm > par, "{again:?} {stm:?} {par:?}");
    }
}
