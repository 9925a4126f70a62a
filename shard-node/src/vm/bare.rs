//! A bare revm world: the contracts deployed in an in-memory database, calls run one
//! after another. No shard state, no blocks — the baseline that the shard's own EVM
//! state layer will be measured against ("bare revm" in `bench-exec`), and the place
//! where each contract is checked to keep its native program's rule.
//!
//! ```text
//!  World::new(accounts, balance) ─► genesis balances (the native coin)
//!  deploy(contract, args)        ─► CREATE from the deployer; address returned
//!  call(from, to, value, data)   ─► one transaction, committed: success, revert, gas
//! ```
//!
//! Gas is metered but costs nothing (a gas price of 0): fees are a separate question
//! from the programs' semantics. The world is one shard: its bridge precompile
//! (`vm::bridge`) answers that nothing is remote and sends nothing.

use std::collections::HashMap;

use alloy_sol_types::SolValue;
use revm::ExecuteCommitEvm;
use revm::context::TxEnv;
use revm::context_interface::ContextTr;
use revm::context_interface::result::{ExecutionResult, Output};
use revm::database::{CacheDB, EmptyDB};
use revm::primitives::{Address, Bytes, TxKind, U256};
use revm::state::AccountInfo;

use super::artifacts::Contract;
use super::bridge::{self, BridgedEvm};

/// The database of a bare world.
type Db = CacheDB<EmptyDB>;

/// Gas every call may use: far above any program's need, and within the per-transaction
/// cap of 2^24 that revm's default fork (Osaka, EIP-7825) enforces.
const GAS_LIMIT: u64 = 16_000_000;

/// What one call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Ran to the end; what it returned.
    Success {
        /// The return data (a created contract's address for a deployment).
        output: Bytes,
        /// Gas used.
        gas: u64,
    },
    /// Reverted; the revert data (an ABI-encoded error).
    Revert {
        /// The revert data.
        data: Bytes,
        /// Gas used.
        gas: u64,
    },
    /// Halted (out of gas, an invalid opcode, …), described.
    Halt(String),
}

/// Why a call could not even be run (not a revert: the transaction itself was invalid).
#[derive(Debug, thiserror::Error)]
#[error("the EVM refused the transaction: {0}")]
pub struct Refused(String);

/// revm over an in-memory database, with the nonces it expects.
pub struct World {
    evm: BridgedEvm<Db>,
    nonces: HashMap<Address, u64>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("nonces", &self.nonces.len())
            .finish()
    }
}

/// The storage slot of `holder`'s balance in an OpenZeppelin ERC-20:
/// `keccak256(pad32(holder) ‖ pad32(0))`.
pub fn erc20_balance_slot(holder: Address) -> U256 {
    let mut key = [0u8; 64];
    key[12..32].copy_from_slice(holder.as_slice());
    U256::from_be_bytes(revm::primitives::keccak256(key).0)
}

/// The account that deploys the contracts at genesis.
pub fn deployer() -> Address {
    Address::with_last_byte(0xde).create(0).create(0)
}

impl World {
    /// A world in which each of `accounts` holds `balance` of the native coin.
    pub fn new(accounts: impl IntoIterator<Item = Address>, balance: u64) -> World {
        let mut db = Db::new(EmptyDB::default());
        for a in accounts {
            db.insert_account_info(
                a,
                AccountInfo {
                    balance: U256::from(balance),
                    ..AccountInfo::default()
                },
            );
        }
        let evm = bridge::evm(db, None);
        World {
            evm,
            nonces: HashMap::new(),
        }
    }

    /// An independent copy of this world (its state cloned), for repeated runs from the
    /// same genesis.
    pub fn fork(&self) -> World {
        let db = self.evm.ctx.db().clone();
        World {
            evm: bridge::evm(db, None),
            nonces: self.nonces.clone(),
        }
    }

    /// Gives `address` `amount` more of the native coin (genesis only).
    pub fn fund(&mut self, address: Address, amount: u64) {
        let db = self.evm.ctx.db_mut();
        let mut info = db
            .cache
            .accounts
            .get(&address)
            .map(|a| a.info.clone())
            .unwrap_or_default();
        info.balance += U256::from(amount);
        db.insert_account_info(address, info);
    }

