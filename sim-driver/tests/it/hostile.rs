//! Hostile and broken input: every service answers a clear error status and keeps
//! serving. The beacon and a shard run in-process on 127.0.0.1:0.

use std::net::SocketAddr;
use std::time::Duration;

use cross_shard::{Placement, RejectReason};
use shardsim_host::tls::Credentials;
use shardsim_proto::pb::beacon_client::BeaconClient;
use shardsim_proto::pb::shard_client::ShardClient;
use shardsim_proto::{MAX_BATCH_TXS, pb};
use tokio::net::TcpListener;
use tonic::Code;

const ACCOUNTS: u64 = 1000;

/// The secret the in-process committees' keys derive from.
pub(crate) const SECRET: [u8; 32] = [3; 32];

/// Validator 0 of `shard` (every shard here has a committee of one).
fn validator_key(shard: u32) -> ed25519_dalek::SigningKey {
    consensus::committee::validator_key(&SECRET, shard, 0)
}

/// `s` certified by its header's shard's validator, keys from `secret` (unchanged when
/// the header is too malformed to have a hash).
pub(crate) fn certified(mut s: pb::HeaderSubmission, secret: &[u8; 32]) -> pb::HeaderSubmission {
    let Some(h) = s
        .header
        .as_ref()
        .and_then(|h| cross_shard::Header::try_from(h).ok())
    else {
        return s;
    };
    let key = consensus::committee::validator_key(secret, h.shard, 0);
    let cert = consensus::QuorumCert::of_header(&key, &h);
    s.cert = Some(shardsim_proto::convert::cert_to_wire(&cert));
    s
}

pub(crate) async fn start_beacon(shards: u32, tls: Option<Credentials>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = beacon::BeaconConfig {
        shards,
        committees: (0..shards)
            .map(|k| consensus::Committee::derived(&SECRET, k, 1).unwrap())
            .collect(),
        interval: Duration::from_millis(20),
        two_phase: None,
        data_dir: None,
        tls,
    };
    tokio::spawn(beacon::run(listener, config, std::future::pending()));
    addr
}

pub(crate) async fn start_shard(
    beacon: SocketAddr,
    shard: u32,
    shards: u32,
    signatures: bool,
    tls: Option<Credentials>,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = shard_node::ShardConfig {
        shard,
        shards,
        accounts: ACCOUNTS,
        initial_balance: 1_000_000,
        tokens: 0,
        pools: 0,
        collections: 0,
        proposals: 0,
        block_interval: Some(Duration::from_millis(20)),
        max_block_txs: 1000,
        max_block_gas: None,
        mempool_capacity: MAX_BATCH_TXS,
        beacon_link: shardsim_host::netem::LinkDelay::default(),
        signatures,
        threads: 2,
        byzantine: false,
        two_phase: None,
        executor: shard_node::Executor::Parallel,
        verify_executor: true,
        predict_executor: true,
        vm: shard_node::Vm::Native,
        data_dir: None,
        lose_receipts: 0,
        snapshot_every: 0,
        corrupt_snapshot: false,
        validator_key: validator_key(shard),
        committee: None,
        tls,
        placed: None,
    };
    tokio::spawn(async move {
        let url = format!(
            "{}://{beacon}",
            shardsim_host::tls::scheme(config.tls.is_some())
        );
        shard_node::run(listener, config, &url, std::future::pending()).await
    });
    addr
}

/// A client of the shard at `addr`, once it accepts connections.
async fn connect_shard(addr: SocketAddr) -> ShardClient<tonic::transport::Channel> {
    loop {
        match ShardClient::connect(format!("http://{addr}")).await {
            Ok(c) => return c,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

pub(crate) fn header(shard: u32, hash_len: usize) -> pb::Header {
    pb::Header {
        shard,
        height: 1,
        prev_hash: vec![0; hash_len],
        state_root: vec![0; 32],
        receipts_root: vec![0; 32],
        tx_count: 0,
        inputs: vec![0; 32],
    }
}

/// A submission of `header` carrying `batches`, certified by shard's committee (as the
/// shard itself would send it, Byzantine or not).
pub(crate) fn submission(
    header: pb::Header,
    batches: Vec<pb::ReceiptBatch>,
) -> pb::HeaderSubmission {
    let s = pb::HeaderSubmission {
        header: Some(header),
        batches,
        ..Default::default()
    };
    certified(s, &SECRET)
}

/// A receipt batch from shard 0 to shard 1 with these columns.
fn batch(tx_id: Vec<u64>, to: Vec<u64>, amount: Vec<u64>) -> pb::ReceiptBatch {
    pb::ReceiptBatch {
        src: 0,
        dst: 1,
        tx_id,
        to,
        amount,
        ..Default::default()
    }
}

async fn submit_one(
    client: &mut BeaconClient<tonic::transport::Channel>,
    s: pb::HeaderSubmission,
) -> tonic::Status {
    client
        .submit_headers(tokio_stream::iter(vec![s]))
        .await
        .expect_err("a malformed submission must be refused")
}

/// The batches of the next deliveries message on a Subscribe stream, within 5 s.
async fn next_deliveries(
    inbound: &mut tonic::Streaming<pb::Inbound>,
) -> Option<Vec<pb::ReceiptBatch>> {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match inbound.message().await {
                Ok(Some(pb::Inbound {
                    kind: Some(pb::inbound::Kind::Deliveries(ds)),
                })) => return ds.items.into_iter().map(|d| d.batch).collect(),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return None,
            }
        }
    })
    .await
    .ok()
    .flatten()
}

