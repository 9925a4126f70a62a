//! NFT collections: a mint counts on the collection's shard and the token goes to the
//! minter; a send gives the token up on the sender's shard and it arrives at the
//! recipient's. Each shard counts how many NFTs each of its accounts holds
//! ([`Key::Holdings`]), as ERC-721 does.

use cross_shard::ids::Object;
use cross_shard::{AccountId, Effect, NftId, RejectReason};

use super::{End, Step};
use crate::state::{Key, State};

/// The sender's half of a send: the sender must hold `nft`; it gives it up.
pub(super) fn give_up<S: State>(
    s: &mut S,
    from: AccountId,
    nft: NftId,
    to: AccountId,
) -> Result<Effect, RejectReason> {
    let held = s.read(Key::Nft(nft));
    if held[0] != from + 1 {
        return Err(RejectReason::NotOwner);
    }
    s.write(Key::Nft(nft), [0, 0]);
    if let Some(i) = s.local(from) {
        let mut n = s.read(Key::Holdings(i));
        n[0] = n[0].saturating_sub(1);
        s.write(Key::Holdings(i), n);
    }
    Ok(Effect::Nft {
        to,
        nft,
        collection: held[1] as u32,
    })
}

/// A mint arriving at its collection: counted, and the new token sent to the minter.
pub(super) fn mint<S: State>(s: &mut S, minter: AccountId, collection: u32, serial: u64) -> Step {
    if !s.world().holds(Object::Collection(collection)) {
        return Step::End(End::Misplaced);
    }
    let mut c = s.read(Key::Collection(collection));
    c[0] = c[0].saturating_add(1);
    s.write(Key::Collection(collection), c);
    Step::Then(Effect::Nft {
        to: minter,
        nft: NftId { minter, serial },
        collection,
    })
}

/// A token arriving at its new holder.
pub(super) fn receive<S: State>(s: &mut S, to: AccountId, nft: NftId, collection: u32) -> Step {
    let Some(i) = s.local(to) else {
        return Step::End(End::Misplaced);
    };
    s.write(Key::Nft(nft), [to + 1, u64::from(collection)]);
    let mut n = s.read(Key::Holdings(i));
    n[0] = n[0].saturating_add(1);
    s.write(Key::Holdings(i), n);
    Step::End(End::Done)
}
