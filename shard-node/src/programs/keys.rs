//! Declared access: the keys a call may touch, known from its fields before it runs.

use cross_shard::ids::{NATIVE, Object};
use cross_shard::{AccountId, Call, Tx};

use super::assets::balance_key;
use crate::state::{Key, World};

/// Most keys one transaction declares.
pub const MAX_DECLARED: usize = 4;

/// The keys a transaction may touch on this shard, declared from its fields alone —
/// before it runs — as a Sealevel-style transaction declares its accounts. A superset
/// of what it touches: the parallel executor relies on that to find conflicts.
pub fn declared_keys(
    w: &World,
    local: impl Fn(AccountId) -> Option<u32>,
    tx: &Tx,
) -> [Option<Key>; MAX_DECLARED] {
    let Some(from) = local(tx.from) else {
        return [None; MAX_DECLARED]; // refused without touching anything
    };
    let sender = Some(Key::Account(from));
    match tx.call {
        Call::Transfer { to, asset, .. } => [
            sender,
            (asset != NATIVE).then_some(Key::Token(from, asset)),
            local(to).map(|t| balance_key(t, asset)),
            None,
        ],
        Call::Swap { pool, .. } => {
            let here = w.holds(Object::Pool(pool));
            let token = w.pool_assets(pool).1;
            [
                sender,
                (w.tokens > 0).then_some(Key::Token(from, token)),
                here.then_some(Key::Pool(pool)),
                None,
            ]
        }
        Call::Mint { collection } => {
            let here = w.holds(Object::Collection(collection));
            [
                sender,
                here.then_some(Key::Collection(collection)),
                here.then_some(Key::Nft(cross_shard::NftId {
                    minter: tx.from,
                    serial: tx.nonce,
                })),
                here.then_some(Key::Holdings(from)),
            ]
        }
        Call::SendNft { nft, to } => [
            sender,
            Some(Key::Nft(nft)),
            Some(Key::Holdings(from)),
            local(to).map(Key::Holdings),
        ],
        Call::Vote { proposal, .. } => {
            let here = w.holds(Object::Proposal(proposal));
            [
                sender,
                here.then_some(Key::Proposal(proposal)),
                here.then_some(Key::Ballot(proposal, tx.from)),
                None,
            ]
        }
        Call::Invoke { contract, .. } => {
            let here = local(contract);
            [
                sender,
                here.map(Key::Account),
                here.map(|c| Key::Slot(c, tx.from)),
                None,
            ]
        }
    }
}
