//! The driver's side of migration (`cross_shard::migration`): CLPA every epoch over
//! the transactions the run offered, and the calls of moving accounts held until their
//! move is complete.
//!
//! ```text
//!  every placement.epoch of load:
//!    touches of the epoch ─► History(window) ─► CLPA from the current directory
//!    ─► moves ─► begin(): directory switched, each moving account held
//!              ─► Announce to the beacon (it answers with the block's height)
//!
//!  a moving account X (old shard A, new shard B):
//!    new calls of X ──────────────────────────► held here, in nonce order
//!    calls of X A refuses after its switch ───► held here too (events: moved)
//!    B's events: imported X  ┐
//!    every call of X sent to A has its outcome ┴─► released: sent to B in nonce order
//! ```
//!
//! Holding in the driver rather than in the shards keeps a sender's nonces in order
//! without any shard buffering calls it cannot run yet: B sees X's first call only
//! after X's nonce has arrived, and A has answered every call it was sent for X, so
//! none of them can come back after a later one has gone to B. How long each account
//! was held is its **unavailability**, reported per epoch.

use std::time::Instant;

use cross_shard::migration::EpochChange;
use cross_shard::{AccountId, Placement, ShardId, Tx, TxId};
use placement::clpa::{ClpaParams, clpa};
use placement::graph::{History, Touch};
use rustc_hash::FxHashMap;

/// The shard [`Moving::route`] gives a held call: dispatched, not sent.
pub const HELD: ShardId = ShardId::MAX;

/// One account on the move.
#[derive(Debug)]
struct Held {
    /// Its new shard.
    to: ShardId,
    /// When the driver began holding it.
    since: Instant,
    /// Whether its new shard has applied its `Arrive`.
    arrived: bool,
    /// Its calls, waiting.
    txs: Vec<Tx>,
}

/// One epoch's migration figures.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct EpochFigures {
    /// The epoch.
    pub epoch: u32,
    /// Seconds into the load when the driver began it.
    pub began_s: f64,
    /// Accounts moved.
    pub accounts: u64,
    /// The beacon block that announced it.
    pub beacon_height: u64,
    /// Seconds into the load when the beacon answered that its block announced it.
    pub announced_s: Option<f64>,
    /// Seconds into the load when the driver heard of the last shard's switch block.
    pub all_switched_s: Option<f64>,
    /// Bytes of state the shards sent for it.
    pub bytes: u64,
    /// Each moved account's unavailability: held from the announcement to its release
    /// (ms), in release order.
    #[serde(skip)]
    pub held_ms: Vec<f64>,
    /// Calls refused by an old shard and sent again.
    pub refused: u64,
    /// Receipts an old shard sent on to a moved account.
    pub forwarded: u64,
    /// Seconds CLPA took.
    pub clpa_s: f64,
    /// Per shard, when the driver heard of each of its blocks (seconds into the load),
    /// from the epoch's beginning up to and including its switch block.
    #[serde(skip)]
    pub block_s: Vec<Vec<f64>>,
}

impl EpochFigures {
    /// How many blocks the slowest shard committed from the announcement to its
    /// switch, the switch block included: 1 when it switched in the first block heard
    /// of after the beacon's answer. `None` until every shard has switched.
    pub fn switch_blocks(&self) -> Option<u32> {
        let announced = self.announced_s?;
        self.all_switched_s?;
        self.block_s
            .iter()
            .map(|times| times.iter().filter(|&&t| t > announced).count() as u32)
            .max()
    }
}

/// One announced move, and what the shards reported of it: (shard, beacon height of
/// the block) for each export and each import.
#[derive(Debug, Default)]
struct Reported {
    from: ShardId,
    to: ShardId,
    exported: Vec<(ShardId, u64)>,
    imported: Vec<(ShardId, u64)>,
}

