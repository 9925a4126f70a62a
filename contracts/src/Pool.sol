// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {BRIDGE, IBridge, NotBridge} from "./Bridge.sol";
import {ShardToken} from "./ShardToken.sol";

/// The `swap` program: a constant-product pool of the native coin against one token,
/// with the same rule as the native program (`cross_shard::amm::swap_output`): a 0.3%
/// fee on what is paid in, the output rounded down, and a slippage limit. What is paid
/// in is taken first (an overdraft fails as such), then priced.
///
/// A pool lives on one shard. A trader elsewhere pays in on its own shard and the swap
/// arrives through the bridge (`swapArrived`); the output goes back through it, and a
/// swap past the limit reverts, so the bridge refunds the input.
contract Pool {
    ShardToken public immutable token;
    /// Reserves: the native coin and the token.
    uint256 public reserveNative;
    uint256 public reserveToken;

    /// The output would be below the trader's limit.
    error Slippage(uint256 out, uint256 minOut);

    constructor(ShardToken token_) payable {
        token = token_;
    }

    /// Sets the genesis reserves (the token side must already be held by the pool).
    function seed(uint256 tokenReserve) external payable {
        require(reserveNative == 0 && reserveToken == 0, "seeded");
        reserveNative = msg.value;
        reserveToken = tokenReserve;
    }

    /// `out = in·997·y / (x·1000 + in·997)`.
    function quote(uint256 reserveIn, uint256 reserveOut, uint256 amountIn)
        public
        pure
        returns (uint256)
    {
        uint256 paid = amountIn * 997;
        uint256 denominator = reserveIn * 1000 + paid;
        if (denominator == 0 || reserveIn == 0) {
            return 0;
        }
        return (paid * reserveOut) / denominator;
    }

    /// Pays `msg.value` of the native coin in, sends at least `minOut` tokens back.
    function swapNativeForToken(uint256 minOut) external payable returns (uint256 out) {
        out = _buyToken(msg.sender, msg.value, minOut);
    }

    /// Pays `amountIn` tokens in (no approve needed: the token trusts its pools), sends
    /// at least `minOut` of the native coin back.
    function swapTokenForNative(uint256 amountIn, uint256 minOut) external returns (uint256 out) {
        require(token.transferFrom(msg.sender, address(this), amountIn), "token transfer");
        out = _sellToken(msg.sender, amountIn, minOut);
    }

    /// A swap paid for on another shard (a bridge system call): the native coin arrives
    /// as value, a token is minted to the pool as it arrives.
    function swapArrived(address trader, bool tokenIn, uint256 amountIn, uint256 minOut)
        external
        payable
        returns (uint256 out)
    {
        if (msg.sender != BRIDGE) revert NotBridge();
        if (tokenIn) {
            token.arrive(address(this), amountIn);
            out = _sellToken(trader, amountIn, minOut);
        } else {
            out = _buyToken(trader, msg.value, minOut);
        }
    }

    function _buyToken(address trader, uint256 amountIn, uint256 minOut) internal returns (uint256 out) {
        out = quote(reserveNative, reserveToken, amountIn);
        if (out < minOut) revert Slippage(out, minOut);
        reserveNative += amountIn;
        reserveToken -= out;
        // To a trader on another shard, the token routes itself through the bridge.
        require(token.transfer(trader, out), "token transfer");
    }

    function _sellToken(address trader, uint256 amountIn, uint256 minOut) internal returns (uint256 out) {
        out = quote(reserveToken, reserveNative, amountIn);
        if (out < minOut) revert Slippage(out, minOut);
        reserveToken += amountIn;
        reserveNative -= out;
        if (IBridge(BRIDGE).remote(trader)) {
            IBridge(BRIDGE).credit{value: out}(0, trader, out);
        } else {
            (bool ok,) = payable(trader).call{value: out}("");
            require(ok, "native transfer");
        }
    }
}
