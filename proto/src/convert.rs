//! Checked conversions between wire messages and `cross-shard` types.
//!
//! Wire → domain conversions validate and name the offending field; domain → wire
//! conversions cannot fail.

use cross_shard::migration::EpochChange;
use cross_shard::signing::SIGNATURE_LEN;
use cross_shard::two_phase::{Decision, Verdict, Vote};
use cross_shard::tx::Row;
use cross_shard::{Call, Effect, Hash, Header, Receipt, ReceiptBatch, Tx};

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
    /// A row's columns do not make a valid call or receipt.
    #[error("{message}: row {row}: {reason}")]
    BadRow {
        /// The message kind.
        message: &'static str,
        /// The row's index.
        row: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two rows of one batch carry the same transaction id: ids name transactions
    /// in every event, so a second one could never be told apart from the first.
    #[error("{message}: transaction id {id} appears twice (rows {first} and {second})")]
    DuplicateId {
        /// The message kind.
        message: &'static str,
        /// The repeated id.
        id: u64,
        /// The row where it first appears.
        first: usize,
        /// The row where it appears again.
        second: usize,
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

/// Row `i` of an optional column (empty: 0 in every row).
fn optional<T: Copy + Default>(column: &[T], i: usize) -> T {
    column.get(i).copied().unwrap_or_default()
}

/// Checks the optional columns of a batch of `rows` rows: each empty, or one entry per
/// row.
fn check_optional(
    message: &'static str,
    rows: usize,
    columns: &[(&'static str, usize)],
) -> Result<(), ConvertError> {
    match columns.iter().find(|&&(_, len)| len != 0 && len != rows) {
        None => Ok(()),
        Some(&(column, got)) => Err(ConvertError::ColumnLength {
            message,
            column,
            expected: rows,
            got,
        }),
    }
}

/// Pushes row `rows_before`'s `value` onto an optional column, which stays empty while
/// every row is 0 (the wire's convention; the driver keeps its program column the same
/// way).
pub fn push_optional<T: Copy + Default + PartialEq>(
    column: &mut Vec<T>,
    rows_before: usize,
    value: T,
) {
    // A column in use always has one entry per earlier row.
    if value != T::default() || !column.is_empty() {
        column.resize(rows_before, T::default());
        column.push(value);
    }
}

/// The row columns a `TxBatch` and a `ReceiptBatch` share.
struct RowColumns<'a> {
    to: &'a [u64],
    amount: &'a [u64],
    asset: &'a [u32],
    kind: &'a [u32],
    object: &'a [u64],
    limit: &'a [u64],
}

impl RowColumns<'_> {
    /// Checks the optional columns against the batch's `rows`.
    fn check(&self, message: &'static str, rows: usize) -> Result<(), ConvertError> {
        check_optional(
            message,
            rows,
            &[
                ("asset", self.asset.len()),
                ("kind", self.kind.len()),
                ("object", self.object.len()),
                ("limit", self.limit.len()),
            ],
        )
    }

    /// Row `i` (the required columns are at least `i + 1` long).
    fn row(&self, i: usize) -> Row {
        Row {
            kind: optional(self.kind, i),
            to: self.to[i],
            amount: self.amount[i],
            asset: optional(self.asset, i),
            object: optional(self.object, i),
            limit: optional(self.limit, i),
        }
    }
}

/// Appends the transactions of `batch` to `out` (reusing `out`'s allocation). A row
/// that is not a valid call refuses the whole batch, naming the row.
pub fn txs_from_wire(batch: &pb::TxBatch, out: &mut Vec<Tx>) -> Result<(), ConvertError> {
    let start = out.len();
    txs_up_to(batch, out, MAX_BATCH_TXS)?;
    unique_ids(&batch.id).inspect_err(|_| out.truncate(start))
}

/// Refuses a batch that names one transaction id twice. The driver numbers its
/// transactions in increasing order, so the common case is one comparison per row; only
/// a batch out of order pays for a set.
fn unique_ids(ids: &[u64]) -> Result<(), ConvertError> {
    if ids.windows(2).all(|w| w[0] < w[1]) {
        return Ok(());
    }
    let mut seen = std::collections::HashMap::with_capacity(ids.len());
    for (row, &id) in ids.iter().enumerate() {
        if let Some(first) = seen.insert(id, row) {
            return Err(ConvertError::DuplicateId {
                message: "TxBatch",
                id,
                first,
                second: row,
            });
        }
    }
    Ok(())
}

/// [`txs_from_wire`] for a whole block's transactions (a stored block record), up to
/// [`MAX_BLOCK_TXS`] rows.
pub fn block_txs_from_wire(batch: &pb::TxBatch, out: &mut Vec<Tx>) -> Result<(), ConvertError> {
    txs_up_to(batch, out, MAX_BLOCK_TXS)
}

fn txs_up_to(batch: &pb::TxBatch, out: &mut Vec<Tx>, limit: usize) -> Result<(), ConvertError> {
    let n = check_columns(
        "TxBatch",
        limit,
        &[
            ("id", batch.id.len()),
            ("from", batch.from.len()),
            ("to", batch.to.len()),
            ("amount", batch.amount.len()),
            ("nonce", batch.nonce.len()),
        ],
    )?;
    let columns = RowColumns {
        to: &batch.to,
        amount: &batch.amount,
        asset: &batch.asset,
        kind: &batch.kind,
        object: &batch.object,
        limit: &batch.limit,
    };
    columns.check("TxBatch", n)?;
    let start = out.len();
    out.reserve(n);
    for i in 0..n {
        match Call::from_row(&columns.row(i)) {
            Ok(call) => out.push(Tx {
                id: batch.id[i],
                from: batch.from[i],
                nonce: batch.nonce[i],
                call,
            }),
            Err(reason) => {
                out.truncate(start);
                return Err(ConvertError::BadRow {
                    message: "TxBatch",
                    row: i,
                    reason,
                });
            }
        }
    }
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
        // Unsigned: every transaction is reported rejected for its missing signature.
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

/// Appends one transaction to a wire batch.
pub fn push_tx(batch: &mut pb::TxBatch, t: &Tx) {
    let row = t.call.to_row();
    let before = batch.id.len();
    batch.id.push(t.id);
    batch.from.push(t.from);
    batch.to.push(row.to);
    batch.amount.push(row.amount);
    batch.nonce.push(t.nonce);
    push_optional(&mut batch.asset, before, row.asset);
    push_optional(&mut batch.kind, before, row.kind);
    push_optional(&mut batch.object, before, row.object);
    push_optional(&mut batch.limit, before, row.limit);
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
            inputs: h.inputs.0.to_vec(),
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
            inputs: hash("Header", "inputs", &h.inputs)?,
        })
    }
}

