//! Votes, proposals and quorum certificates: what a validator signs, and how anyone
//! holding the committee's public keys checks it.
//!
//! ```text
//!   vote message     = "shardsim/vote/v1" ‖ kind ‖ shard ‖ height ‖ round ‖ flag ‖ block ‖ state root
//!   proposal message = "shardsim/proposal/v1" ‖ shard ‖ height ‖ round ‖ valid round ‖ block
//!   (little-endian; flag = 1 for a vote for a block, 0 for a vote for nothing — `nil`)
//! ```
//!
//! A vote names the block *and the state root its voter computed by executing it*, so a
//! quorum certifies both: the beacon, holding a certificate for a header, knows that
//! `2f + 1` validators ran the block and reached that state. A validator whose root
//! differs votes for another value, and its vote counts for no quorum.
//!
//! A **quorum certificate** (QC) is `quorum` precommits for one value, from distinct
//! validators. Checking it is one ed25519 batch verification (a multi-scalar
//! multiplication over all signatures), not `2f + 1` separate ones.

use cross_shard::{Hash, ShardId};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};

use crate::committee::{Committee, ValidatorId};
use crate::{Error, Result};

/// The length of an ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// What a vote is for: a block, and the state root after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value {
    /// The block's hash (of everything in it: see the caller's block type).
    pub block: Hash,
    /// The state root the voter computed by executing the block.
    pub state_root: Hash,
}

impl Value {
    /// What a shard header's certificate is for: the header's hash — which covers its
    /// receipts root and chain link too — and its state root.
    pub fn of_header(header: &cross_shard::Header) -> Value {
        Value {
            block: header.hash(),
            state_root: header.state_root,
        }
    }
}

/// Tendermint's two voting steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// "I saw this proposal and it is valid (and compatible with my lock)."
    Prevote,
    /// "I saw a quorum prevote for it, and locked on it."
    Precommit,
}

impl Kind {
    fn tag(self) -> u8 {
        match self {
            Kind::Prevote => 1,
            Kind::Precommit => 2,
        }
    }
}

/// A signed vote of one validator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    /// Prevote or precommit.
    pub kind: Kind,
    /// The height voted at.
    pub height: u64,
    /// The round (view) within the height.
    pub round: u32,
    /// The value voted for, or `None` for nil (no valid proposal in time).
    pub value: Option<Value>,
    /// Who voted.
    pub voter: ValidatorId,
    /// The voter's signature over [`Vote::message`].
    pub signature: [u8; SIGNATURE_LEN],
}

const VOTE_TAG: &[u8] = b"shardsim/vote/v1";
const VOTE_LEN: usize = VOTE_TAG.len() + 1 + 4 + 8 + 4 + 1 + 64;

impl Vote {
    /// `voter`'s vote, signed with `key`.
    pub fn sign(
        key: &SigningKey,
        shard: ShardId,
        (kind, height, round): (Kind, u64, u32),
        value: Option<Value>,
        voter: ValidatorId,
    ) -> Vote {
        let signature = key
            .sign(&Vote::message(shard, kind, height, round, value))
            .to_bytes();
        Vote {
            kind,
            height,
            round,
            value,
            voter,
            signature,
        }
    }

    /// The bytes a vote's signature covers.
    pub fn message(
        shard: ShardId,
        kind: Kind,
        height: u64,
        round: u32,
        value: Option<Value>,
    ) -> [u8; VOTE_LEN] {
        let mut m = [0u8; VOTE_LEN];
        let mut w = Writer(&mut m, 0);
        w.put(VOTE_TAG);
        w.put(&[kind.tag()]);
        w.put(&shard.to_le_bytes());
        w.put(&height.to_le_bytes());
        w.put(&round.to_le_bytes());
        match value {
            Some(v) => {
                w.put(&[1]);
                w.put(v.block.as_bytes());
                w.put(v.state_root.as_bytes());
            }
            None => w.put(&[0]),
        }
        m
    }

