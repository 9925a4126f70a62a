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
use shardsim_proto::pb;

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
    /// A message taken in.
    pub message_ns: u64,
    /// Each byte of it.
    pub byte_ns: f64,
    /// A header accepted by the beacon (its certificate's signatures apart).
    pub header_ns: u64,
    /// A beacon block made.
    pub beacon_block_ns: u64,
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
}

impl CostModel {
    /// The model in `path`.
    pub fn load(path: &Path) -> anyhow::Result<CostModel> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the cost model {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{}: not a cost model", path.display()))
    }

    /// The CPU time of the block these `events` describe, on `node`.
    pub fn block(&self, node: Node, events: &pb::BlockEvents) -> Duration {
        let calls = u64::from(events.executed);
        let receipts = events.receipts_applied.len() as u64
            + events.refunds_applied.len() as u64
            + events.forwarded.len() as u64
            + events.failed.len() as u64
            + events.prepares_taken
            + (events.tp_committed.len() + events.tp_aborted.len()) as u64;
        // Each call's own work: its fixed cost, and under the EVM its gas.
        let (call_ns, receipts_ns) = match node.vm {
            VmKind::Native => (
                (calls * self.native_tx_ns) as f64,
                (receipts * self.receipt_ns) as f64,
            ),
            VmKind::Evm => {
                let call_gas: u64 = events.gas_tx_used.iter().sum();
                let receipt_gas = events.gas_used.saturating_sub(call_gas);
                (
                    (calls * self.evm_tx_ns) as f64 + call_gas as f64 * self.evm_gas_ns,
                    (receipts * self.evm_tx_ns) as f64 + receipt_gas as f64 * self.evm_gas_ns,
                )
            }
        };
        let per_call = if calls == 0 {
            0.0
        } else {
            call_ns / calls as f64
        };
        let threads = f64::from(node.threads.max(1));
        let exec_ns = match node.executor {
            _ if events.fell_back => call_ns,
            ExecutorKind::Sequential => call_ns,
            ExecutorKind::Parallel => {
                // Waves: the independent calls share the cores; each dependent one waits.
                let dependent = u64::from(events.dependent.unwrap_or(0)).min(calls) as f64;
                (calls as f64 - dependent) * per_call / threads + dependent * per_call
            }
            ExecutorKind::BlockStm => {
                let dependent = u64::from(events.dependent.unwrap_or(0)).min(calls) as f64;
                let again = f64::from(events.reexecuted.unwrap_or(0));
                let book = (calls as f64 + again) * self.blockstm_tx_ns as f64;
                (calls as f64 - dependent + again) * per_call / threads
                    + dependent * per_call
                    + book / threads
            }
        };
        Duration::from_nanos((self.block_ns as f64 + receipts_ns + exec_ns) as u64)
    }

    /// Checking `signatures` ed25519 signatures on `threads` cores.
    pub fn signatures(&self, signatures: usize, threads: u32) -> Duration {
        Duration::from_nanos(signatures as u64 * self.signature_ns / u64::from(threads.max(1)))
    }

    /// Taking in or sending out one message of `bytes`.
    pub fn message(&self, bytes: usize) -> Duration {
        Duration::from_nanos(self.message_ns + (bytes as f64 * self.byte_ns) as u64)
    }

    /// The beacon accepting one header with `signatures` in its certificate.
    pub fn header(&self, signatures: usize) -> Duration {
        Duration::from_nanos(self.header_ns + signatures as u64 * self.signature_ns)
    }

    /// The beacon making one block.
    pub fn beacon_block(&self) -> Duration {
        Duration::from_nanos(self.beacon_block_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_model_parses_and_charges_parallel_work_by_its_schedule() {
        let m = CostModel::default();
        let events = pb::BlockEvents {
            executed: 1000,
            dependent: Some(0),
            ..Default::default()
        };
        let node = |executor, threads| Node {
            vm: VmKind::Native,
            executor,
            threads,
        };
        let seq = m.block(node(ExecutorKind::Sequential, 2), &events);
        let par = m.block(node(ExecutorKind::Parallel, 2), &events);
        assert_eq!(
            seq,
            Duration::from_nanos(m.block_ns + 1000 * m.native_tx_ns)
        );
        assert_eq!(
            par,
            Duration::from_nanos(m.block_ns + 1000 * m.native_tx_ns / 2)
        );
        // A chain of dependent calls gains nothing from the second core.
        let chained = pb::BlockEvents {
            dependent: Some(1000),
            ..events.clone()
        };
        assert_eq!(m.block(node(ExecutorKind::Parallel, 2), &chained), seq);
        // A block run sequentially after a predicted loss is one core's work.
        let fell = pb::BlockEvents {
            fell_back: true,
            ..events
        };
        assert_eq!(m.block(node(ExecutorKind::BlockStm, 2), &fell), seq);
    }
}
