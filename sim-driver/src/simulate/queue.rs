//! The simulator's one event queue: every event has a virtual time, and events at the
//! same time come out in the order they were scheduled (a sequence number breaks the
//! tie), so a run is the same sequence of steps every time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

/// Events ordered by (virtual time, sequence).
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<(u64, u64, Slot)>>,
    /// The payloads, by slot; a slot is reused once its event has come out.
    slots: Vec<Option<E>>,
    free: Vec<Slot>,
    seq: u64,
    now: u64,
    /// Events taken out so far.
    pub handled: u64,
}

type Slot = u32;

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            seq: 0,
            now: 0,
            handled: 0,
        }
    }
}

impl<E> EventQueue<E> {
    /// Schedules `event` at `at`; a time in the past is taken as now (nothing happens
    /// before the event being handled).
    pub fn at(&mut self, at: Duration, event: E) {
        let at = (at.as_nanos() as u64).max(self.now);
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(event);
                s
            }
            None => {
                self.slots.push(Some(event));
                (self.slots.len() - 1) as Slot
            }
        };
        self.heap.push(Reverse((at, self.seq, slot)));
        self.seq += 1;
    }

    /// Schedules `event` `after` from now.
    pub fn after(&mut self, after: Duration, event: E) {
        self.at(self.now() + after, event);
    }

    /// The next event and its time, moving the clock there; `None` when none is left.
    pub fn pop(&mut self) -> Option<(Duration, E)> {
        let Reverse((at, _, slot)) = self.heap.pop()?;
        self.now = at;
        self.handled += 1;
        self.free.push(slot);
        let event = self.slots[slot as usize].take()?;
        Some((Duration::from_nanos(at), event))
    }

    /// The time of the event being handled.
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.now)
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_out_by_time_then_in_the_order_they_were_scheduled() {
        let mut q = EventQueue::default();
        let ms = Duration::from_millis;
        q.at(ms(5), "c");
        q.at(ms(1), "a");
        q.at(ms(5), "d");
        q.at(ms(1), "b");
        assert_eq!(q.pop(), Some((ms(1), "a")));
        // Scheduled in the past: happens now, after what is already due now.
        q.at(ms(0), "b2");
        assert_eq!(q.pop(), Some((ms(1), "b")));
        assert_eq!(q.pop(), Some((ms(1), "b2")));
        q.after(ms(2), "e");
        assert_eq!(q.pop(), Some((ms(3), "e")));
        assert_eq!(q.pop(), Some((ms(5), "c")));
        assert_eq!(q.pop(), Some((ms(5), "d")));
        assert_eq!(q.pop(), None);
        assert_eq!(q.handled, 6);
    }
}
