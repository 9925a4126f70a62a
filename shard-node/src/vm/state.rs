//! revm's view of a shard's state: the EVM reads and writes the same keys as the native
//! programs, so the two VMs share one state and one state root.
//!
//! ```text
//!  EVM                                   shard state (state::Key)
//!  account 0x5348…id: balance, nonce ──► Account(i) = [balance, nonce]
//!  token t's ERC-20 _balances[addr]  ──► Token(i, t)        (slot keccak(addr ‖ 0))
//!  token t's _totalSupply (slot 2)   ──► Σ of the asset on this shard (derived)
//!  token t's name, symbol, pools     ──► constants, from a genesis deployment
//! ```
//!
//! Each shard holds one instance of each token contract, for the balances of its own
//! accounts, exactly as the native token keeps them. A call that would write any other
//! slot (an allowance, say) is refused by [`apply`]: the mapping is the whole state, and
//! nothing is kept outside it.

use std::collections::HashMap;

use cross_shard::ids::Asset;
use revm::bytecode::Bytecode;
use revm::database_interface::{DBErrorMarker, Database, DatabaseCommit};
use revm::primitives::{Address, B256, KECCAK_EMPTY, StorageKey, StorageValue, U256};
use revm::state::{AccountInfo, EvmState};

use super::addresses::{account, account_id};
use super::bare::{World, erc20_balance_slot};
use crate::state::{BALANCE, Base, Key, Ledger, NONCE, State};

/// `_totalSupply`'s slot in OpenZeppelin's ERC-20.
const SUPPLY_SLOT: u64 = 2;

/// What is fixed about a shard's EVM at genesis: its token instances and the storage no
/// call changes.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Token `t`'s instance address is `tokens[t - 1]`.
    tokens: Vec<Address>,
    /// The instances' runtime code (one contract, so one code), and its hash.
    code: Bytecode,
    code_hash: B256,
    /// Per instance, the slots set at deployment that no transfer writes (name, symbol).
    constants: Vec<HashMap<U256, U256>>,
    /// `_balances` slot → the local account it belongs to.
    balance_slots: HashMap<U256, u32>,
}

/// The EVM refused or could not be given a state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// A value does not fit the shard's 64-bit balances.
    #[error("{what} = {value} does not fit in 64 bits")]
    TooLarge {
        /// Which value.
        what: &'static str,
        /// The value.
        value: U256,
    },
    /// A write outside the mapped state.
    #[error("a call wrote slot {slot} of {address}, which the shard's state does not hold")]
    Unmapped {
        /// The contract.
        address: Address,
        /// The slot.
        slot: U256,
    },
    /// Genesis could not be built.
    #[error("genesis: {0}")]
    Genesis(String),
}

impl DBErrorMarker for StateError {}

/// The address of token `t`'s instance on `shard`.
pub fn token_address(shard: u32, t: Asset) -> Address {
    let mut bytes = [0u8; 20];
    bytes[..2].copy_from_slice(b"TK");
    bytes[12..16].copy_from_slice(&shard.to_be_bytes());
    bytes[16..].copy_from_slice(&t.to_be_bytes());
    Address::from(bytes)
}

impl Layout {
    /// The layout of `shard` with `tokens` token instances, whose accounts are
    /// `local[i]` (index = local account index).
    pub fn new(shard: u32, tokens: u32, local: &[u64]) -> Result<Layout, StateError> {
        let mut w = World::new([], 0);
        let mut constants = Vec::new();
        let mut code = None;
        for t in 1..=tokens {
            let at = w
                .deploy_token(t, &[], 0, &[], 0)
                .map_err(|e| StateError::Genesis(e.to_string()))?;
            let (slots, runtime) = w.contract(at);
            constants.push(
                slots
                    .into_iter()
                    .filter(|(k, _)| *k != U256::from(SUPPLY_SLOT))
                    .collect(),
            );
            code = runtime;
        }
        let balance_slots = local
            .iter()
            .enumerate()
            .map(|(i, &id)| (erc20_balance_slot(account(id)), i as u32))
            .collect();
        let code = code.unwrap_or_default();
        Ok(Layout {
            tokens: (1..=tokens).map(|t| token_address(shard, t)).collect(),
            code_hash: code.hash_slow(),
            code,
            constants,
            balance_slots,
        })
    }

    /// The token whose instance is at `address`.
    fn token(&self, address: Address) -> Option<Asset> {
        self.tokens
            .iter()
            .position(|&a| a == address)
            .map(|i| i as Asset + 1)
    }
}

/// Any view of the state as a [`Base`]: reads go through the view (a Block-STM
/// incarnation's, so that they are recorded and versioned).
pub struct StateBase<'s, S>(pub &'s mut S);

impl<S: State> Base for StateBase<'_, S> {
    fn world(&self) -> &crate::state::World {
        self.0.world()
    }
    fn local(&self, id: cross_shard::AccountId) -> Option<u32> {
        self.0.local(id)
    }
    fn get(&mut self, key: Key) -> crate::state::Value {
        self.0.read(key)
    }
}

