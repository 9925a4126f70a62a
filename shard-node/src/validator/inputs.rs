//! What a validator checks of a peer's proposal before it executes it: that every
//! input came from where the block says, so that a faulty proposer can neither mint
//! value nor spend from an account it holds no key to.
//!
//! A block's record holds its inputs — receipts from other shards, transactions and
//! the transactions refused for a bad signature. The proposer took them from its own
//! queues, which it checked on arrival (the beacon's Merkle path, the sender's
//! signature); the other validators received their own copies, but not necessarily
//! yet, and a validator restarted after a crash never will. So the record carries
//! the evidence with it, and each validator checks the evidence, not the proposer:
//!
//! ```text
//!  proposal record                         the validator checks
//!  ───────────────                         ───────────────────────────────────────────
//!  proven receipts: delivery (batch,   ──► source header certified by a quorum of the
//!    Merkle path, source header + QC),     source shard's committee (keys from genesis);
//!    skip, take                            batch leaf + path → the header's receipts
//!                                          root; batch addressed here; sequence numbers
//!                                          continue the channel (no gap, no replay)
//!  txs + their signatures              ──► each as this validator admitted it (same
//!                                          transaction, same signature), or its
//!                                          signature verifies now
//!  bad_txs (with their signatures)     ──► each signature really is bad, and they are
//!                                          exactly the block's `bad_signatures`
//!  epoch change (a placement switch)   ──► the very change this validator read from
//!                                          the beacon, announced at or below the
//!                                          block's beacon height
//! ```
//!
//! A proposal that fails gets no vote ([`super::app`]): to a Tendermint validator an
//! invalid block is as good as none, and the round moves on to the next proposer. The
//! checks are the beacon's and the admission's, repeated where the data is — the
//! receipts' certificates are the crosslinks' certificates ([`consensus::QuorumCert::certifies`]).
//! A block that is already decided is not checked again: its certificate says a
//! quorum checked it.

use cross_shard::signing::Verdict;
use cross_shard::{Header, Tx, merkle};
use shardsim_proto::convert::{
    block_txs_from_wire, cert_from_wire, path_from_wire, signatures_from_wire,
};
use shardsim_proto::pb;

use crate::block::store::proven_slice;
use crate::config::CommitteeConfig;
use crate::io::Shared;
use cross_shard::sync::lock;

/// Checks the inputs of a proposal's `record` for the block after this validator's
/// committed chain, whose inbound channels stand at `applied_seq` (per source, the
/// next sequence number to apply). Returns what is wrong.
pub(crate) fn check(
    shared: &Shared,
    applied_seq: &[u64],
    record: &pb::BlockRecord,
) -> Result<(), String> {
    let Some(committee) = &shared.config.committee else {
        return Ok(());
    };
    if !record.decisions.is_empty() {
        return Err("two-phase decisions in a committee's block".into());
    }
    receipts(shared, committee, applied_seq, record)?;
    epoch(shared, record)?;
    signatures(shared, record)
}

/// The block's epoch change, if it switches: the one this validator read from the
/// beacon, announced no later than the block's beacon height. (That it is the next
/// epoch is checked when the record is executed.)
fn epoch(shared: &Shared, record: &pb::BlockRecord) -> Result<(), String> {
    let Some(proposed) = &record.epoch else {
        return Ok(());
    };
    let inbound = lock(&shared.inbound);
    let Some((height, change)) = inbound.epochs.get(&proposed.epoch) else {
        return Err(format!(
            "switches to epoch {}, whose announcement this validator has not read",
            proposed.epoch
        ));
    };
    if *height > record.beacon_height {
        return Err(format!(
            "switches to epoch {} at beacon height {}, before its announcement at {height}",
            proposed.epoch, record.beacon_height
        ));
    }
    if pb::EpochChange::from(change) != *proposed {
        return Err(format!(
            "epoch {}'s changes differ from the beacon's",
            proposed.epoch
        ));
    }
    Ok(())
}

