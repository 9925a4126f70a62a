//! Transaction signatures: ed25519 over a transfer's fields.
//!
//! On a real chain every transaction carries its sender's signature, and checking it is
//! the most expensive thing a node does per transfer: ~30 µs for one ed25519
//! verification against ~50 ns for the balance update (DESIGN §7). Batched verification
//! (one multi-scalar multiplication for many signatures) roughly halves that, and
//! signatures are independent, so they verify in parallel on every core.
//!
//! Keys here are *derived from the account id* (`blake3("shardsim/account-key/v1" ‖
//! id)`), so the driver can sign for any account and a shard can know any account's
//! public key without a key directory. That makes the keys public knowledge: the
//! simulation models the cost and the validity check of signatures, not secrecy.
//!
//! ```text
//!   message = "shardsim/tx/v2" ‖ id ‖ from ‖ nonce ‖ call row       (little-endian;
//!             the call row is kind ‖ to ‖ amount ‖ asset ‖ object ‖ limit, see `tx::Row`)
//!   signature = ed25519_sign(account_key(from), message)               (64 bytes)
//! ```

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::ids::AccountId;
use crate::tx::Tx;

/// Domain tag of the signed message.
const TAG: &[u8; 14] = b"shardsim/tx/v2";

/// Length of a signed message.
pub const MESSAGE_LEN: usize = TAG.len() + 24 + 40;

/// Length of a signature.
pub const SIGNATURE_LEN: usize = 64;

/// The signing key of `account` (see the module comment: derived, hence public).
pub fn account_key(account: AccountId) -> SigningKey {
    let mut h = blake3::Hasher::new();
    h.update(b"shardsim/account-key/v1");
    h.update(&account.to_le_bytes());
    SigningKey::from_bytes(h.finalize().as_bytes())
}

/// The bytes a transaction's signature covers: every field.
pub fn message(tx: &Tx) -> [u8; MESSAGE_LEN] {
    let mut m = [0u8; MESSAGE_LEN];
    m[..TAG.len()].copy_from_slice(TAG);
    for (i, v) in [tx.id, tx.from, tx.nonce].into_iter().enumerate() {
        let at = TAG.len() + 8 * i;
        m[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
    m[TAG.len() + 24..].copy_from_slice(&tx.call.to_row().bytes());
    m
}

/// Signs `tx` with `key` (which must be the sender's for the signature to verify).
pub fn sign(key: &SigningKey, tx: &Tx) -> [u8; SIGNATURE_LEN] {
    key.sign(&message(tx)).to_bytes()
}

/// What checking one transaction's signature found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Signed by the sender's key.
    Valid,
    /// Not signed by the sender's key (or not a signature at all).
    Invalid,
    /// The checker does not know the sender (not an account of this shard): left to
    /// the executor, which rejects it for that reason.
    UnknownSender,
}

/// Checks `sigs[i]` against `txs[i]`, looking keys up with `key_of`. Verifies the known
/// senders as one batch; only if the batch fails does it check them one by one to find
/// the bad ones (the common, honest case pays for one batch verification).
pub fn verify_all(
    txs: &[Tx],
    sigs: &[[u8; SIGNATURE_LEN]],
    key_of: impl Fn(AccountId) -> Option<VerifyingKey>,
) -> Vec<Verdict> {
    let mut verdicts = vec![Verdict::UnknownSender; txs.len()];
    let mut index = Vec::with_capacity(txs.len());
    let mut messages = Vec::with_capacity(txs.len());
    let mut signatures = Vec::with_capacity(txs.len());
    let mut keys = Vec::with_capacity(txs.len());
    for (i, (tx, sig)) in txs.iter().zip(sigs).enumerate() {
        if let Some(key) = key_of(tx.from) {
            index.push(i);
            messages.push(message(tx));
            signatures.push(Signature::from_bytes(sig));
            keys.push(key);
        }
    }
    let refs: Vec<&[u8]> = messages.iter().map(|m| m.as_slice()).collect();
    let batch_ok = ed25519_dalek::verify_batch(&refs, &signatures, &keys).is_ok();
    for (k, &i) in index.iter().enumerate() {
        let ok = batch_ok || keys[k].verify_strict(refs[k], &signatures[k]).is_ok();
        verdicts[i] = if ok { Verdict::Valid } else { Verdict::Invalid };
    }
    verdicts
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::tx::Call;

    fn tx(id: u64, from: u64) -> Tx {
        Tx {
            id,
            from,
            nonce: id,
            call: Call::Transfer {
                to: 9,
                asset: 0,
                amount: 5,
            },
        }
    }

    #[test]
    fn honest_batch_verifies_and_each_forgery_is_found() {
        let txs: Vec<Tx> = (0..20).map(|i| tx(i, i % 4)).collect();
        let mut sigs: Vec<_> = txs.iter().map(|t| sign(&account_key(t.from), t)).collect();
        let key = |a: AccountId| Some(account_key(a).verifying_key());
        assert!(
            verify_all(&txs, &sigs, key)
                .iter()
                .all(|v| *v == Verdict::Valid)
        );

        sigs[3][0] ^= 1; // corrupted signature
        sigs[7] = sign(&account_key(99), &txs[7]); // signed by someone else
        let mut tampered = txs.clone();
        tampered[11].call = Call::Transfer {
            to: 9,
            asset: 0,
            amount: 1_000,
        }; // changed after signing
        let verdicts = verify_all(&tampered, &sigs, key);
        let bad: Vec<usize> = (0..20).filter(|&i| verdicts[i] != Verdict::Valid).collect();
        assert_eq!(bad, vec![3, 7, 11]);
    }

    #[test]
    fn unknown_senders_are_left_to_the_executor() {
        let txs = vec![tx(1, 1), tx(2, 2)];
        let sigs: Vec<_> = txs.iter().map(|t| sign(&account_key(t.from), t)).collect();
        let verdicts = verify_all(&txs, &sigs, |a| {
            (a == 1).then(|| account_key(a).verifying_key())
        });
        assert_eq!(verdicts, vec![Verdict::Valid, Verdict::UnknownSender]);
    }

    #[test]
    fn every_field_is_signed() {
        let base = tx(1, 1);
        let m = message(&base);
        let call = |c| Tx { call: c, ..base };
        for changed in [
            Tx { id: 2, ..base },
            Tx { from: 2, ..base },
            Tx { nonce: 2, ..base },
            call(Call::Transfer {
                to: 2,
                asset: 0,
                amount: 5,
            }),
            call(Call::Transfer {
                to: 9,
                asset: 0,
                amount: 2,
            }),
            call(Call::Transfer {
                to: 9,
                asset: 2,
                amount: 5,
            }),
            call(Call::Vote {
                proposal: 9,
                yes: true,
            }),
        ] {
            assert_ne!(message(&changed), m);
        }
    }
}
