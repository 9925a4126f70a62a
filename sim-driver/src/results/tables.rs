//! The run summary as a table, and two runs side by side.

use super::summary::*;

/// The summary as a table for the terminal.
pub fn table(s: &Summary) -> String {
    let mut out = String::new();
    let line = |out: &mut String, k: &str, v: String| out.push_str(&format!("  {k:<22} {v}\n"));
    line(
        &mut out,
        "scenario",
        format!("{} (seed {}, {} shards)", s.scenario, s.seed, s.shards),
    );
    if s.partial {
        line(
            &mut out,
            "PARTIAL",
            if s.failures.is_empty() {
                "interrupted before the planned end; the figures cover what ran".into()
            } else {
                "the run could not finish; the figures cover what ran".into()
            },
        );
    }
    for f in &s.failures {
        line(&mut out, "FAILURE", f.clone());
    }
    line(
        &mut out,
        "throughput",
        format!("{:.0} tx/s final over {:.1} s", s.tps, s.measured_window_s),
    );
    if let Some(g) = &s.gas {
        line(
            &mut out,
            "gas (EVM)",
            format!(
                "{:.1} Mgas/s over the window · {:.0} gas per transaction · {} in all",
                g.mgas_per_s, g.per_tx, g.used
            ),
        );
        let per_program: Vec<String> = s
            .programs
            .iter()
            .filter_map(|(name, p)| p.gas_per_tx.map(|g| format!("{name} {g:.0}")))
            .collect();
        if !per_program.is_empty() {
            line(
                &mut out,
                "gas per call",
                format!(
                    "{} · receipts {:.1}% of all gas",
                    per_program.join(" · "),
                    100.0 * g.receipts as f64 / g.used.max(1) as f64
                ),
            );
        }
    }
    line(
        &mut out,
        "transactions",
        format!(
            "{} submitted · {} final ({} cross-shard) · {} rejected · {} pending · {} lost",
            s.submitted, s.committed, s.cross_shard.committed, s.rejected, s.pending, s.lost
        ),
    );
    if let Some(t) = &s.traffic {
        let rows = t.trace.as_ref().map_or(String::new(), |r| {
            let dropped: u64 = r.dropped.values().sum();
            format!(
                " · {} rows read, {dropped} dropped, {} erc-20 rows joined",
                r.rows_read, r.erc20_joined
            )
        });
        line(
            &mut out,
            "traffic",
            format!(
                "{} placed by {}: {} of {} sent ({} not reached){rows} · {:.1}% cross-shard, a result · busiest shard {:.2}× the mean",
                t.source,
                t.placement,
                t.submitted,
                t.transactions,
                t.not_reached,
                t.cross_shard_share * 100.0,
                t.load_imbalance
            ),
        );
        if let Some(m) = &t.migration {
            let switch = m
                .epochs
                .iter()
                .filter_map(|e| e.switch_s)
                .fold(None, |a: Option<f64>, s| Some(a.map_or(s, |a| a.max(s))));
            let blocks = m.epochs.iter().filter_map(|e| e.switch_blocks).max();
            line(
                &mut out,
                "migration",
                format!(
                    "{} accounts moved in {} epochs ({:.1} MB) · unavailable p50 {:.0} ms, p99 {:.0} ms · slowest switch {} · {} calls refused, {} receipts forwarded",
                    m.accounts_moved,
                    m.epochs.len(),
                    m.bytes_moved as f64 / 1e6,
                    m.unavailable_p50_ms,
                    m.unavailable_p99_ms,
                    match (switch, blocks) {
                        (Some(s), Some(b)) => format!("{s:.2} s ({b} blocks)"),
                        (Some(s), None) => format!("{s:.2} s"),
                        _ => "—".into(),
                    },
                    m.calls_refused,
                    m.receipts_forwarded
                ),
            );
        }
    }
    out.push_str(&format!(
        "  {:<22} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
        "latency (ms)", "p50", "p90", "p99", "p99.9", "max"
    ));
    for (k, p) in [
        ("  intra-shard", &s.latency_ms.intra),
        ("  cross-shard", &s.latency_ms.cross),
        ("  all", &s.latency_ms.all),
    ] {
        out.push_str(&format!(
            "  {k:<22} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}\n",
            p.p50, p.p90, p.p99, p.p999, p.max
        ));
    }
    for sh in &s.per_shard {
        line(
            &mut out,
            &format!("shard {}", sh.shard),
            format!(
                "{:.0} tx/s · {} blocks · {} rejected",
                sh.tps, sh.height, sh.rejected
            ),
        );
    }
    if let Some(c) = &s.consensus {
        for sh in &c.shards {
            let mut seen = Vec::new();
            if sh.equivocations > 0 {
                seen.push(format!("{} equivocations", sh.equivocations));
            }
            if sh.wrong_roots > 0 {
                seen.push(format!("{} wrong roots", sh.wrong_roots));
            }
            if sh.bad_messages > 0 {
                seen.push(format!("{} bad messages", sh.bad_messages));
            }
            if sh.inputs_refused > 0 {
                seen.push(format!(
                    "{} proposals with forged inputs",
                    sh.inputs_refused
                ));
            }
            line(
                &mut out,
                &format!("consensus {}", sh.shard),
                format!(
                    "{} of {} · commit p50 {:.1} ms, p99 {:.1} ms · {} view changes · {:.0} msgs/block{}",
                    c.quorum,
                    c.validators,
                    sh.commit_ms.p50,
                    sh.commit_ms.p99,
                    sh.view_changes,
                    sh.messages_per_block,
                    if seen.is_empty() {
                        String::new()
                    } else {
                        format!(" · seen: {}", seen.join(", "))
                    }
                ),
            );
        }
    }
    if let Some(tp) = &s.two_phase {
        let reasons: Vec<String> = tp
            .aborts_by_reason
            .iter()
            .map(|(r, n)| format!("{n} {r}"))
            .collect();
        line(
            &mut out,
            "two-phase",
            format!(
                "{} commits · {} aborts ({:.1}%{}) · lock wait p50 {:.0} ms, p99 {:.0} ms ({} waited)",
                tp.commits,
                tp.aborts,
                tp.abort_rate * 100.0,
                if reasons.is_empty() {
                    String::new()
                } else {
                    format!(": {}", reasons.join(", "))
                },
                tp.lock_wait_ms.p50,
                tp.lock_wait_ms.p99,
                tp.lock_wait_ms.count
            ),
        );
    }
    let sec = &s.security;
    if sec.votes_rejected > 0 {
        line(
            &mut out,
            "votes refused",
            format!(
                "{} late · {} forged · {} duplicate",
                sec.votes_late, sec.votes_forged, sec.votes_duplicate
            ),
        );
    }
    if sec.receipts_rejected + sec.headers_rejected + sec.deliveries_rejected > 0 {
        line(
            &mut out,
            "refused",
            format!(
                "{} forged + {} replayed receipts · {} headers · {} deliveries",
                sec.receipts_forged,
                sec.receipts_replayed,
                sec.headers_rejected,
                sec.deliveries_rejected
            ),
        );
    }
    let b = &s.backlog;
    if b.exceeded_capacity {
        line(
            &mut out,
            "backlog",
            format!(
                "offered load exceeded capacity: {} transactions waiting when the load stopped (largest {}), drained in {}",
                b.at_load_end,
                b.max,
                b.drain_s
                    .map_or_else(|| "— never".to_string(), |d| format!("{d:.1} s"))
            ),
        );
    }
    for f in &s.faults {
        let mut what = format!("{} at {:.1} s", f.fault, f.at_s);
        if let Some(n) = f.resubmitted {
            what.push_str(&format!(" · {n} resent"));
        }
        match (f.restarted_at_s, f.recovery_s) {
            (Some(_), Some(r)) => what.push_str(&format!(" · recovered {r:.1} s after restart")),
            (Some(_), None) => what.push_str(" · throughput not back within 10% before the end"),
            (None, _) => {}
        }
        line(&mut out, "fault", what);
    }
    for o in &s.faults_observed {
        let mut what = format!(
            "{} silent from {:.1} s (noticed at {:.1} s: {})",
            o.who, o.silent_since_s, o.noticed_s, o.how
        );
        what.push_str(if o.tolerated {
            " · tolerated: its committee kept a quorum"
        } else {
            " · not tolerated"
        });
        match o.back_s {
            Some(b) => what.push_str(&format!(" · answered again at {b:.1} s")),
            None => what.push_str(" · silent to the end"),
        }
        line(&mut out, "fault observed", what);
    }
    let r = &s.recovery;
    if !s.faults.is_empty() {
        line(
            &mut out,
            "recovery",
            format!(
                "{} restarts · {} link retries · {} headers resent ({} duplicate, {} out of order at the beacon) · {} deliveries out of order",
                r.restarts,
                r.link_retries,
                r.headers_retransmitted,
                r.headers_duplicate,
                r.headers_out_of_order,
                r.deliveries_out_of_order
            ),
        );
    }
    if let Some(sim) = &s.simulator {
        line(
            &mut out,
            "simulator",
            format!(
                "{} events · {:.1} virtual s in {:.1} s wall ({:.2}× real time, {:.0} events/s)",
                sim.events, sim.virtual_s, sim.wall.seconds, sim.wall.speed, sim.wall.events_per_s
            ),
        );
    }
    let cpu = &s.cpu_seconds;
    if cpu.wall > 0.0 {
        line(
            &mut out,
            "cpu (s)",
            format!(
                "driver {:.1} · beacon {:.1} · shards {:.1} over {:.1} s wall",
                cpu.driver,
                cpu.beacon,
                cpu.shards.iter().sum::<f64>(),
                cpu.wall
            ),
        );
    }
    let verdict = |b: bool| if b { "ok" } else { "FAILED" };
    line(
        &mut out,
        "invariants",
        format!(
            "supply {} · exactly-once {} · accounted {} · all final {} · one shard per account {}{}{}",
            verdict(s.invariants.supply_conserved),
            verdict(s.invariants.exactly_once),
            verdict(s.invariants.all_accounted),
            verdict(s.invariants.all_final),
            verdict(s.invariants.one_shard_per_account),
            s.invariants
                .atomic
                .map_or(String::new(), |a| format!(" · atomic {}", verdict(a))),
            s.invariants
                .consensus_safe
                .map_or(String::new(), |c| format!(" · consensus {}", verdict(c)))
        ),
    );
    for v in &s.invariants.violations {
        out.push_str(&format!("    ✗ {v}\n"));
    }
    out
}