/// Routing and holding for a run whose accounts move.
#[derive(Debug)]
pub struct Moving {
    placement: Placement,
    accounts: u64,
    /// Sender of every transaction, by id.
    sender_of: Vec<AccountId>,
    /// Per account: calls sent to a shard without an outcome there yet.
    outstanding: Vec<u32>,
    held: FxHashMap<AccountId, Held>,
    /// Held accounts that may have become releasable since the last release (their
    /// move arrived, or their old shard's last outstanding call was answered): the
    /// only ones [`Moving::release`] looks at.
    candidates: Vec<AccountId>,
    ready: Vec<(ShardId, Tx)>,
    /// The senders of `ready`: a new call of theirs queues behind them, so that a
    /// release between two of the generator's takes cannot reorder their nonces.
    ready_from: rustc_hash::FxHashSet<AccountId>,
    /// This epoch's transactions, for CLPA.
    touches: Vec<Touch>,
    /// The epochs so far.
    pub epochs: Vec<EpochFigures>,
    /// Shards that have switched to the last epoch.
    switched: Vec<bool>,
    /// Every move announced, by (epoch, account), with what the shards reported.
    reported: FxHashMap<(u32, AccountId), Reported>,
    /// Each account's last announced move's epoch.
    last_move: FxHashMap<AccountId, u32>,
    /// Exports and imports no announced move explains.
    stray: Vec<String>,
}

impl Moving {
    /// Routing by `placement` for accounts `0..accounts`, nothing moving.
    pub fn new(placement: Placement, accounts: u64) -> Moving {
        Moving {
            placement,
            accounts,
            sender_of: Vec::new(),
            outstanding: vec![0; accounts as usize],
            held: FxHashMap::default(),
            candidates: Vec::new(),
            ready: Vec::new(),
            ready_from: Default::default(),
            touches: Vec::new(),
            epochs: Vec::new(),
            switched: vec![true; placement.shards() as usize],
            reported: FxHashMap::default(),
            last_move: FxHashMap::default(),
            stray: Vec::new(),
        }
    }

    /// Where `tx` (the next transaction, id = those routed so far), touching `to`,
    /// goes: its sender's shard, or [`HELD`].
    pub fn route(&mut self, tx: Tx, to: AccountId) -> ShardId {
        debug_assert_eq!(tx.id, self.sender_of.len() as u64);
        self.sender_of.push(tx.from);
        self.touches.push(Touch { from: tx.from, to });
        if let Some(h) = self.held.get_mut(&tx.from) {
            h.txs.push(tx);
            return HELD;
        }
        self.outstanding[tx.from as usize] += 1;
        let shard = self.placement.shard_of(tx.from);
        if self.ready_from.contains(&tx.from) {
            self.ready.push((shard, tx));
            return HELD;
        }
        shard
    }

    /// The current directory.
    pub fn placement(&self) -> Placement {
        self.placement
    }

    /// A call has its outcome on the shard it was sent to (its block's events said so).
    pub fn resolved(&mut self, id: TxId) {
        if let Some(&from) = self.sender_of.get(id as usize) {
            let n = &mut self.outstanding[from as usize];
            *n = n.saturating_sub(1);
            if *n == 0 && self.held.contains_key(&from) {
                self.candidates.push(from);
            }
        }
    }

    /// A call handed back by a shard its sender has left: it waits with its sender if
    /// the sender is still held, else goes where the sender lives now.
    pub fn refused(&mut self, tx: Tx) {
        self.resolved(tx.id);
        if let Some(e) = self.epochs.last_mut() {
            e.refused += 1;
        }
        match self.held.get_mut(&tx.from) {
            Some(h) => h.txs.push(tx),
            None => {
                self.outstanding[tx.from as usize] += 1;
                self.ready_from.insert(tx.from);
                self.ready.push((self.placement.shard_of(tx.from), tx));
            }
        }
    }

    /// The driver heard of a new block of `shard` at `since_start_s`: counted toward the
    /// shard's switch while it has not switched.
    pub fn block(&mut self, shard: ShardId, since_start_s: f64) {
        let waiting = self.switched.get(shard as usize) == Some(&false);
        if let Some(e) = self.epochs.last_mut()
            && waiting
            && let Some(times) = e.block_s.get_mut(shard as usize)
        {
            times.push(since_start_s);
        }
    }

    /// A block exported `bytes` of the last epoch's state.
    pub fn exported_bytes(&mut self, bytes: u64) {
        if let Some(e) = self.epochs.last_mut() {
            e.bytes += bytes;
        }
    }