/// Shard 0's first batch to shard 1: one credit of `amount`.
fn credit_batch(amount: u64) -> cross_shard::ReceiptBatch {
    cross_shard::ReceiptBatch {
        src: 0,
        dst: 1,
        first_seq: 0,
        receipts: vec![cross_shard::Receipt::credit(1, 3, amount, 0)],
    }
}

/// Shard 0's certified block 1, whose header commits to `committed`, carrying `sent`.
fn block_committing(
    committed: &cross_shard::ReceiptBatch,
    sent: &[cross_shard::ReceiptBatch],
) -> pb::HeaderSubmission {
    let leaves = cross_shard::receipt::leaves(0, 2, std::slice::from_ref(committed));
    let mut h = header(0, 32);
    h.receipts_root = cross_shard::merkle::root(&leaves).0.to_vec();
    let s = pb::HeaderSubmission {
        header: Some(h),
        batches: sent.iter().map(pb::ReceiptBatch::from).collect(),
        leaf_dsts: vec![committed.dst],
        leaves: vec![committed.leaf().0.to_vec()],
        ..Default::default()
    };
    certified(s, &SECRET)
}

/// A well-formed forged batch: the header, its root and its leaves are those of an
/// honest block paying 10, and the batch sent beside the honest one pays 1,000,000 on
/// the same channel position. Only the forgery's contents differ, and only it is
/// dropped (and counted); the honest batch is routed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beacon_drops_a_well_formed_forged_batch_by_its_contents() {
    let addr = start_beacon(2, None).await;
    let mut c = BeaconClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let honest = credit_batch(10);
    let forged = credit_batch(1_000_000);
    let s = block_committing(&honest, &[forged, honest.clone()]);
    let mut inbound = c
        .subscribe(pb::SubscribeRequest { shard: 1, epoch: 0 })
        .await
        .unwrap()
        .into_inner();
    c.submit_headers(tokio_stream::iter(vec![s]))
        .await
        .expect("the honest part of the submission stands");
    // Shard 1 is delivered the honest batch, and only it.
    let delivered = next_deliveries(&mut inbound)
        .await
        .expect("a delivery to shard 1");
    let amounts: Vec<_> = delivered.iter().map(|b| b.amount.clone()).collect();
    assert_eq!(amounts, vec![vec![10]], "{delivered:?}");
    let status = c
        .status(pb::StatusRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.receipts_forged, 1, "{status:?}");
}

