//! Transactions: calls of the native programs, and why a shard refuses one.
//!
//! Every transaction is sent by one account, with that account's next nonce, and calls
//! one program (DESIGN §3, "Programs"):
//!
//! | program    | call                  | objects it touches                                  |
//! |------------|-----------------------|-----------------------------------------------------|
//! | `transfer` | [`Call::Transfer`]    | sender, recipient (native coin)                     |
//! | `token`    | [`Call::Transfer`]    | sender's and recipient's balance of a token         |
//! | `swap`     | [`Call::Swap`]        | sender's two balances, the pool                     |
//! | `nft`      | [`Call::Mint`]        | sender, the collection, the new NFT                 |
//! | `nft`      | [`Call::SendNft`]     | the NFT (held by the sender, then by the recipient) |
//! | `vote`     | [`Call::Vote`]        | sender, the proposal, the sender's ballot on it     |
//! | `call`     | [`Call::Invoke`]      | sender, the contract, its slot keyed by the sender  |
//!
//! On the wire and under a signature a call is one fixed-width [`Row`], so batches stay
//! columnar. [`Call::from_row`] accepts exactly the rows [`Call::to_row`] makes (unused
//! fields must be zero), so one call has one encoding and one signature.

use crate::ids::{AccountId, Asset, CollectionId, NATIVE, NftId, PoolId, ProposalId, TxId};

/// One transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tx {
    /// Driver-assigned id, reported back in the shard's events.
    pub id: TxId,
    /// Sender; must live on the shard that executes the transaction.
    pub from: AccountId,
    /// Must equal the sender's next nonce, which makes a transaction apply at most once
    /// (a resubmitted copy finds the nonce used) and in the sender's order.
    pub nonce: u64,
    /// What it does.
    pub call: Call,
}

/// A program call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// Move `amount` of `asset` — the native coin (`transfer`) or a token (`token`,
    /// ERC-20-like) — to `to`.
    Transfer {
        /// Recipient; on another shard the transfer becomes cross-shard.
        to: AccountId,
        /// [`NATIVE`] or a token.
        asset: Asset,
        /// Value moved.
        amount: u64,
    },
    /// Trade `amount_in` of `asset_in` for the pool's other asset; fails (and refunds)
    /// when the output would be below `min_out` (the slippage limit).
    Swap {
        /// The pool.
        pool: PoolId,
        /// What is paid in: the native coin or the pool's token.
        asset_in: Asset,
        /// How much is paid in.
        amount_in: u64,
        /// Least output accepted.
        min_out: u64,
    },
    /// Mint a new NFT into `collection`, owned by the sender; its id is
    /// `NftId { minter: from, serial: nonce }`.
    Mint {
        /// The collection.
        collection: CollectionId,
    },
    /// Give the NFT `nft`, which the sender holds, to `to`.
    SendNft {
        /// The NFT.
        nft: NftId,
        /// The new owner.
        to: AccountId,
    },
    /// Cast the sender's vote on a proposal; one vote per account per proposal.
    Vote {
        /// The proposal.
        proposal: ProposalId,
        /// For (`true`) or against.
        yes: bool,
    },
    /// A **stand-in call**: a replayed trace's call of a contract whose code shardsim
    /// does not have. It carries `value` of the native coin to the contract and writes
    /// one storage slot of the contract keyed by the caller (a count of its calls), so
    /// a busy contract is a hot *object* — every caller's call lands on its shard —
    /// without serializing its callers against one another (each writes its own slot).
    Invoke {
        /// The contract: an account; on another shard the call becomes cross-shard.
        contract: AccountId,
        /// Native coin sent with the call.
        value: u64,
        /// The gas the trace says the call cost (its `gasUsed`, else its gas limit,
        /// capped): what it charges against a block's gas limit under the EVM.
        gas: u64,
    },
}

/// The programs, for per-program counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Program {
    /// Native-coin transfers.
    Transfer = 0,
    /// Token transfers.
    Token = 1,
    /// AMM swaps.
    Swap = 2,
    /// NFT mints and transfers.
    Nft = 3,
    /// DAO votes.
    Vote = 4,
    /// Stand-in calls of a trace's contracts.
    Call = 5,
}

impl Program {
    /// Every program, in index order.
    pub const ALL: [Program; 6] = [
        Program::Transfer,
        Program::Token,
        Program::Swap,
        Program::Nft,
        Program::Vote,
        Program::Call,
    ];

    /// The name used in scenario files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Program::Transfer => "transfer",
            Program::Token => "token",
            Program::Swap => "swap",
            Program::Nft => "nft",
            Program::Vote => "vote",
            Program::Call => "call",
        }
    }
}

/// A call or a receipt effect as one fixed-width row: the wire's columns and the signed
/// bytes. What each field means depends on `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Row {
    /// Which call (or effect).
    pub kind: u32,
    /// An account: recipient, trader, minter, voter.
    pub to: u64,
    /// A value, or a flag.
    pub amount: u64,
    /// An asset, or a collection.
    pub asset: u32,
    /// An object id: pool, collection, proposal, or an NFT's minter.
    pub object: u64,
    /// A second number: slippage limit, NFT serial, refund reason.
    pub limit: u64,
}