    /// A block of `shard` switched to `epoch`.
    pub fn switched(&mut self, shard: ShardId, epoch: u32, since_start_s: f64) {
        let Some(e) = self.epochs.last_mut().filter(|e| e.epoch == epoch) else {
            return;
        };
        if let Some(s) = self.switched.get_mut(shard as usize) {
            *s = true;
        }
        if self.switched.iter().all(|&s| s) {
            e.all_switched_s = Some(since_start_s);
        }
    }

    /// `shard` let `account` go in its switch block to `epoch`, at beacon height `bh`.
    pub fn exported(&mut self, shard: ShardId, epoch: u32, account: AccountId, bh: u64) {
        match self.reported.get_mut(&(epoch, account)) {
            Some(r) => r.exported.push((shard, bh)),
            None => self.stray.push(format!(
                "shard {shard} let account {account} go in epoch {epoch}, which does not move it"
            )),
        }
    }

    /// `account`'s move is complete on `shard` (its `Arrive` applied in a block at
    /// beacon height `bh`).
    pub fn imported(&mut self, shard: ShardId, account: AccountId, bh: u64) {
        if let Some(h) = self.held.get_mut(&account) {
            h.arrived = true;
            self.candidates.push(account);
        }
        let epoch = self.last_move.get(&account).copied();
        match epoch.and_then(|e| self.reported.get_mut(&(e, account))) {
            Some(r) => r.imported.push((shard, bh)),
            None => self.stray.push(format!(
                "shard {shard} imported account {account}, which no epoch moved"
            )),
        }
    }

    /// `one_shard_per_account`, move by move, from the shards' own reports against the
    /// moves announced: each account was let go exactly once, by the shard the old
    /// directory named, and imported exactly once, by the shard the new one names, in a
    /// block that saw a later beacon block than the export's — so no beacon height
    /// finds it usable on two shards. Returns what is wrong (at most a few, named, and
    /// a count).
    pub fn audit(&self) -> Vec<String> {
        let mut found = self.stray.clone();
        let mut keys: Vec<_> = self.reported.keys().copied().collect();
        keys.sort_unstable();
        for (epoch, account) in keys {
            let r = &self.reported[&(epoch, account)];
            let what = format!(
                "epoch {epoch}: account {account} (shard {} → {})",
                r.from, r.to
            );
            match (r.exported.as_slice(), r.imported.as_slice()) {
                ([(a, out)], [(b, inn)]) if *a == r.from && *b == r.to && inn > out => {}
                ([(a, out)], [(b, inn)]) if *a == r.from && *b == r.to => found.push(format!(
                    "{what}: imported at beacon height {inn}, not after its export at {out}"
                )),
                (e, i) => found.push(format!(
                    "{what}: let go by {:?}, imported by {:?} (shard, beacon height)",
                    e, i
                )),
            }
        }
        if found.len() > 5 {
            let more = found.len() - 5;
            found.truncate(5);
            found.push(format!("… and {more} more migration faults"));
        }
        found
    }

    /// Releases every held account whose move is complete and whose old shard has
    /// answered every call it was sent: its calls become ready, in nonce order.
    pub fn release(&mut self, now: Instant) {
        for a in std::mem::take(&mut self.candidates) {
            if self.outstanding[a as usize] > 0 || !self.held.get(&a).is_some_and(|h| h.arrived) {
                continue;
            }
            let Some(mut h) = self.held.remove(&a) else {
                continue;
            };
            h.txs.sort_unstable_by_key(|t| t.nonce);
            self.outstanding[a as usize] += h.txs.len() as u32;
            if !h.txs.is_empty() {
                self.ready_from.insert(a);
            }
            self.ready.extend(h.txs.into_iter().map(|t| (h.to, t)));
            if let Some(e) = self.epochs.last_mut() {
                e.held_ms
                    .push(now.duration_since(h.since).as_secs_f64() * 1e3);
            }
        }
    }

    /// At most `limit` of the calls ready to send, oldest first, with their shards.
    /// Their senders stay marked until every ready call is taken, so a new call of
    /// theirs still queues behind (a harmless wait for one whose calls have all gone).
    pub fn take_ready(&mut self, limit: usize) -> Vec<(ShardId, Tx)> {
        if self.ready.len() <= limit {
            self.ready_from.clear();
            return std::mem::take(&mut self.ready);
        }
        self.ready.drain(..limit).collect()
    }