/// The block's receipts: proven, each run of them continuing its channel.
fn receipts(
    shared: &Shared,
    committee: &CommitteeConfig,
    applied_seq: &[u64],
    record: &pb::BlockRecord,
) -> Result<(), String> {
    let cfg = &shared.config;
    if !record.receipt_src.is_empty() {
        return Err("receipts without proofs".into());
    }
    let mut next = applied_seq.to_vec();
    for (i, p) in record.proven.iter().enumerate() {
        let at = |why: String| format!("proven receipts {i}: {why}");
        let (batch, range) = proven_slice(p).map_err(at)?;
        let delivery = p.delivery.as_ref().expect("proven_slice found the batch");
        let src = batch.src;
        if src >= cfg.shards || src == cfg.shard || batch.dst != cfg.shard {
            return Err(at(format!(
                "a batch from shard {src} to shard {}, not to this shard from another",
                batch.dst
            )));
        }
        let source = delivery
            .source
            .as_ref()
            .ok_or_else(|| at("no source header".into()))?;
        let header = source
            .header
            .as_ref()
            .ok_or_else(|| at("no source header".into()))
            .and_then(|h| Header::try_from(h).map_err(|e| at(e.to_string())))?;
        let cert = source
            .cert
            .as_ref()
            .ok_or_else(|| at("no certificate".into()))
            .and_then(|c| cert_from_wire(c).map_err(|e| at(e.to_string())))?;
        if header.shard != src || header.height != delivery.src_height {
            return Err(at(format!(
                "the source header is shard {} height {}, the delivery's shard {src} height {}",
                header.shard, header.height, delivery.src_height
            )));
        }
        cert.certifies(&header, &committee.committees[src as usize])
            .map_err(|e| at(e.to_string()))?;
        let path = path_from_wire(&delivery.proof).map_err(|e| at(e.to_string()))?;
        let leaves = cfg.shards as usize;
        if !merkle::verify(
            &header.receipts_root,
            &batch.leaf(),
            cfg.shard as usize,
            leaves,
            &path,
        ) {
            return Err(at(format!(
                "the batch is not the one shard {src}'s header {} committed to",
                header.height
            )));
        }
        let first = batch.first_seq + range.start as u64;
        let expected = &mut next[src as usize];
        if first != *expected {
            return Err(at(format!(
                "receipt {first} from shard {src}, but the channel is at {expected}"
            )));
        }
        *expected += range.len() as u64;
    }
    Ok(())
}

