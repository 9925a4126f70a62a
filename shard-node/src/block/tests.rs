//! Tests of the block pipeline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cross_shard::sync::lock;
use cross_shard::{Hash, Header, Receipt, ReceiptBatch, ShardId, Tx, receipt};
use prost::Message;
use shardsim_proto::pb;
use shardsim_proto::store::Log;
use tokio::sync::mpsc;

use super::*;
use crate::ShardConfig;
use crate::io::{EVENTS, EVENTS_QUEUE, SLOW_SUBSCRIBER, Shared};
use crate::protocol::QueuedReceipt;

fn config(shard: ShardId) -> ShardConfig {
    ShardConfig::for_tests(shard)
}

/// A transfer of 1 coin.
fn transfer(id: u64, from: u64, to: u64, nonce: u64) -> Tx {
    payment(id, from, to, nonce, 1)
}

/// A transfer of `amount` coins.
fn payment(id: u64, from: u64, to: u64, nonce: u64, amount: u64) -> Tx {
    Tx {
        id,
        from,
        nonce,
        call: cross_shard::Call::Transfer {
            to,
            asset: 0,
            amount,
        },
    }
}

#[test]
fn blocks_chain_and_take_at_most_max_block_txs() {
    let cfg = config(0);
    let mut ledger = Shared::genesis(&cfg).unwrap();
    let from = ledger.placement().accounts_of(0, 100)[0];
    let shared = Shared::new(cfg, &mut ledger, None);
    let mut producer = BlockProducer::new(ledger, &shared.config).unwrap();
    assert!(
        producer.produce(&shared).unwrap().is_none(),
        "no empty blocks"
    );
    lock(&shared.mempool).extend((0..5).map(|n| transfer(n, from, from, n)));
    let b1 = producer.produce(&shared).unwrap().unwrap();
    let h1 = Header::try_from(b1.header.as_ref().unwrap()).unwrap();
    assert_eq!((h1.height, h1.tx_count, h1.prev_hash), (1, 3, Hash::ZERO));
    let b2 = producer.produce(&shared).unwrap().unwrap();
    let h2 = Header::try_from(b2.header.as_ref().unwrap()).unwrap();
    assert_eq!((h2.height, h2.tx_count, h2.prev_hash), (2, 2, h1.hash()));
    assert_eq!(lock(&shared.counters).committed, 5);
}

