//! The one buffered write view every speculative executor runs the programs against.
//!
//! ```text
//!   program ──read(k)──► own writes? ──yes──► that value
//!                              └──no───► base.get(k)   (the ledger, a wave's snapshot,
//!   program ──write(k,v)──► own writes (replacing an earlier write of k)   Block-STM's
//!                                                                         versions, …)
//! ```
//!
//! The parallel executor's per-transaction overlay, the two-phase participant's
//! scratch dry-run and Block-STM's incarnation view are all this one view over
//! different bases: only *where an unwritten key is read from* differs, so that is the
//! one thing a [`Base`] says. Writes never reach the base; the executor decides what
//! to do with them afterwards (apply them in order, throw them away, publish them as
//! versions).

use std::borrow::BorrowMut;

use cross_shard::AccountId;

use super::{Key, Ledger, State, Value, World};

/// Where a [`Buffered`] view reads the keys it has not written.
pub trait Base {
    /// The cluster's shared facts.
    fn world(&self) -> &World;
    /// Local index of `id`, if this shard holds it.
    fn local(&self, id: AccountId) -> Option<u32>;
    /// The value of `key` as the base sees it (it may record the read).
    fn get(&mut self, key: Key) -> Value;
}

impl Base for &Ledger {
    fn world(&self) -> &World {
        State::world(*self)
    }
    fn local(&self, id: AccountId) -> Option<u32> {
        State::local(*self, id)
    }
    fn get(&mut self, key: Key) -> Value {
        Ledger::get(self, key)
    }
}

/// A transaction's view: `base`, plus its own writes, kept in a buffer — one the caller
/// lends (`&mut Vec`, reused from one transaction to the next) or one the view owns (a
/// Block-STM worker keeps its view, buffer and all, from one incarnation to the next). A
/// transaction writes a few keys, so the buffer is a list.
pub struct Buffered<B, W> {
    /// Where unwritten keys come from.
    pub base: B,
    /// The transaction's writes, each key once, in first-write order.
    pub writes: W,
}

impl<B: Base, W: BorrowMut<Vec<(Key, Value)>>> Buffered<B, W> {
    /// A view of `base` whose writes go to `writes` (cleared by the caller).
    pub fn new(base: B, writes: W) -> Buffered<B, W> {
        Buffered { base, writes }
    }
}

impl<B: Base, W: BorrowMut<Vec<(Key, Value)>>> State for Buffered<B, W> {
    fn world(&self) -> &World {
        self.base.world()
    }

    fn local(&self, id: AccountId) -> Option<u32> {
        self.base.local(id)
    }

    fn read(&mut self, key: Key) -> Value {
        match self.writes.borrow().iter().find(|(k, _)| *k == key) {
            Some(&(_, v)) => v,
            None => self.base.get(key),
        }
    }

    fn write(&mut self, key: Key, value: Value) {
        let writes = self.writes.borrow_mut();
        match writes.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => writes.push((key, value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::world;

    #[test]
    fn reads_see_own_writes_and_the_base_is_never_written() {
        let ledger = Ledger::genesis(world(0, 1, 10, 1), 100);
        let i = ledger.local(3).unwrap();
        let mut writes = Vec::new();
        let mut view = Buffered::new(&ledger, &mut writes);
        assert_eq!(view.read(Key::Account(i)), [100, 0], "from the base");
        view.write(Key::Account(i), [60, 1]);
        view.write(Key::Account(i), [50, 1]);
        assert_eq!(view.read(Key::Account(i)), [50, 1], "its own last write");
        assert_eq!(
            writes,
            vec![(Key::Account(i), [50, 1])],
            "one entry per key"
        );
        assert_eq!(ledger.get(Key::Account(i)), [100, 0], "the base untouched");
    }
}