    /// Gives `holder` a balance of `amount` in the ERC-20 at `token` by writing its
    /// storage directly (genesis only: a constructor minting to a million holders would
    /// exceed any transaction's gas). OpenZeppelin's ERC-20 keeps `_balances` at slot
    /// 0 and `_totalSupply` at slot 2; a test reads both back through the contract.
    pub fn set_token_balance(&mut self, token: Address, holder: Address, amount: u64) {
        let db = self.evm.ctx.db_mut();
        let slot = erc20_balance_slot(holder);
        let old = db
            .cache
            .accounts
            .get(&token)
            .and_then(|a| a.storage.get(&slot).copied())
            .unwrap_or_default();
        let supply_slot = U256::from(2);
        let supply = db
            .cache
            .accounts
            .get(&token)
            .and_then(|a| a.storage.get(&supply_slot).copied())
            .unwrap_or_default();
        let _ = db.insert_account_storage(token, slot, U256::from(amount));
        let _ = db.insert_account_storage(token, supply_slot, supply - old + U256::from(amount));
    }

    /// The address the deployer's next deployment will get.
    pub fn next_deployment(&self) -> Address {
        deployer().create(self.nonces.get(&deployer()).copied().unwrap_or(0))
    }

    /// Deploys `contract` with ABI-encoded constructor `args`; returns its address.
    pub fn deploy(&mut self, contract: Contract, args: &[u8]) -> Result<Address, Refused> {
        let address = self.next_deployment();
        let mut code = contract.creation_code().to_vec();
        code.extend_from_slice(args);
        match self.transact(deployer(), TxKind::Create, U256::ZERO, code.into())? {
            Outcome::Success { .. } => Ok(address),
            other => Err(Refused(format!("deploying {contract:?}: {other:?}"))),
        }
    }

    /// Deploys token `t`'s `ShardToken`: its pools (each minted `pool_reserve`) may spend
    /// without an allowance, and each holder is minted `each`.
    pub fn deploy_token(
        &mut self,
        t: u32,
        pools: &[Address],
        pool_reserve: u64,
        holders: &[Address],
        each: u64,
    ) -> Result<Address, Refused> {
        let args = (
            format!("Token {t}"),
            format!("T{t}"),
            t,
            pools.to_vec(),
            U256::from(pool_reserve),
            holders.to_vec(),
            U256::from(each),
        )
            .abi_encode_params();
        self.deploy(Contract::ShardToken, &args)
    }

    /// Deploys collection `c`'s `Collection`.
    pub fn deploy_collection(&mut self, c: u32) -> Result<Address, Refused> {
        let args = (format!("Collection {c}"), format!("C{c}"), c).abi_encode_params();
        self.deploy(Contract::Collection, &args)
    }

    /// Calls `to` from `from` with `value` of the native coin and calldata `data`, and
    /// commits the result.
    pub fn call(
        &mut self,
        from: Address,
        to: Address,
        value: u64,
        data: Vec<u8>,
    ) -> Result<Outcome, Refused> {
        self.transact(from, TxKind::Call(to), U256::from(value), data.into())
    }

    /// A read-only call's return data (run and committed like any call: views write
    /// nothing).
    pub fn view(&mut self, to: Address, data: Vec<u8>) -> Result<Bytes, Refused> {
        match self.call(deployer(), to, 0, data)? {
            Outcome::Success { output, .. } => Ok(output),
            other => Err(Refused(format!("view of {to}: {other:?}"))),
        }
    }

    /// Every storage slot `address` has written, and its code.
    pub fn contract(
        &self,
        address: Address,
    ) -> (Vec<(U256, U256)>, Option<revm::bytecode::Bytecode>) {
        self.evm
            .ctx
            .db()
            .cache
            .accounts
            .get(&address)
            .map_or((Vec::new(), None), |a| {
                (
                    a.storage.iter().map(|(k, v)| (*k, *v)).collect(),
                    a.info.code.clone(),
                )
            })
    }