/// revm's database over a shard's state `base` (the ledger, or a transaction's view).
pub struct LedgerDb<'a, B> {
    /// Where values come from.
    pub base: B,
    /// The shard's EVM layout.
    pub layout: &'a Layout,
}

impl<B: Base> Database for LedgerDb<'_, B> {
    type Error = StateError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        if let Some(i) = account_id(address).and_then(|id| self.base.local(id)) {
            let v = self.base.get(Key::Account(i));
            return Ok(Some(AccountInfo {
                balance: U256::from(v[BALANCE]),
                nonce: v[NONCE],
                code_hash: KECCAK_EMPTY,
                code: None,
                ..AccountInfo::default()
            }));
        }
        if self.layout.token(address).is_some() {
            return Ok(Some(AccountInfo {
                nonce: 1,
                code_hash: self.layout.code_hash,
                code: Some(self.layout.code.clone()),
                ..AccountInfo::default()
            }));
        }
        Ok(None)
    }

    fn code_by_hash(&mut self, _hash: B256) -> Result<Bytecode, StateError> {
        // Every account with code carries it in `basic`.
        Ok(self.layout.code.clone())
    }

    fn storage(&mut self, address: Address, slot: StorageKey) -> Result<StorageValue, StateError> {
        let Some(t) = self.layout.token(address) else {
            return Ok(U256::ZERO);
        };
        if let Some(&i) = self.layout.balance_slots.get(&slot) {
            return Ok(U256::from(self.base.get(Key::Token(i, t))[BALANCE]));
        }
        if slot == U256::from(SUPPLY_SLOT) {
            // Σ of the token's balances here: derived, never stored.
            return Ok(U256::from(self.layout_total(t)));
        }
        Ok(self.layout.constants[t as usize - 1]
            .get(&slot)
            .copied()
            .unwrap_or_default())
    }

    fn block_hash(&mut self, _number: u64) -> Result<B256, StateError> {
        Ok(B256::ZERO)
    }
}

impl<B: Base> LedgerDb<'_, B> {
    /// Σ of token `t` over the local accounts.
    fn layout_total(&mut self, t: Asset) -> u64 {
        let n = self.layout.balance_slots.len() as u32;
        (0..n).fold(0u64, |sum, i| {
            sum.saturating_add(self.base.get(Key::Token(i, t))[BALANCE])
        })
    }
}

/// The database of one block's EVM: reads from the shard's ledger and commits each
/// call's changes back into it ([`apply`]), so that one EVM serves the whole block. A
/// commit that [`apply`] refuses is kept in `error` (revm's commit cannot fail) and
/// ends the block.
pub struct BlockDb<'a> {
    /// The shard's state.
    pub ledger: &'a mut Ledger,
    /// The shard's EVM layout.
    pub layout: &'a Layout,
    /// The first refused commit.
    pub error: Option<StateError>,
}

impl Database for BlockDb<'_> {
    type Error = StateError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        LedgerDb {
            base: &*self.ledger,
            layout: self.layout,
        }
        .basic(address)
    }

    fn code_by_hash(&mut self, hash: B256) -> Result<Bytecode, StateError> {
        LedgerDb {
            base: &*self.ledger,
            layout: self.layout,
        }
        .code_by_hash(hash)
    }

    fn storage(&mut self, address: Address, slot: StorageKey) -> Result<StorageValue, StateError> {
        LedgerDb {
            base: &*self.ledger,
            layout: self.layout,
        }
        .storage(address, slot)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, StateError> {
        LedgerDb {
            base: &*self.ledger,
            layout: self.layout,
        }
        .block_hash(number)
    }
}

impl DatabaseCommit for BlockDb<'_> {
    fn commit(&mut self, changes: EvmState) {
        if let Err(e) = apply(self.ledger, self.layout, &changes) {
            self.error.get_or_insert(e);
        }
    }
}