    /// Whether the signature is the voter's, over this vote, for this committee's shard.
    pub fn verify(&self, committee: &Committee) -> bool {
        let Some(key) = committee.key(self.voter) else {
            return false;
        };
        let m = Vote::message(
            committee.shard(),
            self.kind,
            self.height,
            self.round,
            self.value,
        );
        key.verify(&m, &Signature::from_bytes(&self.signature))
            .is_ok()
    }
}

/// Fills a fixed-size message field by field.
struct Writer<'a>(&'a mut [u8], usize);

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.0[self.1..self.1 + bytes.len()].copy_from_slice(bytes);
        self.1 += bytes.len();
    }
}

const PROPOSAL_TAG: &[u8] = b"shardsim/proposal/v1";
const PROPOSAL_LEN: usize = PROPOSAL_TAG.len() + 4 + 8 + 4 + 4 + 32;

/// The bytes a proposal's signature covers: the proposer commits to one block per round
/// (two signed proposals for one round are proof of equivocation).
pub fn proposal_message(
    shard: ShardId,
    height: u64,
    round: u32,
    valid_round: Option<u32>,
    block: Hash,
) -> [u8; PROPOSAL_LEN] {
    let mut m = [0u8; PROPOSAL_LEN];
    let mut w = Writer(&mut m, 0);
    w.put(PROPOSAL_TAG);
    w.put(&shard.to_le_bytes());
    w.put(&height.to_le_bytes());
    w.put(&round.to_le_bytes());
    w.put(&valid_round.map_or(u32::MAX, |r| r).to_le_bytes());
    w.put(block.as_bytes());
    m
}

/// `quorum` precommits for one value at one height and round: the proof that a block
/// is committed, checkable by anyone who knows the committee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumCert {
    /// The height decided.
    pub height: u64,
    /// The round whose precommits these are.
    pub round: u32,
    /// The block and state root decided.
    pub value: Value,
    /// Who signed, in increasing order, with their signatures.
    pub signatures: Vec<(ValidatorId, [u8; SIGNATURE_LEN])>,
}

