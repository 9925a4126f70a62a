// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// The `token` program: one fungible token of the cluster, as OpenZeppelin's ERC-20.
///
/// Genesis mints the same balance to every holder it names (the accounts of the shard
/// the instance lives on) and to the pools that trade it. The cluster's pools
/// may move a trader's tokens without a prior `approve` — a swap is one transaction, as
/// it is for the native programs — and nothing else may.
contract ShardToken is ERC20 {
    /// The pools that trade this token.
    mapping(address => bool) public isPool;

    constructor(
        string memory name_,
        string memory symbol_,
        address[] memory pools,
        uint256 poolReserve,
        address[] memory holders,
        uint256 each
    ) ERC20(name_, symbol_) {
        for (uint256 i = 0; i < pools.length; i++) {
            isPool[pools[i]] = true;
            _mint(pools[i], poolReserve);
        }
        for (uint256 i = 0; i < holders.length; i++) {
            _mint(holders[i], each);
        }
    }

    /// A pool spends without an allowance; everyone else as ERC-20 says.
    function _spendAllowance(address owner, address spender, uint256 value) internal override {
        if (isPool[spender]) {
            return;
        }
        super._spendAllowance(owner, spender, value);
    }
}
