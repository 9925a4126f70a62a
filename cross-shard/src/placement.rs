//! Placement: which shard holds an account.
//!
//! `hash` placement (the only one so far) maps an account to
//! `mix(account) mod shards`, where `mix` is the SplitMix64 finalizer, a bijective
//! integer hash. Consecutive account ids therefore scatter over the shards, so that a
//! workload that favours low ids (a Zipf skew) does not pile onto one shard by accident.
//! Every process computes the same placement from `shards` alone: there is no directory
//! to consult. Real chains do the same with address prefixes (NEAR's account ranges,
//! MultiversX's last bits of the address); graph-based placement that moves hot accounts
//! (CLPA) is a later step.

use crate::ids::{AccountId, Object, ShardId};

/// The account → shard map of a cluster of `shards` shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Number of shards, at least 1.
    shards: u32,
}

impl Placement {
    /// Placement over `shards` shards; `None` when `shards` is 0.
    pub fn new(shards: u32) -> Option<Placement> {
        (shards > 0).then_some(Placement { shards })
    }

    /// Number of shards.
    pub fn shards(&self) -> u32 {
        self.shards
    }

    /// The shard that holds `account`.
    #[inline]
    pub fn shard_of(&self, account: AccountId) -> ShardId {
        (mix(account) % u64::from(self.shards)) as ShardId
    }

    /// The shard that holds a shared object (pool, collection, proposal). Objects are
    /// placed by the same hash over a key space of their own, so object 0 of each kind
    /// lands wherever its hash says, not on account 0's shard.
    #[inline]
    pub fn shard_of_object(&self, object: Object) -> ShardId {
        let (kind, id) = match object {
            Object::Pool(p) => (1u64, p),
            Object::Collection(c) => (2, c),
            Object::Proposal(p) => (3, p),
        };
        (mix(OBJECTS ^ (kind << 32) ^ u64::from(id)) % u64::from(self.shards)) as ShardId
    }

    /// The accounts of `0..accounts` held by `shard`, in increasing order.
    pub fn accounts_of(&self, shard: ShardId, accounts: u64) -> Vec<AccountId> {
        (0..accounts)
            .filter(|&a| self.shard_of(a) == shard)
            .collect()
    }

    /// All accounts of `0..accounts`, grouped by shard (index = shard id).
    pub fn partition(&self, accounts: u64) -> Vec<Vec<AccountId>> {
        let mut parts = vec![Vec::new(); self.shards as usize];
        for a in 0..accounts {
            parts[self.shard_of(a) as usize].push(a);
        }
        parts
    }
}

/// Salt of the object key space (any constant far from the account ids does).
const OBJECTS: u64 = 0x6f62_6a65_6374_7300;

/// SplitMix64's output function: a fast bijection on `u64` with good avalanche.
#[inline]
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_shards_is_refused() {
        assert!(Placement::new(0).is_none());
    }

    #[test]
    fn one_shard_holds_everything() {
        let p = Placement::new(1).unwrap();
        assert!((0..1000).all(|a| p.shard_of(a) == 0));
    }

    #[test]
    fn partition_is_disjoint_complete_and_balanced() {
        let p = Placement::new(4).unwrap();
        let parts = p.partition(100_000);
        let total: usize = parts.iter().map(Vec::len).sum();
        assert_eq!(total, 100_000);
        for (s, part) in parts.iter().enumerate() {
            assert!(part.iter().all(|&a| p.shard_of(a) == s as u32));
            // Within 5% of an even split.
            assert!(
                (23_750..=26_250).contains(&part.len()),
                "{s}: {}",
                part.len()
            );
            assert_eq!(part, &p.accounts_of(s as u32, 100_000));
        }
    }

    #[test]
    fn objects_scatter_over_the_shards() {
        let p = Placement::new(4).unwrap();
        for make in [Object::Pool, Object::Collection, Object::Proposal] {
            let shards: std::collections::BTreeSet<_> =
                (0..32).map(|i| p.shard_of_object(make(i))).collect();
            assert_eq!(shards.len(), 4, "32 objects reach every shard");
        }
        assert_ne!(
            (0..8)
                .map(|i| p.shard_of_object(Object::Pool(i)))
                .collect::<Vec<_>>(),
            (0..8)
                .map(|i| p.shard_of_object(Object::Proposal(i)))
                .collect::<Vec<_>>(),
            "each kind has its own key space"
        );
    }

    #[test]
    fn consecutive_ids_scatter() {
        let p = Placement::new(8).unwrap();
        let first: Vec<_> = (0..16).map(|a| p.shard_of(a)).collect();
        let distinct: std::collections::BTreeSet<_> = first.iter().collect();
        assert!(distinct.len() >= 5, "{first:?}");
    }
}
