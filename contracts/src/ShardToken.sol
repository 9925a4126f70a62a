// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {BRIDGE, IBridge, NotBridge} from "./Bridge.sol";

/// The `token` program: one fungible token of the cluster, as OpenZeppelin's ERC-20.
///
/// Every shard holds an instance, for the balances of its own accounts and pools. A
/// transfer to an account on another shard burns here and leaves through the bridge;
/// the destination's instance mints it on arrival (`arrive`), so the token's supply is
/// the sum over the shards plus what is in flight.
///
/// Genesis mints the same balance to every holder it names and to the pools that trade
/// it. The cluster's pools may move a trader's tokens without a prior `approve` — a swap
/// is one transaction, as it is for the native programs — and nothing else may.
contract ShardToken is ERC20 {
    /// The token's asset id in the cluster.
    uint32 public immutable asset;
    /// The pools that trade this token.
    mapping(address => bool) public isPool;

    constructor(
        string memory name_,
        string memory symbol_,
        uint32 asset_,
        address[] memory pools,
        uint256 poolReserve,
        address[] memory holders,
        uint256 each
    ) ERC20(name_, symbol_) {
        asset = asset_;
        for (uint256 i = 0; i < pools.length; i++) {
            isPool[pools[i]] = true;
            _mint(pools[i], poolReserve);
        }
        for (uint256 i = 0; i < holders.length; i++) {
            _mint(holders[i], each);
        }
    }

    /// Tokens sent from another shard arriving for `to` (a bridge system call, or a pool
    /// receiving a swap's input within one).
    function arrive(address to, uint256 value) external {
        if (msg.sender != BRIDGE && !(isPool[msg.sender] && tx.origin == BRIDGE)) revert NotBridge();
        _mint(to, value);
    }

    /// Pays `amountIn` into the pool `pool` on another shard, for at least `minOut` of the
    /// native coin back.
    function swapAt(uint32 pool, uint256 amountIn, uint256 minOut) external {
        _burn(msg.sender, amountIn);
        IBridge(BRIDGE).swap(msg.sender, pool, asset, amountIn, minOut);
    }

    /// A pool spends without an allowance; everyone else as ERC-20 says.
    function _spendAllowance(address owner, address spender, uint256 value) internal override {
        if (isPool[spender]) {
            return;
        }
        super._spendAllowance(owner, spender, value);
    }

    /// Tokens going to an account on another shard are burnt here and sent on.
    function _update(address from, address to, uint256 value) internal override {
        if (to != address(0) && IBridge(BRIDGE).remote(to)) {
            super._update(from, address(0), value);
            IBridge(BRIDGE).credit(asset, to, value);
            return;
        }
        super._update(from, to, value);
    }
}
