// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {BRIDGE, IBridge, NotBridge} from "./Bridge.sol";

/// The `nft` program: one NFT collection, as OpenZeppelin's ERC-721, with the native
/// program's rules: anyone may mint, and a mint's token id names its minter and the
/// minter's nonce (`minter << 64 | serial`, the minter being the account id in the
/// low 64 bits of its address), so every mint is a new token; only the holder
/// may send one.
///
/// Every shard holds an instance of each collection, for the tokens its own accounts
/// hold; mints are counted on the collection's home shard. A token sent or minted to an
/// account on another shard leaves through the bridge and arrives in that shard's
/// instance (`arrive`).
contract Collection is ERC721 {
    /// The collection's id in the cluster.
    uint32 public immutable collectionId;
    /// Tokens minted so far (the native program's collection counter; home shard).
    uint256 public minted;

    /// The caller does not hold the token it tries to send (the native `NotOwner`).
    error NotOwner(address sender, uint256 id);

    constructor(string memory name_, string memory symbol_, uint32 collectionId_)
        ERC721(name_, symbol_)
    {
        collectionId = collectionId_;
    }

    /// Mints token `minter << 64 | serial` to the caller, who must be `minter`.
    function mint(uint64 serial) external returns (uint256 id) {
        id = _mintFor(msg.sender, serial);
    }

    /// A mint sent from another shard by `minter` (a bridge system call).
    function mintFor(address minter, uint64 serial) external returns (uint256 id) {
        if (msg.sender != BRIDGE) revert NotBridge();
        id = _mintFor(minter, serial);
    }

    /// Sends token `id`, held by the caller, to `to`.
    function send(address to, uint256 id) external {
        if (_ownerOf(id) != msg.sender) revert NotOwner(msg.sender, id);
        _transfer(msg.sender, to, id);
    }

    /// Token `id`, sent or minted to `to` on another shard, arriving (a bridge system
    /// call).
    function arrive(address to, uint256 id) external {
        if (msg.sender != BRIDGE) revert NotBridge();
        _mint(to, id);
    }

    function _mintFor(address minter, uint64 serial) internal returns (uint256 id) {
        id = (uint256(uint64(uint160(minter))) << 64) | serial;
        minted += 1;
        _mint(minter, id);
    }

    /// A token going to an account on another shard is given up here and sent on.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address) {
        if (to != address(0) && IBridge(BRIDGE).remote(to)) {
            address from = super._update(address(0), tokenId, auth);
            IBridge(BRIDGE).nft(to, collectionId, tokenId);
            return from;
        }
        return super._update(to, tokenId, auth);
    }
}