/// Two summaries side by side, with the change from `a` to `b`.
pub fn compare_table(a: &Summary, b: &Summary, a_name: &str, b_name: &str) -> String {
    let mut out = format!(
        "  {:<24} {:>14} {:>14} {:>10}\n",
        "", a_name, b_name, "change"
    );
    let mut row = |k: &str, x: f64, y: f64, decimals: usize| {
        let change = if x == 0.0 {
            if y == 0.0 {
                "=".to_string()
            } else {
                "new".to_string()
            }
        } else {
            format!("{:+.1}%", (y - x) / x * 100.0)
        };
        out.push_str(&format!(
            "  {k:<24} {x:>14.decimals$} {y:>14.decimals$} {change:>10}\n"
        ));
    };
    row("shards", f64::from(a.shards), f64::from(b.shards), 0);
    row("throughput (tx/s)", a.tps, b.tps, 0);
    row("committed", a.committed as f64, b.committed as f64, 0);
    row(
        "cross-shard committed",
        a.cross_shard.committed as f64,
        b.cross_shard.committed as f64,
        0,
    );
    row("rejected", a.rejected as f64, b.rejected as f64, 0);
    row("lost", a.lost as f64, b.lost as f64, 0);
    for (class, pa, pb) in [
        ("intra", &a.latency_ms.intra, &b.latency_ms.intra),
        ("cross", &a.latency_ms.cross, &b.latency_ms.cross),
        ("all", &a.latency_ms.all, &b.latency_ms.all),
    ] {
        row(&format!("{class} p50 (ms)"), pa.p50, pb.p50, 1);
        row(&format!("{class} p99 (ms)"), pa.p99, pb.p99, 1);
        row(&format!("{class} p99.9 (ms)"), pa.p999, pb.p999, 1);
    }
    let ok = |s: &Summary| if s.invariants.ok { "ok" } else { "FAILED" };
    out.push_str(&format!(
        "  {:<24} {:>14} {:>14}\n",
        "invariants",
        ok(a),
        ok(b)
    ));
    out
}
