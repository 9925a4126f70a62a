//! After a restart: once a shard's stored events have all reached the tracker, its
//! submit path resends every transaction the shard never reported on.

use cross_shard::sync::lock;

use crate::load::submit::{Resume, SubmitPath};
use crate::measure::recovery::FaultReport;
use crate::measure::tracker::Tracker;
use shardsim_proto::pb::shard_client::ShardClient;
use tonic::transport::Channel;

/// Once a restarted shard process's stored events have all reached the tracker (of
/// `shard`: with committees, any validator's events count), sends it again every
/// transaction not yet reported on, and lets its submit path go on.
#[allow(clippy::too_many_arguments)]
pub(super) fn resume_if_caught_up(
    k: usize,
    shard: usize,
    catching_up: &mut [Option<(u64, usize)>],
    tracker: &Tracker,
    paths: &[SubmitPath],
    clients: &[ShardClient<Channel>],
    reports: &mut [FaultReport],
    now: f64,
) {
    let Some((height, fault)) = catching_up[k] else {
        return;
    };
    if tracker.last_height(shard) < height {
        return;
    }
    catching_up[k] = None;
    let (resend, through) = lock(&paths[k].retained).unreported(|id| tracker.awaiting(id));
    reports[fault].resubmitted = Some(resend.iter().map(|b| b.id.len() as u64).sum());
    reports[fault].resumed_at_s = Some(now);
    // If the task has gone, the run is failing anyway and says why elsewhere.
    let _ = paths[k].resume.try_send(Resume {
        client: clients[k].clone(),
        resend,
        through,
    });
}
