//! Placement: which shard holds an account.
//!
//! `hash` placement (the only one so far) maps an account to
//! `mix(account) mod shards`, where `mix` is the SplitMix64 finalizer, a bijective
//! integer hash. Consecutive account ids therefore scatter over the shards, so that a
//! workload that favours low ids (a Zipf skew) does not pile onto one shard by accident.
//! Every process computes the same placement from `shards` alone: there is no directory
//! to consult. Real chains do the same with address prefixes (NEAR's account ranges,
//! MultiversX's last bits of the address).
//!
//! A placement may instead carry a **table** fixed at genesis ([`Placement::with_table`]):
//! account `a < table.len()` lives on `table[a]`, any other where its hash says. Every
//! process of the cluster loads the same table before it starts (a graph partitioner
//! made it from a warm-up prefix of the traffic), so there is still one answer to
//! "where does X live", and nothing moves while the cluster runs. The table is leaked
//! for the life of the process, which keeps `Placement` `Copy`: it is consulted for
//! every transaction and every receipt, by value.

use crate::ids::{AccountId, Object, ShardId};

/// The account → shard map of a cluster of `shards` shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Number of shards, at least 1.
    shards: u32,
    /// Accounts placed at genesis, by id; the rest by hash.
    table: Option<&'static [u16]>,
}

impl Placement {
    /// Placement over `shards` shards; `None` when `shards` is 0.
    pub fn new(shards: u32) -> Option<Placement> {
        (shards > 0).then_some(Placement {
            shards,
            table: None,
        })
    }

    /// Placement over `shards` shards with accounts `0..table.len()` on the shards the
    /// table names; `None` when `shards` is 0 or the table names a shard that does not
    /// exist. The table lives as long as the process.
    pub fn with_table(shards: u32, table: Vec<u16>) -> Option<Placement> {
        if shards == 0 || table.iter().any(|&s| u32::from(s) >= shards) {
            return None;
        }
        Some(Placement {
            shards,
            table: Some(Box::leak(table.into_boxed_slice())),
        })
    }

    /// The genesis table, if accounts were placed by one.
    pub fn table(&self) -> Option<&'static [u16]> {
        self.table
    }

    /// Number of shards.
    pub fn shards(&self) -> u32 {
        self.shards
    }

    /// The shard that holds `account`.
    #[inline]
    pub fn shard_of(&self, account: AccountId) -> ShardId {
        if let Some(&s) = self
            .table
            .and_then(|t| usize::try_from(account).ok().and_then(|a| t.get(a)))
        {
            return ShardId::from(s);
        }
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

/// What a set of accounts is, in two numbers: how many, and a multiset hash of their
/// ids (order-independent, so a shard's ledger and a placement, which list accounts in
/// different orders, compare directly).
pub fn accounts_digest(ids: impl Iterator<Item = AccountId>) -> (u64, crate::Hash) {
    let mut hash = crate::state_hash::StateHash::default();
    let mut n = 0u64;
    for id in ids {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(b"account\0");
        bytes[8..].copy_from_slice(&id.to_le_bytes());
        hash.add(crate::state_hash::Leaf::of(&bytes));
        n += 1;
    }
    (n, hash.root())
}

/// Every shard's [`accounts_digest`] under `placement`, for accounts `0..accounts`.
pub fn digests_by_shard(placement: &Placement, accounts: u64) -> Vec<(u64, crate::Hash)> {
    placement
        .partition(accounts)
        .into_iter()
        .map(|ids| accounts_digest(ids.into_iter()))
        .collect()
}

/// The first bytes of a placement table file.
const TABLE_MAGIC: &[u8; 8] = b"SSPLACE1";

/// A genesis table as a file's bytes: a magic, the shard count (u32, little-endian),
/// then each account's shard (u16, little-endian), account 0 first.
pub fn table_to_bytes(shards: u32, table: &[u16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + 2 * table.len());
    out.extend_from_slice(TABLE_MAGIC);
    out.extend_from_slice(&shards.to_le_bytes());
    for s in table {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// The placement a table file's bytes describe, for a cluster of `shards`; what is
/// wrong with them otherwise.
pub fn table_from_bytes(bytes: &[u8], shards: u32) -> Result<Placement, String> {
    let rest = bytes
        .strip_prefix(TABLE_MAGIC)
        .ok_or("not a placement table (no SSPLACE1 header)")?;
    let (count, entries) = rest.split_at_checked(4).ok_or("no shard count")?;
    let count = u32::from_le_bytes(count.try_into().map_err(|_| "no shard count")?);
    if count != shards {
        return Err(format!(
            "the table places accounts on {count} shards; this cluster has {shards}"
        ));
    }
    if entries.len() % 2 != 0 {
        return Err("the table's length is not a whole number of entries".into());
    }
    let table = entries
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    Placement::with_table(shards, table)
        .ok_or_else(|| "the table names a shard that does not exist".into())
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
    fn a_table_places_its_accounts_and_the_hash_the_rest() {
        let hash = Placement::new(4).unwrap();
        let p = Placement::with_table(4, vec![3, 3, 0]).unwrap();
        assert_eq!((p.shard_of(0), p.shard_of(1), p.shard_of(2)), (3, 3, 0));
        assert!((3..100).all(|a| p.shard_of(a) == hash.shard_of(a)));
        assert_eq!(
            p.shard_of_object(Object::Pool(1)),
            hash.shard_of_object(Object::Pool(1))
        );
        assert!(Placement::with_table(4, vec![4]).is_none(), "no shard 4");
        let parts = p.partition(10);
        assert_eq!(parts[3][..2], [0, 1]);
        assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), 10);
    }

    #[test]
    fn a_table_file_round_trips_and_bad_ones_are_named() {
        let bytes = table_to_bytes(4, &[3, 1, 0]);
        let p = table_from_bytes(&bytes, 4).unwrap();
        assert_eq!(p.table(), Some(&[3u16, 1, 0][..]));
        assert!(
            table_from_bytes(&bytes, 8)
                .unwrap_err()
                .contains("4 shards")
        );
        assert!(table_from_bytes(&bytes[..bytes.len() - 1], 4).is_err());
        assert!(
            table_from_bytes(b"hello", 4)
                .unwrap_err()
                .contains("header")
        );
        assert!(table_from_bytes(&table_to_bytes(4, &[9]), 4).is_err());
    }

    #[test]
    fn the_accounts_digest_is_the_set_whatever_the_order() {
        let (n, a) = accounts_digest([1, 5, 9].into_iter());
        assert_eq!((n, a), accounts_digest([9, 1, 5].into_iter()));
        assert_ne!(a, accounts_digest([1, 5, 8].into_iter()).1);
        assert_ne!(a, accounts_digest([1, 5, 9, 9].into_iter()).1, "a multiset");
        let p = Placement::new(3).unwrap();
        let by_shard = digests_by_shard(&p, 100);
        assert_eq!(by_shard.iter().map(|d| d.0).sum::<u64>(), 100);
        assert_eq!(
            by_shard[1],
            accounts_digest(p.accounts_of(1, 100).into_iter())
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
