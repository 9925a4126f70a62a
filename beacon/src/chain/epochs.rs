//! Placement epochs: the beacon announces each epoch's directory changes in one of its
//! blocks (see `cross_shard::migration`). The driver proposes them one at a time, in
//! order; the next beacon block carries the change, every shard switches when it has
//! seen that block, and a shard that subscribes late gets every announcement after the
//! last one it has before anything else.

use shardsim_proto::pb;

use super::Chain;

impl Chain {
    /// Takes epoch change `e` for the next beacon block; what is wrong with it
    /// otherwise: not the epoch after the last one, another still waiting for its
    /// block, a shard that does not exist, or accounts out of order.
    pub fn propose_epoch(&mut self, e: pb::EpochChange) -> Result<(), String> {
        if let Some(waiting) = &self.next_epoch {
            return Err(format!(
                "epoch {} is still waiting for its beacon block",
                waiting.epoch
            ));
        }
        if e.epoch != self.epoch() + 1 {
            return Err(format!(
                "epoch {} announced after epoch {}: epochs come one at a time, in order",
                e.epoch,
                self.epoch()
            ));
        }
        let change = shardsim_proto::convert::epoch_from_wire(&e).map_err(|x| x.to_string())?;
        if let Some(&(a, s)) = change.moves.iter().find(|m| m.1 >= self.shards) {
            return Err(format!(
                "account {a} moves to shard {s}, the cluster has {}",
                self.shards
            ));
        }
        if change.moves.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err("moves are not in increasing account order".into());
        }
        self.next_epoch = Some(e);
        Ok(())
    }

    /// The last epoch announced in a beacon block (0: none).
    pub fn epoch(&self) -> u32 {
        self.epochs.last().map_or(0, |(_, e)| e.epoch)
    }

    /// The height of the beacon block that announced `epoch`, once there is one.
    pub fn epoch_height(&self, epoch: u32) -> Option<u64> {
        self.epochs
            .iter()
            .find(|(_, e)| e.epoch == epoch)
            .map(|&(h, _)| h)
    }

    /// Puts the waiting epoch change, if any, into block `block`.
    pub(super) fn announce_into(&mut self, block: &mut pb::BeaconBlock) {
        if let Some(e) = self.next_epoch.take() {
            block.epoch = Some(e.clone());
            self.epochs.push((block.height, e));
        }
    }

    /// Whether an epoch change waits for a block (one is made for it, idle or not).
    pub(super) fn epoch_waiting(&self) -> bool {
        self.next_epoch.is_some()
    }

    /// The blocks announcing the epochs after `known`, for a shard that subscribes
    /// with `known` (each carries only its height and its change).
    pub(super) fn epochs_after(&self, known: u32) -> impl Iterator<Item = pb::Inbound> + '_ {
        self.epochs
            .iter()
            .filter(move |(_, e)| e.epoch > known)
            .map(|(height, e)| pb::Inbound {
                kind: Some(pb::inbound::Kind::Block(pb::BeaconBlock {
                    height: *height,
                    epoch: Some(e.clone()),
                    ..pb::BeaconBlock::default()
                })),
            })
    }
}
