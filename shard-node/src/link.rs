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

use std::collections::VecDeque;
use std::pin::Pin;
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
        }
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
    S::Item: Unpin,
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
                    let due = Instant::now() + this.sample();
                    this.last_release = this.last_release.max(due);
                    this.queue.push_back((this.last_release, item));
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