    /// Accounts still held.
    pub fn still_moving(&self) -> u64 {
        self.held.len() as u64
    }

    /// Calls held or ready and not yet sent, per shard they are bound for.
    pub fn unsent(&self) -> Vec<u64> {
        let mut per = vec![0u64; self.placement.shards() as usize];
        for h in self.held.values() {
            per[h.to as usize] += h.txs.len() as u64;
        }
        for (s, _) in &self.ready {
            per[*s as usize] += 1;
        }
        per
    }

    /// Receipts sent on by an old shard.
    pub fn forwarded(&mut self, n: u64) {
        if let Some(e) = self.epochs.last_mut() {
            e.forwarded += n;
        }
    }

    /// Whether every shard has switched to the last epoch.
    pub fn switched_everywhere(&self) -> bool {
        self.switched.iter().all(|&s| s)
    }

    /// Whether nothing is held or waiting to be sent: the last epoch is complete.
    pub fn settled(&self) -> bool {
        self.held.is_empty() && self.ready.is_empty()
    }

    /// The transactions offered since the last call.
    pub fn take_touches(&mut self) -> Vec<Touch> {
        std::mem::take(&mut self.touches)
    }

    /// Switches routing to `change` and holds every account it moves, from `now`.
    pub fn begin(&mut self, change: &EpochChange, now: Instant, figures: EpochFigures) {
        for &(account, to) in &change.moves {
            self.reported.insert(
                (change.epoch, account),
                Reported {
                    from: self.placement.shard_of(account),
                    to,
                    ..Reported::default()
                },
            );
            self.last_move.insert(account, change.epoch);
            self.held.insert(
                account,
                Held {
                    to,
                    since: now,
                    arrived: false,
                    txs: Vec::new(),
                },
            );
        }
        self.placement = change.apply(&self.placement, self.accounts);
        self.switched.iter_mut().for_each(|s| *s = false);
        self.epochs.push(EpochFigures {
            epoch: change.epoch,
            block_s: vec![Vec::new(); self.switched.len()],
            ..figures
        });
    }
}

/// The most migration receipts one epoch may send from one shard to another: a moving
/// account is one receipt per non-zero balance (the native coin and every token
/// genesis gave it), one per slot of a contract, and its nonce, and its old shard
/// exports `shard_node::block::EXPORT_PER_BLOCK` receipts' worth of accounts a block.
/// Capped, an epoch's export takes a shard some tens of blocks at most, and completes
/// well within an epoch: with the real sample's 551 tokens an uncapped first epoch
/// would have moved millions of receipts, for minutes.
pub const MAX_PAIR_RECEIPTS: u64 = 100_000;