    /// The native balance of `address`.
    pub fn balance(&self, address: Address) -> U256 {
        self.evm
            .ctx
            .db()
            .cache
            .accounts
            .get(&address)
            .map_or(U256::ZERO, |a| a.info.balance)
    }

    fn transact(
        &mut self,
        from: Address,
        kind: TxKind,
        value: U256,
        data: Bytes,
    ) -> Result<Outcome, Refused> {
        let nonce = self.nonces.entry(from).or_insert(0);
        let tx = TxEnv::builder()
            .caller(from)
            .kind(kind)
            .value(value)
            .data(data)
            .nonce(*nonce)
            .gas_limit(GAS_LIMIT)
            .gas_price(0)
            .build()
            .map_err(|e| Refused(format!("{e:?}")))?;
        let result = self
            .evm
            .transact_commit(tx)
            .map_err(|e| Refused(e.to_string()))?;
        *nonce += 1;
        Ok(match result {
            ExecutionResult::Success { output, gas, .. } => Outcome::Success {
                output: match output {
                    Output::Call(b) => b,
                    Output::Create(_, a) => a
                        .map(|a| Bytes::copy_from_slice(a.as_slice()))
                        .unwrap_or_default(),
                },
                gas: gas.tx_gas_used(),
            },
            ExecutionResult::Revert { output, gas, .. } => Outcome::Revert {
                data: output,
                gas: gas.tx_gas_used(),
            },
            ExecutionResult::Halt { reason, .. } => Outcome::Halt(format!("{reason:?}")),
        })
    }
}

#[cfg(test)]
mod tests {
    //! Each contract keeps its native program's rule: the same balances, the same
    //! swap price (`cross_shard::amm::swap_output`, which the native pool uses), the same
    //! owners and tallies, the same refusals.

    use alloy_sol_types::{SolCall, SolError, SolValue};
    use cross_shard::amm::{POOL_RESERVE, swap_output};

    use super::*;
    use crate::vm::abi::{IBallot, ICollection, IPool, IShardToken};
    use crate::vm::addresses::account;

    const BALANCE: u64 = 1_000_000;

    fn world() -> World {
        World::new((1..=4).map(account), BALANCE)
    }

    /// A token whose holders are accounts 1..=4 and whose pool is the deployer's
    /// deployment after it.
    fn token(w: &mut World) -> (Address, Address) {
        let pool = deployer().create(w.nonces.get(&deployer()).copied().unwrap_or(0) + 1);
        let holders: Vec<Address> = (1..=4).map(account).collect();
        let token = w
            .deploy_token(1, &[pool], POOL_RESERVE, &holders, BALANCE)
            .unwrap();
        (token, pool)
    }

    fn balance_of(w: &mut World, token: Address, who: Address) -> U256 {
        let out = w
            .view(
                token,
                IShardToken::balanceOfCall { account: who }.abi_encode(),
            )
            .unwrap();
        IShardToken::balanceOfCall::abi_decode_returns(&out).unwrap()
    }

    #[test]
    fn erc20_transfers_move_balances_and_refuse_overdrafts_without_writing() {
        let mut w = world();
        let (t, _) = token(&mut w);
        let send = |w: &mut World, from, to, value: u64| {
            let data = IShardToken::transferCall {
                to: account(to),
                value: U256::from(value),
            }
            .abi_encode();
            w.call(account(from), t, 0, data).unwrap()
        };
        assert!(matches!(send(&mut w, 1, 2, 30), Outcome::Success { gas, .. } if gas > 21_000));
        assert_eq!(balance_of(&mut w, t, account(1)), U256::from(BALANCE - 30));
        assert_eq!(balance_of(&mut w, t, account(2)), U256::from(BALANCE + 30));
        // The native program's InsufficientBalance: refused, nothing written.
        let Outcome::Revert { data, .. } = send(&mut w, 3, 2, BALANCE + 1) else {
            panic!("an overdraft must revert");
        };
        let e = IShardToken::ERC20InsufficientBalance::abi_decode(&data).unwrap();
        assert_eq!(
            (e.balance, e.needed),
            (U256::from(BALANCE), U256::from(BALANCE + 1))
        );
        assert_eq!(balance_of(&mut w, t, account(3)), U256::from(BALANCE));
        let supply = IShardToken::totalSupplyCall {}.abi_encode();
        let supply =
            IShardToken::totalSupplyCall::abi_decode_returns(&w.view(t, supply).unwrap()).unwrap();
        assert_eq!(supply, U256::from(4 * BALANCE + POOL_RESERVE), "conserved");
    }

