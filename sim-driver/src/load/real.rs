//! Real-traffic sources in one stream: a trace or the Ethereum-like generator, each
//! transaction with the time it is offered at.
//!
//! ```text
//!  source = "trace"          ──► trace::read ─┐
//!                                             ├─► (Row, offered at) in order
//!  source = "ethereum-like"  ──► EthereumLike ┘
//! ```
//!
//! The offered time is what a run would use, in seconds from the start of the load:
//! the `i`-th transaction at `i / rate` (the `[[phases]]` are not replayed here), or,
//! under `trace.timing = "original"`, its block's timestamp less the first block's,
//! with each gap between blocks cut to `max_gap` and then divided by `speed`.

use anyhow::Context;

use super::ethereum_like::EthereumLike;
use super::trace::{self, Accounting, Row, TraceFiles};
use crate::scenario::{Rate, Scenario, Source, Timing};

/// The transactions of `scenario`'s real-traffic source, at most `limit` (default: a
/// trace's every row; the generator's `(warmup + duration) × rate`), each handed to
/// `each` with its offered time (`None` under `rate = "max"`, where no schedule
/// exists). Returns the trace's accounting, for a trace.
pub fn for_each(
    scenario: &Scenario,
    limit: Option<u64>,
    mut each: impl FnMut(Row, Option<f64>),
) -> anyhow::Result<Option<Accounting>> {
    let rate = match scenario.workload.rate {
        Rate::PerSecond(r) => Some(r as f64),
        Rate::Max => None,
    };
    let w = &scenario.workload;
    match w.source {
        Source::Synthetic => anyhow::bail!(
            "workload.source is \"synthetic\": its cross-shard share is a dial \
             (workload.cross_shard), not a consequence of who transacts with whom; \
             use source = \"trace\" or \"ethereum-like\""
        ),
        Source::EthereumLike => {
            let total = match (limit, rate) {
                (Some(n), _) => n,
                (None, Some(r)) => ((scenario.warmup + scenario.duration).as_secs_f64() * r) as u64,
                (None, None) => anyhow::bail!(
                    "workload.rate = \"max\" sets no length for the generated traffic: give a count of transactions"
                ),
            };
            let mut g = EthereumLike::new(w.ethereum_like, w.accounts, scenario.seed);
            for i in 0..total {
                each(g.next_row(), rate.map(|r| i as f64 / r));
            }
            Ok(None)
        }
        Source::Trace => {
            let spec = w
                .trace
                .as_ref()
                .context("workload.source = \"trace\" without [workload.trace]")?;
            let files = TraceFiles {
                path: spec.path.clone(),
                erc20: spec.erc20.clone(),
                gas_cap: spec.gas_cap,
            };
            let mut i = 0u64;
            let mut clock = OriginalClock::new(spec.max_gap.as_secs_f64(), spec.speed);
            let original = spec.timing == Timing::Original;
            // A trace cannot be stopped midway from inside the reader's callback; rows
            // past the limit are read and not handed on (and still accounted for).
            let acct = trace::read(&files, |row| {
                if limit.is_some_and(|n| i >= n) {
                    return;
                }
                let at = if original {
                    Some(clock.at(row.timestamp))
                } else {
                    rate.map(|r| i as f64 / r)
                };
                i += 1;
                each(row, at);
            })
            .with_context(|| format!("reading the trace {}", spec.path.display()))?;
            Ok(Some(acct))
        }
    }
}

/// Offered times under `timing = "original"`.
#[derive(Debug, Clone)]
pub struct OriginalClock {
    max_gap: f64,
    speed: f64,
    last: Option<u64>,
    now: f64,
}

impl OriginalClock {
    /// A clock cutting gaps to `max_gap` seconds (after `speed`).
    pub fn new(max_gap: f64, speed: f64) -> OriginalClock {
        OriginalClock {
            max_gap,
            speed,
            last: None,
            now: 0.0,
        }
    }

    /// The offered time of a transaction of a block stamped `timestamp`.
    pub fn at(&mut self, timestamp: u64) -> f64 {
        if let Some(last) = self.last {
            let gap = timestamp.saturating_sub(last) as f64 / self.speed;
            self.now += gap.min(self.max_gap);
        }
        self.last = Some(timestamp);
        self.now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_timing_speeds_up_and_cuts_long_gaps() {
        let mut c = OriginalClock::new(1.0, 4.0);
        assert_eq!(c.at(1_000), 0.0);
        assert_eq!(c.at(1_000), 0.0, "same block, same time");
        assert_eq!(c.at(1_002), 0.5, "2 s on chain at 4×");
        assert_eq!(c.at(90_000), 1.5, "a day's gap cut to max_gap");
    }
}
