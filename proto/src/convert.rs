//! Checked conversions between wire messages and `cross-shard` types.
//!
//! Wire → domain conversions validate and name the offending field; domain → wire
//! conversions cannot fail.

use cross_shard::ids::NATIVE;
use cross_shard::signing::SIGNATURE_LEN;
use cross_shard::{Hash, Header, Receipt, ReceiptBatch, Transfer};

use crate::pb;

/// Largest gRPC message any shardsim service accepts or sends, in bytes. Big enough for
/// a block's events or receipts at the largest `max_block_txs`, small enough that a
/// hostile peer cannot make a process allocate without bound.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;

/// Most transactions one submitted batch may carry.
pub const MAX_BATCH_TXS: usize = 65_536;

/// Most transactions one block may hold, and so most receipts one receipt batch may
/// carry (every transaction of a block could send to the same destination).
pub const MAX_BLOCK_TXS: usize = 200_000;

/// A wire message that does not describe a valid value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// Columns of one batch have different lengths.
    #[error("{message}: column `{column}` has {got} entries, expected {expected}")]
    ColumnLength {
        /// The message kind.
        message: &'static str,
        /// The column that differs.
        column: &'static str,
        /// Length of the first column.
        expected: usize,
        /// Length of this column.
        got: usize,
    },
    /// A batch carries more rows than its limit ([`MAX_BATCH_TXS`] for transactions,
    /// [`MAX_BLOCK_TXS`] for receipts).
    #[error("{message}: {got} rows exceed the limit of {limit}")]
    TooLarge {
        /// The message kind.
        message: &'static str,
        /// Rows in the batch.
        got: usize,
        /// The limit.
        limit: usize,
    },
    /// A hash field is not 32 bytes.
    #[error("{message}: field `{field}` must be 32 bytes, got {got}")]
    BadHash {
        /// The message kind.
        message: &'static str,
        /// The field.
        field: &'static str,
        /// Its length.
        got: usize,
    },
    /// A required sub-message is absent.
    #[error("{message}: field `{field}` is missing")]
    Missing {
        /// The message kind.
        message: &'static str,
        /// The field.
        field: &'static str,
    },
}

impl From<ConvertError> for tonic::Status {
    fn from(e: ConvertError) -> Self {
        tonic::Status::invalid_argument(e.to_string())
    }
}

fn hash(message: &'static str, field: &'static str, bytes: &[u8]) -> Result<Hash, ConvertError> {
    Hash::from_slice(bytes).ok_or(ConvertError::BadHash {
        message,
        field,
        got: bytes.len(),
    })
}

