//! What a trace looks like: the figures `shardsim trace stats` prints, and the
//! defaults of the `ethereum-like` generator come from.
//!
//! Two views of a transaction are used, and each figure says which:
//! - the **trace's recipient** — the `to` of the transaction as sent, so a token
//!   transfer's recipient is the token contract (how busy contracts look on chain);
//! - the **replayed pair** — the two objects shardsim's replay touches, so a token
//!   transfer is holder → holder (what placement sees and what crosses shards).

use cross_shard::{AccountId, Placement};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

use super::{Accounting, Kind, Row};

/// The figures of one trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceStats {
    /// Distinct accounts and contracts the transactions touch.
    pub accounts: u64,
    /// Transactions replayed.
    pub transactions: u64,
    /// Blocks (distinct block numbers).
    pub blocks: u64,
    /// Share of transactions that call a contract (calls and token transfers).
    pub contract_call_share: f64,
    /// Share of token transfers alone.
    pub token_share: f64,
    /// Share of transactions to the busiest 1, 10 and 100 of the trace's recipients.
    pub top_recipient_share: [f64; 3],
    /// Share of transactions whose replayed pair (unordered) transacted before in the trace.
    pub repeat_pair_share: f64,
    /// Degree (distinct counterparties of an account, replayed pairs): median.
    pub degree_median: u64,
    /// Degree: 99th percentile.
    pub degree_p99: u64,
    /// Degree: the largest.
    pub degree_max: u64,
    /// Share of accounts with one counterparty.
    pub degree_one_share: f64,
    /// The power-law exponent α fitted to the degrees (maximum likelihood, discrete,
    /// from degree 1): P(degree = d) ∝ d^−α.
    pub degree_exponent: f64,
    /// Cross-shard share of replayed pairs under hash placement at 4, 16 and 64 shards.
    pub hash_cross_share: [(u32, f64); 3],
    /// Rows read and what became of them (a trace only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounting: Option<Accounting>,
}

/// Accumulates the figures one row at a time.
#[derive(Debug, Default)]
pub struct StatsBuilder {
    txs: u64,
    accounts: FxHashSet<AccountId>,
    contract: u64,
    token: u64,
    blocks: FxHashSet<u64>,
    recipients: FxHashMap<AccountId, u64>,
    pairs: FxHashSet<(AccountId, AccountId)>,
    repeats: u64,
    degree: FxHashMap<AccountId, u64>,
    cross: [u64; 3],
}

const SHARDS: [u32; 3] = [4, 16, 64];

impl StatsBuilder {
    /// Takes one replayed row.
    pub fn add(&mut self, row: &Row) {
        self.txs += 1;
        self.accounts.insert(row.from);
        self.accounts.insert(row.to);
        if let Some(t) = row.token {
            self.accounts.insert(t);
        }
        self.blocks.insert(row.block);
        match row.kind {
            Kind::Call => self.contract += 1,
            Kind::Token => {
                self.contract += 1;
                self.token += 1;
            }
            Kind::Transfer | Kind::Create => {}
        }
        *self
            .recipients
            .entry(row.token.unwrap_or(row.to))
            .or_insert(0) += 1;
        let (a, b) = (row.from.min(row.to), row.from.max(row.to));
        if self.pairs.insert((a, b)) {
            if a != b {
                *self.degree.entry(a).or_insert(0) += 1;
                *self.degree.entry(b).or_insert(0) += 1;
            }
        } else {
            self.repeats += 1;
        }
        for (i, &k) in SHARDS.iter().enumerate() {
            let p = Placement::new(k).unwrap_or_else(|| unreachable!("k > 0"));
            if a != b && p.shard_of(a) != p.shard_of(b) {
                self.cross[i] += 1;
            }
        }
    }

