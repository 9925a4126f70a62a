//! The simulated network: every message between two nodes takes the scenario's
//! `[network]` latency plus a seeded jitter, after the sender's link has put its bytes
//! on the wire (`bandwidth`), and each directed link delivers in order, as a TCP
//! stream does.
//!
//! ```text
//!   send(from, to, bytes) at t:
//!     on the wire   w = max(t, link_free[from]) + bytes / bandwidth   (no bandwidth: w = t)
//!     arrives       a = max(w + latency + U(0, jitter), last[from → to])
//! ```
//!
//! The jitter of each directed link comes from its own generator, seeded by the run's
//! seed and the link's ends, so adding a node does not change any other link's delays.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A node of the simulated cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node {
    /// The scenario runner (the clients and the observer).
    Driver,
    /// The beacon.
    Beacon,
    /// The shard process at this slot (`shard · validators + validator`).
    Shard(u32),
}

impl Node {
    fn code(self) -> u64 {
        match self {
            Node::Driver => 0,
            Node::Beacon => 1,
            Node::Shard(s) => 2 + u64::from(s),
        }
    }
}

/// One directed link's state.
#[derive(Debug)]
struct Link {
    rng: ChaCha8Rng,
    /// When the last message sent on it arrives: none may arrive before it.
    last: Duration,
}

/// Delays of every link, as the scenario sets them.
#[derive(Debug)]
pub struct Network {
    latency: Duration,
    jitter: Duration,
    /// Bits per second each node may send; `None`: unlimited.
    bandwidth: Option<u64>,
    seed: u64,
    links: BTreeMap<(Node, Node), Link>,
    /// When each node's link is free to put the next message on the wire.
    sending: BTreeMap<Node, Duration>,
    /// Messages carried.
    pub messages: u64,
    /// Their bytes.
    pub bytes: u64,
}

impl Network {
    /// A network with every link's `latency` and `jitter` and each node's `bandwidth`.
    pub fn new(latency: Duration, jitter: Duration, bandwidth: Option<u64>, seed: u64) -> Network {
        Network {
            latency,
            jitter,
            bandwidth,
            seed,
            links: BTreeMap::new(),
            sending: BTreeMap::new(),
            messages: 0,
            bytes: 0,
        }
    }

    /// When a message of `bytes` sent from `from` to `to` at `now` arrives.
    pub fn send(&mut self, now: Duration, from: Node, to: Node, bytes: usize) -> Duration {
        self.messages += 1;
        self.bytes += bytes as u64;
        let on_wire = match self.bandwidth {
            Some(bps) => {
                let free = self.sending.entry(from).or_default();
                let start = now.max(*free);
                let took = Duration::from_nanos(
                    (bytes as u64 * 8).saturating_mul(1_000_000_000) / bps.max(1),
                );
                *free = start + took;
                *free
            }
            None => now,
        };
        let seed = self.seed;
        let link = self.links.entry((from, to)).or_insert_with(|| Link {
            rng: ChaCha8Rng::seed_from_u64(
                seed ^ (from.code() << 32 | to.code()).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            ),
            last: Duration::ZERO,
        });
        let jitter = if self.jitter.is_zero() {
            Duration::ZERO
        } else {
            self.jitter.mul_f64(link.rng.random::<f64>())
        };
        let arrives = (on_wire + self.latency + jitter).max(link.last);
        link.last = arrives;
        arrives
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_delivers_in_order_within_latency_plus_jitter_and_repeats_from_its_seed() {
        let ms = Duration::from_millis;
        let arrivals = |seed| {
            let mut n = Network::new(ms(10), ms(5), None, seed);
            (0..50)
                .map(|i| n.send(ms(i), Node::Driver, Node::Shard(1), 100))
                .collect::<Vec<_>>()
        };
        let a = arrivals(7);
        assert_eq!(a, arrivals(7), "same seed, same delays");
        assert_ne!(a, arrivals(8), "another seed, other delays");
        for (i, at) in a.iter().enumerate() {
            let sent = ms(i as u64);
            assert!(
                *at >= sent + ms(10),
                "message {i} arrived before the latency"
            );
            if i > 0 {
                assert!(*at >= a[i - 1], "message {i} overtook the one before it");
            }
        }
        assert!(
            a.iter()
                .enumerate()
                .any(|(i, at)| *at > ms(i as u64) + ms(10)),
            "some jitter"
        );
    }

    #[test]
    fn bandwidth_queues_a_senders_messages_one_after_another() {
        let ms = Duration::from_millis;
        // 8 Mbit/s: 1,000 bytes take 1 ms on the wire.
        let mut n = Network::new(ms(2), Duration::ZERO, Some(8_000_000), 1);
        assert_eq!(n.send(ms(0), Node::Beacon, Node::Shard(0), 1000), ms(3));
        // Same sender, other link: waits for the first to leave.
        assert_eq!(n.send(ms(0), Node::Beacon, Node::Shard(1), 1000), ms(4));
        // Another sender is not held up.
        assert_eq!(n.send(ms(0), Node::Shard(0), Node::Beacon, 1000), ms(3));
        assert_eq!((n.messages, n.bytes), (3, 3000));
    }
}
