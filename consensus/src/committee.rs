//! A shard's committee: who its validators are, how many faults it tolerates, how large
//! a quorum is, and whose turn it is to propose.
//!
//! With `n` validators a committee tolerates `f = ⌊(n−1)/3⌋` Byzantine ones, and a
//! **quorum** is `n − f` of them (`2f + 1` when `n = 3f + 1`). Two quorums share at
//! least `n − 2f ≥ f + 1` validators, so at least one *honest* validator is in both: it
//! will not have voted for two different blocks, which is why two quorums can never
//! certify conflicting blocks. A smaller quorum loses that overlap (the mutation tests
//! in [`crate::sim`] show safety failing with `2f`).

use cross_shard::ShardId;
use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::{Error, Result};

/// A validator's index in its committee, `0..n`.
pub type ValidatorId = u16;

/// The most validators a committee may have (vote bitmaps and message sizes stay small).
pub const MAX_VALIDATORS: usize = 256;

/// The public half of a shard's committee, as every process learns it at genesis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committee {
    /// The shard this committee runs; signed into every vote, so that a vote for one
    /// shard is no vote for another.
    shard: ShardId,
    /// Each validator's public key, by index.
    keys: Vec<VerifyingKey>,
}

impl Committee {
    /// The committee of `shard` with these validators' keys.
    pub fn new(shard: ShardId, keys: Vec<VerifyingKey>) -> Result<Committee> {
        if keys.is_empty() || keys.len() > MAX_VALIDATORS {
            return Err(Error::CommitteeSize {
                shard,
                validators: keys.len(),
            });
        }
        Ok(Committee { shard, keys })
    }

    /// The committee whose keys [`validator_key`] derives from `secret`.
    pub fn derived(secret: &[u8; 32], shard: ShardId, validators: usize) -> Result<Committee> {
        let keys = (0..validators)
            .map(|i| validator_key(secret, shard, i as ValidatorId).verifying_key())
            .collect();
        Committee::new(shard, keys)
    }

    /// The shard it runs.
    pub fn shard(&self) -> ShardId {
        self.shard
    }

    /// Validators in it, `n`.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Never true: a committee has at least one validator.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Faults it tolerates, `f = ⌊(n−1)/3⌋`.
    pub fn faults(&self) -> usize {
        (self.keys.len() - 1) / 3
    }

    /// Votes that make a quorum, `n − f`.
    pub fn quorum(&self) -> usize {
        self.keys.len() - self.faults()
    }

    /// Votes that include at least one honest validator, `f + 1` (enough to follow
    /// others into a later round).
    pub fn honest_one(&self) -> usize {
        self.faults() + 1
    }

    /// Validator `v`'s public key.
    pub fn key(&self, v: ValidatorId) -> Option<&VerifyingKey> {
        self.keys.get(v as usize)
    }

    /// Shard `shard`'s committee from its public keys in hex, comma-separated (the
    /// form the driver passes on command lines).
    pub fn from_hex(shard: ShardId, keys: &str) -> Result<Committee> {
        let bad = |index, why| crate::Error::BadKey { shard, index, why };
        let keys = keys
            .split(',')
            .enumerate()
            .map(|(i, hex)| {
                let bytes: [u8; 32] = const_hex::decode_to_array(hex.trim())
                    .map_err(|_| bad(i, "not 32 bytes of hex"))?;
                VerifyingKey::from_bytes(&bytes).map_err(|_| bad(i, "not an ed25519 public key"))
            })
            .collect::<Result<Vec<_>>>()?;
        Committee::new(shard, keys)
    }

    /// The keys as [`Committee::from_hex`] reads them.
    pub fn to_hex(&self) -> String {
        self.keys
            .iter()
            .map(|k| const_hex::encode(k.as_bytes()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The validators' keys, by index.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// Who proposes at `height` in `round`: round-robin over both, so the leader
    /// rotates with every block and again with every round that failed.
    pub fn proposer(&self, height: u64, round: u32) -> ValidatorId {
        ((height + round as u64) % self.keys.len() as u64) as ValidatorId
    }
}

/// Validator `index` of `shard`'s signing key, derived from the cluster's `secret`.
///
/// Unlike account keys (derived from public ids, so that the driver can sign for any
/// account), validator keys come from a secret the driver draws for each run and hands
/// each validator only its own key: a Byzantine validator cannot sign in another's name.
pub fn validator_key(secret: &[u8; 32], shard: ShardId, index: ValidatorId) -> SigningKey {
    let mut h = blake3::Hasher::new_keyed(secret);
    h.update(b"shardsim/validator-key/v1");
    h.update(&shard.to_le_bytes());
    h.update(&index.to_le_bytes());
    SigningKey::from_bytes(h.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorums_overlap_in_an_honest_validator() {
        for n in 1..=40usize {
            let c = Committee::derived(&[7; 32], 0, n).unwrap();
            let (q, f) = (c.quorum(), c.faults());
            assert!(3 * f < n, "n = {n}");
            assert!(2 * q > n + f, "n = {n}: two quorums share ≤ f validators");
            assert!(q <= n - f, "n = {n}: f silent validators stop every quorum");
        }
        assert_eq!(Committee::derived(&[7; 32], 0, 4).unwrap().quorum(), 3);
        assert_eq!(Committee::derived(&[7; 32], 0, 10).unwrap().faults(), 3);
    }

    #[test]
    fn sizes_outside_the_limits_are_refused() {
        assert!(Committee::derived(&[0; 32], 3, 0).is_err());
        assert!(Committee::derived(&[0; 32], 3, MAX_VALIDATORS + 1).is_err());
    }

    #[test]
    fn proposers_rotate_and_keys_differ() {
        let c = Committee::derived(&[1; 32], 2, 4).unwrap();
        let leaders: Vec<_> = (0..4).map(|h| c.proposer(h, 0)).collect();
        assert_eq!(leaders, [0, 1, 2, 3]);
        assert_eq!(c.proposer(1, 1), 2);
        assert_ne!(c.key(0), c.key(1));
        let other = Committee::derived(&[2; 32], 2, 4).unwrap();
        assert_ne!(c.key(0), other.key(0), "another secret, other keys");
    }
}