/// The block's transactions are signed, and its bad signatures bad.
fn signatures(shared: &Shared, record: &pb::BlockRecord) -> Result<(), String> {
    let empty = pb::TxBatch::default();
    let txs_wire = record.txs.as_ref().unwrap_or(&empty);
    let bad_wire = record.bad_txs.as_ref().unwrap_or(&empty);
    let Some(verifier) = &shared.verifier else {
        // Unsigned transactions: nothing to check, nothing may claim otherwise.
        if !txs_wire.signatures.is_empty() || !record.bad_signatures.is_empty() {
            return Err("signatures in a block of a cluster without them".into());
        }
        return Ok(());
    };
    let decode = |batch: &pb::TxBatch, what: &str| {
        let mut txs = Vec::new();
        block_txs_from_wire(batch, &mut txs).map_err(|e| format!("{what}: {e}"))?;
        let mut sigs = Vec::new();
        signatures_from_wire(batch, &mut sigs).map_err(|e| format!("{what}: {e}"))?;
        if sigs.len() != txs.len() {
            return Err(format!(
                "{what}: {} signatures for {} transactions",
                sigs.len(),
                txs.len()
            ));
        }
        Ok((txs, sigs))
    };
    let (txs, sigs) = decode(txs_wire, "transactions")?;
    // Those this validator admitted as they are here were checked on admission.
    let (mut unseen, mut unseen_sigs): (Vec<Tx>, Vec<_>) = (Vec::new(), Vec::new());
    {
        let signed = lock(&shared.signed);
        for (t, s) in txs.iter().zip(&sigs) {
            if signed.get(&t.id) != Some(&(*t, *s)) {
                unseen.push(*t);
                unseen_sigs.push(*s);
            }
        }
    }
    let verdicts = verifier.verify(&unseen, &unseen_sigs);
    if let Some((t, _)) = unseen
        .iter()
        .zip(&verdicts)
        .find(|(_, v)| **v == Verdict::Invalid)
    {
        return Err(format!("transaction {} is not signed by its sender", t.id));
    }
    let (bad, bad_sigs) = decode(bad_wire, "bad-signature transactions")?;
    if !bad
        .iter()
        .map(|t| t.id)
        .eq(record.bad_signatures.iter().copied())
    {
        return Err("the bad-signature transactions are not the block's bad signatures".into());
    }
    if let Some((t, _)) = bad
        .iter()
        .zip(verifier.verify(&bad, &bad_sigs))
        .find(|(_, v)| *v != Verdict::Invalid)
    {
        return Err(format!(
            "transaction {} is reported for a bad signature, but its signature is good",
            t.id
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use consensus::{Committee, Kind, QuorumCert, Value, Vote};
    use cross_shard::{Hash, Receipt, ReceiptBatch, receipt, signing};
    use shardsim_proto::convert::{cert_to_wire, path_to_wire, push_tx};

    use super::*;
    use crate::config::CommitteeConfig;

    /// The secret every test committee's keys derive from.
    pub(crate) const SECRET: [u8; 32] = [9; 32];

    /// Validator `me` of shard 0's committee of four in a cluster of two shards, with
    /// signatures or not.
    pub(crate) fn config(me: u16, signatures: bool) -> crate::ShardConfig {
        let committees: Vec<_> = (0..2)
            .map(|k| Committee::derived(&SECRET, k, 4).unwrap())
            .collect();
        let config = crate::ShardConfig {
            block_interval: Some(std::time::Duration::from_millis(1)),
            max_block_txs: 10,
            mempool_capacity: shardsim_proto::MAX_BATCH_TXS,
            signatures,
            validator_key: consensus::committee::validator_key(&SECRET, 0, me),
            committee: Some(CommitteeConfig {
                committee: committees[0].clone(),
                committees,
                me,
                peers: (0..me).map(|i| (i, String::new())).collect(),
                behaviour: consensus::Behaviour::Honest,
            }),
            ..crate::ShardConfig::for_tests(0)
        };
        config.validate().unwrap();
        config
    }

    fn shared(signatures: bool) -> Arc<Shared> {
        let config = config(1, signatures);
        let mut ledger = Shared::genesis(&config).unwrap();
        Arc::new(Shared::new(config, &mut ledger, None))
    }

    /// Shard 1's certificate of `header`, signed by `signers` of the committee of
    /// `keys_of` (shard 1's, unless a forger signs with another).
    fn cert(header: &Header, keys_of: u32, signers: &[u16]) -> QuorumCert {
        let value = Value::of_header(header);
        QuorumCert {
            height: header.height,
            round: 0,
            value,
            signatures: signers
                .iter()
                .map(|&i| {
                    let key = consensus::committee::validator_key(&SECRET, keys_of, i);
                    let vote = Vote::sign(
                        &key,
                        header.shard,
                        (Kind::Precommit, header.height, 0),
                        Some(value),
                        i,
                    );
                    (i, vote.signature)
                })
                .collect(),
        }
    }

    /// The delivery of `n` credits from shard 1 (sequence numbers `first..first + n`)
    /// to account `to` of shard 0, as the beacon sends it: batch, Merkle path, and
    /// shard 1's header 5 with its committee's certificate.
    pub(crate) fn delivery(first: u64, n: u64, to: u64) -> pb::ReceiptDelivery {
        let batch = ReceiptBatch {
            src: 1,
            dst: 0,
            first_seq: first,
            receipts: (0..n)
                .map(|i| Receipt::credit(1000 + first + i, to, 7, 0))
                .collect(),
        };
        let leaves = receipt::leaves(1, 2, std::slice::from_ref(&batch));
        let header = Header {
            shard: 1,
            height: 5,
            prev_hash: Hash([3; 32]),
            state_root: Hash([4; 32]),
            receipts_root: merkle::root(&leaves),
            tx_count: n as u32,
            inputs: Hash([5; 32]),
        };
        pb::ReceiptDelivery {
            src_height: 5,
            batch: Some(pb::ReceiptBatch::from(&batch)),
            proof: path_to_wire(&merkle::proof(&leaves, 0).unwrap()),
            source: Some(pb::CertifiedHeader {
                header: Some(pb::Header::from(&header)),
                cert: Some(cert_to_wire(&cert(&header, 1, &[0, 1, 3]))),
            }),
        }
    }

    fn proven(d: pb::ReceiptDelivery, skip: u32, take: u32) -> pb::BlockRecord {
        pb::BlockRecord {
            proven: vec![pb::ProvenReceipts {
                delivery: Some(d),
                skip,
                take,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn proven_receipts_pass_and_every_forgery_of_them_is_refused() {
        let shared = shared(false);
        let at = |next: u64| vec![0, next];
        let d = delivery(0, 4, 3);
        assert_eq!(check(&shared, &at(0), &proven(d.clone(), 0, 4)), Ok(()));
        assert_eq!(
            check(&shared, &at(2), &proven(d.clone(), 2, 2)),
            Ok(()),
            "the rest of a batch"
        );

        let refused = |record: pb::BlockRecord, channel: u64, what: &str| {
            let e = check(&shared, &at(channel), &record).expect_err(what);
            eprintln!("{what}: {e}");
        };
        // Value minted: an amount changed after the header committed to the batch.
        let mut minted = d.clone();
        minted.batch.as_mut().unwrap().amount[1] = 1_000_000;
        refused(proven(minted, 0, 4), 0, "a changed amount");
        // Certificates: too few signers, the wrong committee's keys, none at all.
        let header = Header::try_from(d.source.as_ref().unwrap().header.as_ref().unwrap()).unwrap();
        for (signers, keys_of) in [(&[0u16, 1][..], 1), (&[0, 1, 2][..], 0)] {
            let mut forged = d.clone();
            forged.source.as_mut().unwrap().cert =
                Some(cert_to_wire(&cert(&header, keys_of, signers)));
            refused(proven(forged, 0, 4), 0, "an uncertified source header");
        }
        let mut bare = d.clone();
        bare.source = None;
        refused(proven(bare, 0, 4), 0, "no source header");
        // A header certified, but the batch's path is to another leaf.
        let mut elsewhere = d.clone();
        elsewhere.batch.as_mut().unwrap().dst = 1;
        refused(proven(elsewhere, 0, 4), 0, "a batch for another shard");
        // Channel order: a gap, a replay, more than the batch.
        refused(proven(d.clone(), 1, 3), 0, "a receipt skipped");
        refused(proven(d.clone(), 0, 4), 2, "receipts applied before");
        refused(proven(d.clone(), 2, 3), 2, "past the batch");
        // Receipts in the record's plain columns: unproven.
        let plain = pb::BlockRecord {
            receipt_src: vec![1],
            ..Default::default()
        };
        refused(plain, 0, "receipts without proofs");
    }

    fn signed_batch(txs: &[Tx], sign: impl Fn(usize, &Tx) -> [u8; 64]) -> pb::TxBatch {
        let mut b = pb::TxBatch::default();
        for (i, t) in txs.iter().enumerate() {
            push_tx(&mut b, t);
            b.signatures.extend_from_slice(&sign(i, t));
        }
        b
    }

    #[test]
    fn transactions_must_be_signed_and_bad_signatures_bad() {
        let shared = shared(true);
        let mine = shared_accounts(&shared);
        let txs: Vec<Tx> = (0..4)
            .map(|i| Tx {
                id: i,
                from: mine[i as usize],
                nonce: 0,
                call: cross_shard::Call::Transfer {
                    to: mine[0],
                    asset: 0,
                    amount: 1,
                },
            })
            .collect();
        let good = |_: usize, t: &Tx| signing::sign(&signing::account_key(t.from), t);
        let record = |txs: pb::TxBatch, bad: pb::TxBatch| pb::BlockRecord {
            bad_signatures: bad.id.clone(),
            txs: Some(txs),
            bad_txs: Some(bad),
            ..Default::default()
        };
        let none = pb::TxBatch::default();
        let verdict = |r: pb::BlockRecord| check(&shared, &[0, 0], &r);
        // Not seen by this validator: verified now.
        assert_eq!(
            verdict(record(signed_batch(&txs, good), none.clone())),
            Ok(())
        );
        let flipped = |i: usize, t: &Tx| {
            let mut s = good(i, t);
            if i == 2 {
                s[7] ^= 1;
            }
            s
        };
        assert!(verdict(record(signed_batch(&txs, flipped), none.clone())).is_err());
        // Seen as admitted: its cached form must be exactly the proposal's.
        {
            let mut signed = lock(&shared.signed);
            for (i, t) in txs.iter().enumerate() {
                signed.insert(t.id, (*t, good(i, t)));
            }
        }
        assert_eq!(
            verdict(record(signed_batch(&txs, good), none.clone())),
            Ok(())
        );
        let mut changed = txs.clone();
        changed[1].nonce = 9; // the admitted signature, over another transaction
        assert!(
            verdict(record(
                signed_batch(&changed, |i, _| good(i, &txs[i])),
                none.clone()
            ))
            .is_err()
        );
        // Reported bad: the signature must be bad, the ids the block's.
        let bad = signed_batch(&txs[3..], |i, t| flipped(i + 2, t));
        assert_eq!(
            verdict(record(signed_batch(&txs[..3], good), bad.clone())),
            Ok(())
        );
        let not_bad = signed_batch(&txs[3..], good);
        assert!(verdict(record(signed_batch(&txs[..3], good), not_bad)).is_err());
        let mut other_ids = record(signed_batch(&txs[..3], good), bad);
        other_ids.bad_signatures = vec![2];
        assert!(verdict(other_ids).is_err());
        // Unsigned where signatures are required.
        let mut unsigned = pb::TxBatch::default();
        push_tx(&mut unsigned, &txs[0]);
        assert!(verdict(record(unsigned, none)).is_err());
    }

    /// Accounts of shard 0.
    fn shared_accounts(shared: &Shared) -> Vec<u64> {
        let ledger = Shared::genesis(&shared.config).unwrap();
        ledger.placement().accounts_of(0, 100)
    }

    proptest::proptest! {
        /// A proposal's record with any bytes of its evidence changed is checked
        /// without a panic — refused, or (the change was nowhere that matters) passed.
        #[test]
        fn a_corrupted_record_never_panics_the_check(
            edits in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 1..6)
        ) {
            use prost::Message as _;
            let shared = shared(false);
            let mut bytes = proven(delivery(0, 4, 3), 0, 4).encode_to_vec();
            for (at, b) in edits {
                let i = at % bytes.len();
                bytes[i] = b;
            }
            if let Ok(record) = pb::BlockRecord::decode(bytes.as_slice()) {
                let _ = check(&shared, &[0, 0], &record);
            }
        }
    }
}
