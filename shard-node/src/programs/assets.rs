//! The native coin and the fungible tokens: balances, debits and credits.

use cross_shard::ids::{Asset, NATIVE};
use cross_shard::{AccountId, RejectReason};

use super::{End, Step};
use crate::state::{BALANCE, Key, State};

/// The key holding a local account's balance of `asset`.
pub(super) fn balance_key(index: u32, asset: Asset) -> Key {
    if asset == NATIVE {
        Key::Account(index)
    } else {
        Key::Token(index, asset)
    }
}

/// Adds `amount` to a local account's balance of `asset`.
pub(super) fn credit<S: State>(s: &mut S, index: u32, asset: Asset, amount: u64) {
    let key = balance_key(index, asset);
    let mut v = s.read(key);
    v[BALANCE] = v[BALANCE].saturating_add(amount);
    s.write(key, v);
}

/// Takes `amount` of `asset` from a local account, or fails without writing.
pub(super) fn debit<S: State>(
    s: &mut S,
    index: u32,
    asset: Asset,
    amount: u64,
) -> Result<(), RejectReason> {
    let key = balance_key(index, asset);
    let mut v = s.read(key);
    if v[BALANCE] < amount {
        return Err(RejectReason::InsufficientBalance);
    }
    v[BALANCE] -= amount;
    s.write(key, v);
    Ok(())
}

/// A credit — or, with `refund`, a failed call's input given back — arriving at its
/// account.
pub(super) fn receive<S: State>(
    s: &mut S,
    to: AccountId,
    asset: Asset,
    amount: u64,
    refund: Option<RejectReason>,
) -> Step {
    let Some(i) = s.local(to).filter(|_| s.world().has_asset(asset)) else {
        return Step::End(End::Misplaced);
    };
    credit(s, i, asset, amount);
    Step::End(refund.map_or(End::Done, End::Refunded))
}

/// The last receipt of an account's migration: its nonce from the shard it left. No
/// call of the account runs here before it (the driver holds them), so the nonce here
/// is still the placeholder's 0.
pub(super) fn arrive<S: State>(s: &mut S, account: AccountId, nonce: u64) -> Step {
    let Some(i) = s.local(account) else {
        return Step::End(End::Misplaced);
    };
    let mut value = s.read(Key::Account(i));
    value[crate::state::NONCE] = nonce;
    s.write(Key::Account(i), value);
    Step::End(End::Done)
}
