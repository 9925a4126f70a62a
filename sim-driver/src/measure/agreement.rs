//! `consensus_safe`: the honest validators of every committee hold the same chain.
//!
//! Each validator's own `Status` lists its last committed blocks (height, hash, state
//! root). For every shard, every pair of honest validators must agree at every height
//! both list, and their lists must overlap — a validator whose chain cannot be
//! compared (it did not answer, or it is too far behind for its list to meet the
//! others') fails the check rather than being skipped. A Byzantine validator is left
//! out: its word is not evidence.

use std::collections::BTreeMap;

use shardsim_proto::pb;

/// At one height: each (hash, state root) committed, with who committed it.
type Versions<'a> = BTreeMap<(&'a [u8], &'a [u8]), Vec<&'a str>>;

/// Why a committee's chains do not agree, one line each; empty when they do.
pub fn disagreements(
    validators: &[(pb::ShardStatus, bool)],
    names: &[String],
    n: usize,
) -> Vec<String> {
    let mut found = Vec::new();
    if n < 2 {
        return found;
    }
    for (k, committee) in validators.chunks(n).enumerate() {
        let mut by_height: BTreeMap<u64, Versions> = BTreeMap::new();
        let mut lists = Vec::new();
        for (v, (status, honest)) in committee.iter().enumerate() {
            if !honest {
                continue;
            }
            let name = names.get(k * n + v).map_or("?", String::as_str);
            let Some(c) = &status.consensus else {
                found.push(format!(
                    "shard {k}: {name} reported no consensus status: its chain cannot be compared"
                ));
                continue;
            };
            let heights: Vec<u64> = c.recent.iter().map(|h| h.height).collect();
            for h in &c.recent {
                by_height
                    .entry(h.height)
                    .or_default()
                    .entry((h.hash.as_slice(), h.state_root.as_slice()))
                    .or_default()
                    .push(name);
            }
            lists.push((name, heights));
        }
        for (height, versions) in &by_height {
            if versions.len() > 1 {
                let who: Vec<String> = versions
                    .iter()
                    .map(|((hash, _), names)| {
                        format!("{} committed {}", names.join(", "), hex_prefix(hash))
                    })
                    .collect();
                found.push(format!(
                    "shard {k} height {height}: honest validators committed different blocks ({})",
                    who.join("; ")
                ));
            }
        }
        // Every honest validator's list must meet every other's.
        for (i, (a, ha)) in lists.iter().enumerate() {
            for (b, hb) in &lists[i + 1..] {
                let meet = ha.iter().any(|h| hb.contains(h));
                let empty = ha.is_empty() && hb.is_empty();
                if !meet && !empty {
                    found.push(format!(
                        "shard {k}: the chains of {a} (heights {}) and {b} (heights {}) do not overlap: they cannot be compared",
                        span(ha),
                        span(hb)
                    ));
                }
            }
        }
    }
    found
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

fn span(heights: &[u64]) -> String {
    match (heights.first(), heights.last()) {
        (Some(a), Some(b)) => format!("{a}–{b}"),
        _ => "none".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validator(chain: &[(u64, u8)], honest: bool) -> (pb::ShardStatus, bool) {
        let status = pb::ShardStatus {
            consensus: Some(pb::ConsensusStatus {
                recent: chain
                    .iter()
                    .map(|&(height, b)| pb::CommittedHeader {
                        height,
                        hash: vec![b; 32],
                        state_root: vec![b; 32],
                    })
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        (status, honest)
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|v| format!("shard-0/validator-{v}")).collect()
    }

    #[test]
    fn identical_chains_agree_and_a_lagging_validator_is_compared_where_it_overlaps() {
        let chain = [(1, 1), (2, 2), (3, 3)];
        let vs = vec![
            validator(&chain, true),
            validator(&chain, true),
            validator(&chain[..2], true),
            validator(&[], true),
        ];
        let found = disagreements(&vs[..3], &names(3), 3);
        assert!(found.is_empty(), "{found:?}");
        // The fourth committed nothing: no height to meet the others' at.
        let found = disagreements(&vs, &names(4), 4);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].contains("do not overlap"), "{found:?}");
    }

    #[test]
    fn two_honest_validators_with_different_blocks_at_one_height_fail_it() {
        let vs = vec![
            validator(&[(1, 1), (2, 2)], true),
            validator(&[(1, 1), (2, 9)], true),
            validator(&[(1, 1), (2, 2)], true),
            validator(&[(1, 1), (2, 7)], false),
        ];
        let found = disagreements(&vs, &names(4), 4);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("height 2"), "{found:?}");
        assert!(
            found[0].contains("shard-0/validator-1 committed 09090909"),
            "{found:?}"
        );
        assert!(
            !found[0].contains("validator-3"),
            "a Byzantine validator is not evidence"
        );
        // A silent validator (no consensus status) cannot be vouched for.
        let mut silent = vs.clone();
        silent[1].0.consensus = None;
        let found = disagreements(&silent, &names(4), 4);
        assert!(
            found
                .iter()
                .any(|f| f.contains("reported no consensus status")),
            "{found:?}"
        );
    }
}