/// Writes what a call changed into the shard's state `s`, through the same keys the
/// native programs write.
pub fn apply<S: State>(s: &mut S, layout: &Layout, changes: &EvmState) -> Result<(), StateError> {
    let fit =
        |what, value: U256| u64::try_from(value).map_err(|_| StateError::TooLarge { what, value });
    for (&address, acct) in changes {
        if !acct.is_touched() {
            continue;
        }
        if let Some(i) = account_id(address).and_then(|id| s.local(id)) {
            let balance = fit("balance", acct.info.balance)?;
            s.write(Key::Account(i), [balance, acct.info.nonce]);
            continue;
        }
        let Some(t) = layout.token(address) else {
            continue;
        };
        for (&slot, value) in &acct.storage {
            if !value.is_changed() {
                continue;
            }
            if let Some(&i) = layout.balance_slots.get(&slot) {
                s.write(
                    Key::Token(i, t),
                    [fit("token balance", value.present_value)?, 0],
                );
            } else if slot != U256::from(SUPPLY_SLOT) {
                return Err(StateError::Unmapped { address, slot });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{self, BlockOutput};
    use crate::state::Ledger;
    use crate::state::tests::world;
    use crate::vm::abi::IShardToken;
    use alloy_sol_types::SolCall;
    use cross_shard::{Call, Tx};
    use revm::context::TxEnv;
    use revm::handler::{MainBuilder, MainContext};
    use revm::primitives::TxKind;
    use revm::{Context, ExecuteEvm};

    /// Shard 0 of 1 with 20 accounts and one token, and its layout.
    fn shard() -> (Ledger, Layout) {
        let mut w = world(0, 1, 20, 1);
        w.pools = 0;
        let ledger = Ledger::genesis(w, 1_000);
        let local: Vec<u64> = (0..ledger.len() as u32).map(|i| ledger.id(i)).collect();
        let layout = Layout::new(0, 1, &local).unwrap();
        (ledger, layout)
    }

    /// Runs `to.call(data)` with `value` from `from` over the ledger and applies it.
    fn evm_call(
        l: &mut Ledger,
        layout: &Layout,
        from: u64,
        to: Address,
        value: u64,
        data: Vec<u8>,
    ) -> bool {
        let nonce = l.get(Key::Account(l.local(from).unwrap()))[NONCE];
        let db = LedgerDb { base: &*l, layout };
        let mut evm = Context::mainnet().with_db(db).build_mainnet();
        let tx = TxEnv::builder()
            .caller(account(from))
            .kind(TxKind::Call(to))
            .value(U256::from(value))
            .data(data.into())
            .nonce(nonce)
            .gas_limit(1_000_000)
            .gas_price(0)
            .build()
            .unwrap();
        let out = evm.transact(tx).unwrap();
        let ok = out.result.is_success();
        drop(evm);
        apply(l, layout, &out.state).unwrap();
        ok
    }

    /// The same transfers natively and as EVM calls over the same state: the same state
    /// root, so the same balances, nonces and token balances.
    #[test]
    fn evm_calls_over_the_ledger_reach_the_native_state_root() {
        let (genesis, layout) = shard();
        let mut native = genesis.clone();
        let mut evm = genesis.clone();
        let calls = [
            (3u64, 7u64, 0u32, 25u64),
            (7, 3, 1, 40),
            (3, 9, 1, 5),
            (9, 3, 0, 1),
        ];
        let mut nonces = HashMap::<u64, u64>::new();
        for (n, &(from, to, asset, amount)) in calls.iter().enumerate() {
            let nonce = nonces.entry(from).or_insert(0);
            let tx = Tx {
                id: n as u64,
                from,
                nonce: *nonce,
                call: Call::Transfer { to, asset, amount },
            };
            *nonce += 1;
            let mut out = BlockOutput::new(1);
            exec::execute(&mut native, std::slice::from_ref(&tx), &mut out);
            assert_eq!(out.committed, vec![n as u64]);
            let ok = if asset == 0 {
                evm_call(&mut evm, &layout, from, account(to), amount, Vec::new())
            } else {
                let data = IShardToken::transferCall {
                    to: account(to),
                    value: U256::from(amount),
                }
                .abi_encode();
                evm_call(&mut evm, &layout, from, token_address(0, 1), 0, data)
            };
            assert!(ok, "call {n}");
        }
        assert_eq!(evm.state_root(), native.state_root(), "one state, two VMs");
        assert_eq!(evm.total(1), genesis.total(1), "token supply conserved");
    }

    #[test]
    fn a_reverted_transfer_consumes_the_nonce_and_moves_nothing_as_natively() {
        let (genesis, layout) = shard();
        let mut native = genesis.clone();
        let mut evm = genesis.clone();
        let tx = Tx {
            id: 0,
            from: 4,
            nonce: 0,
            call: Call::Transfer {
                to: 5,
                asset: 1,
                amount: 5_000,
            },
        };
        let mut out = BlockOutput::new(1);
        exec::execute(&mut native, std::slice::from_ref(&tx), &mut out);
        assert_eq!(out.rejected, vec![0], "natively: insufficient balance");
        let data = IShardToken::transferCall {
            to: account(5),
            value: U256::from(5_000),
        }
        .abi_encode();
        assert!(
            !evm_call(&mut evm, &layout, 4, token_address(0, 1), 0, data),
            "the EVM reverts"
        );
        assert_eq!(
            evm.state_root(),
            native.state_root(),
            "nonce consumed on both, nothing else"
        );
    }

    #[test]
    fn a_write_outside_the_mapped_state_is_refused() {
        let (genesis, layout) = shard();
        let mut l = genesis.clone();
        // An ERC-20 approve writes an allowance: not part of the shard's state.
        alloy_sol_types::sol! { function approve(address spender, uint256 value) external returns (bool); }
        let data = approveCall {
            spender: account(2),
            value: U256::from(1),
        }
        .abi_encode();
        let db = LedgerDb {
            base: &l,
            layout: &layout,
        };
        let mut evm = Context::mainnet().with_db(db).build_mainnet();
        let tx = TxEnv::builder()
            .caller(account(1))
            .kind(TxKind::Call(token_address(0, 1)))
            .data(data.into())
            .gas_limit(1_000_000)
            .gas_price(0)
            .build()
            .unwrap();
        let out = evm.transact(tx).unwrap();
        drop(evm);
        assert!(matches!(
            apply(&mut l, &layout, &out.state),
            Err(StateError::Unmapped { .. })
        ));
    }
}
