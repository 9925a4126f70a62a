//! Step 1 of a block: inbound receipts, applied in channel order, sequentially in every
//! executor (a small share of a block, bounded by the delayed-receipt queue).

use cross_shard::{Effect, Receipt, ShardId, TxId};

use crate::exec::{BlockExecutor, BlockOutput, Mismatch};
use crate::programs::End;
use crate::state::Ledger;

/// Step 1: applies each inbound receipt, given with its source shard, and counts it on
/// its channel in `applied[asset][src] = (receipts, value)` (receipts that carry no
/// value count under the native coin with value 0). Each is delivered by `executor`'s
/// rule (the native programs, or the EVM); their gas goes into `out.receipt_gas`.
pub fn apply_receipts(
    executor: &mut dyn BlockExecutor,
    ledger: &mut Ledger,
    receipts: &[(ShardId, Receipt)],
    applied: &mut [Vec<(u64, u64)>],
    out: &mut BlockOutput,
) -> Result<(), Mismatch> {
    let me = ledger.shard();
    let placement = ledger.placement();
    let assets = applied.len();
    // After an epoch switch, a receipt for an account that has left is delivered
    // too: `deliver` sends it on to the account's new shard (it was emitted under the
    // old directory). A migration receipt is never sent on: it was emitted under the
    // directory that names this shard.
    let moved_on = ledger.epoch() > 0;
    let here = |r: &Receipt| {
        let asset = r.effect.value().unwrap_or_default().0;
        (asset as usize) < assets
            && (r.effect.shard(&placement) == me || (moved_on && !r.effect.is_migration()))
    };
    // Every receipt whose target is here, delivered as one batch, in channel order.
    let effects: Vec<(TxId, Effect)> = receipts
        .iter()
        .filter(|(_, r)| here(r))
        .map(|(_, r)| (r.tx, r.effect))
        .collect();
    let mut ends = Vec::with_capacity(effects.len());
    executor.deliver(ledger, &effects, &mut ends)?;
    let mut ends = ends.into_iter();
    for &(src, r) in receipts {
        let (asset, value) = r.effect.value().unwrap_or_default();
        let end = if here(&r) {
            let (end, used) = ends.next().ok_or(Mismatch)?;
            out.receipt_gas += used;
            end
        } else {
            End::Misplaced
        };
        match end {
            End::Misplaced => {
                // Only a faulty source emits these; its sequence number is used all the
                // same, and its value stays counted as in flight (the audit flags it).
                out.receipts_misplaced += 1;
                continue;
            }
            End::Done if r.effect.is_migration() => {
                out.migration_applied += 1;
                if let Effect::Arrive { account, .. } = r.effect {
                    out.imported.push(account);
                }
            }
            End::Done => out.receipts_applied.push(r.tx),
            End::Failed(reason) => {
                out.failed.push(r.tx);
                out.failed_reason.push(reason.code());
            }
            End::Refunded(reason) => {
                out.refunds_applied.push(r.tx);
                out.refund_reason.push(reason.code());
            }
            End::Remote { dst, effect } => {
                out.forwarded.push(r.tx);
                out.outgoing[dst as usize].push(Receipt { tx: r.tx, effect });
            }
        }
        let channel = &mut applied[asset as usize][src as usize];
        channel.0 += 1;
        channel.1 = channel.1.saturating_add(value);
    }
    Ok(())
}
