//! Real traffic in a run: what a cluster cannot run yet (refused by name), a
//! partition's genesis table for the validators, and summary.json's `traffic`.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::load::real::Prepared;
use crate::results::{self, Summary};
use crate::scenario::Scenario;

/// Writes a partition's genesis table into the run folder for every validator to load
/// (`--placement`); `None` when accounts are placed by hash.
pub(super) fn write_table(
    prepared: Option<&Prepared>,
    dir: &Path,
) -> anyhow::Result<Option<PathBuf>> {
    let Some(p) = prepared else {
        return Ok(None);
    };
    let Some(table) = p.placement.table() else {
        return Ok(None);
    };
    let path = dir.join("placement.bin");
    let bytes = cross_shard::placement::table_to_bytes(p.placement.shards(), table);
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(Some(path))
}

/// A cluster places accounts by hash, or by a partition made before genesis from a
/// warm-up prefix of real traffic. CLPA needs accounts that migrate between running
/// shards, which is not built yet: such a scenario is refused by name rather than run
/// as something else; `shardsim placement` studies it without a cluster.
pub(super) fn refuse_unbuilt(scenario: &Scenario, attach: bool) -> anyhow::Result<()> {
    use crate::scenario::{Source, StrategyKind};
    match scenario.placement.strategy {
        StrategyKind::Hash => Ok(()),
        StrategyKind::Clpa if scenario.workload.source == Source::Synthetic => anyhow::bail!(
            "placement.strategy = \"clpa\" places by the traffic's account graph: it needs workload.source = \"trace\" or \"ethereum-like\""
        ),
        StrategyKind::Clpa if scenario.cluster.protocol == crate::scenario::Protocol::TwoPhase => {
            anyhow::bail!(
                "placement.strategy = \"clpa\" moves accounts through the receipt channel; it is not built for protocol = \"two-phase\" (whose prepares lock accounts across shards)"
            )
        }
        StrategyKind::Clpa if attach => anyhow::bail!(
            "placement.strategy = \"clpa\": the driver announces each epoch's moves to the beacon it started; run it without --cluster"
        ),
        StrategyKind::Clpa => Ok(()),
        StrategyKind::Partition if scenario.workload.source == Source::Synthetic => {
            anyhow::bail!(
                "placement.strategy = \"partition\" places by the traffic's account graph: it needs workload.source = \"trace\" or \"ethereum-like\" (the synthetic workload's cross-shard share is a dial over hash placement)"
            )
        }
        StrategyKind::Partition if attach => anyhow::bail!(
            "placement.strategy = \"partition\": a cluster started elsewhere was given no placement table; run it without --cluster"
        ),
        StrategyKind::Partition => Ok(()),
    }
}

/// summary.json's `traffic` for a run of real traffic.
pub(super) fn summary(
    scenario: &Scenario,
    p: &Prepared,
    summary: &Summary,
) -> results::TrafficSummary {
    let g = &p.genesis;
    let owned = |m: &std::collections::BTreeMap<&'static str, u64>| {
        m.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    let trace = scenario.workload.source == crate::scenario::Source::Trace;
    // The generator makes what the run takes (under `rate = "max"` it was surveyed for
    // a ceiling, not a length): only a trace has rows a run may not reach.
    let transactions = if trace {
        g.transactions - p.prefix
    } else {
        summary.submitted
    };
    let hash = cross_shard::Placement::new(scenario.cluster.shards);
    results::TrafficSummary {
        source: if trace { "trace" } else { "ethereum-like" }.into(),
        transactions,
        submitted: summary.submitted,
        not_reached: transactions.saturating_sub(summary.submitted),
        placement: if p.placement.table().is_some() {
            "partition"
        } else {
            "hash"
        }
        .into(),
        placed_from: p.prefix,
        accounts_off_hash: p.placement.table().map_or(0, |t| {
            t.iter()
                .enumerate()
                .filter(|&(a, &s)| hash.is_some_and(|h| h.shard_of(a as u64) != u32::from(s)))
                .count() as u64
        }),
        cross_shard_share: if summary.committed == 0 {
            0.0
        } else {
            summary.cross_shard.committed as f64 / summary.committed as f64
        },
        load_imbalance: super::epochs::max_over_mean(
            &summary
                .per_shard
                .iter()
                .map(|s| s.committed)
                .collect::<Vec<_>>(),
        )
        .unwrap_or(0.0),
        accounts: scenario.workload.accounts,
        tokens: u64::from(scenario.workload.tokens),
        genesis_balance: crate::cluster::INITIAL_BALANCE,
        native_unit_wei: g.native_unit.to_string(),
        token_units: [
            g.token_units.iter().min().copied().unwrap_or(1).to_string(),
            g.token_units.iter().max().copied().unwrap_or(1).to_string(),
        ],
        trace: g.trace.as_ref().map(|a| results::TraceRows {
            rows_read: a.rows_read,
            replayable: owned(&a.replayed),
            dropped: owned(&a.dropped),
            erc20_joined: a.erc20_joined,
            values_saturated: a.values_saturated,
        }),
        migration: None,
    }
}
