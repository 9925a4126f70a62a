//! Accounts and contracts of the cluster as EVM addresses.
//!
//! An account id becomes the address `0x5348…<id>`: the prefix ("SH") keeps every
//! account clear of the precompiles at `0x01…`, and the id sits in the low 64 bits, where
//! a contract can read it back (`uint64(uint160(addr))`, as the NFT collection does for
//! its token ids).
//!
//! Contracts sit at addresses named by what they are, each with a prefix of its own:
//!
//! ```text
//!  "TK" … shard ‖ token       ShardToken instance of token t on shard s (one per shard)
//!  "NF" … shard ‖ collection  Collection instance of c on shard s (one per shard)
//!  "PL" …         pool        Pool p, on its shard only
//!  "BL" …         proposal    Ballot of proposal p, on its shard only
//!  "SI" … shard               StandIn instance of shard s: the slots of its contracts
//!  0x…53484252                the bridge precompile (vm::bridge)
//! ```

use cross_shard::AccountId;
use cross_shard::ids::{Asset, CollectionId, PoolId, ProposalId};
use revm::primitives::Address;

/// `prefix`, then `a` and `b` big-endian in the last eight bytes.
fn named(prefix: &[u8; 2], a: u32, b: u32) -> Address {
    let mut bytes = [0u8; 20];
    bytes[..2].copy_from_slice(prefix);
    bytes[12..16].copy_from_slice(&a.to_be_bytes());
    bytes[16..].copy_from_slice(&b.to_be_bytes());
    Address::from(bytes)
}

/// The address of token `t`'s instance on `shard`.
pub fn token_address(shard: u32, t: Asset) -> Address {
    named(b"TK", shard, t)
}

/// The address of collection `c`'s instance on `shard`.
pub fn collection_address(shard: u32, c: CollectionId) -> Address {
    named(b"NF", shard, c)
}

/// The address of pool `p` (on its own shard).
pub fn pool_address(p: PoolId) -> Address {
    named(b"PL", 0, p)
}

/// The address of proposal `p`'s ballot (on its own shard).
pub fn ballot_address(p: ProposalId) -> Address {
    named(b"BL", 0, p)
}

/// The address of `shard`'s stand-in instance (`contracts/src/StandIn.sol`).
pub fn standin_address(shard: u32) -> Address {
    named(b"SI", shard, 0)
}

/// The two leading bytes of every account address.
const PREFIX: [u8; 2] = *b"SH";

/// The address of account `id`.
pub fn account(id: AccountId) -> Address {
    let mut bytes = [0u8; 20];
    bytes[..2].copy_from_slice(&PREFIX);
    bytes[12..].copy_from_slice(&id.to_be_bytes());
    Address::from(bytes)
}

/// The account id behind `address`, if it is an account's address.
pub fn account_id(address: Address) -> Option<AccountId> {
    let bytes = address.as_slice();
    (bytes[..2] == PREFIX && bytes[2..12].iter().all(|&b| b == 0))
        .then(|| u64::from_be_bytes(bytes[12..].try_into().unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_addresses_round_trip_and_avoid_the_precompiles() {
        for id in [0, 1, 9, 1_000_000, u64::MAX] {
            assert_eq!(account_id(account(id)), Some(id));
            assert!(account(id).as_slice()[..19].iter().any(|&b| b != 0));
        }
        assert_eq!(account_id(Address::with_last_byte(1)), None, "a precompile");
    }
}
