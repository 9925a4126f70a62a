//! Emulated network links: a fixed one-way latency plus jitter on every message.
//!
//! On loopback every message arrives in microseconds; real shards sit milliseconds
//! apart. [`Delayed`] wraps any message stream and holds each message until
//! `arrival + latency + U(0, jitter)`, but never releases a message before the one
//! ahead of it: like TCP, a link delays but does not reorder.
//!
//! ```text
//!  inner stream ──► [t₀+d₀ msg0] [t₁+d₁ msg1] … ──release when due, in order──► consumer
//! ```
//!
//! Each process delays what it *sends and receives* on its own links, so a message on
//! one link is delayed once: the driver delays its Submit and Events streams, a shard
//! its two streams with the beacon.
//!
//! **Injected faults** ([`LinkFault`], set at run time through a [`FaultHandle`]) make a
//! link worse than slow: extra delay, a fraction of messages **dropped**, a fraction
//! **duplicated**. Over TCP neither happens by itself; here they stand for what a real
//! network, a proxy or a restarting peer does, and the protocols above must cope:
//! senders retry what is not acknowledged, receivers ignore what they already have.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::time::{Instant, Sleep};
use tokio_stream::Stream;

/// Messages a link holds before it stops reading its input (which then pushes back).
const MAX_IN_FLIGHT: usize = 4096;

/// The delay of one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkDelay {
    /// Added to every message.
    pub latency: Duration,
    /// Up to this much more, uniformly at random, per message.
    pub jitter: Duration,
}

impl LinkDelay {
    /// Whether the link adds no delay at all.
    pub fn is_zero(&self) -> bool {
        self.latency.is_zero() && self.jitter.is_zero()
    }
}

/// Faults injected on a link (all zero: none).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LinkFault {
    /// Added to every message's delay.
    pub delay: Duration,
    /// Probability that a message is lost.
    pub drop: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
}

impl LinkFault {
    /// Most delay an injected fault may add.
    pub const MAX_DELAY: Duration = Duration::from_secs(10);
    /// Highest drop or duplicate probability: a link that loses everything cannot be
    /// recovered by retrying.
    pub const MAX_PROBABILITY: f64 = 0.9;

    /// A fault from untrusted values (a request's fields, named as on the wire),
    /// checked: delay at most [`Self::MAX_DELAY`], probabilities in
    /// `[0, MAX_PROBABILITY]`.
    pub fn checked(delay_us: u64, drop: f64, duplicate: f64) -> Result<LinkFault, String> {
        let delay = Duration::from_micros(delay_us);
        if delay > Self::MAX_DELAY {
            return Err(format!("delay_us {delay_us} is above 10 s"));
        }
        for (name, p) in [("drop", drop), ("duplicate", duplicate)] {
            if !(0.0..=Self::MAX_PROBABILITY).contains(&p) {
                return Err(format!("{name} = {p} must be in [0, 0.9]"));
            }
        }
        Ok(LinkFault {
            delay,
            drop,
            duplicate,
        })
    }
}

/// The faults of one link, shared between whoever sets them and the streams that
/// obey them.
pub type FaultHandle = Arc<Mutex<LinkFault>>;

/// A stream whose items are released `delay` after they arrive from `inner`.
pub struct Delayed<S: Stream> {
    /// The source, until it ends.
    inner: Option<Pin<Box<S>>>,
    /// Items waiting, with their release times (non-decreasing).
    queue: VecDeque<(Instant, S::Item)>,
    /// The link's delay.
    delay: LinkDelay,
    /// Draws the jitter.
    rng: ChaCha8Rng,
    /// Release time of the last queued item, so no item overtakes another.
    last_release: Instant,
    /// Wakes the consumer when the front item is due.
    timer: Pin<Box<Sleep>>,
    /// Injected faults, if this link can have any.
    faults: Option<FaultHandle>,
}

impl<S: Stream> Delayed<S> {
    /// Delays `inner` by `delay`; `seed` makes the jitter repeatable.
    pub fn new(inner: S, delay: LinkDelay, seed: u64) -> Delayed<S> {
        let now = Instant::now();
        Delayed {
            inner: Some(Box::pin(inner)),
            queue: VecDeque::new(),
            delay,
            rng: ChaCha8Rng::seed_from_u64(seed),
            last_release: now,
            timer: Box::pin(tokio::time::sleep_until(now)),
            faults: None,
        }
    }

    /// The same link, also obeying the faults in `faults` (read for every message).
    pub fn with_faults(mut self, faults: FaultHandle) -> Delayed<S> {
        self.faults = Some(faults);
        self
    }

    fn sample(&mut self) -> Duration {
        let jitter = if self.delay.jitter.is_zero() {
            Duration::ZERO
        } else {
            self.delay.jitter.mul_f64(self.rng.random::<f64>())
        };
        self.delay.latency + jitter
    }
}

