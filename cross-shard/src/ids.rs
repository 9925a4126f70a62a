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
