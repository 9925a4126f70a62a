//! The constant-product pool: a swap's input arrives at the pool's shard, pays out at
//! the current price (or is refunded past the slippage limit), and the output goes back
//! to the trader.

use cross_shard::amm::swap_output;
use cross_shard::ids::{Asset, Object};
use cross_shard::{AccountId, Effect, RejectReason};

use super::{End, Step};
use crate::state::{Key, State};

/// `amount_in` of `asset_in` traded in pool `pool`, for at least `min_out`.
pub(super) fn trade<S: State>(
    s: &mut S,
    trader: AccountId,
    pool: u32,
    (asset_in, amount_in): (Asset, u64),
    min_out: u64,
) -> Step {
    let w = *s.world();
    if !w.holds(Object::Pool(pool)) || !w.pool_trades(pool, asset_in) {
        return Step::End(End::Misplaced);
    }
    let (a, b) = w.pool_assets(pool);
    let mut reserves = s.read(Key::Pool(pool));
    let (i_in, i_out, asset_out) = if asset_in == a { (0, 1, b) } else { (1, 0, a) };
    let out = swap_output(reserves[i_in], reserves[i_out], amount_in);
    if out < min_out {
        return Step::Then(Effect::Refund {
            to: trader,
            asset: asset_in,
            amount: amount_in,
            reason: RejectReason::Slippage,
        });
    }
    reserves[i_in] = reserves[i_in].saturating_add(amount_in);
    reserves[i_out] -= out;
    s.write(Key::Pool(pool), reserves);
    Step::Then(Effect::Credit {
        to: trader,
        asset: asset_out,
        amount: out,
    })
}