impl From<&ReceiptBatch> for pb::ReceiptBatch {
    fn from(b: &ReceiptBatch) -> Self {
        pb::ReceiptBatch {
            src: b.src,
            dst: b.dst,
            first_seq: b.first_seq,
            ..receipts_to_wire(&b.receipts)
        }
    }
}

/// The receipt columns of a wire batch (`src`, `dst` and `first_seq` left 0).
pub fn receipts_to_wire<'a>(receipts: impl IntoIterator<Item = &'a Receipt>) -> pb::ReceiptBatch {
    let mut wire = pb::ReceiptBatch::default();
    for (i, r) in receipts.into_iter().enumerate() {
        let row = r.effect.to_row();
        wire.tx_id.push(r.tx);
        wire.to.push(row.to);
        wire.amount.push(row.amount);
        push_optional(&mut wire.asset, i, row.asset);
        push_optional(&mut wire.kind, i, row.kind);
        push_optional(&mut wire.object, i, row.object);
        push_optional(&mut wire.limit, i, row.limit);
    }
    wire
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
        let columns = RowColumns {
            to: &b.to,
            amount: &b.amount,
            asset: &b.asset,
            kind: &b.kind,
            object: &b.object,
            limit: &b.limit,
        };
        columns.check("ReceiptBatch", n)?;
        let receipts = (0..n)
            .map(|i| {
                Effect::from_row(&columns.row(i))
                    .map(|effect| Receipt {
                        tx: b.tx_id[i],
                        effect,
                    })
                    .map_err(|reason| ConvertError::BadRow {
                        message: "ReceiptBatch",
                        row: i,
                        reason,
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(ReceiptBatch {
            src: b.src,
            dst: b.dst,
            first_seq: b.first_seq,
            receipts,
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

/// An epoch change from the wire: equal columns, at most [`MAX_EPOCH_MOVES`] moves.
/// (Whether the moves make sense for a cluster is [`EpochChange::check`]'s to say.)
pub fn epoch_from_wire(e: &pb::EpochChange) -> Result<EpochChange, ConvertError> {
    if e.accounts.len() != e.shards.len() {
        return Err(ConvertError::ColumnLength {
            message: "EpochChange",
            column: "shards",
            expected: e.accounts.len(),
            got: e.shards.len(),
        });
    }
    if e.accounts.len() > MAX_EPOCH_MOVES {
        return Err(ConvertError::TooLarge {
            message: "EpochChange",
            got: e.accounts.len(),
            limit: MAX_EPOCH_MOVES,
        });
    }
    Ok(EpochChange {
        epoch: e.epoch,
        moves: e
            .accounts
            .iter()
            .copied()
            .zip(e.shards.iter().copied())
            .collect(),
    })
}

impl From<&EpochChange> for pb::EpochChange {
    fn from(e: &EpochChange) -> Self {
        pb::EpochChange {
            epoch: e.epoch,
            accounts: e.moves.iter().map(|m| m.0).collect(),
            shards: e.moves.iter().map(|m| m.1).collect(),
        }
    }
}

/// The most accounts one epoch may move (a bound on a hostile announcement; CLPA
/// moves far fewer).
pub const MAX_EPOCH_MOVES: usize = 1 << 22;

/// The yes/no part shared by votes and decisions: `Ok(output)` (yes, commit) or
/// `Err(reason)` (no, abort). A yes carries no reason code and a no no output.
fn outcome_from_wire(
    message: &'static str,
    yes: bool,
    code: u32,
    output: u64,
) -> Result<Result<u64, cross_shard::RejectReason>, ConvertError> {
    let bad = |reason| ConvertError::BadRow {
        message,
        row: 0,
        reason,
    };
    match (yes, code) {
        (true, 0) => Ok(Ok(output)),
        (false, code) if output == 0 => cross_shard::RejectReason::from_code(code)
            .map(Err)
            .ok_or(bad("reason is not a known code")),
        _ => Err(bad("a yes has no reason code and a no has no output")),
    }
}

/// The wire fields (yes, reason code, output) of an outcome.
fn outcome_to_wire(outcome: Result<u64, cross_shard::RejectReason>) -> (bool, u32, u64) {
    match outcome {
        Ok(output) => (true, 0, output),
        Err(why) => (false, why.code(), 0),
    }
}

/// A participant's vote from the wire: the transaction and the vote.
pub fn vote_from_wire(v: &pb::Vote) -> Result<(cross_shard::TxId, Vote), ConvertError> {
    let vote = match outcome_from_wire("Vote", v.yes, v.reason, v.output)? {
        Ok(output) => Vote::Yes { output },
        Err(why) => Vote::No(why),
    };
    Ok((v.tx, vote))
}

/// The wire form of a vote.
pub fn vote_to_wire(tx: cross_shard::TxId, vote: Vote) -> pb::Vote {
    let (yes, reason, output) = outcome_to_wire(match vote {
        Vote::Yes { output } => Ok(output),
        Vote::No(why) => Err(why),
    });
    pb::Vote {
        tx,
        yes,
        reason,
        output,
    }
}

/// A decision from the wire.
pub fn decision_from_wire(d: &pb::Decision) -> Result<Decision, ConvertError> {
    let verdict = match outcome_from_wire("Decision", d.commit, d.reason, d.output)? {
        Ok(output) => Verdict::Commit { output },
        Err(why) => Verdict::Abort(why),
    };
    Ok(Decision {
        tx: d.tx,
        home: d.home,
        participant: d.participant,
        verdict,
    })
}

impl From<&Decision> for pb::Decision {
    fn from(d: &Decision) -> Self {
        let (commit, reason, output) = outcome_to_wire(match d.verdict {
            Verdict::Commit { output } => Ok(output),
            Verdict::Abort(why) => Err(why),
        });
        pb::Decision {
            tx: d.tx,
            home: d.home,
            participant: d.participant,
            commit,
            reason,
            output,
        }
    }
}

/// A quorum certificate from the wire: hashes of 32 bytes, signatures of 64, signers
/// that fit a validator index, one signature per signer. (Whether it *verifies* is the
/// receiver's check, against the committee it knows.)
pub fn cert_from_wire(c: &pb::QuorumCert) -> Result<consensus::QuorumCert, ConvertError> {
    const M: &str = "QuorumCert";
    if c.signers.len() != c.signatures.len() {
        return Err(ConvertError::ColumnLength {
            message: M,
            column: "signatures",
            expected: c.signers.len(),
            got: c.signatures.len(),
        });
    }
    if c.signers.len() > consensus::committee::MAX_VALIDATORS {
        return Err(ConvertError::TooLarge {
            message: M,
            got: c.signers.len(),
            limit: consensus::committee::MAX_VALIDATORS,
        });
    }
    let mut signatures = Vec::with_capacity(c.signers.len());
    for (row, (&signer, sig)) in c.signers.iter().zip(&c.signatures).enumerate() {
        let signer =
            consensus::ValidatorId::try_from(signer).map_err(|_| ConvertError::BadRow {
                message: M,
                row,
                reason: "signer is not a validator index",
            })?;
        let sig: [u8; 64] = sig
            .as_slice()
            .try_into()
            .map_err(|_| ConvertError::BadRow {
                message: M,
                row,
                reason: "a signature must be 64 bytes",
            })?;
        signatures.push((signer, sig));
    }
    Ok(consensus::QuorumCert {
        height: c.height,
        round: c.round,
        value: consensus::Value {
            block: hash(M, "block", &c.block)?,
            state_root: hash(M, "state_root", &c.state_root)?,
        },
        signatures,
    })
}

/// The wire form of a quorum certificate.
pub fn cert_to_wire(c: &consensus::QuorumCert) -> pb::QuorumCert {
    pb::QuorumCert {
        height: c.height,
        round: c.round,
        block: c.value.block.0.to_vec(),
        state_root: c.value.state_root.0.to_vec(),
        signers: c.signatures.iter().map(|s| s.0 as u32).collect(),
        signatures: c.signatures.iter().map(|s| s.1.to_vec()).collect(),
    }
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
            ..Default::default()
        };
        let err = txs_from_wire(&batch, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("`to`"), "{err}");
    }

    fn transfer(i: u64, asset: u32) -> Tx {
        Tx {
            id: i,
            from: i * 2,
            nonce: i,
            call: Call::Transfer {
                to: i * 3,
                asset,
                amount: 7,
            },
        }
    }

    #[test]
    fn native_transfers_need_only_the_five_columns() {
        let mut wire = pb::TxBatch::default();
        (0..3).for_each(|i| push_tx(&mut wire, &transfer(i, 0)));
        assert!(wire.asset.is_empty() && wire.kind.is_empty() && wire.object.is_empty());
    }

    #[test]
    fn every_call_round_trips() {
        let ts: Vec<Tx> = (0..5)
            .map(|i| transfer(i, (i % 3) as u32))
            .chain([
                Tx {
                    call: Call::Swap {
                        pool: 2,
                        asset_in: 1,
                        amount_in: 10,
                        min_out: 9,
                    },
                    ..transfer(5, 0)
                },
                Tx {
                    call: Call::Mint { collection: 1 },
                    ..transfer(6, 0)
                },
                Tx {
                    call: Call::SendNft {
                        nft: cross_shard::NftId {
                            minter: 4,
                            serial: 2,
                        },
                        to: 8,
                    },
                    ..transfer(7, 0)
                },
                Tx {
                    call: Call::Vote {
                        proposal: 3,
                        yes: true,
                    },
                    ..transfer(8, 0)
                },
            ])
            .collect();
        let mut wire = pb::TxBatch::default();
        ts.iter().for_each(|t| push_tx(&mut wire, t));
        let mut back = Vec::new();
        txs_from_wire(&wire, &mut back).unwrap();
        assert_eq!(back, ts);
    }

    #[test]
    fn a_bad_row_refuses_the_batch_and_names_the_row() {
        let mut wire = pb::TxBatch::default();
        (0..3).for_each(|i| push_tx(&mut wire, &transfer(i, 0)));
        wire.kind = vec![0, 0, 77];
        let mut out = vec![transfer(9, 0)];
        let err = txs_from_wire(&wire, &mut out).unwrap_err();
        assert!(err.to_string().contains("row 2"), "{err}");
        assert_eq!(out.len(), 1, "nothing of the bad batch is kept");
        wire.kind = vec![0, 0];
        let err = txs_from_wire(&wire, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("`kind`"), "{err}");
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
    fn a_batch_naming_one_id_twice_is_refused_whole() {
        let mut wire = pb::TxBatch::default();
        for (id, from) in [(5, 1), (3, 2), (5, 3)] {
            push_tx(&mut wire, &transfer(id, from));
        }
        let mut out = vec![transfer(9, 0)];
        let err = txs_from_wire(&wire, &mut out).unwrap_err();
        assert!(
            err.to_string()
                .contains("id 5 appears twice (rows 0 and 2)"),
            "{err}"
        );
        assert_eq!(out.len(), 1, "nothing of the bad batch is kept");
        // Out of order but distinct is fine.
        wire.id[2] = 4;
        txs_from_wire(&wire, &mut out).unwrap();
        assert_eq!(out.len(), 4);
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
        let err = txs_from_wire(&b, &mut Vec::new()).unwrap_err();
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
                let _ = txs_from_wire(&b, &mut Vec::new());
                let _ = signatures_from_wire(&b, &mut Vec::new());
            }
            if let Ok(s) = pb::HeaderSubmission::decode(bytes.as_slice()) {
                if let Some(h) = &s.header {
                    let _ = Header::try_from(h);
                }
                for b in &s.batches {
                    let _ = ReceiptBatch::try_from(b);
                }
                for v in &s.votes {
                    let _ = vote_from_wire(v);
                }
            }
            if let Ok(b) = pb::BeaconBlock::decode(bytes.as_slice()) {
                for d in &b.decisions {
                    let _ = decision_from_wire(d);
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

        /// Votes and decisions survive the wire; malformed ones are refused.
        #[test]
        fn votes_and_decisions_round_trip(tx in any::<u64>(), yes in any::<bool>(), output in any::<u64>(), code in 0u32..12, home in 0u32..8, participant in 0u32..8) {
            let why = cross_shard::RejectReason::from_code(code);
            let vote = match (yes, why) {
                (true, _) => Vote::Yes { output },
                (false, Some(why)) => Vote::No(why),
                (false, None) => {
                    let wire = pb::Vote { tx, yes, reason: code, output: 0 };
                    prop_assert!(vote_from_wire(&wire).is_err());
                    return Ok(());
                }
            };
            prop_assert_eq!(vote_from_wire(&vote_to_wire(tx, vote)).unwrap(), (tx, vote));
            let verdict = match vote {
                Vote::Yes { output } => Verdict::Commit { output },
                Vote::No(why) => Verdict::Abort(why),
            };
            let d = Decision { tx, home, participant, verdict };
            prop_assert_eq!(decision_from_wire(&pb::Decision::from(&d)).unwrap(), d);
            let mut bad = pb::Decision::from(&d);
            bad.reason = 99;
            bad.commit = false;
            bad.output = 0;
            prop_assert!(decision_from_wire(&bad).is_err());
        }

        #[test]
        fn receipt_batches_round_trip(src in 0u32..8, dst in 0u32..8, first in 0u64..1000, rows in proptest::collection::vec((any::<u64>(), any::<u64>(), any::<u64>(), 0u32..3, 0u32..6, 0u32..9), 0..20)) {
            let effect = |to, amount, asset, kind, code| match kind {
                0 => Effect::Credit { to, asset, amount },
                1 => Effect::Refund { to, asset, amount, reason: cross_shard::RejectReason::ALL[code as usize] },
                2 => Effect::Swap { trader: to, pool: asset, asset_in: asset, amount_in: amount, min_out: to / 2 },
                3 => Effect::Mint { minter: to, collection: asset, serial: amount },
                4 => Effect::Nft { to, nft: cross_shard::NftId { minter: amount, serial: to }, collection: asset },
                _ => Effect::Vote { voter: to, proposal: asset, yes: amount % 2 == 0 },
            };
            let b = ReceiptBatch { src, dst, first_seq: first, receipts: rows.iter().map(|&(tx, to, amount, asset, kind, code)| Receipt { tx, effect: effect(to, amount, asset, kind, code) }).collect() };
            let wire = pb::ReceiptBatch::from(&b);
            prop_assert_eq!(ReceiptBatch::try_from(&wire).unwrap(), b);
        }
    }

    #[test]
    fn certificates_cross_the_wire_and_bad_ones_are_named() {
        let value = consensus::Value {
            block: Hash([1; 32]),
            state_root: Hash([2; 32]),
        };
        let key = consensus::committee::validator_key(&[0; 32], 0, 0);
        let cert = consensus::QuorumCert::of_one(&key, 0, 7, value);
        let wire = cert_to_wire(&cert);
        assert_eq!(cert_from_wire(&wire).unwrap(), cert);
        let short = pb::QuorumCert {
            signatures: vec![vec![0; 63]],
            ..wire.clone()
        };
        assert!(
            cert_from_wire(&short)
                .unwrap_err()
                .to_string()
                .contains("64 bytes")
        );
        let uneven = pb::QuorumCert {
            signers: vec![0, 1],
            ..wire.clone()
        };
        assert!(cert_from_wire(&uneven).is_err());
        let big = pb::QuorumCert {
            signers: vec![70_000],
            ..wire.clone()
        };
        assert!(
            cert_from_wire(&big)
                .unwrap_err()
                .to_string()
                .contains("validator index")
        );
        let hashless = pb::QuorumCert {
            block: vec![1; 31],
            ..wire
        };
        assert!(
            cert_from_wire(&hashless)
                .unwrap_err()
                .to_string()
                .contains("block")
        );
    }
}