    #[test]
    fn the_pool_prices_both_ways_by_the_native_rule_and_refunds_past_the_limit() {
        let mut w = world();
        let (t, predicted) = token(&mut w);
        let pool = w.deploy(Contract::Pool, &t.abi_encode()).unwrap();
        assert_eq!(pool, predicted);
        w.fund(deployer(), POOL_RESERVE);
        let seed = IPool::seedCall {
            tokenReserve: U256::from(POOL_RESERVE),
        }
        .abi_encode();
        assert!(matches!(
            w.call(deployer(), pool, POOL_RESERVE, seed).unwrap(),
            Outcome::Success { .. }
        ));
        let reserves = |w: &mut World| {
            let n = w
                .view(pool, IPool::reserveNativeCall {}.abi_encode())
                .unwrap();
            let k = w
                .view(pool, IPool::reserveTokenCall {}.abi_encode())
                .unwrap();
            (
                IPool::reserveNativeCall::abi_decode_returns(&n).unwrap(),
                IPool::reserveTokenCall::abi_decode_returns(&k).unwrap(),
            )
        };
        // Native coin in, token out, at the native program's price.
        let expected = swap_output(POOL_RESERVE, POOL_RESERVE, 1_000);
        let buy = IPool::swapNativeForTokenCall { minOut: U256::ZERO }.abi_encode();
        let Outcome::Success { output, .. } = w.call(account(1), pool, 1_000, buy).unwrap() else {
            panic!("a swap within the limit succeeds");
        };
        let out = IPool::swapNativeForTokenCall::abi_decode_returns(&output).unwrap();
        assert_eq!(out, U256::from(expected));
        assert_eq!(
            balance_of(&mut w, t, account(1)),
            U256::from(BALANCE + expected)
        );
        assert_eq!(w.balance(account(1)), U256::from(BALANCE - 1_000));
        assert_eq!(
            reserves(&mut w),
            (
                U256::from(POOL_RESERVE + 1_000),
                U256::from(POOL_RESERVE - expected)
            )
        );
        // Token in (no approve: the token trusts its pool), native coin out.
        let back = swap_output(POOL_RESERVE - expected, POOL_RESERVE + 1_000, 500);
        let sell = IPool::swapTokenForNativeCall {
            amountIn: U256::from(500),
            minOut: U256::ZERO,
        }
        .abi_encode();
        assert!(matches!(
            w.call(account(2), pool, 0, sell).unwrap(),
            Outcome::Success { .. }
        ));
        assert_eq!(w.balance(account(2)), U256::from(BALANCE + back));
        assert_eq!(balance_of(&mut w, t, account(2)), U256::from(BALANCE - 500));
        // Past the slippage limit: refused, nothing moves (the native program's refund).
        let before = (reserves(&mut w), w.balance(account(3)));
        let quote = swap_output(
            POOL_RESERVE + 1_000 - back,
            POOL_RESERVE - expected + 500,
            1_000,
        );
        let tight = IPool::swapNativeForTokenCall {
            minOut: U256::from(quote + 1),
        }
        .abi_encode();
        let Outcome::Revert { data, .. } = w.call(account(3), pool, 1_000, tight).unwrap() else {
            panic!("a swap past its limit reverts");
        };
        let e = IPool::Slippage::abi_decode(&data).unwrap();
        assert_eq!(e.out, U256::from(quote));
        assert_eq!((reserves(&mut w), w.balance(account(3))), before);
    }

