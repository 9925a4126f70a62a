//! Authenticated links: a beacon and a shard serving over mutual TLS (in process, on
//! 127.0.0.1:0), called by the driver, by another shard's certificate, by a client of
//! another cluster, and by one with no certificate at all.

use std::net::SocketAddr;
use std::time::Duration;

use shardsim_host::tls::{Credentials, Role, generate};
use shardsim_proto::pb;
use shardsim_proto::pb::beacon_client::BeaconClient;
use shardsim_proto::pb::shard_client::ShardClient;
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::hostile::{SECRET, certified, header, start_beacon, start_shard, submission};

const SHARD_0: Role = Role::Validator { shard: 0, index: 0 };
const SHARD_1: Role = Role::Validator { shard: 1, index: 0 };

/// A TLS channel to `addr`, expecting the server to be `server`, as `who` (with `dir`'s
/// credentials); `None` when the connection itself is refused.
async fn channel(
    dir: &std::path::Path,
    who: Role,
    addr: SocketAddr,
    server: Role,
) -> Option<Channel> {
    let creds = Credentials::load(dir, who).unwrap();
    let url = format!("https://{addr}");
    shardsim_host::tls::endpoint(&url, Some(&creds), server)
        .unwrap()
        .connect()
        .await
        .ok()
}

/// Waits until a TLS client of the driver reaches the shard at `addr`.
async fn driver_of(dir: &std::path::Path, addr: SocketAddr) -> ShardClient<Channel> {
    for _ in 0..200 {
        if let Some(c) = channel(dir, Role::Driver, addr, SHARD_0).await {
            return ShardClient::new(c);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the shard never accepted the driver");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_over_mutual_tls_knows_each_caller_by_its_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    generate(&dir, &[Role::Beacon, Role::Driver, SHARD_0, SHARD_1]).unwrap();
    let load = |r| Some(Credentials::load(&dir, r).unwrap());
    let beacon = start_beacon(2, load(Role::Beacon)).await;
    let shard = start_shard(beacon, 0, 2, false, load(SHARD_0)).await;

    // The driver's certificate may do everything a driver does.
    let mut driver = driver_of(&dir, shard).await;
    let status = driver
        .status(pb::StatusRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.shard, 0);
    let fault = pb::LinkFault {
        delay_us: 0,
        drop: 0.0,
        duplicate: 0.0,
    };
    driver
        .inject_fault(fault)
        .await
        .expect("the driver injects faults");
    // The shard reached the beacon over TLS with its own certificate: its header is
    // notarized once a block is made.
    let p = cross_shard::Placement::new(2).unwrap();
    let from = p.accounts_of(0, 1000)[0];
    let mut batch = pb::TxBatch::default();
    let tx = cross_shard::Tx {
        id: 1,
        from,
        nonce: 0,
        call: cross_shard::Call::Transfer {
            to: from,
            asset: 0,
            amount: 1,
        },
    };
    shardsim_proto::convert::push_tx(&mut batch, &tx);
    driver
        .submit(tokio_stream::iter([batch]))
        .await
        .expect("the driver submits");
    let mut beacon_as_driver = BeaconClient::new(
        channel(&dir, Role::Driver, beacon, Role::Beacon)
            .await
            .unwrap(),
    );
    let mut notarized = 0;
    for _ in 0..200 {
        let s = beacon_as_driver
            .status(pb::StatusRequest::default())
            .await
            .unwrap()
            .into_inner();
        notarized = s.notarized_heights.first().copied().unwrap_or(0);
        if notarized > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(notarized > 0, "the shard's header went up over TLS");

    // Another shard's certificate: not a driver, and not shard 0 at the beacon.
    let other = channel(&dir, SHARD_1, shard, SHARD_0).await.unwrap();
    let e = ShardClient::new(other)
        .inject_fault(fault)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e}");
    let mut beacon_as_1 =
        BeaconClient::new(channel(&dir, SHARD_1, beacon, Role::Beacon).await.unwrap());
    let e = beacon_as_1
        .subscribe(pb::SubscribeRequest { shard: 0, epoch: 0 })
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Code::PermissionDenied,
        "subscribing as shard 0: {e}"
    );
    let forged = certified(submission(header(0, 32), Vec::new()), &SECRET);
    let e = beacon_as_1
        .submit_headers(tokio_stream::iter([forged]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "a header of shard 0: {e}");
    beacon_as_1
        .subscribe(pb::SubscribeRequest { shard: 1, epoch: 0 })
        .await
        .expect("its own subscription");

    // A server is checked too: the shard's certificate does not name the beacon.
    assert!(
        channel(&dir, Role::Driver, shard, Role::Beacon)
            .await
            .is_none()
            || BeaconClient::new(
                channel(&dir, Role::Driver, shard, Role::Beacon)
                    .await
                    .unwrap()
            )
            .status(pb::StatusRequest::default())
            .await
            .is_err(),
        "a client that meant the beacon does not talk to a shard"
    );

    // No certificate, or one of another cluster's CA: the handshake fails, so the
    // call does (the same call with the driver's certificate answers, above).
    let refused = |what: &str, r: Result<tonic::Response<pb::BeaconStatus>, tonic::Status>| {
        let e = r.expect_err(what);
        eprintln!("{what}: refused, {e}");
    };
    let plain = Endpoint::from_shared(format!("http://{beacon}"))
        .unwrap()
        .connect_lazy();
    refused(
        "plain gRPC",
        BeaconClient::new(plain)
            .status(pb::StatusRequest::default())
            .await,
    );
    let ca = std::fs::read_to_string(dir.join(shardsim_host::tls::CA_FILE)).unwrap();
    let anonymous = Endpoint::from_shared(format!("https://{beacon}"))
        .unwrap()
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(ca))
                .domain_name(Role::Beacon.dns_name()),
        )
        .unwrap()
        .connect_lazy();
    refused(
        "TLS without a client certificate",
        BeaconClient::new(anonymous)
            .status(pb::StatusRequest::default())
            .await,
    );
    let stranger = tmp.path().join("other-cluster");
    generate(&stranger, &[Role::Driver]).unwrap();
    let creds = Credentials::load(&stranger, Role::Driver).unwrap();
    let foreign =
        shardsim_host::tls::endpoint(&format!("https://{beacon}"), Some(&creds), Role::Beacon)
            .unwrap()
            .connect_lazy();
    refused(
        "another cluster's driver",
        BeaconClient::new(foreign)
            .status(pb::StatusRequest::default())
            .await,
    );
}
