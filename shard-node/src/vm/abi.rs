//! The contracts' interfaces, as alloy's `sol!` bindings: calls encode and returns
//! decode with no hand-written ABI code.

use alloy_sol_types::sol;

sol! {
    /// `contracts/src/Bridge.sol`: the cross-shard precompile (`vm::bridge`).
    interface IBridge {
        function remote(address account) external view returns (bool);
        function credit(uint32 asset, address to, uint256 amount) external payable returns (bool);
        function swap(address trader, uint32 pool, uint32 assetIn, uint256 amountIn, uint256 minOut) external payable returns (bool);
        function mint(uint32 collection, uint64 serial) external returns (bool);
        function nft(address to, uint32 collection, uint256 id) external returns (bool);
        function vote(uint32 proposal, bool yes) external returns (bool);
        function invoke(address target, uint64 gas) external payable returns (bool);
    }

    /// `contracts/src/ShardToken.sol` (an OpenZeppelin ERC-20).
    interface IShardToken {
        function transfer(address to, uint256 value) external returns (bool);
        function arrive(address to, uint256 value) external;
        function swapAt(uint32 pool, uint256 amountIn, uint256 minOut) external;
        function balanceOf(address account) external view returns (uint256);
        function totalSupply() external view returns (uint256);
        error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
    }

    /// `contracts/src/Pool.sol`.
    interface IPool {
        function reserveNative() external view returns (uint256);
        function reserveToken() external view returns (uint256);
        function swapNativeForToken(uint256 minOut) external payable returns (uint256 out);
        function swapTokenForNative(uint256 amountIn, uint256 minOut) external returns (uint256 out);
        function seed(uint256 tokenReserve) external payable;
        function swapArrived(address trader, bool tokenIn, uint256 amountIn, uint256 minOut) external payable returns (uint256 out);
        error Slippage(uint256 out, uint256 minOut);
    }

    /// `contracts/src/Collection.sol` (an OpenZeppelin ERC-721).
    interface ICollection {
        function mint(uint64 serial) external returns (uint256 id);
        function mintFor(address minter, uint64 serial) external returns (uint256 id);
        function arrive(address to, uint256 id) external;
        function send(address to, uint256 id) external;
        function ownerOf(uint256 id) external view returns (address);
        function minted() external view returns (uint256);
        error NotOwner(address sender, uint256 id);
    }

    /// `contracts/src/Ballot.sol`.
    interface IBallot {
        function vote(bool inFavour) external;
        function voteFor(address voter, bool inFavour) external;
        function yes() external view returns (uint256);
        function no() external view returns (uint256);
        error AlreadyVoted(address voter);
    }

    /// `contracts/src/StandIn.sol`.
    interface IStandIn {
        function invoke(address target) external payable;
        function invokeFor(address target, address caller) external payable;
        function calls(address target, address caller) external view returns (uint256);
        error NotPaid(address target);
    }
}
