//! The native transfer and why a transaction can be rejected.

use crate::ids::{AccountId, Asset, TxId};

/// Move `amount` of an asset — the native coin (`transfer`) or a token (`token`) —
/// from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// Driver-assigned id, reported back in the shard's events.
    pub id: TxId,
    /// Sender; must live on the shard that executes the transfer.
    pub from: AccountId,
    /// Recipient; on another shard the transfer becomes cross-shard.
    pub to: AccountId,
    /// Value moved.
    pub amount: u64,
    /// What is moved: [`crate::ids::NATIVE`] or a token id.
    pub asset: Asset,
    /// Must equal the sender's next nonce, which makes a transaction apply at most once
    /// (a resubmitted copy finds the nonce used) and in the sender's order.
    pub nonce: u64,
}

/// Why a shard refused a transaction. The numeric codes travel in events.
///
/// Nonce semantics (as in Ethereum): a transaction with the wrong nonce is not
/// executed and does not consume the nonce; a transaction with the right nonce that
/// fails (insufficient balance) is executed as a failure and *does* consume it, so one
/// failed payment does not strand every later transaction of the sender.
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
}

impl RejectReason {
    /// Every reason, in code order.
    pub const ALL: [RejectReason; 5] = [
        RejectReason::WrongShard,
        RejectReason::UnknownAccount,
        RejectReason::BadNonce,
        RejectReason::InsufficientBalance,
        RejectReason::BadSignature,
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for r in RejectReason::ALL {
            assert_eq!(RejectReason::from_code(r.code()), Some(r));
        }
        assert_eq!(RejectReason::from_code(0), None);
        assert_eq!(RejectReason::from_code(99), None);
    }
}