    /// The figures.
    pub fn finish(self, accounting: Option<Accounting>) -> TraceStats {
        let share = |x: u64| {
            if self.txs == 0 {
                0.0
            } else {
                x as f64 / self.txs as f64
            }
        };
        let mut busiest: Vec<u64> = self.recipients.into_values().collect();
        busiest.sort_unstable_by(|a, b| b.cmp(a));
        let top = |n: usize| share(busiest.iter().take(n).sum());
        let mut degrees: Vec<u64> = self.degree.into_values().collect();
        degrees.sort_unstable();
        let at = |q: f64| {
            degrees
                .get(((degrees.len() as f64 - 1.0) * q).round().max(0.0) as usize)
                .copied()
                .unwrap_or(0)
        };
        let ln_sum: f64 = degrees.iter().map(|&d| (d as f64 / 0.5).ln()).sum();
        let exponent = if ln_sum > 0.0 {
            1.0 + degrees.len() as f64 / ln_sum
        } else {
            0.0
        };
        let ones = degrees.iter().take_while(|&&d| d == 1).count();
        TraceStats {
            accounts: self.accounts.len() as u64,
            transactions: self.txs,
            blocks: self.blocks.len() as u64,
            contract_call_share: share(self.contract),
            token_share: share(self.token),
            top_recipient_share: [top(1), top(10), top(100)],
            repeat_pair_share: share(self.repeats),
            degree_median: at(0.5),
            degree_p99: at(0.99),
            degree_max: degrees.last().copied().unwrap_or(0),
            degree_one_share: if degrees.is_empty() {
                0.0
            } else {
                ones as f64 / degrees.len() as f64
            },
            degree_exponent: exponent,
            hash_cross_share: std::array::from_fn(|i| (SHARDS[i], share(self.cross[i]))),
            accounting,
        }
    }
}

impl std::fmt::Display for TraceStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pct = |x: f64| format!("{:.1}%", x * 100.0);
        if let Some(a) = &self.accounting {
            write_accounting(f, a)?;
        }
        writeln!(f, "transactions         {}", self.transactions)?;
        if self.accounting.is_some() {
            writeln!(f, "blocks               {}", self.blocks)?;
        }
        writeln!(f, "accounts             {}", self.accounts)?;
        writeln!(
            f,
            "contract calls       {} (token transfers {})",
            pct(self.contract_call_share),
            pct(self.token_share)
        )?;
        writeln!(
            f,
            "busiest recipients   top 1 {}, top 10 {}, top 100 {} of transactions",
            pct(self.top_recipient_share[0]),
            pct(self.top_recipient_share[1]),
            pct(self.top_recipient_share[2])
        )?;
        writeln!(
            f,
            "repeat pairs         {} of transactions repeat an earlier pair",
            pct(self.repeat_pair_share)
        )?;
        writeln!(
            f,
            "degree               median {}, p99 {}, max {}; {} of accounts have one counterparty; power-law α ≈ {:.2}",
            self.degree_median,
            self.degree_p99,
            self.degree_max,
            pct(self.degree_one_share),
            self.degree_exponent
        )?;
        let cross: Vec<String> = self
            .hash_cross_share
            .iter()
            .map(|(k, s)| format!("{k} shards {}", pct(*s)))
            .collect();
        write!(f, "cross-shard (hash)   {}", cross.join(", "))
    }
}

fn write_accounting(f: &mut std::fmt::Formatter<'_>, a: &Accounting) -> std::fmt::Result {
    writeln!(f, "rows read            {}", a.rows_read)?;
    let kinds: Vec<String> = a.replayed.iter().map(|(k, n)| format!("{k} {n}")).collect();
    writeln!(
        f,
        "replayed             {} ({})",
        a.replayed_total(),
        kinds.join(", ")
    )?;
    let dropped: Vec<String> = a.dropped.iter().map(|(k, n)| format!("{k} {n}")).collect();
    writeln!(
        f,
        "dropped              {}{}",
        a.dropped_total(),
        if dropped.is_empty() {
            String::new()
        } else {
            format!(" ({})", dropped.join(", "))
        }
    )?;
    if a.erc20_joined > 0 {
        writeln!(f, "erc-20 rows joined   {}", a.erc20_joined)?;
    }
    Ok(())
}