/// Checks that every column has `columns[0]`'s length and that it is within limits.
fn check_columns(
    message: &'static str,
    limit: usize,
    columns: &[(&'static str, usize)],
) -> Result<usize, ConvertError> {
    let expected = columns.first().map_or(0, |c| c.1);
    if expected > limit {
        return Err(ConvertError::TooLarge {
            message,
            got: expected,
            limit,
        });
    }
    for &(column, got) in columns {
        if got != expected {
            return Err(ConvertError::ColumnLength {
                message,
                column,
                expected,
                got,
            });
        }
    }
    Ok(expected)
}

/// The asset of row `i` of an optional asset column (empty: all native).
fn asset_at(column: &[u32], i: usize) -> u32 {
    column.get(i).copied().unwrap_or(NATIVE)
}

/// Checks an optional asset column: empty, or one entry per row.
fn check_assets(message: &'static str, column: &[u32], rows: usize) -> Result<(), ConvertError> {
    if column.is_empty() || column.len() == rows {
        return Ok(());
    }
    Err(ConvertError::ColumnLength {
        message,
        column: "asset",
        expected: rows,
        got: column.len(),
    })
}

/// Appends the transfers of `batch` to `out` (reusing `out`'s allocation).
pub fn transfers_from_wire(
    batch: &pb::TxBatch,
    out: &mut Vec<Transfer>,
) -> Result<(), ConvertError> {
    let n = check_columns(
        "TxBatch",
        MAX_BATCH_TXS,
        &[
            ("id", batch.id.len()),
            ("from", batch.from.len()),
            ("to", batch.to.len()),
            ("amount", batch.amount.len()),
            ("nonce", batch.nonce.len()),
        ],
    )?;
    check_assets("TxBatch", &batch.asset, n)?;
    out.reserve(n);
    out.extend((0..n).map(|i| Transfer {
        id: batch.id[i],
        from: batch.from[i],
        to: batch.to[i],
        amount: batch.amount[i],
        nonce: batch.nonce[i],
        asset: asset_at(&batch.asset, i),
    }));
    Ok(())
}

/// Appends the signatures of `batch` to `out`: one per row, or none at all (an
/// unsigned batch). Anything else is refused.
pub fn signatures_from_wire(
    batch: &pb::TxBatch,
    out: &mut Vec<[u8; SIGNATURE_LEN]>,
) -> Result<(), ConvertError> {
    let rows = batch.id.len();
    if batch.signatures.is_empty() {
        return Ok(());
    }
    if batch.signatures.len() != rows * SIGNATURE_LEN {
        return Err(ConvertError::ColumnLength {
            message: "TxBatch",
            column: "signatures (64 bytes each)",
            expected: rows,
            got: batch.signatures.len() / SIGNATURE_LEN,
        });
    }
    out.extend(batch.signatures.chunks_exact(SIGNATURE_LEN).map(|c| {
        let mut sig = [0u8; SIGNATURE_LEN];
        sig.copy_from_slice(c);
        sig
    }));
    Ok(())
}

/// Appends one transfer to a wire batch.
pub fn push_transfer(batch: &mut pb::TxBatch, t: &Transfer) {
    batch.id.push(t.id);
    batch.from.push(t.from);
    batch.to.push(t.to);
    batch.amount.push(t.amount);
    batch.nonce.push(t.nonce);
    // The asset column stays empty while every row is native (most workloads).
    if t.asset != NATIVE && batch.asset.is_empty() {
        batch.asset.resize(batch.id.len() - 1, NATIVE);
    }
    if !batch.asset.is_empty() {
        batch.asset.push(t.asset);
    }
}

impl From<&Header> for pb::Header {
    fn from(h: &Header) -> Self {
        pb::Header {
            shard: h.shard,
            height: h.height,
            prev_hash: h.prev_hash.0.to_vec(),
            state_root: h.state_root.0.to_vec(),
            receipts_root: h.receipts_root.0.to_vec(),
            tx_count: h.tx_count,
        }
    }
}

impl TryFrom<&pb::Header> for Header {
    type Error = ConvertError;
    fn try_from(h: &pb::Header) -> Result<Self, ConvertError> {
        Ok(Header {
            shard: h.shard,
            height: h.height,
            prev_hash: hash("Header", "prev_hash", &h.prev_hash)?,
            state_root: hash("Header", "state_root", &h.state_root)?,
            receipts_root: hash("Header", "receipts_root", &h.receipts_root)?,
            tx_count: h.tx_count,
        })
    }
}

impl From<&ReceiptBatch> for pb::ReceiptBatch {
    fn from(b: &ReceiptBatch) -> Self {
        pb::ReceiptBatch {
            src: b.src,
            dst: b.dst,
            first_seq: b.first_seq,
            tx_id: b.receipts.iter().map(|r| r.tx).collect(),
            to: b.receipts.iter().map(|r| r.to).collect(),
            amount: b.receipts.iter().map(|r| r.amount).collect(),
            asset: if b.receipts.iter().all(|r| r.asset == NATIVE) {
                Vec::new()
            } else {
                b.receipts.iter().map(|r| r.asset).collect()
            },
        }
    }
}

impl TryFrom<&pb::ReceiptBatch> for ReceiptBatch {
    type Error = ConvertError;
    fn try_from(b: &pb::ReceiptBatch) -> Result<Self, ConvertError> {
        let n = check_columns(
            "ReceiptBatch",
            MAX_BLOCK_TXS,
            &[
                ("tx_id", b.tx_id.len()),
                ("to", b.to.len()),
                ("amount", b.amount.len()),
            ],
        )?;
        check_assets("ReceiptBatch", &b.asset, n)?;
        Ok(ReceiptBatch {
            src: b.src,
            dst: b.dst,
            first_seq: b.first_seq,
            receipts: (0..n)
                .map(|i| Receipt {
                    tx: b.tx_id[i],
                    to: b.to[i],
                    amount: b.amount[i],
                    asset: asset_at(&b.asset, i),
                })
                .collect(),
        })
    }
}

/// A Merkle path from the wire.
pub fn path_from_wire(path: &[Vec<u8>]) -> Result<Vec<Hash>, ConvertError> {
    if path.len() > 64 {
        return Err(ConvertError::TooLarge {
            message: "ReceiptDelivery.proof",
            got: path.len(),
            limit: 64,
        });
    }
    path.iter()
        .map(|p| hash("ReceiptDelivery", "proof", p))
        .collect()
}

/// A Merkle path for the wire.
pub fn path_to_wire(path: &[Hash]) -> Vec<Vec<u8>> {
    path.iter().map(|h| h.0.to_vec()).collect()
}

/// The `cross-shard` crosslink data of a wire crosslink: (shard, height, receipts_root).
pub fn crosslink_from_wire(c: &pb::Crosslink) -> Result<(u32, u64, Hash), ConvertError> {
    hash("Crosslink", "header_hash", &c.header_hash)?;
    Ok((
        c.shard,
        c.height,
        hash("Crosslink", "receipts_root", &c.receipts_root)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn uneven_columns_are_refused_with_the_column_named() {
        let batch = pb::TxBatch {
            id: vec![1, 2],
            from: vec![1, 2],
            to: vec![1],
            amount: vec![1, 2],
            nonce: vec![0, 0],
            asset: Vec::new(),
            signatures: Vec::new(),
        };
        let err = transfers_from_wire(&batch, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("`to`"), "{err}");
    }

    #[test]
    fn transfers_round_trip() {
        let ts: Vec<Transfer> = (0..5)
            .map(|i| Transfer {
                id: i,
                from: i * 2,
                to: i * 3,
                amount: 7,
                nonce: i,
                asset: (i % 3) as u32,
            })
            .collect();
        let mut wire = pb::TxBatch::default();
        ts.iter().for_each(|t| push_transfer(&mut wire, t));
        let mut back = Vec::new();
        transfers_from_wire(&wire, &mut back).unwrap();
        assert_eq!(back, ts);
    }

    #[test]
    fn signatures_are_all_or_nothing() {
        let mut b = pb::TxBatch {
            id: vec![1, 2],
            ..Default::default()
        };
        let mut sigs = Vec::new();
        signatures_from_wire(&b, &mut sigs).unwrap();
        assert!(sigs.is_empty(), "unsigned");
        b.signatures = vec![7; 128];
        signatures_from_wire(&b, &mut sigs).unwrap();
        assert_eq!(sigs, vec![[7; 64], [7; 64]]);
        b.signatures = vec![7; 100];
        let e = signatures_from_wire(&b, &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("signatures"), "{e}");
    }

    #[test]
    fn short_hash_is_refused() {
        let h = pb::Header {
            prev_hash: vec![0; 31],
            state_root: vec![0; 32],
            receipts_root: vec![0; 32],
            ..Default::default()
        };
        let err = Header::try_from(&h).unwrap_err();
        assert_eq!(
            err,
            ConvertError::BadHash {
                message: "Header",
                field: "prev_hash",
                got: 31
            }
        );
    }

    #[test]
    fn oversized_tx_batch_is_refused() {
        let b = pb::TxBatch {
            id: vec![0; MAX_BATCH_TXS + 1],
            ..Default::default()
        };
        let err = transfers_from_wire(&b, &mut Vec::new()).unwrap_err();
        assert!(matches!(
            err,
            ConvertError::TooLarge {
                limit: MAX_BATCH_TXS,
                ..
            }
        ));
    }

    #[test]
    fn oversized_receipt_batch_is_refused() {
        let b = pb::ReceiptBatch {
            tx_id: vec![0; MAX_BLOCK_TXS + 1],
            ..Default::default()
        };
        assert!(matches!(
            ReceiptBatch::try_from(&b),
            Err(ConvertError::TooLarge { .. })
        ));
    }

    proptest! {
        /// Random bytes, decoded as any message and converted: errors, never a panic.
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            use prost::Message;
            if let Ok(b) = pb::TxBatch::decode(bytes.as_slice()) {
                let _ = transfers_from_wire(&b, &mut Vec::new());
                let _ = signatures_from_wire(&b, &mut Vec::new());
            }
            if let Ok(s) = pb::HeaderSubmission::decode(bytes.as_slice()) {
                if let Some(h) = &s.header {
                    let _ = Header::try_from(h);
                }
                for b in &s.batches {
                    let _ = ReceiptBatch::try_from(b);
                }
            }
            if let Ok(d) = pb::ReceiptDelivery::decode(bytes.as_slice()) {
                let _ = path_from_wire(&d.proof);
                if let Some(b) = &d.batch {
                    let _ = ReceiptBatch::try_from(b);
                }
            }
            if let Ok(c) = pb::Crosslink::decode(bytes.as_slice()) {
                let _ = crosslink_from_wire(&c);
            }
        }

        #[test]
        fn receipt_batches_round_trip(src in 0u32..8, dst in 0u32..8, first in 0u64..1000, rows in proptest::collection::vec((any::<u64>(), any::<u64>(), any::<u64>(), 0u32..3), 0..20)) {
            let b = ReceiptBatch { src, dst, first_seq: first, receipts: rows.iter().map(|&(tx, to, amount, asset)| Receipt { tx, to, amount, asset }).collect() };
            let wire = pb::ReceiptBatch::from(&b);
            prop_assert_eq!(ReceiptBatch::try_from(&wire).unwrap(), b);
        }
    }
}
