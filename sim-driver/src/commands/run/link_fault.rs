//! Turning a `[[faults]]` link fault on or off at its shard (`InjectFault`).

use shardsim_proto::pb;
use shardsim_proto::pb::shard_client::ShardClient;
use tonic::transport::Channel;

use crate::measure::settle::RPC_TIMEOUT;
use crate::scenario::Fault;

/// Sends fault `n`'s link settings (`on`) or a healthy link (`!on`) to its shard.
/// A refusal is an error; a shard that does not answer in time is a failure line
/// for the run (returned), not an error: the run goes on and says so.
pub(super) async fn inject(
    client: &mut ShardClient<Channel>,
    fault: &Fault,
    n: usize,
    on: bool,
) -> anyhow::Result<Option<String>> {
    let wire = if on {
        pb::LinkFault {
            delay_us: fault.delay.as_micros() as u64,
            drop: fault.drop,
            duplicate: fault.duplicate,
        }
    } else {
        pb::LinkFault::default()
    };
    let shard = fault.link.map(|t| t.to_string()).unwrap_or_default();
    match tokio::time::timeout(RPC_TIMEOUT, client.inject_fault(wire)).await {
        Ok(Ok(_)) => Ok(None),
        Ok(Err(e)) => anyhow::bail!("injecting fault {} on {shard}: {e}", n + 1),
        Err(_) => Ok(Some(format!(
            "{shard} did not answer the request to inject fault {}",
            n + 1
        ))),
    }
}