/// The block thread builds blocks on its own, answers a recount between two blocks
/// with figures of one moment, and stops when told.
#[test]
fn the_block_thread_recounts_between_blocks_and_stops_when_told() {
    let cfg = config(0);
    let mut ledger = Shared::genesis(&cfg).unwrap();
    let from = ledger.placement().accounts_of(0, 100)[0];
    let shared = Arc::new(Shared::new(cfg, &mut ledger, None));
    let producer = BlockProducer::new(ledger, &shared.config).unwrap();
    let wakes = shared.doorbell.take_receiver().unwrap();
    assert!(shared.doorbell.take_receiver().is_none(), "one thread only");
    let thread = std::thread::spawn({
        let shared = shared.clone();
        move || producer.run(&shared, wakes)
    });
    // As Submit hands them over: mempool and `admitted` under the mempool's lock.
    {
        let mut mempool = lock(&shared.mempool);
        mempool.extend((0..5).map(|n| transfer(n, from, from, n)));
        lock(&shared.counters).admitted += 5;
    }
    shared.doorbell.ring();
    let recount = loop {
        let r = shared.doorbell.recount().unwrap().blocking_recv().unwrap();
        if r.counters.entered == 5 {
            break r;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let c = &recount.counters;
    assert_eq!((c.committed, c.admitted, recount.waiting), (5, 5, 0));
    assert_eq!(c.recounted, c.balance_totals, "recounted from the ledger");
    shared.doorbell.stop();
    thread.join().unwrap().unwrap();
    assert!(
        shared.doorbell.recount().is_none(),
        "a stopped thread takes nothing"
    );
}

/// A subscriber that reads nothing slows the block loop by at most
/// [`SLOW_SUBSCRIBER`] and then loses its stream; the others keep theirs.
#[test]
fn a_subscriber_that_stops_reading_is_dropped_not_waited_for_forever() {
    let cfg = config(0);
    let mut ledger = Shared::genesis(&cfg).unwrap();
    let from = ledger.placement().accounts_of(0, 100)[0];
    let shared = Shared::new(cfg, &mut ledger, None);
    let mut producer = BlockProducer::new(ledger, &shared.config).unwrap();
    let (stuck, _never_read) = mpsc::channel(1);
    let (reader, mut read) = mpsc::channel(EVENTS_QUEUE);
    lock(&shared.subscribers).extend([stuck, reader]);
    lock(&shared.mempool).extend((0..9).map(|n| transfer(n, from, from, n)));
    producer.produce(&shared).unwrap().unwrap();
    let began = Instant::now();
    producer.produce(&shared).unwrap().unwrap();
    assert!(
        began.elapsed() >= SLOW_SUBSCRIBER,
        "waited for the slow reader"
    );
    assert_eq!(lock(&shared.subscribers).len(), 1, "then dropped it");
    assert_eq!(read.try_recv().unwrap().unwrap().height, 1);
    assert_eq!(read.try_recv().unwrap().unwrap().height, 2);
    let began = Instant::now();
    producer.produce(&shared).unwrap().unwrap();
    assert!(began.elapsed() < SLOW_SUBSCRIBER, "and waits no more");
}

#[test]
fn receipts_fill_the_block_first_and_wait_in_order() {
    let cfg = config(1); // max_block_txs = 3
    let mut ledger = Shared::genesis(&cfg).unwrap();
    let p = ledger.placement();
    let mine = p.accounts_of(1, 100);
    let shared = Shared::new(cfg, &mut ledger, None);
    let mut producer = BlockProducer::new(ledger, &shared.config).unwrap();
    let now = shared.clock.now();
    lock(&shared.inbound)
        .queue
        .extend((0..5).map(|i| QueuedReceipt {
            src: 0,
            seq: i,
            receipt: Receipt::credit(100 + i, mine[0], 1, 0),
            arrived: now,
            notarized: 0,
        }));
    lock(&shared.mempool).push_back(transfer(1, mine[1], mine[2], 0));
    let (tx, mut rx) = mpsc::channel(EVENTS_QUEUE);
    lock(&shared.subscribers).push(tx);

    let acks = |sub: &pb::HeaderSubmission| -> Vec<(u32, u64)> {
        sub.acks.iter().map(|a| (a.src, a.next_seq)).collect()
    };
    let sub = producer.produce(&shared).unwrap().unwrap();
    // Each header acks the channels that moved in it, and only those.
    assert_eq!(acks(&sub), [(0, 3)]);
    let ev = rx.try_recv().unwrap().unwrap();
    assert_eq!(
        ev.receipts_applied,
        vec![100, 101, 102],
        "oldest first, block full"
    );
    assert!(ev.committed.is_empty(), "no room left for the transaction");
    assert_eq!(ev.delayed_receipts, 2);
    assert_eq!(lock(&shared.mempool).len(), 1);

    let sub = producer.produce(&shared).unwrap().unwrap();
    assert_eq!(acks(&sub), [(0, 5)]);
    let ev = rx.try_recv().unwrap().unwrap();
    assert_eq!(ev.receipts_applied, vec![103, 104]);
    assert_eq!(ev.committed, vec![1], "the transaction takes the room left");
    assert_eq!((ev.delayed_receipts, ev.oldest_delayed_us), (0, 0));
    assert_eq!(lock(&shared.counters).inbound[0][0], (5, 5));
    lock(&shared.mempool).push_back(transfer(2, mine[1], mine[2], 1));
    let sub = producer.produce(&shared).unwrap().unwrap();
    assert_eq!(acks(&sub), [], "nothing moved");
    // A producer whose channels were set from elsewhere (a state sync's snapshot)
    // acks every channel it has applied from in its first header.
    let mut restarted = BlockProducer::new(producer.ledger.clone(), &shared.config).unwrap();
    restarted.applied_seq = producer.applied_seq.clone();
    lock(&shared.mempool).push_back(transfer(3, mine[1], mine[2], 2));
    let sub = restarted.produce(&shared).unwrap().unwrap();
    assert_eq!(acks(&sub), [(0, 5)]);
}

#[test]
fn cross_shard_block_carries_a_provable_batch() {
    let cfg = config(0);
    let mut ledger = Shared::genesis(&cfg).unwrap();
    let p = ledger.placement();
    let from = p.accounts_of(0, 100)[0];
    let to = p.accounts_of(1, 100)[0];
    let shared = Shared::new(cfg, &mut ledger, None);
    let mut producer = BlockProducer::new(ledger, &shared.config).unwrap();
    let tx = payment(1, from, to, 0, 10);
    lock(&shared.mempool).push_back(tx);
    let (events, mut rx) = mpsc::channel(EVENTS_QUEUE);
    lock(&shared.subscribers).push(events);
    let sub = producer.produce(&shared).unwrap().unwrap();
    assert_eq!(rx.try_recv().unwrap().unwrap().batches_sent, 1);
    // The header carries the leaf of its one destination, not one per shard.
    assert_eq!(sub.leaf_dsts, [1]);
    let header = Header::try_from(sub.header.as_ref().unwrap()).unwrap();
    let batch = ReceiptBatch::try_from(&sub.batches[0]).unwrap();
    assert_eq!((batch.dst, batch.first_seq, batch.value_of(0)), (1, 0, 10));
    assert_eq!(header.receipts_root, receipt::receipts_root(0, 2, &[batch]));
    assert_eq!(lock(&shared.counters).outbound[0][1], (1, 10));
}

/// A shard process on the store in `dir`: its shared state and its block producer,
/// before any recovery.
fn open_store(cfg: &ShardConfig, dir: &std::path::Path) -> (Shared, BlockProducer) {
    let mut ledger = Shared::genesis(cfg).unwrap();
    let store = Log::open(&dir.join("shard.redb"), &cfg.identity()).unwrap();
    let shared = Shared::new(cfg.clone(), &mut ledger, Some(store));
    let producer = BlockProducer::new(ledger, &shared.config).unwrap();
    (shared, producer)
}

#[test]
fn a_restarted_shard_replays_its_store_to_the_same_state_and_keeps_unnotarized_submissions() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(0);
    cfg.data_dir = Some(dir.path().to_path_buf());
    let open = |cfg: &ShardConfig| open_store(cfg, dir.path());
    let (shared, mut producer) = open(&cfg);
    let p = producer.ledger.placement();
    let (from, to) = (p.accounts_of(0, 100)[0], p.accounts_of(1, 100)[0]);
    let cross = payment(9, from, to, 3, 10);
    lock(&shared.mempool).extend((0..3).map(|n| transfer(n, from, from, n)));
    lock(&shared.mempool).push_back(cross);
    let now = shared.clock.now();
    let receipt = |id| QueuedReceipt {
        src: 1,
        seq: id - 100,
        receipt: Receipt::credit(id, from, 5, 0),
        arrived: now,
        notarized: 0,
    };
    lock(&shared.inbound)
        .queue
        .extend([receipt(100), receipt(101)]);
    let mut submissions = Vec::new();
    while let Some(s) = producer.produce(&shared).unwrap() {
        submissions.push(s);
    }
    assert_eq!(producer.height, 2);
    let before = lock(&shared.counters).clone();
    drop(shared); // the "crash": the store closes with the process

    // "Crash": a fresh process on the same directory; the beacon notarized block 1.
    let (again, mut resumed) = open(&cfg);
    assert_eq!(resumed.recover(&again, 1).unwrap(), 2);
    assert_eq!(resumed.ledger.state_root(), producer.ledger.state_root());
    assert_eq!(
        (resumed.last_hash, resumed.out_seq.clone()),
        (producer.last_hash, producer.out_seq.clone())
    );
    let after = lock(&again.counters).clone();
    assert_eq!(
        (
            after.committed,
            after.sent_cross,
            after.inbound.clone(),
            after.outbound.clone()
        ),
        (
            before.committed,
            before.sent_cross,
            before.inbound.clone(),
            before.outbound.clone()
        )
    );
    assert_eq!(after.recovered_height, 2);
    let kept: Vec<_> = lock(&again.outgoing)
        .unnotarized
        .iter()
        .map(|r| r.1.clone())
        .collect();
    assert_eq!(
        kept,
        submissions[1..],
        "block 2's submission, exactly as first sent"
    );
    // Receipts from shard 1 resume after the two applied.
    assert_eq!(lock(&again.inbound).channels.next_seq(1), 2);
    // The stored events are the ones published.
    let mut heights = Vec::new();
    again
        .store
        .as_ref()
        .unwrap()
        .try_for_each(EVENTS, 1, |h, e: pb::BlockEvents| {
            heights.push((h, e.height));
            Ok::<_, crate::Error>(())
        })
        .unwrap();
    assert_eq!(heights, vec![(2, 2)]);

    // The store is refused to a shard of another shape.
    drop(again);
    let mut other = cfg.clone();
    other.accounts = 200;
    let err = Log::open(&dir.path().join("shard.redb"), &other.identity()).unwrap_err();
    assert!(err.to_string().contains("belongs to"), "{err}");
}

/// A beacon block carrying these two-phase decisions (and nothing else).
fn decisions_block(height: u64, decisions: &[cross_shard::two_phase::Decision]) -> pb::BeaconBlock {
    pb::BeaconBlock {
        height,
        decisions: decisions.iter().map(pb::Decision::from).collect(),
        ..Default::default()
    }
}

#[test]
fn a_restarted_two_phase_shard_rebuilds_its_locks_and_applies_each_decision_once() {
    use crate::io::beacon_session::notarize;
    use cross_shard::two_phase::{Decision, Verdict};
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(1);
    cfg.two_phase = Some(10);
    cfg.data_dir = Some(dir.path().to_path_buf());
    let open = |cfg: &ShardConfig| open_store(cfg, dir.path());
    let (shared, mut producer) = open(&cfg);
    let genesis = producer.ledger.total(0);
    let p = producer.ledger.placement();
    let (mine, theirs) = (p.accounts_of(1, 100)[0], p.accounts_of(0, 100)[0]);
    // Block 1 — as participant: two prepares from shard 0 (credits of 5 and 7, tx 100
    // and 101), notarized in beacon block 1; as home: tx 9 sends 10 to shard 0.
    let prepare = |id, seq, amount| QueuedReceipt {
        src: 0,
        seq,
        receipt: Receipt::credit(id, mine, amount, 0),
        arrived: Duration::ZERO,
        notarized: 1,
    };
    let mut inbound = lock(&shared.inbound);
    inbound.beacon_height = 1;
    inbound
        .queue
        .extend([prepare(100, 0, 5), prepare(101, 1, 7)]);
    drop(inbound);
    let send = payment(9, mine, theirs, 0, 10);
    lock(&shared.mempool).push_back(send);
    let first = producer.produce(&shared).unwrap().unwrap();
    assert_eq!(first.votes.len(), 2, "a yes on each prepare");
    assert_eq!(producer.ledger.total(0), genesis - 10, "held, not credited");
    // Beacon block 2 commits tx 100; block 2 applies it.
    let decision = |tx, home, participant, verdict| Decision {
        tx,
        home,
        participant,
        verdict,
    };
    let commit = Verdict::Commit { output: 0 };
    let beacon_2 = decisions_block(2, &[decision(100, 0, 1, commit)]);
    notarize(&shared, &beacon_2);
    let second = producer.produce(&shared).unwrap().unwrap();
    assert_eq!(second.decided_through, 2);
    assert_eq!(producer.ledger.total(0), genesis - 10 + 5);
    // Beacon block 3 commits tx 101 and aborts tx 9 (shard 1 is its home); the shard
    // reads it and dies before its next block.
    let timeout = Verdict::Abort(cross_shard::RejectReason::Timeout);
    let beacon_3 = decisions_block(
        3,
        &[decision(101, 0, 1, commit), decision(9, 1, 0, timeout)],
    );
    notarize(&shared, &beacon_3);
    assert_eq!(lock(&shared.inbound).decisions.len(), 2);
    let open_before = producer.two_phase.as_ref().unwrap().open();
    assert_eq!(open_before, 2, "tx 101 held, tx 9 awaited");
    drop(shared);

    let (again, mut resumed) = open(&cfg);
    assert_eq!(resumed.recover(&again, 0).unwrap(), 2);
    assert_eq!(resumed.ledger.state_root(), producer.ledger.state_root());
    assert_eq!(resumed.two_phase.as_ref().unwrap().open(), open_before);
    assert_eq!(
        lock(&again.counters).locked,
        vec![7],
        "tx 101's credit, held"
    );
    // The beacon's backlog: every block with a decision for shard 1 not acknowledged.
    // Block 2's decisions were applied before the crash: they are not read again (and
    // were they, the lock table, rebuilt without tx 100, would ignore them).
    notarize(&again, &beacon_2);
    assert!(lock(&again.inbound).decisions.is_empty());
    notarize(&again, &beacon_3);
    let third = resumed.produce(&again).unwrap().unwrap();
    assert_eq!(third.decided_through, 3);
    assert!(
        resumed.produce(&again).unwrap().is_none(),
        "nothing left to do"
    );
    // Each decision once: tx 100's credit is not paid twice, tx 101's and the refund
    // of tx 9 are paid, and nothing is held or awaited any more.
    assert_eq!(resumed.ledger.total(0), genesis - 10 + 5 + 7 + 10);
    let tp = resumed.two_phase.as_ref().unwrap();
    assert_eq!((tp.open(), tp.decisions_refused), (0, 0));
    let c = lock(&again.counters);
    assert_eq!((c.tp_open, c.locked.clone()), (0, vec![0]));
}

#[test]
fn a_restart_begins_at_its_latest_snapshot_and_never_reads_the_blocks_below() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(0);
    cfg.data_dir = Some(dir.path().to_path_buf());
    cfg.snapshot_every = 2;
    cfg.max_block_txs = 1;
    let (shared, mut producer) = open_store(&cfg, dir.path());
    let p = producer.ledger.placement();
    let from = p.accounts_of(0, 100)[0];
    let to = p.accounts_of(1, 100)[0];
    // Five blocks of one transaction each, one of them cross-shard: snapshots at 2 and 4.
    lock(&shared.mempool).extend((0..4).map(|n| transfer(n, from, from, n)));
    let cross = payment(4, from, to, 4, 10);
    lock(&shared.mempool).push_back(cross);
    while producer.produce(&shared).unwrap().is_some() {}
    assert_eq!(producer.height, 5);
    let before = lock(&shared.counters).clone();
    let store = shared.store.as_ref().unwrap();
    assert_eq!(
        store.last(crate::io::SNAPSHOTS).unwrap(),
        Some(4),
        "the latest only"
    );
    assert_eq!(store.get_bytes(crate::io::SNAPSHOTS, 2).unwrap(), None);
    // Damage the blocks below the snapshot: a restart that read them would fail.
    store
        .append(1, &[(crate::io::RECORDS, &[0xff, 0xff][..])])
        .unwrap();
    drop(shared);

    let (again, mut resumed) = open_store(&cfg, dir.path());
    assert_eq!(resumed.recover(&again, 0).unwrap(), 5);
    assert_eq!(resumed.ledger.state_root(), producer.ledger.state_root());
    assert_eq!(
        (resumed.last_hash, &resumed.out_seq, &resumed.applied_seq),
        (producer.last_hash, &producer.out_seq, &producer.applied_seq)
    );
    let after = lock(&again.counters).clone();
    assert_eq!(
        (
            after.committed,
            after.sent_cross,
            after.entered,
            &after.outbound,
            &after.balance_totals
        ),
        (
            before.committed,
            before.sent_cross,
            before.entered,
            &before.outbound,
            &before.balance_totals
        )
    );
}

