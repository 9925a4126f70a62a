//! Signature checks on admission, in parallel batches.
//!
//! Signatures are checked when a batch arrives, before its transactions enter the
//! mempool — the "sigverify" stage that Solana runs ahead of execution, and the check
//! every mempool does on admission. A transaction with a bad signature never reaches a
//! block's execution; the next block reports it rejected (`bad_signature`), and its
//! nonce is not consumed.
//!
//! ```text
//!  Submit batch ──► split into `threads` chunks ──► verify_all per chunk (one batch
//!                   (std::thread::scope)            verification each, on its own core)
//!              ──► valid → mempool · invalid → rejected in the next block
//! ```

use cross_shard::signing::{self, SIGNATURE_LEN, Verdict};
use cross_shard::{AccountId, Tx};
use ed25519_dalek::VerifyingKey;
use rustc_hash::FxHashMap;

use cross_shard::threads::in_chunks;

/// The public keys of a shard's accounts and the threads to check with.
#[derive(Debug)]
pub struct SigVerifier {
    /// Public key of every account this shard holds (derived once at start-up).
    keys: FxHashMap<AccountId, VerifyingKey>,
    /// Threads that verify one batch together.
    threads: usize,
}

impl SigVerifier {
    /// Derives the keys of `accounts` using `threads` threads.
    pub fn new(accounts: &[AccountId], threads: usize) -> SigVerifier {
        let keys = in_chunks(accounts, threads, |chunk, _| {
            chunk
                .iter()
                .map(|&a| (a, signing::account_key(a).verifying_key()))
                .collect()
        });
        SigVerifier {
            keys: keys.into_iter().collect(),
            threads,
        }
    }

    /// Checks `sigs[i]` against `txs[i]` (`sigs` empty: the batch is unsigned, and
    /// every known sender's transaction is invalid).
    pub fn verify(&self, txs: &[Tx], sigs: &[[u8; SIGNATURE_LEN]]) -> Vec<Verdict> {
        if sigs.is_empty() {
            return txs
                .iter()
                .map(|t| {
                    if self.keys.contains_key(&t.from) {
                        Verdict::Invalid
                    } else {
                        Verdict::UnknownSender
                    }
                })
                .collect();
        }
        in_chunks(txs, self.threads, |chunk, offset| {
            signing::verify_all(chunk, &sigs[offset..offset + chunk.len()], |a| {
                self.keys.get(&a).copied()
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_chunks_give_the_sequential_verdicts() {
        let accounts: Vec<u64> = (0..50).collect();
        let txs: Vec<Tx> = (0..101)
            .map(|i| Tx {
                id: i,
                from: i % 60, // 50..59 are not this shard's
                nonce: 0,
                call: cross_shard::Call::Vote {
                    proposal: 1,
                    yes: true,
                },
            })
            .collect();
        let mut sigs: Vec<_> = txs
            .iter()
            .map(|t| signing::sign(&signing::account_key(t.from), t))
            .collect();
        sigs[17][5] ^= 0xff;
        sigs[80][63] ^= 0x01;
        let one = SigVerifier::new(&accounts, 1).verify(&txs, &sigs);
        let four = SigVerifier::new(&accounts, 4).verify(&txs, &sigs);
        assert_eq!(one, four);
        for (i, v) in one.iter().enumerate() {
            let expected = if i % 60 >= 50 {
                Verdict::UnknownSender
            } else if i == 17 || i == 80 {
                Verdict::Invalid
            } else {
                Verdict::Valid
            };
            assert_eq!(*v, expected, "tx {i}");
        }
        let unsigned = SigVerifier::new(&accounts, 2).verify(&txs[..2], &[]);
        assert_eq!(unsigned, vec![Verdict::Invalid, Verdict::Invalid]);
    }
}