/// CLPA's next epoch: the moves from `placement` it makes over the window's graph
/// once `touches` (the epoch just ended) are added, in account order — at most
/// `max_moves` from any one shard to any other, the accounts with the most
/// transactions first (with many tokens an account's state is many receipts; see
/// [`MAX_PAIR_RECEIPTS`]).
pub fn plan(
    history: &mut History,
    touches: &[Touch],
    placement: &Placement,
    params: &ClpaParams,
    (epoch, max_moves): (u32, usize),
) -> EpochChange {
    history.push_epoch(touches);
    let g = history.snapshot();
    let mut labels: Vec<ShardId> = g.ids.iter().map(|&a| placement.shard_of(a)).collect();
    clpa(&g, &mut labels, placement.shards(), params);
    let mut moves: Vec<(u64, AccountId, ShardId)> = g
        .ids
        .iter()
        .zip(labels)
        .zip(&g.degree)
        .filter(|&((&a, to), _)| placement.shard_of(a) != to)
        .map(|((&a, to), &d)| (d, a, to))
        .collect();
    moves.sort_unstable_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
    let mut per_pair: FxHashMap<(ShardId, ShardId), usize> = FxHashMap::default();
    moves.retain(|&(_, a, to)| {
        let n = per_pair.entry((placement.shard_of(a), to)).or_insert(0);
        *n += 1;
        *n <= max_moves
    });
    let mut moves: Vec<(AccountId, ShardId)> =
        moves.into_iter().map(|(_, a, to)| (a, to)).collect();
    moves.sort_unstable();
    EpochChange { epoch, moves }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cross_shard::Call;

    /// Begins epoch `epoch` of `moves` on `m`, now.
    fn start(m: &mut Moving, epoch: u32, moves: Vec<(AccountId, ShardId)>) {
        m.begin(
            &EpochChange { epoch, moves },
            Instant::now(),
            EpochFigures::default(),
        );
    }

    fn tx(id: u64, from: AccountId, nonce: u64) -> Tx {
        Tx {
            id,
            from,
            nonce,
            call: Call::Transfer {
                to: 0,
                asset: 0,
                amount: 1,
            },
        }
    }

    /// The switch in blocks: each shard's blocks heard of after the announcement, up to
    /// its switch block; blocks after its switch, or before the announcement, are not
    /// counted.
    #[test]
    fn the_switch_counts_each_shards_blocks_from_the_announcement_to_its_switch() {
        let p = Placement::new(2).unwrap();
        let mut m = Moving::new(p, 10);
        let x = (0..10).find(|&a| p.shard_of(a) == 0).unwrap();
        start(&mut m, 1, vec![(x, 1)]);
        m.block(0, 0.05); // before the announcement
        m.epochs[0].announced_s = Some(0.1);
        m.block(0, 0.2);
        m.block(0, 0.3);
        m.switched(0, 1, 0.3);
        m.block(0, 0.4); // after its switch
        m.block(1, 0.2);
        assert_eq!(
            m.epochs[0].switch_blocks(),
            None,
            "shard 1 has not switched"
        );
        assert!(!m.switched_everywhere(), "the next epoch waits");
        m.switched(1, 1, 0.2);
        assert!(m.switched_everywhere());
        assert_eq!(m.epochs[0].switch_blocks(), Some(2), "shard 0: two blocks");
    }

    #[test]
    fn a_moving_account_is_released_only_when_arrived_and_answered_in_nonce_order() {
        let p = Placement::new(2).unwrap();
        let mut m = Moving::new(p, 10);
        let x = (0..10).find(|&a| p.shard_of(a) == 0).unwrap();
        // Two calls of X go to shard 0 before the epoch begins.
        assert_eq!(m.route(tx(0, x, 0), 1), 0);
        assert_eq!(m.route(tx(1, x, 1), 1), 0);
        let change = EpochChange {
            epoch: 1,
            moves: vec![(x, 1)],
        };
        m.begin(&change, Instant::now(), EpochFigures::default());
        assert_eq!(m.route(tx(2, x, 2), 1), HELD, "a new call waits");
        m.resolved(0); // the first ran on shard 0 before its switch
        m.refused(tx(1, x, 1)); // the second is refused after it
        m.imported(1, x, 9);
        m.release(Instant::now());
        let ready = m.take_ready(usize::MAX);
        assert_eq!(
            ready.iter().map(|(s, t)| (*s, t.nonce)).collect::<Vec<_>>(),
            vec![(1, 1), (1, 2)],
            "both go to the new shard, in nonce order"
        );
        assert!(m.settled());
        // Released but not yet taken: a new call queues behind, never ahead.
        start(&mut m, 2, vec![(x, 0)]);
        assert_eq!(m.route(tx(3, x, 3), 1), HELD);
        m.resolved(1);
        m.resolved(2);
        m.imported(1, x, 9);
        m.release(Instant::now());
        assert_eq!(m.route(tx(4, x, 4), 1), HELD, "behind the released call");
        let order: Vec<u64> = m
            .take_ready(usize::MAX)
            .iter()
            .map(|(_, t)| t.nonce)
            .collect();
        assert_eq!(order, vec![3, 4]);
        assert_eq!(m.route(tx(5, x, 5), 1), 0, "then straight to its shard");
    }

    #[test]
    fn an_arrived_account_still_waits_for_its_old_shards_answers() {
        let p = Placement::new(2).unwrap();
        let mut m = Moving::new(p, 10);
        let x = (0..10).find(|&a| p.shard_of(a) == 0).unwrap();
        m.route(tx(0, x, 0), 1);
        start(&mut m, 1, vec![(x, 1)]);
        m.imported(1, x, 9);
        m.release(Instant::now());
        assert!(
            !m.settled(),
            "call 0 has no outcome yet: it could still be refused"
        );
        m.refused(tx(0, x, 0));
        m.release(Instant::now());
        assert_eq!(m.take_ready(usize::MAX).len(), 1);
    }

    #[test]
    fn the_audit_names_a_move_that_left_an_account_on_two_shards_or_none() {
        let p = Placement::new(3).unwrap();
        let x = (0..30).find(|&a| p.shard_of(a) == 0).unwrap();
        let y = (0..30).find(|&a| p.shard_of(a) == 1).unwrap();
        let mut m = Moving::new(p, 30);
        let mut moves = vec![(x, 2), (y, 2)];
        moves.sort_unstable();
        start(&mut m, 1, moves);
        // x moves as it should: let go by 0 at beacon height 5, imported by 2 at 6.
        m.exported(0, 1, x, 5);
        m.imported(2, x, 6);
        assert!(
            m.audit()
                .iter()
                .all(|f| !f.contains(&format!("account {x} ")))
        );
        // y: never let go by shard 1, yet imported by 2 — on two shards.
        m.imported(2, y, 7);
        let found = m.audit();
        assert!(
            found
                .iter()
                .any(|f| f.contains(&format!("account {y} ")) && f.contains("let go by []")),
            "{found:?}"
        );
        // An import no later than its export; a second export; a stray one.
        let mut m2 = Moving::new(p, 30);
        start(&mut m2, 1, vec![(x, 2)]);
        m2.exported(0, 1, x, 5);
        m2.imported(2, x, 5);
        assert!(
            m2.audit()[0].contains("not after its export"),
            "{:?}",
            m2.audit()
        );
        m2.exported(0, 1, x, 6);
        m2.exported(1, 1, y, 6);
        let found = m2.audit();
        assert!(
            found.iter().any(|f| f.contains("does not move it")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|f| f.contains("let go by [(0, 5), (0, 6)]")),
            "{found:?}"
        );
    }

    #[test]
    fn ready_calls_taken_a_few_at_a_time_keep_their_senders_order() {
        let p = Placement::new(2).unwrap();
        let mut m = Moving::new(p, 10);
        let x = (0..10).find(|&a| p.shard_of(a) == 0).unwrap();
        start(&mut m, 1, vec![(x, 1)]);
        for n in 0..3 {
            assert_eq!(m.route(tx(n, x, n), 1), HELD);
        }
        m.imported(1, x, 2);
        m.release(Instant::now());
        let first: Vec<u64> = m.take_ready(2).iter().map(|(_, t)| t.nonce).collect();
        assert_eq!(first, vec![0, 1]);
        assert_eq!(m.route(tx(3, x, 3), 1), HELD, "behind the call still ready");
        let rest: Vec<u64> = m.take_ready(8).iter().map(|(_, t)| t.nonce).collect();
        assert_eq!(rest, vec![2, 3]);
    }

    #[test]
    fn a_capped_plan_keeps_the_busiest_moving_accounts() {
        let p = Placement::new(2).unwrap();
        // Two cliques that hash scatters: CLPA gathers each on one shard.
        let mut touches = Vec::new();
        for (lo, n) in [(0u64, 4u64), (100, 4)] {
            for a in lo..lo + n {
                for b in lo..lo + n {
                    if a < b {
                        for _ in 0..(1 + a % 3) {
                            touches.push(Touch { from: a, to: b });
                        }
                    }
                }
            }
        }
        let params = ClpaParams::default();
        let all = plan(&mut History::new(1), &touches, &p, &params, (1, usize::MAX));
        assert!(all.moves.len() >= 2, "{all:?}");
        // Two shards: the moves go 0 → 1 and 1 → 0; one of each kept.
        let capped = plan(&mut History::new(1), &touches, &p, &params, (1, 1));
        let pairs: Vec<_> = all
            .moves
            .iter()
            .map(|&(a, to)| (p.shard_of(a), to))
            .collect();
        let distinct = pairs
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        assert_eq!(capped.moves.len(), distinct, "{capped:?}");
        assert!(
            capped.moves.windows(2).all(|w| w[0].0 < w[1].0),
            "account order"
        );
        capped.check(&p, 200).unwrap();
        assert!(
            capped.moves.iter().all(|m| all.moves.contains(m)),
            "a subset of CLPA's"
        );
    }
}
