// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

// The cross-shard bridge: a precompile of the shard's EVM (`shard-node/src/vm/bridge.rs`)
// at a fixed address. A call to it leaves the shard as a receipt, which the shard it
// names executes as a system call (from this address) in its next block; a failing
// destination call refunds what was paid with a receipt carrying the revert reason.
// Value or tokens sent with a message leave this shard's state with it (the receipt
// carries them), and arrive on the destination from this address.
address constant BRIDGE = 0x0000000000000000000000000000000053484252;

interface IBridge {
    /// Whether `account` lives on another shard.
    function remote(address account) external view returns (bool);
    /// Credits `amount` of `asset` to the remote `to`: the native coin paid as value, or
    /// a token burnt here by its instance (the caller).
    function credit(uint32 asset, address to, uint256 amount) external payable returns (bool);
    /// Swaps `amountIn` of `assetIn` in the remote pool `pool` for `trader`: the native
    /// coin paid as value by the trader, or a token burnt here by its instance.
    function swap(address trader, uint32 pool, uint32 assetIn, uint256 amountIn, uint256 minOut)
        external
        payable
        returns (bool);
    /// Mints token `caller << 64 | serial` of the remote collection for the caller.
    function mint(uint32 collection, uint64 serial) external returns (bool);
    /// Sends NFT `id` of `collection`, given up here by its instance (the caller), to the
    /// remote `to`.
    function nft(address to, uint32 collection, uint256 id) external returns (bool);
    /// The caller's vote on the remote `proposal`.
    function vote(uint32 proposal, bool yes) external returns (bool);
    /// The caller's stand-in call of the remote contract account `target`, with its
    /// value paid, burning `gas` there.
    function invoke(address target, uint64 gas) external payable returns (bool);
}

// Every message returns true: a call with a return value is not refused for an address
// without code, as Solidity refuses a call without one (and the bridge, a precompile,
// has no code).

/// Only the bridge (a system call) may do this.
error NotBridge();
