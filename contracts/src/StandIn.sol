// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {BRIDGE, NotBridge} from "./Bridge.sol";

/// Stand-in calls: a replayed trace's calls of contracts whose code shardsim lacks.
///
/// What matters to sharding is where a call runs and what it conflicts with. A stand-in
/// call carries its value to the called contract's account, counts the call in a slot
/// of that contract keyed by its caller (two callers write two slots: a hot contract is
/// a cross-shard hot spot without serializing its callers), and burns the gas the trace
/// says the real call used (its gas limit, all but a margin to return).
///
/// Every shard holds one instance, which keeps the slots of the contracts placed on it:
/// `calls[contract][caller]`. A call from an account on another shard arrives through
/// the bridge (`invokeFor`).
contract StandIn {
    /// How many times each caller called each contract.
    mapping(address => mapping(address => uint256)) public calls;

    /// Gas left unburnt: enough to return from the call.
    uint256 private constant MARGIN = 2_000;

    /// The contract's account refused the value (it cannot: accounts have no code).
    error NotPaid(address target);

    /// The caller's call of `target`, with its value.
    function invoke(address target) external payable {
        _call(target, msg.sender);
    }

    /// `caller`'s call of `target` from another shard (a bridge system call).
    function invokeFor(address target, address caller) external payable {
        if (msg.sender != BRIDGE) revert NotBridge();
        _call(target, caller);
    }

    function _call(address target, address caller) internal {
        calls[target][caller] += 1;
        if (msg.value > 0) {
            (bool paid,) = target.call{value: msg.value}("");
            if (!paid) revert NotPaid(target);
        }
        while (gasleft() > MARGIN) {}
    }
}
