//! # Traces: real Ethereum traffic, replayed
//!
//! A trace is a file of transactions that happened — who sent what to whom, in which
//! block, when. Replaying one answers what no dial can: how many transactions cross
//! shards when the traffic is real. Three layouts are read, each **streamed** (a row
//! at a time, never the whole file in memory):
//!
//! - **XBlock-ETH transaction CSV** (`blockNumber,timestamp,transactionHash,from,to,…`),
//!   the layout sharding testbeds replay; columns are found by header name, so their
//!   order and any extra columns do not matter. `.csv` or `.csv.gz`.
//! - **XBlock's ERC-20 transfer CSV** (`…,tokenAddress,from,to,…,value`): alone, each
//!   row is a token transfer; beside a transaction CSV (`trace.erc20`), its rows replace
//!   the contract calls with the same transaction hash, so a token transfer replays as a
//!   transfer between its two holders rather than as a call to the token.
//! - **JSON-RPC blocks** (`eth_getBlockByNumber` with full transactions): one file per
//!   block (`.json` or `.json.gz`), or a directory of them replayed in block order;
//!   `transfer` and `transferFrom` calls are decoded into token transfers.
//!
//! Each transaction becomes one [`Row`]: its two objects (interned to dense account ids
//! in order of first appearance, so a trace's 20-byte addresses become the small
//! integers the rest of shardsim uses) and its [`Kind`]:
//!
//! ```text
//!  to empty (creation) ───────────────────────────────► Create  (sender → new contract)
//!  hash in the ERC-20 file, or transfer/transferFrom ──► Token   (holder → holder)
//!  to is a contract (toIsContract = 1, or input ≠ "0x") ► Call   (caller → contract)
//!  otherwise ──────────────────────────────────────────► Transfer (sender → recipient)
//! ```
//!
//! Nothing is filtered silently: every row read is either replayed (counted by kind) or
//! dropped with a named reason ([`Accounting`]), and a malformed row stops the read with
//! its file, line and column.

mod rpc;
pub mod stats;
mod xblock;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use cross_shard::AccountId;
use rustc_hash::FxHashMap;
use serde::Serialize;

/// What a replayed transaction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Native value from one account to another.
    Transfer,
    /// An ERC-20 transfer between two holders of `token`.
    Token,
    /// A call to a contract (neither a token transfer nor a creation).
    Call,
    /// A contract creation.
    Create,
}

impl Kind {
    /// Every kind, in the order results list them.
    pub const ALL: [Kind; 4] = [Kind::Transfer, Kind::Token, Kind::Call, Kind::Create];

    /// The name results use.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Transfer => "transfer",
            Kind::Token => "token",
            Kind::Call => "call",
            Kind::Create => "create",
        }
    }
}

/// One transaction of a trace, ready to replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// The block it was in.
    pub block: u64,
    /// Its block's timestamp, seconds since the Unix epoch.
    pub timestamp: u64,
    /// Sender (for a token transfer, the holder the tokens leave).
    pub from: AccountId,
    /// Recipient, contract called, contract created, or token holder credited.
    pub to: AccountId,
    /// What it does.
    pub kind: Kind,
    /// For [`Kind::Token`], the token contract.
    pub token: Option<AccountId>,
    /// Wei, or token units; saturated at `u128::MAX` (counted in
    /// [`Accounting::values_saturated`]).
    pub value: u128,
    /// Gas it costs: `gasUsed` where the trace has it, else its gas limit, capped.
    pub gas: u64,
}

/// A trace that cannot be read, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A row or value is malformed.
    #[error("{path}:{line}: {column}: {message}")]
    Malformed {
        /// The file.
        path: String,
        /// 1-based line.
        line: u64,
        /// The column (by name and 1-based position), or where in a JSON document.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// The file is not in any layout this reader knows.
    #[error("{path}: {message}")]
    Layout {
        /// The file.
        path: String,
        /// What was expected.
        message: String,
    },
}

/// Rows read and what became of them: the trace section of the results.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Accounting {
    /// Data rows (CSV, every file) or transactions (JSON-RPC) read. Each is replayed,
    /// dropped, or an ERC-20 row joined into its transaction's replay:
    /// `rows_read = replayed + dropped + erc20_joined`.
    pub rows_read: u64,
    /// ERC-20 rows that replaced the contract call of their transaction.
    pub erc20_joined: u64,
    /// Replayed, by kind.
    pub replayed: BTreeMap<&'static str, u64>,
    /// Not replayed, by reason.
    pub dropped: BTreeMap<&'static str, u64>,
    /// Values larger than 2¹²⁸ − 1 (token amounts can be up to 2²⁵⁶), replayed as
    /// 2¹²⁸ − 1.
    pub values_saturated: u64,
    /// Distinct addresses seen: the accounts genesis must create.
    pub accounts: u64,
}

