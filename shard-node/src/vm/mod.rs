//! # The EVM: the five programs as Solidity contracts, run by revm
//!
//! `contracts/` holds the programs as Solidity (`token` an OpenZeppelin ERC-20, `nft` an
//! OpenZeppelin ERC-721, `swap` a constant-product pool, `vote` a one-vote-per-account
//! ballot; `transfer` is a plain value transfer and needs no contract). They are compiled
//! by `contracts/compile.js` with a pinned `solc`, and the artifacts are committed, so
//! building needs no Node ([`artifacts`]).
//!
//! ```text
//!  contracts/src/*.sol ──solc (npm, pinned)──► contracts/artifacts/*.json (committed)
//!                                                   │ include_str!
//!  vm::artifacts (creation bytecode) ──► vm::bare::World (revm over an in-memory db)
//!  vm::abi (alloy sol! bindings)     ──►   deploy, call, read
//!
//!  under [cluster] vm = "evm", in every shard:
//!  Tx ──vm::calls──► EVM transaction ──revm──► vm::state (the shard's own keys)
//!                                       └── BRIDGE precompile (vm::bridge) ──► receipt
//!  receipt ──vm::deliver──► a call from the bridge on the destination's contract
//! ```
//!
//! The two VMs share one state and one state root: the EVM's accounts and storage slots
//! *are* the native programs' keys ([`state`]), so a run under either VM can be checked
//! against the other block by block (`vm::differential`). [`exec`] holds the EVM's
//! executors (sequential, Block-STM); cross-shard calls leave through the bridge as the
//! native programs' own effects, so receipts, proofs and the audit are unchanged.
//!
//! **Precompiles.** revm is built without its C-backed backends (`secp256k1`, `blst`,
//! `c-kzg`), so a fresh machine needs only the Rust toolchain. ecrecover, the bn254 and
//! BLS12-381 operations and modexp still run, on their pure-Rust implementations
//! (`k256`, arkworks, aurora's modexp); the KZG point evaluation of EIP-4844 (address
//! `0x0a`) has no backend and is absent. None of the programs uses any precompile.
//!
//! **May not** touch the shard's state, blocks or the wire; it knows accounts only as
//! [`addresses`] derived from their ids.

pub mod abi;
pub mod addresses;
pub mod artifacts;
pub mod bare;
pub mod bridge;
mod calls;
mod deliver;
#[cfg(test)]
mod differential;
pub mod exec;
pub mod state;