/// A second Subscribe in a shard's name no longer closes the first: a committee's
/// validators all subscribe, and a stranger claiming the shard cannot cut it off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_subscriber_does_not_cut_off_the_first() {
    let addr = start_beacon(2, None).await;
    let mut c = BeaconClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let mut first = c
        .subscribe(pb::SubscribeRequest { shard: 1, epoch: 0 })
        .await
        .unwrap()
        .into_inner();
    let mut second = c
        .subscribe(pb::SubscribeRequest { shard: 1, epoch: 0 })
        .await
        .unwrap()
        .into_inner();
    let batch = credit_batch(10);
    let s = block_committing(&batch, std::slice::from_ref(&batch));
    c.submit_headers(tokio_stream::iter(vec![s])).await.unwrap();
    for (name, inbound) in [("first", &mut first), ("second", &mut second)] {
        let d = next_deliveries(inbound).await;
        let amounts = d.map(|ds| ds.into_iter().map(|b| b.amount).collect::<Vec<_>>());
        assert_eq!(amounts, Some(vec![vec![10]]), "{name} subscriber");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beacon_refuses_malformed_messages_and_keeps_serving() {
    let addr = start_beacon(2, None).await;
    let mut c = BeaconClient::connect(format!("http://{addr}"))
        .await
        .unwrap();

    let e = submit_one(&mut c, pb::HeaderSubmission::default()).await;
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("header"), "{e}");

    let e = submit_one(&mut c, submission(header(0, 31), vec![])).await;
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("prev_hash"), "{e}");

    let e = submit_one(&mut c, submission(header(99, 32), vec![])).await;
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("99"), "{e}");

    // Well formed, but certified by no one, or by keys outside shard 0's committee.
    let bare = pb::HeaderSubmission {
        cert: None,
        ..submission(header(0, 32), vec![])
    };
    let e = submit_one(&mut c, bare).await;
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("not certified"), "{e}");
    let forged = certified(
        pb::HeaderSubmission {
            header: Some(header(0, 32)),
            ..Default::default()
        },
        &[4; 32],
    );
    let e = submit_one(&mut c, forged).await;
    assert!(e.message().contains("signature does not verify"), "{e}");

    let uneven = batch(vec![1, 2], vec![1], vec![1, 2]);
    let e = submit_one(&mut c, submission(header(0, 32), vec![uneven])).await;
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("`to`"), "{e}");

    // A submission without the leaves its header's root commits to.
    let leafless = batch(vec![1], vec![1], vec![u64::MAX]);
    let e = submit_one(&mut c, submission(header(0, 32), vec![leafless])).await;
    assert_eq!(e.code(), Code::InvalidArgument);

    // Larger than any message may be: refused by the transport, not by a crash.
    let huge = batch(vec![7; 5_000_000], Vec::new(), Vec::new());
    let e = submit_one(&mut c, submission(header(0, 32), vec![huge])).await;
    assert_ne!(e.code(), Code::Ok);

    let e = c
        .subscribe(pb::SubscribeRequest { shard: 2, epoch: 0 })
        .await
        .expect_err("shard 2 of 2");
    assert_eq!(e.code(), Code::InvalidArgument);

    // Still serving, and nothing was accepted.
    let status = c
        .status(pb::StatusRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.shard_heights, vec![0, 0]);
    assert_eq!(status.inflight_receipts, 0);
    assert!(status.headers_rejected >= 4, "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shard_refuses_malformed_batches_rejects_bad_transactions_and_keeps_serving() {
    let beacon = start_beacon(2, None).await;
    let addr = start_shard(beacon, 0, 2, false, None).await;
    let mut c = connect_shard(addr).await;
    let mut events = c
        .events(pb::EventsRequest { after: None })
        .await
        .unwrap()
        .into_inner();

    // Fault injection with impossible values, and stored events from a shard that
    // keeps none, are refused by name.
    for (bad, field) in [
        (
            pb::LinkFault {
                delay_us: u64::MAX,
                drop: 0.0,
                duplicate: 0.0,
            },
            "delay_us",
        ),
        (
            pb::LinkFault {
                delay_us: 0,
                drop: 1.5,
                duplicate: 0.0,
            },
            "drop",
        ),
        (
            pb::LinkFault {
                delay_us: 0,
                drop: 0.0,
                duplicate: f64::NAN,
            },
            "duplicate",
        ),
    ] {
        let e = c.inject_fault(bad).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().contains(field), "{e}");
    }
    let e = c
        .events(pb::EventsRequest { after: Some(0) })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e}");

    let uneven = pb::TxBatch {
        id: vec![1, 2],
        from: vec![1, 2],
        to: vec![1],
        amount: vec![1, 1],
        nonce: vec![0, 0],
        ..Default::default()
    };
    let e = c
        .submit(tokio_stream::iter(vec![uneven]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("`to`"), "{e}");

    // One id twice in a batch: refused whole, naming the id.
    let twice = pb::TxBatch {
        id: vec![7, 8, 7],
        from: vec![1, 2, 3],
        to: vec![1, 1, 1],
        amount: vec![1, 1, 1],
        nonce: vec![0, 0, 0],
        ..Default::default()
    };
    let e = c.submit(tokio_stream::iter(vec![twice])).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("id 7 appears twice"), "{e}");

    // A signature column to a shard that checks none: refused, not carried.
    let signed = pb::TxBatch {
        id: vec![9],
        from: vec![1],
        to: vec![1],
        amount: vec![1],
        nonce: vec![0],
        signatures: vec![0; 64],
        ..Default::default()
    };
    let e = c
        .submit(tokio_stream::iter(vec![signed]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("does not check signatures"), "{e}");

    let n = MAX_BATCH_TXS + 1;
    let too_many = pb::TxBatch {
        id: vec![0; n],
        from: vec![0; n],
        to: vec![0; n],
        amount: vec![0; n],
        nonce: vec![0; n],
        ..Default::default()
    };
    let e = c
        .submit(tokio_stream::iter(vec![too_many]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("exceed"), "{e}");

    let huge = pb::TxBatch {
        id: vec![0; 5_000_000],
        ..Default::default()
    };
    assert!(c.submit(tokio_stream::iter(vec![huge])).await.is_err());

    // Well-formed but invalid transactions are rejected in a block, with reasons; a
    // valid one beside them commits.
    let p = Placement::new(2).unwrap();
    let mine = p.accounts_of(0, ACCOUNTS);
    let theirs = p.accounts_of(1, ACCOUNTS)[0];
    let batch = pb::TxBatch {
        id: vec![10, 11, 12, 13],
        from: vec![ACCOUNTS * 1000, theirs, mine[0], mine[0]],
        to: vec![mine[1], mine[1], u64::MAX, mine[1]],
        amount: vec![1, 1, 1, 5],
        nonce: vec![0, 0, 0, 0],
        ..Default::default()
    };
    let reply = c
        .submit(tokio_stream::iter(vec![batch]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.accepted, 4);
    let mut rejected = Vec::new();
    let mut committed = Vec::new();
    while rejected.len() + committed.len() < 4 {
        let ev = tokio::time::timeout(Duration::from_secs(10), events.message())
            .await
            .expect("a block within 10 s")
            .unwrap()
            .unwrap();
        committed.extend(ev.committed);
        rejected.extend(ev.rejected.into_iter().zip(ev.rejected_reason));
    }
    let code = |r: RejectReason| r.code();
    assert_eq!(
        rejected,
        vec![
            (10, code(RejectReason::UnknownAccount)),
            (11, code(RejectReason::WrongShard)),
            (12, code(RejectReason::UnknownAccount)),
        ]
    );
    assert_eq!(committed, vec![13]);
    let status = c
        .status(pb::StatusRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!((status.committed, status.rejected), (1, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_shard_rejects_bad_and_missing_signatures() {
    use cross_shard::signing::{account_key, sign};

    let beacon = start_beacon(2, None).await;
    let addr = start_shard(beacon, 0, 2, true, None).await;
    let mut c = connect_shard(addr).await;
    let mut events = c
        .events(pb::EventsRequest { after: None })
        .await
        .unwrap()
        .into_inner();
    let mine = Placement::new(2).unwrap().accounts_of(0, ACCOUNTS);
    let t = |id: u64, from: u64, nonce: u64| cross_shard::Tx {
        id,
        from,
        nonce,
        call: cross_shard::Call::Transfer {
            to: mine[9],
            asset: 0,
            amount: 1,
        },
    };
    let (good, forged, tampered) = (t(1, mine[0], 0), t(2, mine[1], 0), t(3, mine[2], 0));
    let mut batch = pb::TxBatch::default();
    for tx in [&good, &forged, &tampered] {
        shardsim_proto::convert::push_tx(&mut batch, tx);
    }
    batch
        .signatures
        .extend_from_slice(&sign(&account_key(good.from), &good));
    batch
        .signatures
        .extend_from_slice(&sign(&account_key(mine[5]), &forged)); // wrong key
    let mut signed_then_changed = tampered;
    signed_then_changed.call = cross_shard::Call::Transfer {
        to: mine[9],
        asset: 0,
        amount: 2,
    };
    batch
        .signatures
        .extend_from_slice(&sign(&account_key(tampered.from), &signed_then_changed));
    c.submit(tokio_stream::iter(vec![batch])).await.unwrap();

    // An unsigned batch to a signing shard: every transaction refused.
    let mut unsigned = pb::TxBatch::default();
    shardsim_proto::convert::push_tx(&mut unsigned, &t(4, mine[3], 0));
    c.submit(tokio_stream::iter(vec![unsigned])).await.unwrap();

    // Signatures that are not 64 bytes each: the batch is refused outright.
    let mut short = pb::TxBatch::default();
    shardsim_proto::convert::push_tx(&mut short, &t(5, mine[4], 0));
    short.signatures = vec![0; 10];
    let e = c.submit(tokio_stream::iter(vec![short])).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);

    let (mut committed, mut rejected) = (Vec::new(), Vec::new());
    while committed.len() + rejected.len() < 4 {
        let ev = tokio::time::timeout(Duration::from_secs(10), events.message())
            .await
            .expect("a block within 10 s")
            .unwrap()
            .unwrap();
        committed.extend(ev.committed);
        rejected.extend(ev.rejected.into_iter().zip(ev.rejected_reason));
    }
    rejected.sort();
    let bad = RejectReason::BadSignature.code();
    assert_eq!(committed, vec![1]);
    assert_eq!(rejected, vec![(2, bad), (3, bad), (4, bad)]);
}