impl Accounting {
    /// Rows replayed, all kinds.
    pub fn replayed_total(&self) -> u64 {
        self.replayed.values().sum()
    }

    /// Rows dropped, all reasons.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    fn replay(&mut self, kind: Kind) {
        *self.replayed.entry(kind.name()).or_insert(0) += 1;
    }

    fn drop_row(&mut self, reason: &'static str) {
        *self.dropped.entry(reason).or_insert(0) += 1;
    }
}

/// The reasons a row is not replayed.
pub mod reasons {
    /// `isError = 1`: the transaction reverted on chain and changed nothing there.
    pub const FAILED_ON_CHAIN: &str = "failed_on_chain";
    /// An ERC-20 row whose transaction is not in the transaction file.
    pub const ERC20_WITHOUT_TRANSACTION: &str = "erc20_without_transaction";
    /// A second ERC-20 row for one transaction (one transaction replays as one call;
    /// the first transfer is replayed).
    pub const ERC20_SECOND_IN_TRANSACTION: &str = "erc20_second_in_transaction";
}

/// Where a trace is and how to read it (`[workload.trace]`'s file fields).
#[derive(Debug, Clone, PartialEq)]
pub struct TraceFiles {
    /// The trace: a CSV, a CSV.gz, a JSON-RPC block, or a directory of blocks.
    pub path: PathBuf,
    /// An ERC-20 transfer CSV joined to a transaction CSV by transaction hash.
    pub erc20: Option<PathBuf>,
    /// The most gas one replayed transaction may cost.
    pub gas_cap: u64,
}

/// Address → dense account id, in order of first appearance.
#[derive(Debug, Default)]
pub struct Interner {
    ids: FxHashMap<[u8; 20], AccountId>,
}

impl Interner {
    /// The id of `address`, a new one if it was never seen.
    pub fn id(&mut self, address: [u8; 20]) -> AccountId {
        let next = self.ids.len() as AccountId;
        *self.ids.entry(address).or_insert(next)
    }

    /// Addresses seen.
    pub fn len(&self) -> u64 {
        self.ids.len() as u64
    }

    /// True before any address.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Reads a whole trace, handing each replayable row to `each` in trace order, and
/// returns the accounting. Streams: memory holds one row (and the ERC-20 join table,
/// when there is one), never the trace.
pub fn read(files: &TraceFiles, mut each: impl FnMut(Row)) -> Result<Accounting, TraceError> {
    let mut acct = Accounting::default();
    let mut interner = Interner::default();
    let mut sink = |row: Row, acct: &mut Accounting| {
        acct.replay(row.kind);
        each(row);
    };
    let path = &files.path;
    if path.is_dir() {
        for block in rpc::block_files(path)? {
            rpc::read_block(&block, files.gas_cap, &mut interner, &mut acct, &mut sink)?;
        }
    } else if is_json(path) {
        rpc::read_block(path, files.gas_cap, &mut interner, &mut acct, &mut sink)?;
    } else {
        let mut join = match &files.erc20 {
            Some(erc20) => Some(xblock::Erc20Join::load(erc20, &mut acct)?),
            None => None,
        };
        xblock::read_csv(
            path,
            files.gas_cap,
            join.as_mut(),
            &mut interner,
            &mut acct,
            &mut sink,
        )?;
        if let Some(join) = join {
            for _ in 0..join.unmatched() {
                acct.drop_row(reasons::ERC20_WITHOUT_TRANSACTION);
            }
        }
    }
    acct.accounts = interner.len();
    Ok(acct)
}

fn is_json(path: &Path) -> bool {
    let name = path.to_string_lossy();
    name.ends_with(".json") || name.ends_with(".json.gz")
}

/// Opens a file, decompressing it when its name ends in `.gz`.
fn open(path: &Path) -> Result<Box<dyn Read>, TraceError> {
    let file = File::open(path).map_err(|source| TraceError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let reader = BufReader::with_capacity(1 << 16, file);
    Ok(if path.to_string_lossy().ends_with(".gz") {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::read::MultiGzDecoder::new(reader),
        ))
    } else {
        Box::new(reader)
    })
}

/// Parses `0x` + 40 hex digits.
fn address(text: &[u8]) -> Option<[u8; 20]> {
    let hex = text
        .strip_prefix(b"0x")
        .or_else(|| text.strip_prefix(b"0X"))?;
    let mut out = [0u8; 20];
    const_hex::decode_to_slice(hex, &mut out).ok()?;
    Some(out)
}

/// A decimal unsigned integer, saturated at `u128::MAX`; `None` if not a number.
fn decimal(text: &[u8]) -> Option<(u128, bool)> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u128 = 0;
    for &d in text {
        match v
            .checked_mul(10)
            .and_then(|x| x.checked_add(u128::from(d - b'0')))
        {
            Some(x) => v = x,
            None => return Some((u128::MAX, true)),
        }
    }
    Some((v, false))
}

#[cfg(test)]
mod tests;
