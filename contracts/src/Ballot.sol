// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {BRIDGE, NotBridge} from "./Bridge.sol";

/// The `vote` program: one DAO proposal, one vote per account, yes or no. It lives on
/// its proposal's shard; a vote from another shard arrives through the bridge.
contract Ballot {
    uint256 public yes;
    uint256 public no;
    mapping(address => bool) public voted;

    /// This account has already voted on this proposal.
    error AlreadyVoted(address voter);

    /// Casts the caller's vote.
    function vote(bool inFavour) external {
        _cast(msg.sender, inFavour);
    }

    /// Casts `voter`'s vote, sent from another shard (a bridge system call).
    function voteFor(address voter, bool inFavour) external {
        if (msg.sender != BRIDGE) revert NotBridge();
        _cast(voter, inFavour);
    }

    function _cast(address voter, bool inFavour) internal {
        if (voted[voter]) revert AlreadyVoted(voter);
        voted[voter] = true;
        if (inFavour) {
            yes += 1;
        } else {
            no += 1;
        }
    }
}
