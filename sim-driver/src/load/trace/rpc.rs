//! JSON-RPC blocks: `eth_getBlockByNumber(n, true)`, one block per file.
//!
//! A file holds the block object itself or the whole JSON-RPC response around it
//! (`{"jsonrpc", "id", "result": {…}}`). Quantities are hex strings (`"0x1b4"`), as
//! the API returns them. A block fetched without full transactions (a list of hashes)
//! cannot be replayed and is refused, naming the fix.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::{Accounting, Interner, Kind, Row, TraceError, address, open};

/// `transfer(address,uint256)`.
const TRANSFER: [u8; 4] = [0xa9, 0x05, 0x9c, 0xbb];
/// `transferFrom(address,address,uint256)`.
const TRANSFER_FROM: [u8; 4] = [0x23, 0xb8, 0x72, 0xdd];

/// The block files of a directory, in block order (by the number their name starts
/// with, then by name).
pub(super) fn block_files(dir: &Path) -> Result<Vec<PathBuf>, TraceError> {
    let io = |source| TraceError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut files: Vec<(u64, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if super::is_json(&path) {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let number = name
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(u64::MAX);
            files.push((number, path));
        }
    }
    if files.is_empty() {
        return Err(TraceError::Layout {
            path: dir.display().to_string(),
            message: "no .json or .json.gz block files in this directory".into(),
        });
    }
    files.sort();
    Ok(files.into_iter().map(|(_, p)| p).collect())
}

#[derive(Deserialize)]
struct RpcTx {
    hash: String,
    from: String,
    to: Option<String>,
    value: String,
    gas: String,
    #[serde(default)]
    input: String,
}

/// Reads one block file, handing each transaction to `sink`.
pub(super) fn read_block(
    path: &Path,
    gas_cap: u64,
    interner: &mut Interner,
    acct: &mut Accounting,
    sink: &mut impl FnMut(Row, &mut Accounting),
) -> Result<(), TraceError> {
    let shown = path.display().to_string();
    let mut doc: Value =
        serde_json::from_reader(open(path)?).map_err(|e| match e.io_error_kind() {
            Some(kind) => TraceError::Io {
                path: shown.clone(),
                source: std::io::Error::new(kind, e.to_string()),
            },
            None => TraceError::Malformed {
                path: shown.clone(),
                line: e.line() as u64,
                column: format!("column {}", e.column()),
                message: format!("not JSON: {e}"),
            },
        })?;
    if doc.get("result").is_some() {
        doc = doc["result"].take();
    }
    let bad = |at: String, message: String| TraceError::Malformed {
        path: shown.clone(),
        line: 0,
        column: at,
        message,
    };
    let block = quantity(&doc["number"]).ok_or_else(|| {
        bad(
            "`number`".into(),
            "no block number: not an eth_getBlockByNumber result".into(),
        )
    })?;
    let timestamp = quantity(&doc["timestamp"])
        .ok_or_else(|| bad("`timestamp`".into(), "no block timestamp".into()))?;
    let txs = doc["transactions"]
        .as_array()
        .ok_or_else(|| bad("`transactions`".into(), "no transaction list".into()))?;
    for (i, tx) in txs.iter().enumerate() {
        let at = |field: &str| format!("transactions[{i}].{field}");
        if tx.is_string() {
            return Err(bad(
                at("hash"),
                "the block lists transaction hashes only: fetch it with full transactions \
                 (eth_getBlockByNumber(n, true))"
                    .into(),
            ));
        }
        acct.rows_read += 1;
        let t: RpcTx = serde_json::from_value(tx.clone())
            .map_err(|e| bad(format!("transactions[{i}]"), e.to_string()))?;
        let addr = |text: &str, field: &str| {
            address(text.as_bytes())
                .ok_or_else(|| bad(at(field), format!("{text:?} is not an address")))
        };
        let from = addr(&t.from, "from")?;
        let value = hex_u128(&t.value)
            .ok_or_else(|| bad(at("value"), format!("{:?} is not a hex quantity", t.value)))?;
        acct.values_saturated += u64::from(value.1);
        let gas = hex_u128(&t.gas)
            .filter(|g| !g.1)
            .ok_or_else(|| bad(at("gas"), format!("{:?} is not a hex quantity", t.gas)))?
            .0
            .min(u128::from(gas_cap)) as u64;
        let input = const_hex::decode(t.input.trim_start_matches("0x"))
            .map_err(|_| bad(at("input"), "not hex".into()))?;
        let row = |from, to, kind, token, value| Row {
            block,
            timestamp,
            from,
            to,
            kind,
            token,
            value,
            gas,
        };
        let row = match &t.to {
            None => {
                let hash = const_hex::decode(t.hash.trim_start_matches("0x"))
                    .ok()
                    .filter(|h| h.len() == 32)
                    .ok_or_else(|| bad(at("hash"), "not a 32-byte hash".into()))?;
                let mut created = [0u8; 20];
                created.copy_from_slice(&hash[..20]);
                row(
                    interner.id(from),
                    interner.id(created),
                    Kind::Create,
                    None,
                    value.0,
                )
            }
            Some(to) => {
                let to = addr(to, "to")?;
                match decode_token_transfer(&input, from) {
                    Some((holder, recipient, amount, saturated)) => {
                        acct.values_saturated += u64::from(saturated);
                        let token = interner.id(to);
                        row(
                            interner.id(holder),
                            interner.id(recipient),
                            Kind::Token,
                            Some(token),
                            amount,
                        )
                    }
                    None => {
                        let kind = if input.is_empty() {
                            Kind::Transfer
                        } else {
                            Kind::Call
                        };
                        row(interner.id(from), interner.id(to), kind, None, value.0)
                    }
                }
            }
        };
        sink(row, acct);
    }
    Ok(())
}

