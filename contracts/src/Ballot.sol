// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// The `vote` program: one DAO proposal, one vote per account, yes or no.
contract Ballot {
    uint256 public yes;
    uint256 public no;
    mapping(address => bool) public voted;

    /// This account has already voted on this proposal.
    error AlreadyVoted(address voter);

    /// Casts the caller's vote.
    function vote(bool inFavour) external {
        if (voted[msg.sender]) revert AlreadyVoted(msg.sender);
        voted[msg.sender] = true;
        if (inFavour) {
            yes += 1;
        } else {
            no += 1;
        }
    }
}
