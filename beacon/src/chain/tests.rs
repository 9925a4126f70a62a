//! Tests of the beacon chain.

use super::*;
use cross_shard::Receipt;
use cross_shard::two_phase::{Verdict, Vote};
use cross_shard::{Hash, Header, ReceiptBatch, receipt};
use shardsim_proto::pb;

/// The secret the test committees' keys come from.
const SECRET: [u8; 32] = [5; 32];

/// Three shards' committees of one validator each.
pub(crate) fn committees() -> Vec<consensus::Committee> {
    (0..3)
        .map(|k| consensus::Committee::derived(&SECRET, k, 1).unwrap())
        .collect()
}

/// Signs `sub`'s header as its shard's (one-validator) committee would, when the
/// header is well formed enough to have a hash.
fn certify(sub: &mut pb::HeaderSubmission) {
    let Some(header) = sub.header.as_ref().and_then(|h| Header::try_from(h).ok()) else {
        return;
    };
    sub.cert = Some(cert_for(&header, &SECRET));
}

/// The certificate of `header` by validator 0 of its shard, keys from `secret`.
fn cert_for(header: &Header, secret: &[u8; 32]) -> pb::QuorumCert {
    let key = consensus::committee::validator_key(secret, header.shard, 0);
    shardsim_proto::convert::cert_to_wire(&consensus::QuorumCert::of_header(&key, header))
}

/// Builds shard `src`'s submission at `height` after `prev`, with one batch per
/// (dst, first_seq, count).
pub(crate) fn submission(
    src: u32,
    height: u64,
    prev: Hash,
    batches: &[(u32, u64, u64)],
    acks: &[(u32, u64)],
) -> (pb::HeaderSubmission, Header) {
    let batches: Vec<ReceiptBatch> = batches
        .iter()
        .map(|&(dst, first_seq, n)| ReceiptBatch {
            src,
            dst,
            first_seq,
            receipts: (0..n).map(|i| Receipt::credit(i, 1, 10, 0)).collect(),
        })
        .collect();
    let header = Header {
        shard: src,
        height,
        prev_hash: prev,
        state_root: Hash::ZERO,
        receipts_root: receipt::receipts_root(src, 3, &batches),
        tx_count: 0,
        inputs: Hash::ZERO,
    };
    let sub = pb::HeaderSubmission {
        header: Some(pb::Header::from(&header)),
        batches: batches.iter().map(pb::ReceiptBatch::from).collect(),
        acks: acks
            .iter()
            .map(|&(src, next_seq)| pb::ChannelAck { src, next_seq })
            .collect(),
        // The leaves of the destinations sent to, in increasing order.
        leaf_dsts: batches.iter().map(|b| b.dst).collect(),
        leaves: batches.iter().map(|b| b.leaf().0.to_vec()).collect(),
        votes: Vec::new(),
        cert: Some(cert_for(&header, &SECRET)),
        decided_through: 0,
    };
    (sub, header)
}