impl<S> Stream for Delayed<S>
where
    S: Stream,
    S::Item: Unpin + Clone,
{
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.get_mut();
        // Take in everything that has arrived, stamping its release time.
        while this.queue.len() < MAX_IN_FLIGHT {
            let Some(inner) = this.inner.as_mut() else {
                break;
            };
            match inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    let fault = this.faults.as_ref().map(|f| {
                        let f = *f.lock().unwrap_or_else(PoisonError::into_inner);
                        (f, this.rng.random::<f64>(), this.rng.random::<f64>())
                    });
                    let (extra, copies) = match fault {
                        Some((f, lose, _)) if lose < f.drop => (f.delay, 0),
                        Some((f, _, twice)) if twice < f.duplicate => (f.delay, 2),
                        Some((f, _, _)) => (f.delay, 1),
                        None => (Duration::ZERO, 1),
                    };
                    let due = Instant::now() + this.sample() + extra;
                    this.last_release = this.last_release.max(due);
                    if copies == 2 {
                        this.queue.push_back((this.last_release, item.clone()));
                    }
                    if copies > 0 {
                        this.queue.push_back((this.last_release, item));
                    }
                }
                Poll::Ready(None) => this.inner = None,
                Poll::Pending => break,
            }
        }
        let Some(&(release, _)) = this.queue.front() else {
            return if this.inner.is_none() {
                Poll::Ready(None)
            } else {
                Poll::Pending
            };
        };
        if release > Instant::now() {
            this.timer.as_mut().reset(release);
            if this.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        Poll::Ready(this.queue.pop_front().map(|(_, item)| item))
    }
}

impl<S: Stream> std::fmt::Debug for Delayed<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delayed")
            .field("delay", &self.delay)
            .field("queued", &self.queue.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_stream::StreamExt;

    #[tokio::test(start_paused = true)]
    async fn delays_every_item_and_keeps_order() {
        let delay = LinkDelay {
            latency: Duration::from_millis(10),
            jitter: Duration::from_millis(20),
        };
        let start = Instant::now();
        let mut s = Delayed::new(tokio_stream::iter(0..100), delay, 7);
        let mut got = Vec::new();
        while let Some(i) = s.next().await {
            let waited = start.elapsed();
            assert!(
                waited >= Duration::from_millis(10),
                "item {i} after {waited:?}"
            );
            assert!(
                waited <= Duration::from_millis(31),
                "item {i} after {waited:?}"
            );
            got.push(i);
        }
        assert_eq!(got, (0..100).collect::<Vec<_>>());
    }

    #[tokio::test(start_paused = true)]
    async fn injected_faults_drop_and_duplicate_but_never_reorder() {
        let faults: FaultHandle = Arc::default();
        *faults.lock().unwrap() = LinkFault {
            delay: Duration::from_millis(5),
            drop: 0.3,
            duplicate: 0.3,
        };
        let start = Instant::now();
        let s =
            Delayed::new(tokio_stream::iter(0..1000), LinkDelay::default(), 3).with_faults(faults);
        let got: Vec<i32> = s.collect().await;
        assert!(start.elapsed() >= Duration::from_millis(5));
        assert!(got.windows(2).all(|w| w[0] <= w[1]), "order kept");
        let mut distinct = got.clone();
        distinct.dedup();
        let (lost, doubled) = (1000 - distinct.len(), got.len() - distinct.len());
        assert!((200..400).contains(&lost), "lost {lost}");
        assert!((120..330).contains(&doubled), "doubled {doubled}");
    }

    #[test]
    fn fault_values_from_the_wire_are_checked() {
        assert!(LinkFault::checked(1000, 0.1, 0.9).is_ok());
        for bad in [
            (20_000_000, 0.0, 0.0),
            (0, 0.95, 0.0),
            (0, 0.0, -0.1),
            (0, f64::NAN, 0.0),
        ] {
            assert!(LinkFault::checked(bad.0, bad.1, bad.2).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        /// Any wire values get a verdict, and an accepted fault is within bounds.
        #[test]
        fn arbitrary_fault_values_never_panic(delay_us: u64, drop: f64, duplicate: f64) {
            if let Ok(f) = LinkFault::checked(delay_us, drop, duplicate) {
                proptest::prop_assert!(f.delay <= LinkFault::MAX_DELAY);
                proptest::prop_assert!((0.0..=0.9).contains(&f.drop) && (0.0..=0.9).contains(&f.duplicate));
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn zero_delay_passes_through_and_ends() {
        let mut s = Delayed::new(tokio_stream::iter(vec![1, 2, 3]), LinkDelay::default(), 0);
        let start = Instant::now();
        assert_eq!(s.next().await, Some(1));
        assert_eq!(s.next().await, Some(2));
        assert_eq!(s.next().await, Some(3));
        assert_eq!(s.next().await, None);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