impl QuorumCert {
    /// Checks that a quorum of distinct members of `committee` precommitted exactly
    /// this value, with one batch verification.
    pub fn verify(&self, committee: &Committee) -> Result<()> {
        let bad = |why: &str| Error::BadCertificate {
            shard: committee.shard(),
            height: self.height,
            why: why.to_string(),
        };
        if self.signatures.len() < committee.quorum() {
            return Err(bad(&format!(
                "{} signatures, a quorum is {}",
                self.signatures.len(),
                committee.quorum()
            )));
        }
        if self.signatures.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(bad("signers not distinct and in order"));
        }
        let mut keys = Vec::with_capacity(self.signatures.len());
        for &(v, _) in &self.signatures {
            keys.push(
                *committee
                    .key(v)
                    .ok_or_else(|| bad("a signer outside the committee"))?,
            );
        }
        let m = Vote::message(
            committee.shard(),
            Kind::Precommit,
            self.height,
            self.round,
            Some(self.value),
        );
        let messages: Vec<&[u8]> = vec![&m[..]; keys.len()];
        let signatures: Vec<Signature> = self
            .signatures
            .iter()
            .map(|(_, s)| Signature::from_bytes(s))
            .collect();
        ed25519_dalek::verify_batch(&messages, &signatures, &keys)
            .map_err(|_| bad("a signature does not verify"))
    }

    /// Checks that this is a quorum certificate of `committee` for exactly `header` —
    /// its hash and its state root, at its height: what makes a shard header
    /// acceptable to the beacon, and a source header to a validator checking the
    /// receipts of a proposal.
    pub fn certifies(&self, header: &cross_shard::Header, committee: &Committee) -> Result<()> {
        if committee.shard() != header.shard
            || self.height != header.height
            || self.value != Value::of_header(header)
        {
            return Err(Error::BadCertificate {
                shard: header.shard,
                height: header.height,
                why: "the certificate is for another header".into(),
            });
        }
        self.verify(committee)
    }

    /// The certificate of a committee of one (a shard with a single validator):
    /// validator 0's precommit for `value` at `height`, round 0.
    pub fn of_one(key: &SigningKey, shard: ShardId, height: u64, value: Value) -> QuorumCert {
        let vote = Vote::sign(key, shard, (Kind::Precommit, height, 0), Some(value), 0);
        QuorumCert {
            height,
            round: 0,
            value,
            signatures: vec![(0, vote.signature)],
        }
    }

    /// A committee of one's certificate of a shard header (see [`Value::of_header`]).
    pub fn of_header(key: &SigningKey, header: &cross_shard::Header) -> QuorumCert {
        QuorumCert::of_one(key, header.shard, header.height, Value::of_header(header))
    }

    /// The encoded size, for message accounting.
    pub fn wire_len(&self) -> usize {
        8 + 4 + 64 + self.signatures.len() * (2 + SIGNATURE_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::committee::validator_key;

    fn value(b: u8) -> Value {
        Value {
            block: Hash([b; 32]),
            state_root: Hash([b + 100; 32]),
        }
    }

    fn cert(committee: &Committee, signers: &[ValidatorId], v: Value) -> QuorumCert {
        QuorumCert {
            height: 5,
            round: 1,
            value: v,
            signatures: signers
                .iter()
                .map(|&i| {
                    let key = validator_key(&[9; 32], committee.shard(), i);
                    let vote =
                        Vote::sign(&key, committee.shard(), (Kind::Precommit, 5, 1), Some(v), i);
                    (i, vote.signature)
                })
                .collect(),
        }
    }

    #[test]
    fn a_vote_verifies_only_as_signed() {
        let c = Committee::derived(&[9; 32], 1, 4).unwrap();
        let key = validator_key(&[9; 32], 1, 2);
        let vote = Vote::sign(&key, 1, (Kind::Prevote, 3, 0), Some(value(1)), 2);
        assert!(vote.verify(&c));
        for changed in [
            Vote {
                voter: 1,
                ..vote.clone()
            },
            Vote {
                round: 1,
                ..vote.clone()
            },
            Vote {
                kind: Kind::Precommit,
                ..vote.clone()
            },
            Vote {
                value: None,
                ..vote.clone()
            },
            Vote {
                value: Some(Value {
                    state_root: Hash([0; 32]),
                    ..value(1)
                }),
                ..vote.clone()
            },
            Vote {
                voter: 9,
                ..vote.clone()
            },
        ] {
            assert!(!changed.verify(&c), "{changed:?}");
        }
        let other_shard = Committee::derived(&[9; 32], 2, 4).unwrap();
        assert!(!vote.verify(&other_shard), "a vote is for one shard");
    }

    #[test]
    fn a_certificate_needs_a_quorum_of_distinct_signers() {
        let c = Committee::derived(&[9; 32], 0, 4).unwrap();
        assert!(cert(&c, &[0, 1, 3], value(1)).verify(&c).is_ok());
        assert!(cert(&c, &[0, 1, 2, 3], value(1)).verify(&c).is_ok());
        assert!(
            cert(&c, &[0, 1], value(1)).verify(&c).is_err(),
            "2 < quorum 3"
        );
        assert!(
            cert(&c, &[0, 1, 1], value(1)).verify(&c).is_err(),
            "a signer twice"
        );
        assert!(
            cert(&c, &[1, 0, 2], value(1)).verify(&c).is_err(),
            "out of order"
        );
        let mut forged = cert(&c, &[0, 1, 2], value(1));
        forged.value = value(2);
        assert!(
            forged.verify(&c).is_err(),
            "signatures are for another value"
        );
        let mut other = cert(&c, &[0, 1, 2], value(1));
        other.signatures[2].1 = cert(&c, &[2], value(3)).signatures[0].1;
        assert!(
            other.verify(&c).is_err(),
            "one signature is for another value"
        );
        let wrong_secret = Committee::derived(&[8; 32], 0, 4).unwrap();
        assert!(
            cert(&c, &[0, 1, 2], value(1))
                .verify(&wrong_secret)
                .is_err()
        );
    }
}