#[test]
fn a_snapshot_is_installed_only_if_it_rebuilds_to_its_certified_root() {
    let mut cfg = config(0);
    cfg.max_block_txs = 2;
    let mut ledger = Shared::genesis(&cfg).unwrap();
    let shared = Shared::new(cfg.clone(), &mut ledger, None);
    let mut producer = BlockProducer::new(ledger, &shared.config).unwrap();
    let from = producer.ledger.placement().accounts_of(0, 100)[0];
    lock(&shared.mempool).extend((0..2).map(|n| transfer(n, from, from, n)));
    let submission = producer.produce(&shared).unwrap().unwrap();
    let header = Header::try_from(submission.header.as_ref().unwrap()).unwrap();
    let snapshot = producer.snapshot(&shared).unwrap();
    // A fresh shard at genesis takes in the honest snapshot…
    let mut genesis = Shared::genesis(&cfg).unwrap();
    let other = Shared::new(cfg.clone(), &mut genesis, None);
    let mut fresh = BlockProducer::new(genesis, &other.config).unwrap();
    let untouched = fresh.ledger.state_root();
    let mut forged = snapshot.clone();
    forged.ledger.as_mut().unwrap().balances[0] += 1_000;
    let refused = fresh.install(&other, forged, &header).unwrap_err();
    assert!(
        matches!(refused, super::snapshot::Refused::WrongRoot { .. }),
        "{refused}"
    );
    assert_eq!(
        (fresh.height, fresh.ledger.state_root()),
        (0, untouched),
        "a refused snapshot changes nothing"
    );
    let mut elsewhere = header;
    elsewhere.height += 1;
    assert!(
        fresh.install(&other, snapshot.clone(), &elsewhere).is_err(),
        "another height"
    );
    fresh.install(&other, snapshot, &header).unwrap();
    assert_eq!(
        (fresh.height, fresh.last_hash, fresh.ledger.state_root()),
        (1, header.hash(), header.state_root)
    );
    assert_eq!(
        lock(&other.counters).committed,
        lock(&shared.counters).committed
    );
}

proptest::proptest! {
    /// A damaged store — any bytes as a block record — is refused with an error,
    /// never a panic.
    #[test]
    fn arbitrary_stored_records_never_panic(bytes in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..400)) {
        let cfg = config(0);
        let mut ledger = Shared::genesis(&cfg).unwrap();
        let shared = Shared::new(cfg, &mut ledger, None);
        let mut producer = BlockProducer::new(ledger, &shared.config).unwrap();
        if let Ok(record) = pb::BlockRecord::decode(bytes.as_slice()) {
            let _ = producer.replay(&shared, 1, &record);
        }
    }
}
