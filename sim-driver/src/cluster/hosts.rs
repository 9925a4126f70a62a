//! # Hosts on this machine: one network namespace per process
//!
//! `network.hosts = "netns"` runs every cluster process on a host of its own: a Linux
//! network namespace with its own interface and address, joined to the others by a
//! switch — a bridge in a namespace of its own — so that what crosses between
//! processes crosses a real network stack (veth, bridge, the kernel's queueing) rather
//! than loopback. The driver stays in the machine's own namespace and reaches the
//! switch through a veth of its own.
//!
//! ```text
//!   root namespace                switch namespace           host namespaces
//!   driver 10.213.255.254 ─ssdN══ drv ─┐                ┌─ h0 ══ eth0 10.213.0.2  beacon
//!                                      ├── bridge br0 ──┼─ h1 ══ eth0 10.213.0.3  shard-0
//!                                      │                └─ h2 ══ eth0 10.213.0.4  shard-1
//! ```
//!
//! Each process listens on its host's address, which is not loopback, so the cluster
//! runs over mutual TLS (`cluster.tls` is implied). `network.bandwidth` is the kernel's:
//! a token bucket (`tc tbf`) on every host's interface, shaping what it sends.
//! Latency and jitter stay the processes' own emulation, on this real path: the
//! kernel's `netem` would apply them in the network instead, but it is not in every
//! kernel (not in this project's machines'), and a harness must behave the same
//! wherever it runs.
//!
//! Everything is named after the driver's pid (`shardsim-<pid>-…`, `ssd<pid>`), made
//! by `ip` from iproute2 (root only), and removed when [`Hosts`] is dropped, after the
//! processes in it are killed.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

/// The subnet of the hosts: host `i` is 10.213.(i / 250).(i % 250 + 2).
const NET: [u8; 2] = [10, 213];
/// The driver's address on the switch.
const DRIVER: Ipv4Addr = Ipv4Addr::new(10, 213, 255, 254);

/// Network namespaces for `count` hosts, a switch, and the driver's link to it.
#[derive(Debug)]
pub struct Hosts {
    prefix: String,
    count: usize,
    /// The driver's end of its link, in the root namespace.
    driver_link: String,
}

/// Runs `ip`/`tc` with `args`; an error names the command and what it printed.
fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("running {program} (iproute2)"))?;
    if !out.status.success() {
        bail!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// `ip netns exec NS <args>`.
fn in_ns(ns: &str, args: &[&str]) -> anyhow::Result<()> {
    let mut all = vec!["netns", "exec", ns];
    all.extend_from_slice(args);
    run("ip", &all)
}

impl Hosts {
    /// Makes `count` hosts, each sending at most `bandwidth` bits per second when
    /// given. Fails with what is missing where namespaces cannot be made (not root, no
    /// iproute2, a sandbox that forbids them).
    pub fn create(count: usize, bandwidth: Option<u64>) -> anyhow::Result<Hosts> {
        let pid = std::process::id();
        let hosts = Hosts {
            prefix: format!("shardsim-{pid}"),
            count: 0,
            driver_link: format!("ssd{pid}"),
        };
        let mut hosts = hosts;
        let switch = hosts.switch();
        run("ip", &["netns", "add", &switch]).context(
            "network.hosts = \"netns\" needs network namespaces (run as root, with iproute2)",
        )?;
        in_ns(&switch, &["ip", "link", "add", "br0", "type", "bridge"])?;
        in_ns(&switch, &["ip", "link", "set", "br0", "up"])?;
        // The driver's link: one end here, the other on the bridge.
        let link = hosts.driver_link.clone();
        run(
            "ip",
            &[
                "link", "add", &link, "type", "veth", "peer", "name", "drv", "netns", &switch,
            ],
        )?;
        in_ns(
            &switch,
            &["ip", "link", "set", "drv", "master", "br0", "up"],
        )?;
        run(
            "ip",
            &["addr", "add", &format!("{DRIVER}/16"), "dev", &link],
        )?;
        run("ip", &["link", "set", &link, "up"])?;
        for i in 0..count {
            let ns = hosts.name(i);
            run("ip", &["netns", "add", &ns])?;
            hosts.count = i + 1;
            let port = format!("h{i}");
            run(
                "ip",
                &[
                    "link", "add", &port, "netns", &switch, "type", "veth", "peer", "name", "eth0",
                    "netns", &ns,
                ],
            )?;
            in_ns(
                &switch,
                &["ip", "link", "set", &port, "master", "br0", "up"],
            )?;
            in_ns(
                &ns,
                &[
                    "ip",
                    "addr",
                    "add",
                    &format!("{}/16", Hosts::addr(i)),
                    "dev",
                    "eth0",
                ],
            )?;
            in_ns(&ns, &["ip", "link", "set", "eth0", "up"])?;
            in_ns(&ns, &["ip", "link", "set", "lo", "up"])?;
            if let Some(bits) = bandwidth {
                // A bucket of 10 ms at the rate (at least 16 KiB): bursts pass, the
                // average is the rate; 200 ms of queue before packets are dropped.
                let burst = (bits / 8 / 100).max(16 * 1024);
                in_ns(
                    &ns,
                    &[
                        "tc",
                        "qdisc",
                        "add",
                        "dev",
                        "eth0",
                        "root",
                        "tbf",
                        "rate",
                        &format!("{bits}bit"),
                        "burst",
                        &burst.to_string(),
                        "latency",
                        "200ms",
                    ],
                )
                .context("network.bandwidth needs the kernel's token bucket (tc tbf)")?;
            }
        }
        Ok(hosts)
    }

    fn switch(&self) -> String {
        format!("{}-net", self.prefix)
    }

    /// The namespace of host `i`.
    pub fn name(&self, i: usize) -> String {
        format!("{}-{i}", self.prefix)
    }

    /// Host `i`'s address.
    pub fn addr(i: usize) -> Ipv4Addr {
        Ipv4Addr::new(NET[0], NET[1], (i / 250) as u8, (i % 250) as u8 + 2)
    }

    /// The file that is host `i`'s namespace (what a process enters, `setns`).
    pub fn path(&self, i: usize) -> PathBuf {
        PathBuf::from("/run/netns").join(self.name(i))
    }

    /// The hosts' namespaces, for a check that nothing is left behind.
    pub fn names(&self) -> Vec<String> {
        let mut all: Vec<String> = (0..self.count).map(|i| self.name(i)).collect();
        all.push(self.switch());
        all
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        // The driver's link goes with its peer; each namespace with its interfaces
        // once the processes in it are gone.
        let _ = run("ip", &["link", "del", &self.driver_link]);
        for ns in self.names() {
            let _ = run("ip", &["netns", "del", &ns]);
        }
    }
}
