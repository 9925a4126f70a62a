//! Identifiers. Accounts and transactions are dense `u64`s so that a shard can keep its
//! accounts in a `Vec` and the wire can carry them as packed fixed-width arrays.

use std::fmt;

/// A shard's index, `0..shards`.
pub type ShardId = u32;

/// An account's global id, `0..accounts`. Which shard holds it is decided by
/// [`crate::Placement`].
pub type AccountId = u64;

/// A transaction's id, assigned by whoever created it (the driver), unique in a run.
pub type TxId = u64;

/// What is moved: the native coin, or one of the cluster's fungible tokens.
pub type Asset = u32;

/// The native coin. Tokens are assets `1..=tokens`.
pub const NATIVE: Asset = 0;

/// A constant-product AMM pool, `0..pools`; pool `p` trades the native coin against
/// token `1 + p % tokens` ([`pool_token`]).
pub type PoolId = u32;

/// An NFT collection, `0..collections`.
pub type CollectionId = u32;

/// A DAO proposal, `0..proposals`.
pub type ProposalId = u32;

/// The token pool `pool` trades against the native coin, in a cluster of `tokens`
/// tokens (at least 1 when there are pools).
pub fn pool_token(pool: PoolId, tokens: u32) -> Asset {
    1 + pool % tokens.max(1)
}

/// An NFT's id: the account that minted it and the nonce of the minting transaction.
/// A nonce is used once, so no two mints can make the same id, and the id is known
/// before the mint executes (which lets a mint declare what it writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NftId {
    /// The minting account.
    pub minter: AccountId,
    /// The minting transaction's nonce.
    pub serial: u64,
}

/// A shared object that is not an account: it lives on the shard its key is placed on
/// ([`crate::Placement::shard_of_object`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Object {
    /// An AMM pool.
    Pool(PoolId),
    /// An NFT collection.
    Collection(CollectionId),
    /// A DAO proposal.
    Proposal(ProposalId),
}

/// A 32-byte blake3 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash, used as the `prev_hash` of a shard's first block.
    pub const ZERO: Hash = Hash([0; 32]);

    /// Reads a hash from a byte slice that must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Option<Hash> {
        <[u8; 32]>::try_from(bytes).ok().map(Hash)
    }

    /// The bytes of the hash.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl From<blake3::Hash> for Hash {
    fn from(h: blake3::Hash) -> Self {
        Hash(*h.as_bytes())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Hash {
    /// The first 8 bytes in hex: enough to tell hashes apart in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_slice_requires_32_bytes() {
        assert!(Hash::from_slice(&[0; 31]).is_none());
        assert!(Hash::from_slice(&[0; 33]).is_none());
        assert_eq!(Hash::from_slice(&[7; 32]), Some(Hash([7; 32])));
    }
}