impl Row {
    /// The bytes of the row, little-endian, field by field (40 bytes).
    pub fn bytes(&self) -> [u8; 40] {
        let mut b = [0u8; 40];
        b[..4].copy_from_slice(&self.kind.to_le_bytes());
        b[4..12].copy_from_slice(&self.to.to_le_bytes());
        b[12..20].copy_from_slice(&self.amount.to_le_bytes());
        b[20..24].copy_from_slice(&self.asset.to_le_bytes());
        b[24..32].copy_from_slice(&self.object.to_le_bytes());
        b[32..].copy_from_slice(&self.limit.to_le_bytes());
        b
    }

    /// `object` as a 32-bit id (pools, collections, proposals).
    fn object32(&self, what: &'static str) -> Result<u32, &'static str> {
        u32::try_from(self.object).map_err(|_| what)
    }

    /// Checks that the fields a kind does not use are zero.
    fn unused(&self, to: bool, amount: bool, asset: bool, object: bool, limit: bool) -> bool {
        (to || self.to == 0)
            && (amount || self.amount == 0)
            && (asset || self.asset == 0)
            && (object || self.object == 0)
            && (limit || self.limit == 0)
    }
}

impl Call {
    /// The program this call belongs to.
    pub fn program(&self) -> Program {
        match self {
            Call::Transfer { asset: NATIVE, .. } => Program::Transfer,
            Call::Transfer { .. } => Program::Token,
            Call::Swap { .. } => Program::Swap,
            Call::Mint { .. } | Call::SendNft { .. } => Program::Nft,
            Call::Vote { .. } => Program::Vote,
            Call::Invoke { .. } => Program::Call,
        }
    }

    /// The call as a row.
    pub fn to_row(&self) -> Row {
        match *self {
            Call::Transfer { to, asset, amount } => Row {
                kind: 0,
                to,
                amount,
                asset,
                ..Row::default()
            },
            Call::Swap {
                pool,
                asset_in,
                amount_in,
                min_out,
            } => Row {
                kind: 1,
                amount: amount_in,
                asset: asset_in,
                object: u64::from(pool),
                limit: min_out,
                ..Row::default()
            },
            Call::Mint { collection } => Row {
                kind: 2,
                object: u64::from(collection),
                ..Row::default()
            },
            Call::SendNft { nft, to } => Row {
                kind: 3,
                to,
                object: nft.minter,
                limit: nft.serial,
                ..Row::default()
            },
            Call::Vote { proposal, yes } => Row {
                kind: 4,
                amount: u64::from(yes),
                object: u64::from(proposal),
                ..Row::default()
            },
            Call::Invoke {
                contract,
                value,
                gas,
            } => Row {
                kind: 5,
                to: contract,
                amount: value,
                limit: gas,
                ..Row::default()
            },
        }
    }

    /// The call a row encodes, or what is wrong with it.
    pub fn from_row(r: &Row) -> Result<Call, &'static str> {
        const UNUSED: &str = "a field this call does not use is not zero";
        let call = match r.kind {
            0 if r.unused(true, true, true, false, false) => Call::Transfer {
                to: r.to,
                asset: r.asset,
                amount: r.amount,
            },
            1 if r.unused(false, true, true, true, true) => Call::Swap {
                pool: r.object32("swap pool id above 2^32")?,
                asset_in: r.asset,
                amount_in: r.amount,
                min_out: r.limit,
            },
            2 if r.unused(false, false, false, true, false) => Call::Mint {
                collection: r.object32("mint collection id above 2^32")?,
            },
            3 if r.unused(true, false, false, true, true) => Call::SendNft {
                nft: NftId {
                    minter: r.object,
                    serial: r.limit,
                },
                to: r.to,
            },
            4 if r.unused(false, true, false, true, false) => Call::Vote {
                proposal: r.object32("vote proposal id above 2^32")?,
                yes: match r.amount {
                    0 => false,
                    1 => true,
                    _ => return Err("vote choice must be 0 (against) or 1 (for)"),
                },
            },
            5 if r.unused(true, true, false, false, true) => Call::Invoke {
                contract: r.to,
                value: r.amount,
                gas: r.limit,
            },
            0..=5 => return Err(UNUSED),
            _ => {
                return Err(
                    "unknown call kind (0 transfer, 1 swap, 2 mint, 3 send_nft, 4 vote, 5 call)",
                );
            }
        };
        Ok(call)
    }
}