#[test]
fn notarizes_routes_and_forgets_on_ack() {
    let mut chain = Chain::new(committees(), None);
    let (s, h1) = submission(0, 1, Hash::ZERO, &[(1, 0, 2), (2, 0, 1)], &[]);
    chain.accept(&s).unwrap();
    assert_eq!(chain.in_flight(), (3, 30), "pending counts as in flight");
    let n = chain.notarize().unwrap();
    assert_eq!(n.block.crosslinks.len(), 1);
    assert_eq!(n.deliveries.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
    assert!(chain.notarize().is_none(), "no empty beacon blocks");
    assert_eq!(chain.backlog(1, 0).len(), 3, "block + deliveries + tip");
    // Shard 1 acks both receipts from shard 0.
    let (ack, _) = submission(1, 1, Hash::ZERO, &[], &[(0, 2)]);
    chain.accept(&ack).unwrap();
    assert_eq!(chain.backlog(1, 0).len(), 1, "the tip alone");
    assert_eq!(chain.in_flight(), (1, 10));
    // Shard 0 continues its chain and its channels.
    let (s2, _) = submission(0, 2, h1.hash(), &[(1, 2, 1)], &[]);
    chain.accept(&s2).unwrap();
    assert_eq!(chain.shard_heights(), vec![2, 1, 0]);
}

proptest::proptest! {
    /// Arbitrary submissions (wrong shards, heights, hash lengths, columns, acks)
    /// are refused or accepted, never a panic; nothing refused changes the chain.
    #[test]
    fn arbitrary_submissions_never_panic(
        subs in proptest::collection::vec(
            (0u32..5, 0u64..4, 0usize..40, proptest::collection::vec((0u32..5, 0u32..5, 0u64..3, 0usize..4, 0usize..4), 0..4), proptest::collection::vec((0u32..5, proptest::num::u64::ANY), 0..3)),
            1..12,
        )
    ) {
        let mut chain = Chain::new(committees(), Some(2));
        for (shard, height, hash_len, batches, acks) in subs {
            let mut sub = pb::HeaderSubmission {
                header: Some(pb::Header {
                    shard,
                    height,
                    prev_hash: vec![0; hash_len],
                    state_root: vec![0; 32],
                    receipts_root: vec![0; 32],
                    tx_count: 0,
                    inputs: vec![0; 32],
                }),
                batches: batches
                    .into_iter()
                    .map(|(src, dst, first_seq, n, m)| pb::ReceiptBatch {
                        src,
                        dst,
                        first_seq,
                        tx_id: vec![1; n],
                        to: vec![2; m],
                        amount: vec![u64::MAX; n],
                        asset: vec![1; m % 3],
                        kind: vec![(m % 7) as u32; m % 2],
                        ..Default::default()
                    })
                    .collect(),
                acks: acks.into_iter().map(|(src, next_seq)| pb::ChannelAck { src, next_seq }).collect(),
                leaves: vec![vec![0; 32]; shard as usize % 4],
                leaf_dsts: (0..shard % 4).collect(),
                votes: vec![pb::Vote { tx: height, yes: hash_len % 2 == 0, reason: hash_len as u32 % 12, output: 0 }],
                ..Default::default()
            };
            // Certified, so that the checks after the certificate's are reached too.
            certify(&mut sub);
            let before = (chain.shard_heights(), chain.in_flight());
            if chain.accept(&sub).is_err() {
                proptest::prop_assert_eq!(before, (chain.shard_heights(), chain.in_flight()));
            }
            let _ = chain.notarize();
            let _ = chain.backlog(shard, 0);
        }
    }
}

#[test]
fn forged_and_replayed_batches_are_dropped_and_counted_withheld_ones_refused() {
    let mut chain = Chain::new(committees(), None);
    let (s1, h1) = submission(0, 1, Hash::ZERO, &[(1, 0, 2)], &[]);
    chain.accept(&s1).unwrap();
    // Block 2 honestly sends to shard 2, and also slips in a batch to shard 1 that
    // its header does not commit to, and replays block 1's batch.
    let (mut s2, h2) = submission(0, 2, h1.hash(), &[(2, 0, 1)], &[]);
    let mut forged = s1.batches[0].clone();
    forged.first_seq = 2;
    forged.amount = vec![1_000_000; 2];
    s2.batches.push(forged);
    s2.batches.push(s1.batches[0].clone());
    chain.accept(&s2).unwrap();
    assert_eq!((chain.receipts_forged, chain.receipts_replayed), (2, 2));
    assert_eq!(
        chain.in_flight(),
        (3, 30),
        "only the honest receipts are routed"
    );
    // A header committing to receipts it does not send is refused whole.
    let (mut s3, _) = submission(0, 3, h2.hash(), &[(1, 2, 1)], &[]);
    s3.batches.clear();
    assert!(chain.accept(&s3).is_err());
    assert_eq!(chain.shard_heights()[0], 2);
}

#[test]
fn two_phase_opens_prepares_counts_votes_and_decides_by_the_deadline() {
    use shardsim_proto::convert::vote_to_wire;
    let mut chain = Chain::new(committees(), Some(2));
    // Shard 0 prepares txs 0 and 1 on shard 1 (credit receipts, ids 0 and 1).
    let (s, _) = submission(0, 1, Hash::ZERO, &[(1, 0, 2)], &[]);
    chain.accept(&s).unwrap();
    let n = chain.notarize().unwrap();
    assert!(n.block.decisions.is_empty());
    assert_eq!(chain.two_phase_open(), 2);
    // Shard 1 votes yes on tx 0, and also on tx 7 (never prepared); shard 2 votes
    // on tx 1, which is not its to vote on.
    let (mut v1, h1) = submission(1, 1, Hash::ZERO, &[], &[(0, 2)]);
    v1.votes = vec![
        vote_to_wire(0, Vote::Yes { output: 0 }),
        vote_to_wire(7, Vote::Yes { output: 0 }),
    ];
    chain.accept(&v1).unwrap();
    let (mut v2, _) = submission(2, 1, Hash::ZERO, &[], &[]);
    v2.votes = vec![vote_to_wire(1, Vote::Yes { output: 0 })];
    chain.accept(&v2).unwrap();
    let n = chain.notarize().unwrap();
    let decided: Vec<_> = n.block.decisions.iter().map(|d| (d.tx, d.commit)).collect();
    assert_eq!(decided, vec![(0, true)]);
    // No header is pending, but tx 1 is open: the beacon keeps making blocks until
    // its deadline (block 1 + 2) aborts it.
    let n = chain.notarize().unwrap();
    assert_eq!(n.block.height, 3);
    let d = shardsim_proto::convert::decision_from_wire(&n.block.decisions[0]).unwrap();
    assert_eq!(
        (d.tx, d.home, d.participant, d.verdict),
        (1, 0, 1, Verdict::Abort(cross_shard::RejectReason::Timeout))
    );
    assert!(chain.notarize().is_none(), "nothing open, nothing pending");
    // Shard 1's vote on tx 1 now comes too late.
    let (mut late, _) = submission(1, 2, h1.hash(), &[], &[]);
    late.votes = vec![vote_to_wire(1, Vote::Yes { output: 0 })];
    chain.accept(&late).unwrap();
    assert_eq!(
        chain.two_phase,
        TwoPhaseCounters {
            commits: 1,
            aborts: 1,
            votes_late: 1,
            votes_forged: 2,
            votes_duplicate: 0
        }
    );
    // A receipts-only beacon refuses votes.
    let mut plain = Chain::new(committees(), None);
    let (mut v, _) = submission(1, 1, Hash::ZERO, &[], &[]);
    v.votes = vec![vote_to_wire(0, Vote::Yes { output: 0 })];
    assert!(plain.accept(&v).is_err());
}

/// The beacon heights of the blocks in a backlog, and what follows each.
fn backlog_shape(backlog: &[pb::Inbound]) -> Vec<String> {
    backlog
        .iter()
        .map(|m| match &m.kind {
            Some(pb::inbound::Kind::Block(b)) => format!("block {}", b.height),
            Some(pb::inbound::Kind::Deliveries(ds)) => {
                let from: Vec<_> = ds.items.iter().map(|d| d.src_height.to_string()).collect();
                format!("delivery from {}", from.join(", "))
            }
            Some(pb::inbound::Kind::Tip(t)) => format!("tip {}", t.height),
            None => "nothing".into(),
        })
        .collect()
}

#[test]
fn a_decision_is_resent_in_height_order_until_its_shards_say_they_applied_it() {
    use shardsim_proto::convert::vote_to_wire;
    let mut chain = Chain::new(committees(), Some(2));
    // Shard 0 prepares txs 0 and 1 on shard 1 in block 1.
    let (s, h0) = submission(0, 1, Hash::ZERO, &[(1, 0, 2)], &[]);
    chain.accept(&s).unwrap();
    chain.notarize().unwrap();
    // Shard 1 applies both prepares (acks them) and votes on tx 0: block 2 commits it;
    // block 3 aborts tx 1 at its deadline. Shard 0 sends another batch (seq 2) in
    // block 3.
    let (mut v, h1) = submission(1, 1, Hash::ZERO, &[], &[(0, 2)]);
    v.votes = vec![vote_to_wire(0, Vote::Yes { output: 0 })];
    chain.accept(&v).unwrap();
    assert_eq!(chain.notarize().unwrap().block.decisions.len(), 1);
    let (s, _) = submission(0, 2, h0.hash(), &[(1, 2, 1)], &[]);
    chain.accept(&s).unwrap();
    let n = chain.notarize().unwrap();
    assert_eq!((n.block.height, n.block.decisions.len()), (3, 1));
    // Both shards get blocks 2 and 3 again, in height order, block 3 before the
    // delivery it notarized; shard 2, concerned by nothing, only its tip.
    let shape = |chain: &Chain, dst| backlog_shape(&chain.backlog(dst, 0));
    assert_eq!(
        shape(&chain, 1),
        ["block 2", "block 3", "delivery from 2", "tip 3"]
    );
    assert_eq!(shape(&chain, 0), ["block 2", "block 3", "tip 3"]);
    assert_eq!(shape(&chain, 2), ["tip 3"]);
    // Shard 0 says it applied the decisions through block 2; shard 1 through 3.
    let (mut a0, _) = submission(0, 3, chain.heads[0].1, &[], &[]);
    a0.decided_through = 2;
    chain.accept(&a0).unwrap();
    let (mut a1, _) = submission(1, 2, h1.hash(), &[], &[(0, 3)]);
    a1.decided_through = 3;
    chain.accept(&a1).unwrap();
    assert_eq!(shape(&chain, 0), ["block 3", "tip 3"]);
    assert_eq!(shape(&chain, 1), ["tip 3"]);
    // The next block no longer keeps block 2; block 3 stays for shard 0.
    chain.notarize().unwrap();
    assert_eq!(chain.blocks.keys().copied().collect::<Vec<_>>(), [3]);
}

#[test]
fn resent_and_out_of_order_submissions_are_ignored_and_tips_show_what_was_routed() {
    let mut chain = Chain::new(committees(), None);
    chain.record_inputs();
    let (s1, h1) = submission(0, 1, Hash::ZERO, &[(1, 0, 2)], &[]);
    let (s2, _) = submission(0, 2, h1.hash(), &[(1, 2, 1)], &[]);
    assert_eq!(chain.accept(&s2).unwrap(), (0, Outcome::OutOfOrder));
    assert_eq!(chain.accept(&s1).unwrap(), (0, Outcome::Fresh));
    assert_eq!(chain.accept(&s1).unwrap(), (0, Outcome::Duplicate));
    assert_eq!(chain.tip(1).routed, vec![0, 0, 0], "pending is not routed");
    let n = chain.notarize().unwrap();
    assert_eq!(
        n.accepted,
        vec![s1.clone()],
        "only the fresh one is an input"
    );
    assert_eq!(
        chain.tip(1),
        pb::Tip {
            height: 1,
            routed: vec![2, 0, 0],
            epoch: 0,
        }
    );
    assert_eq!(chain.notarized_heights(), vec![1, 0, 0]);
    assert_eq!(chain.accept(&s2).unwrap(), (0, Outcome::Fresh));
    assert_eq!(chain.accept(&s1).unwrap(), (0, Outcome::Duplicate));
    assert_eq!(
        (chain.headers_duplicate, chain.headers_out_of_order),
        (2, 1)
    );
    assert_eq!(chain.headers_rejected, 0);
    // The backlog ends with the tip.
    let backlog = chain.backlog(1, 0);
    assert!(matches!(
        backlog.last().unwrap().kind,
        Some(pb::inbound::Kind::Tip(_))
    ));
    // Replaying the recorded inputs rebuilds the same chain.
    let mut again = Chain::new(committees(), None);
    for s in &n.accepted {
        again.accept(s).unwrap();
    }
    assert_eq!(again.notarize().unwrap().block, n.block);
}

#[test]
fn broken_chain_forged_root_and_channel_gap_are_refused() {
    let mut chain = Chain::new(committees(), None);
    let (mut s, _) = submission(0, 1, Hash::ZERO, &[], &[]);
    s.header.as_mut().unwrap().prev_hash = vec![1; 32];
    assert!(chain.accept(&s).is_err(), "prev_hash is not genesis");
    let (mut s, _) = submission(0, 1, Hash::ZERO, &[(1, 0, 1)], &[]);
    s.batches[0].amount[0] = 1_000_000;
    assert!(chain.accept(&s).is_err(), "batch does not match the root");
    let (s, _) = submission(0, 1, Hash::ZERO, &[(1, 5, 1)], &[]);
    assert!(chain.accept(&s).is_err(), "channel starts at 5");
    let (s, _) = submission(0, 1, Hash::ZERO, &[(0, 0, 1)], &[]);
    assert!(chain.accept(&s).is_err(), "batch to itself");
    let (s, _) = submission(7, 1, Hash::ZERO, &[], &[]);
    assert!(chain.accept(&s).is_err(), "unknown shard");
    assert_eq!(chain.headers_rejected, 5);
    assert_eq!(chain.in_flight(), (0, 0));
    assert_eq!(chain.shard_heights(), vec![0, 0, 0]);
}

#[test]
fn a_header_counts_only_with_its_committees_certificate() {
    let mut chain = Chain::new(committees(), None);
    let (honest, h1) = submission(0, 1, Hash::ZERO, &[(1, 0, 2)], &[]);
    let refused = |chain: &mut Chain, sub: &pb::HeaderSubmission, why: &str| {
        let e = chain.accept(sub).expect_err(why).to_string();
        assert!(e.contains("not certified by its committee"), "{why}: {e}");
    };
    refused(
        &mut chain,
        &pb::HeaderSubmission {
            cert: None,
            ..honest.clone()
        },
        "no certificate",
    );
    let forged = pb::HeaderSubmission {
        cert: Some(cert_for(&h1, &[6; 32])),
        ..honest.clone()
    };
    refused(
        &mut chain,
        &forged,
        "signed with a key outside the committee",
    );
    let other = Header {
        state_root: Hash([9; 32]),
        ..h1
    };
    let moved = pb::HeaderSubmission {
        cert: Some(cert_for(&other, &SECRET)),
        ..honest.clone()
    };
    refused(&mut chain, &moved, "a certificate for another header");
    // Shard 1's committee cannot certify shard 0's header.
    let mut foreign = cert_for(&Header { shard: 1, ..h1 }, &SECRET);
    foreign.block = h1.hash().0.to_vec();
    refused(
        &mut chain,
        &pb::HeaderSubmission {
            cert: Some(foreign),
            ..honest.clone()
        },
        "another shard's committee",
    );
    assert_eq!(chain.headers_rejected, 4);
    assert_eq!(
        chain.shard_heights(),
        vec![0, 0, 0],
        "nothing refused was taken"
    );
    chain.accept(&honest).unwrap();
    assert_eq!(chain.shard_heights(), vec![1, 0, 0]);
}

/// An epoch change moving `accounts` to shard 2.
fn change(epoch: u32, accounts: &[u64]) -> pb::EpochChange {
    pb::EpochChange {
        epoch,
        accounts: accounts.to_vec(),
        shards: vec![2; accounts.len()],
    }
}

#[test]
fn an_epoch_is_announced_in_the_next_block_and_resent_to_late_subscribers() {
    let mut chain = Chain::new(committees(), None);
    assert!(chain.notarize().is_none(), "idle: no block");
    chain.propose_epoch(change(1, &[4, 9])).unwrap();
    let n = chain.notarize().expect("a block for the announcement");
    assert_eq!(n.block.epoch, Some(change(1, &[4, 9])));
    assert_eq!(n.epoch, n.block.epoch, "stored with the block");
    assert_eq!((chain.epoch(), chain.epoch_height(1)), (1, Some(1)));
    assert_eq!(chain.tip(0).epoch, 1);
    assert!(chain.notarize().is_none(), "announced once");
    chain.propose_epoch(change(2, &[5])).unwrap();
    chain.notarize().unwrap();
    // A shard that has epoch 1 gets epoch 2's block first; one with none, both.
    let epochs = |known| {
        chain
            .backlog(0, known)
            .into_iter()
            .filter_map(|m| match m.kind {
                Some(pb::inbound::Kind::Block(b)) => b.epoch.map(|e| (b.height, e.epoch)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(epochs(1), vec![(2, 2)]);
    assert_eq!(epochs(0), vec![(1, 1), (2, 2)]);
    assert_eq!(epochs(2), vec![]);
}

#[test]
fn epochs_out_of_order_or_naming_no_shard_are_refused() {
    let mut chain = Chain::new(committees(), None);
    assert!(
        chain
            .propose_epoch(change(2, &[1]))
            .unwrap_err()
            .contains("in order")
    );
    let mut bad = change(1, &[1]);
    bad.shards = vec![3];
    assert!(
        chain
            .propose_epoch(bad)
            .unwrap_err()
            .contains("the cluster has 3")
    );
    assert!(
        chain
            .propose_epoch(change(1, &[5, 5]))
            .unwrap_err()
            .contains("increasing")
    );
    let mut short = change(1, &[1, 2]);
    short.shards.pop();
    assert!(chain.propose_epoch(short).is_err());
    chain.propose_epoch(change(1, &[1])).unwrap();
    assert!(
        chain
            .propose_epoch(change(2, &[1]))
            .unwrap_err()
            .contains("still waiting")
    );
}

/// (shard, height) of each crosslink in a block.
fn crosslinks(block: &pb::BeaconBlock) -> Vec<(u32, u64)> {
    block
        .crosslinks
        .iter()
        .map(|c| (c.shard, c.height))
        .collect()
}

#[test]
fn each_shard_is_sent_its_view_of_a_block_and_its_deliveries_in_one_message() {
    use shardsim_proto::convert::vote_to_wire;
    let mut chain = Chain::new(committees(), Some(4));
    // Shard 0 makes two blocks in one beacon interval, the first sending to shard 1;
    // shard 2's block sends nothing. Block 1 prepares two transactions on shard 1.
    let (a, h) = submission(0, 1, Hash::ZERO, &[(1, 0, 2)], &[]);
    let (b, _) = submission(0, 2, h.hash(), &[], &[]);
    let (c, _) = submission(2, 1, Hash::ZERO, &[], &[]);
    for s in [&a, &b, &c] {
        chain.accept(s).unwrap();
    }
    let n = chain.notarize().unwrap();
    assert_eq!(crosslinks(&n.block), [(0, 1), (0, 2), (2, 1)]);
    let parts: Vec<_> = n.into_parts(3).collect();
    assert_eq!(parts.iter().map(|p| p.0).collect::<Vec<_>>(), [0, 1, 2]);
    // Shard 0: its own crosslinks. Shard 1: shard 0's both (its delivery is proven
    // against the first), none of its own, and the one delivery. Shard 2: its own.
    assert_eq!(crosslinks(&parts[0].1), [(0, 1), (0, 2)]);
    assert_eq!(crosslinks(&parts[1].1), [(0, 1), (0, 2)]);
    assert_eq!(parts[1].2.len(), 1);
    assert_eq!(crosslinks(&parts[2].1), [(2, 1)]);
    assert!(parts[0].2.is_empty() && parts[2].2.is_empty());
    assert!(parts.iter().all(|p| p.1.height == 1));
    // Shard 1 votes yes on tx 0: block 2 decides it for shards 0 and 1, not 2.
    let (mut v, _) = submission(1, 1, Hash::ZERO, &[], &[(0, 2)]);
    v.votes = vec![vote_to_wire(0, Vote::Yes { output: 0 })];
    chain.accept(&v).unwrap();
    let n = chain.notarize().unwrap();
    let decisions: Vec<usize> = n.into_parts(3).map(|p| p.1.decisions.len()).collect();
    assert_eq!(decisions, [1, 1, 0]);
    // Shard 1's backlog cuts the same views from the kept blocks: block 2 for its
    // decision (with its own crosslink), block 3 for a new delivery from shard 0 (block
    // 1's was acknowledged by shard 1's header).
    let (d, _) = submission(0, 3, chain.heads[0].1, &[(1, 2, 1)], &[]);
    chain.accept(&d).unwrap();
    chain.notarize().unwrap();
    let backlog = chain.backlog(1, 0);
    let blocks: Vec<_> = backlog
        .iter()
        .filter_map(|m| match &m.kind {
            Some(pb::inbound::Kind::Block(b)) => Some((b.height, crosslinks(b), b.decisions.len())),
            _ => None,
        })
        .collect();
    assert_eq!(blocks, [(2, vec![(1, 1)], 1), (3, vec![(0, 3)], 0)]);
}

#[test]
fn a_header_whose_leaf_destinations_do_not_match_its_leaves_is_refused_whole() {
    let mut chain = Chain::new(committees(), None);
    let (good, _) = submission(0, 1, Hash::ZERO, &[(1, 0, 1), (2, 0, 1)], &[]);
    let refused = |f: &dyn Fn(&mut pb::HeaderSubmission)| {
        let mut s = good.clone();
        f(&mut s);
        Chain::new(committees(), None)
            .accept(&s)
            .unwrap_err()
            .to_string()
    };
    for (why, e) in [
        (
            "one destination short",
            refused(&|s| s.leaf_dsts.truncate(1)),
        ),
        ("out of order", refused(&|s| s.leaf_dsts.reverse())),
        ("beyond the cluster", refused(&|s| s.leaf_dsts[1] = 3)),
    ] {
        assert!(e.contains("leaf destinations"), "{why}: {e}");
    }
    // A leaf moved to a destination it was not for: the root no longer matches.
    let e = refused(&|s| s.leaf_dsts = vec![0, 2]);
    assert!(
        e.contains("does not match the notarized receipts root"),
        "{e}"
    );
    assert_eq!(chain.accept(&good).unwrap(), (0, Outcome::Fresh));
}
