// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";

/// The `nft` program: one NFT collection, as OpenZeppelin's ERC-721, with the native
/// program's rules: anyone may mint, and a mint's token id names its minter and the
/// minter's nonce (`minter << 64 | serial`, the minter being the account id in the
/// low 64 bits of its address), so every mint is a new token; only the holder
/// may send one.
contract Collection is ERC721 {
    /// Tokens minted so far (the native program's collection counter).
    uint256 public minted;

    /// The caller does not hold the token it tries to send (the native `NotOwner`).
    error NotOwner(address sender, uint256 id);

    constructor(string memory name_, string memory symbol_) ERC721(name_, symbol_) {}

    /// Mints token `minter << 64 | serial` to the caller, who must be `minter`.
    function mint(uint64 serial) external returns (uint256 id) {
        id = (uint256(uint64(uint160(msg.sender))) << 64) | serial;
        minted += 1;
        _mint(msg.sender, id);
    }

    /// Sends token `id`, held by the caller, to `to`.
    function send(address to, uint256 id) external {
        if (_ownerOf(id) != msg.sender) revert NotOwner(msg.sender, id);
        _transfer(msg.sender, to, id);
    }
}
