//! The constant-product market maker's arithmetic, shared by the shards that run pools
//! and by the driver that predicts their prices.
//!
//! A pool holds reserves `x` of one asset and `y` of the other and keeps `x · y`
//! constant across a trade, after a 0.3% fee on what is paid in (Uniswap v2's rule).

use ethnum::U256;

/// Each pool's genesis reserve of each side: deep enough that one swap of the workload's
/// size (up to 1,000) moves the price by at most 0.02%, shallow enough that a run of
/// swaps in one direction moves it past a 1% slippage limit.
pub const POOL_RESERVE: u64 = 10_000_000;

/// Output of a constant-product swap of `amount_in` against reserves `reserve_in` (the
/// side paid in) and `reserve_out`, with a 0.3% fee, rounded down.
pub fn swap_output(reserve_in: u64, reserve_out: u64, amount_in: u64) -> u64 {
    // 256-bit: a receipt from a faulty shard may carry any amount, and the product of
    // two u64s and the fee factor does not fit in 128 bits.
    let paid = U256::from(amount_in) * 997;
    let denominator = U256::from(reserve_in) * 1000 + paid;
    if denominator == 0 || reserve_in == 0 {
        return 0; // an empty side has no price
    }
    // paid < denominator, so the output is below reserve_out and fits in a u64.
    (paid * U256::from(reserve_out) / denominator).as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn amm_product_never_decreases_and_output_stays_below_the_reserve(
            x in 0u64..u64::MAX / 2, y in 0u64..u64::MAX / 2, a in 0u64..u64::MAX / 2,
        ) {
            let out = swap_output(x, y, a);
            prop_assert!(out < y.max(1));
            let before = U256::from(x) * U256::from(y);
            let after = U256::from(x + a) * U256::from(y - out);
            prop_assert!(after >= before);
        }
    }

    #[test]
    fn fees_accrue_to_the_pool() {
        let (x, y) = (1_000_000u64, 1_000_000u64);
        let there = swap_output(x, y, 10_000);
        let back = swap_output(y - there, x + 10_000, there);
        assert!(back < 10_000, "a round trip pays the fee twice: {back}");
        let k = |a: u64, b: u64| u128::from(a) * u128::from(b);
        assert!(k(x + 10_000, y - there) > k(x, y), "k grows by the fee");
    }
}
