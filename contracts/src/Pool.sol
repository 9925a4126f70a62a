// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// The `swap` program: a constant-product pool of the native coin against one token,
/// with the same rule as the native program (`cross_shard::amm::swap_output`): a 0.3%
/// fee on what is paid in, the output rounded down, and a slippage limit.
contract Pool {
    IERC20 public immutable token;
    /// Reserves: the native coin and the token.
    uint256 public reserveNative;
    uint256 public reserveToken;

    /// The output would be below the trader's limit.
    error Slippage(uint256 out, uint256 minOut);
    /// A swap must pay something in.
    error NothingPaid();

    constructor(IERC20 token_) payable {
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
        if (msg.value == 0) revert NothingPaid();
        out = quote(reserveNative, reserveToken, msg.value);
        if (out < minOut) revert Slippage(out, minOut);
        reserveNative += msg.value;
        reserveToken -= out;
        require(token.transfer(msg.sender, out), "token transfer");
    }

    /// Pays `amountIn` tokens in (no approve needed: the token trusts its pools), sends
    /// at least `minOut` of the native coin back.
    function swapTokenForNative(uint256 amountIn, uint256 minOut) external returns (uint256 out) {
        if (amountIn == 0) revert NothingPaid();
        out = quote(reserveToken, reserveNative, amountIn);
        if (out < minOut) revert Slippage(out, minOut);
        require(token.transferFrom(msg.sender, address(this), amountIn), "token transfer");
        reserveToken += amountIn;
        reserveNative -= out;
        (bool ok,) = payable(msg.sender).call{value: out}("");
        require(ok, "native transfer");
    }
}