    #[test]
    fn nfts_mint_per_minter_and_nonce_and_move_only_by_their_holder() {
        let mut w = world();
        let c = w.deploy_collection(0).unwrap();
        let mint = ICollection::mintCall { serial: 7 }.abi_encode();
        let Outcome::Success { output, .. } = w.call(account(1), c, 0, mint).unwrap() else {
            panic!("anyone may mint");
        };
        let id = ICollection::mintCall::abi_decode_returns(&output).unwrap();
        assert_eq!(id, U256::from((1u128 << 64) | 7), "minter << 64 | serial");
        let owner = |w: &mut World| {
            let o = w
                .view(c, ICollection::ownerOfCall { id }.abi_encode())
                .unwrap();
            ICollection::ownerOfCall::abi_decode_returns(&o).unwrap()
        };
        assert_eq!(owner(&mut w), account(1));
        // The native program's NotOwner.
        let steal = ICollection::sendCall { to: account(2), id }.abi_encode();
        let Outcome::Revert { data, .. } = w.call(account(2), c, 0, steal).unwrap() else {
            panic!("only the holder may send");
        };
        let e = ICollection::NotOwner::abi_decode(&data).unwrap();
        assert_eq!((e.sender, e.id), (account(2), id));
        let give = ICollection::sendCall { to: account(3), id }.abi_encode();
        assert!(matches!(
            w.call(account(1), c, 0, give).unwrap(),
            Outcome::Success { .. }
        ));
        assert_eq!(owner(&mut w), account(3));
        let minted = w.view(c, ICollection::mintedCall {}.abi_encode()).unwrap();
        assert_eq!(
            ICollection::mintedCall::abi_decode_returns(&minted).unwrap(),
            U256::from(1)
        );
    }

    #[test]
    fn a_ballot_counts_one_vote_per_account() {
        let mut w = world();
        let b = w.deploy(Contract::Ballot, &[]).unwrap();
        let vote = |w: &mut World, who, yes| {
            w.call(
                account(who),
                b,
                0,
                IBallot::voteCall { inFavour: yes }.abi_encode(),
            )
            .unwrap()
        };
        assert!(matches!(vote(&mut w, 1, true), Outcome::Success { .. }));
        assert!(matches!(vote(&mut w, 2, false), Outcome::Success { .. }));
        // The native program's AlreadyVoted.
        let Outcome::Revert { data, .. } = vote(&mut w, 1, false) else {
            panic!("a second vote is refused");
        };
        assert_eq!(
            IBallot::AlreadyVoted::abi_decode(&data).unwrap().voter,
            account(1)
        );
        let yes = w.view(b, IBallot::yesCall {}.abi_encode()).unwrap();
        let no = w.view(b, IBallot::noCall {}.abi_encode()).unwrap();
        assert_eq!(
            IBallot::yesCall::abi_decode_returns(&yes).unwrap(),
            U256::from(1)
        );
        assert_eq!(
            IBallot::noCall::abi_decode_returns(&no).unwrap(),
            U256::from(1)
        );
    }

    #[test]
    fn genesis_balances_written_to_storage_are_what_the_contract_reads() {
        let mut w = world();
        let (t, _) = token(&mut w);
        w.set_token_balance(t, account(9), 77);
        assert_eq!(balance_of(&mut w, t, account(9)), U256::from(77));
        w.set_token_balance(t, account(1), 5);
        assert_eq!(balance_of(&mut w, t, account(1)), U256::from(5));
        let supply = IShardToken::totalSupplyCall {}.abi_encode();
        let supply =
            IShardToken::totalSupplyCall::abi_decode_returns(&w.view(t, supply).unwrap()).unwrap();
        assert_eq!(supply, U256::from(3 * BALANCE + POOL_RESERVE + 77 + 5));
        // And the contract spends what was written.
        let data = IShardToken::transferCall {
            to: account(2),
            value: U256::from(70),
        }
        .abi_encode();
        assert!(matches!(
            w.call(account(9), t, 0, data).unwrap(),
            Outcome::Success { .. }
        ));
        assert_eq!(balance_of(&mut w, t, account(9)), U256::from(7));
    }

    #[test]
    fn a_plain_transfer_moves_the_native_coin() {
        let mut w = world();
        assert!(matches!(
            w.call(account(1), account(2), 250, Vec::new()).unwrap(),
            Outcome::Success { gas: 21_000, .. }
        ));
        assert_eq!(w.balance(account(1)), U256::from(BALANCE - 250));
        assert_eq!(w.balance(account(2)), U256::from(BALANCE + 250));
    }
}