/// A `transfer` or `transferFrom` call's (holder, recipient, amount, saturated).
pub(super) fn decode_token_transfer(
    input: &[u8],
    sender: [u8; 20],
) -> Option<([u8; 20], [u8; 20], u128, bool)> {
    let word = |i: usize| input.get(4 + 32 * i..4 + 32 * (i + 1));
    let addr = |w: &[u8]| -> Option<[u8; 20]> {
        w[..12].iter().all(|&b| b == 0).then(|| {
            let mut a = [0u8; 20];
            a.copy_from_slice(&w[12..]);
            a
        })
    };
    let amount = |w: &[u8]| {
        let saturated = w[..16].iter().any(|&b| b != 0);
        let low = u128::from_be_bytes(w[16..].try_into().unwrap_or([0; 16]));
        if saturated {
            (u128::MAX, true)
        } else {
            (low, false)
        }
    };
    match input.get(..4)? {
        s if s == TRANSFER && input.len() == 4 + 64 => {
            let (v, sat) = amount(word(1)?);
            Some((sender, addr(word(0)?)?, v, sat))
        }
        s if s == TRANSFER_FROM && input.len() == 4 + 96 => {
            let (v, sat) = amount(word(2)?);
            Some((addr(word(0)?)?, addr(word(1)?)?, v, sat))
        }
        _ => None,
    }
}

/// A hex quantity (`"0x1b4"`) as u64.
fn quantity(v: &Value) -> Option<u64> {
    u64::from_str_radix(v.as_str()?.strip_prefix("0x")?, 16).ok()
}

/// A hex quantity as u128, saturated (and whether it was).
fn hex_u128(text: &str) -> Option<(u128, bool)> {
    let digits = text.strip_prefix("0x")?.trim_start_matches('0');
    if digits.is_empty() {
        return text.strip_prefix("0x").map(|_| (0, false));
    }
    if digits.len() > 32 {
        return digits
            .chars()
            .all(|c| c.is_ascii_hexdigit())
            .then_some((u128::MAX, true));
    }
    u128::from_str_radix(digits, 16).ok().map(|v| (v, false))
}