/// Why a transaction failed. The numeric codes travel in events.
///
/// Nonce semantics (as in Ethereum): a transaction with the wrong nonce is not
/// executed and does not consume the nonce; a transaction with the right nonce that
/// fails (insufficient balance, slippage, …) is executed as a failure and *does* consume
/// it, so one failed call does not strand every later transaction of the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// The sender does not live on this shard.
    WrongShard = 1,
    /// The sender or the recipient is not an account of the cluster, or the asset is
    /// not one of the cluster's.
    UnknownAccount = 2,
    /// The nonce is not the sender's next one.
    BadNonce = 3,
    /// The sender's balance is below the amount.
    InsufficientBalance = 4,
    /// The signature is missing or not the sender's (checked on admission, so the
    /// nonce is not consumed).
    BadSignature = 5,
    /// A swap's output would be below its `min_out` (the pool moved); the input is
    /// refunded.
    Slippage = 6,
    /// The sender does not hold the NFT it tries to send.
    NotOwner = 7,
    /// The account has already voted on this proposal.
    AlreadyVoted = 8,
    /// No such pool, collection or proposal, or an asset the pool does not trade.
    UnknownObject = 9,
    /// Two-phase commit: the deadline passed before every participant voted (the
    /// coordinator aborts; see `crate::two_phase`).
    Timeout = 10,
    /// The shard's machine has no such program: a stand-in call under `vm = "evm"`.
    Unsupported = 11,
}

impl RejectReason {
    /// Every reason, in code order.
    pub const ALL: [RejectReason; 11] = [
        RejectReason::WrongShard,
        RejectReason::UnknownAccount,
        RejectReason::BadNonce,
        RejectReason::InsufficientBalance,
        RejectReason::BadSignature,
        RejectReason::Slippage,
        RejectReason::NotOwner,
        RejectReason::AlreadyVoted,
        RejectReason::UnknownObject,
        RejectReason::Timeout,
        RejectReason::Unsupported,
    ];

    /// The wire code.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The reason for a wire code, if it is one.
    pub fn from_code(code: u32) -> Option<RejectReason> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// A short snake_case name for reports.
    pub fn name(self) -> &'static str {
        match self {
            RejectReason::WrongShard => "wrong_shard",
            RejectReason::UnknownAccount => "unknown_account",
            RejectReason::BadNonce => "bad_nonce",
            RejectReason::InsufficientBalance => "insufficient_balance",
            RejectReason::BadSignature => "bad_signature",
            RejectReason::Slippage => "slippage",
            RejectReason::NotOwner => "not_owner",
            RejectReason::AlreadyVoted => "already_voted",
            RejectReason::UnknownObject => "unknown_object",
            RejectReason::Timeout => "timeout",
            RejectReason::Unsupported => "unsupported",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn codes_round_trip() {
        for r in RejectReason::ALL {
            assert_eq!(RejectReason::from_code(r.code()), Some(r));
        }
        assert_eq!(RejectReason::from_code(0), None);
        assert_eq!(RejectReason::from_code(99), None);
    }

    fn calls() -> Vec<Call> {
        vec![
            Call::Transfer {
                to: 3,
                asset: 0,
                amount: 9,
            },
            Call::Transfer {
                to: 3,
                asset: 2,
                amount: 9,
            },
            Call::Swap {
                pool: 4,
                asset_in: 1,
                amount_in: 100,
                min_out: 90,
            },
            Call::Mint { collection: 7 },
            Call::SendNft {
                nft: NftId {
                    minter: 5,
                    serial: 11,
                },
                to: 6,
            },
            Call::Vote {
                proposal: 2,
                yes: true,
            },
            Call::Invoke {
                contract: 8,
                value: 5,
                gas: 60_000,
            },
        ]
    }

    #[test]
    fn rows_round_trip_and_name_the_program() {
        let programs: Vec<_> = calls().iter().map(|c| c.program().name()).collect();
        assert_eq!(
            programs,
            ["transfer", "token", "swap", "nft", "nft", "vote", "call"]
        );
        for c in calls() {
            assert_eq!(Call::from_row(&c.to_row()), Ok(c));
        }
    }

    #[test]
    fn odd_rows_are_refused_with_a_reason() {
        let vote = Call::Vote {
            proposal: 1,
            yes: false,
        }
        .to_row();
        assert!(Call::from_row(&Row { amount: 2, ..vote }).is_err());
        assert!(
            Call::from_row(&Row { to: 1, ..vote }).is_err(),
            "unused field set"
        );
        assert!(Call::from_row(&Row { kind: 9, ..vote }).is_err());
        let mint = Call::Mint { collection: 1 }.to_row();
        assert!(
            Call::from_row(&Row {
                object: 1 << 40,
                ..mint
            })
            .is_err()
        );
    }

    proptest! {
        #[test]
        fn any_row_decodes_to_a_call_that_encodes_back_or_is_refused(
            kind in 0u32..7, to in any::<u64>(), amount in 0u64..3, asset in 0u32..3,
            object in prop_oneof![0u64..10, any::<u64>()], limit in any::<u64>(),
        ) {
            let row = Row { kind, to, amount, asset, object, limit };
            if let Ok(call) = Call::from_row(&row) {
                prop_assert_eq!(call.to_row(), row, "one encoding per call");
            }
        }
    }
}
