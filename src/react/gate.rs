//! The gate: what a match leads to once it has matched. One incident must
//! not fire a hundred restarts, one noisy client must not throttle the
//! others, and no input, however hostile, may make the daemon's memory grow
//! without bound.
//!
//! Each key (the values of the `--key` groups, or one key for everything)
//! goes through the same cycle: *counting* matches in an exact sliding
//! window until `--threshold` is reached, then *waiting* for a free slot
//! (at most `--max-running` commands at once), *running*, and *cooling*
//! down for `--wait` after the command ended. Matches that arrive while a
//! key is waiting, running or cooling are suppressed (counted, reported
//! once, handed to the next run) and do not count toward the next window;
//! with `--wait 0` they are held in a bounded queue instead and replayed in
//! order when the run ends, so that nothing is dropped.
//!
//! The table holds at most `max_keys` keys. A new key makes room by
//! forgetting an idle key, else the least recently seen key that is only
//! counting; never one that is waiting, running or cooling (a flood of new
//! keys cannot reset a throttled one). Every operation is O(log n) in the
//! number of keys: ordered indexes replace scans.
//!
//! The clock is a parameter (`now`), so all of this is tested without
//! sleeping, and a timer is only asked for while there is a suppressed count
//! to report: an idle daemon sets none.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use crate::react::linetime::Time;

/// How many matches `--wait 0` holds while their keys are busy, across all
/// keys. Beyond it a match is suppressed (counted and reported).
pub const QUEUE_BOUND: usize = 1000;

/// How many bytes of held lines (queued matches and triggers waiting for a
/// slot) are kept at most, across all keys.
pub const HELD_BYTES: usize = 16 << 20;

/// Keys are cut to this many bytes.
pub const MAX_KEY_LEN: usize = 256;

/// The same warning (table full, queue full) is logged at most this often.
pub const WARN_INTERVAL: Duration = Duration::from_secs(60);

/// `--threshold N/DURATION`: a trigger needs `count` matches that arrived
/// less than `window` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    pub count: u32,
    pub window: Duration,
}

impl Threshold {
    /// The default: every match triggers.
    pub const EVERY_MATCH: Threshold = Threshold {
        count: 1,
        window: Duration::ZERO,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The cooldown after a run ends; zero queues instead of suppressing.
    pub wait: Duration,
    pub threshold: Threshold,
    pub max_keys: usize,
    pub max_running: usize,
    /// Matches held by `wait == 0` at most (`QUEUE_BOUND`; 0 disables the
    /// queue: busy keys then suppress).
    pub queue_bound: usize,
}

/// What a held match keeps (its line), and what it costs.
pub trait Held {
    fn bytes(&self) -> usize;
}

impl Held for () {
    fn bytes(&self) -> usize {
        0
    }
}

impl Held for Box<[u8]> {
    fn bytes(&self) -> usize {
        self.len()
    }
}

/// A key's slot in the table; stable while the key is tracked.
pub type KeyId = usize;

/// Run the command now for `key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launch {
    pub key: KeyId,
    /// The matches that made the trigger (`LOGS2ECA_COUNT`).
    pub count: u32,
    /// Matches suppressed since the key's previous run (`LOGS2ECA_SUPPRESSED`).
    pub suppressed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Run now; call `finished` when the run ends (or failed to start).
    Run(Launch),
    /// Counted toward the threshold; nothing to do yet.
    Counted,
    /// The trigger waits for a free slot; `next_ready` hands it out.
    Waiting,
    /// Held in the `--wait 0` queue until the key's run ends.
    Queued,
    /// The key is busy or cooling down: counted as suppressed.
    Suppressed,
    /// The table is full of busy keys: this new key's match is dropped.
    Dropped,
}

/// Something worth a log line, collected for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A key's cooldown ended (or the daemon stops) with matches
    /// suppressed that were not reported yet.
    Suppressed { key: Box<[u8]>, count: u64 },
    /// The `--wait 0` queue or the held-bytes budget is full; `count`
    /// matches were suppressed for it since the last such notice.
    QueueFull { count: u64 },
    /// The table is full of busy keys; `count` matches of new keys were
    /// dropped since the last such notice.
    TableFull { count: u64 },
}

/// One key's state as plain data, for the state file: the lines' times as
/// they are, so that it means the same after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySnapshot {
    pub key: Vec<u8>,
    /// When the key's last run ended (its cooldown counts from there).
    pub last_end: Option<Time>,
    pub suppressed: u64,
    /// Arrival times of the matches counting toward the threshold.
    pub window: Vec<Time>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Counting,
    Waiting {
        seq: u64,
    },
    Running,
    /// The run failed and waits to be retried (`--retry`): busy as while
    /// running, but its slot is free for others meanwhile.
    Backoff,
    Cooling {
        until: Time,
    },
}

#[derive(Debug)]
struct Queued<T> {
    at: Time,
    seq: u64,
    payload: T,
}

#[derive(Debug)]
struct Key<T> {
    name: Box<[u8]>,
    phase: Phase,
    /// Arrival times of the matches counting now, oldest first; fewer than
    /// the threshold's count.
    window: VecDeque<Time>,
    suppressed: u64,
    /// Suppressed matches not reported yet.
    unreported: u64,
    /// Sequence number of the key's latest match (least recently seen
    /// first, for eviction).
    seen: u64,
    last_end: Option<Time>,
    /// The trigger waiting for a slot: its count and its line.
    pending: Option<(u32, T)>,
    /// `--wait 0`: matches that arrived while the key was busy.
    queue: VecDeque<Queued<T>>,
}

/// Order of eviction: idle keys (`false`) before counting ones, then least
/// recently seen first.
type EvictionEntry = (bool, u64, KeyId);

#[derive(Debug)]
pub struct Gate<T> {
    settings: Settings,
    keys: Vec<Option<Key<T>>>,
    free: Vec<KeyId>,
    by_name: HashMap<Box<[u8]>, KeyId>,
    /// Keys that may be forgotten: the counting ones.
    evictable: BTreeSet<EvictionEntry>,
    /// Keys cooling down, by the end of their cooldown.
    cooling: BTreeSet<(Time, KeyId)>,
    /// The cooling keys with something to report when they end.
    reporting: BTreeSet<(Time, KeyId)>,
    /// Triggers waiting for a slot, in order of arrival.
    slot_queue: BTreeMap<u64, KeyId>,
    running: usize,
    /// No start now, whatever the slots say (the last spawn is not saved
    /// yet): triggers wait for a slot until `hold_starts(false)`.
    held_back: bool,
    queued: usize,
    held_bytes: usize,
    /// Numbers the matches, for arrival order and recency.
    seq: u64,
    dropped: u64,
    dropped_unreported: u64,
    last_table_warning: Option<Time>,
    overflowed_unreported: u64,
    last_queue_warning: Option<Time>,
    notices: Vec<Notice>,
}

impl<T: Held> Gate<T> {
    pub fn new(settings: Settings) -> Self {
        Gate {
            settings: Settings {
                max_keys: settings.max_keys.max(1),
                max_running: settings.max_running.max(1),
                threshold: Threshold {
                    count: settings.threshold.count.max(1),
                    ..settings.threshold
                },
                ..settings
            },
            keys: Vec::new(),
            free: Vec::new(),
            by_name: HashMap::new(),
            evictable: BTreeSet::new(),
            cooling: BTreeSet::new(),
            reporting: BTreeSet::new(),
            slot_queue: BTreeMap::new(),
            running: 0,
            held_back: false,
            queued: 0,
            held_bytes: 0,
            seq: 0,
            dropped: 0,
            dropped_unreported: 0,
            last_table_warning: None,
            overflowed_unreported: 0,
            last_queue_warning: None,
            notices: Vec::new(),
        }
    }

    /// A line with key `name` matched at `now`. `hold` makes what is kept
    /// of the line if the match has to wait; it is only called then.
    pub fn on_match(&mut self, name: &[u8], now: Time, hold: impl FnOnce() -> T) -> Verdict {
        self.arrive(name, now, hold, false)
    }

    /// A trigger restored from the state file: it had reached the threshold
    /// and was waiting for a slot when the daemon stopped. It triggers as
    /// it did then, without counting again.
    pub fn on_restored_trigger(
        &mut self,
        name: &[u8],
        now: Time,
        hold: impl FnOnce() -> T,
    ) -> Verdict {
        self.arrive(name, now, hold, true)
    }

    fn arrive(
        &mut self,
        name: &[u8],
        now: Time,
        hold: impl FnOnce() -> T,
        reached: bool,
    ) -> Verdict {
        self.seq += 1;
        let seq = self.seq;
        let name = &name[..name.len().min(MAX_KEY_LEN)];
        let id = match self.by_name.get(name) {
            Some(&id) => id,
            None => match self.admit(name, now) {
                Some(id) => id,
                None => return Verdict::Dropped,
            },
        };
        self.unlist(id);
        let key = self.key_mut(id);
        key.seen = seq;
        if let Phase::Cooling { until } = key.phase
            && now >= until
        {
            self.end_cooldown(id);
        }
        let verdict = match self.key(id).phase {
            Phase::Running | Phase::Backoff | Phase::Waiting { .. } if self.queues() => {
                self.enqueue(id, now, seq, hold)
            }
            Phase::Running | Phase::Backoff | Phase::Waiting { .. } | Phase::Cooling { .. } => {
                self.suppress(id)
            }
            Phase::Counting => self.count(id, now, seq, true, reached, hold),
        };
        self.list(id);
        verdict
    }

    /// The run of `key` ended at `now` (or could not start), for the last
    /// time (no retry left): its cooldown begins and its slot is free.
    /// Call `next_ready` next.
    pub fn finished(&mut self, id: KeyId, now: Time) {
        // A key given up on while backing off holds no slot.
        if self.key(id).phase == Phase::Running {
            self.running = self.running.saturating_sub(1);
        }
        let wait = self.settings.wait;
        let until = now + wait;
        let key = self.key_mut(id);
        key.last_end = Some(now);
        if wait.is_zero() {
            // No cooldown: what was suppressed is reported at once, and
            // the held matches go on.
            key.phase = Phase::Counting;
            let count = std::mem::take(&mut key.unreported);
            if count > 0 {
                let key = key.name.clone();
                self.notices.push(Notice::Suppressed { key, count });
            }
            self.replay(id);
        } else {
            key.phase = Phase::Cooling { until };
            let report = key.unreported > 0;
            self.cooling.insert((until, id));
            if report {
                self.reporting.insert((until, id));
            }
        }
        self.list(id);
    }

    /// Holds every start back (`true`), as if no slot were free, or lets
    /// them go again: triggers wait for a slot meanwhile, in their order,
    /// and `next_ready` hands them out once released.
    pub fn hold_starts(&mut self, hold: bool) {
        self.held_back = hold;
    }

    /// Does a trigger wait for a slot (or for the starts to be released)?
    pub fn has_waiting(&self) -> bool {
        !self.slot_queue.is_empty()
    }

    /// A trigger that waited for a slot and may start now, with its line;
    /// `None` when no slot is free, starts are held back or nothing waits.
    pub fn next_ready(&mut self) -> Option<(Launch, T)> {
        if self.held_back || self.running >= self.settings.max_running {
            return None;
        }
        let (_, id) = self.slot_queue.pop_first()?;
        self.running += 1;
        let key = self.key_mut(id);
        key.phase = Phase::Running;
        let (count, payload) = key.pending.take()?;
        let suppressed = std::mem::take(&mut key.suppressed);
        self.held_bytes -= payload.bytes();
        Some((
            Launch {
                key: id,
                count,
                suppressed,
            },
            payload,
        ))
    }

    /// The run of `id` failed and will be retried (`--retry`): the key
    /// stays busy (its matches suppressed, or queued with `--wait 0`) but
    /// its slot is free until [`Gate::resume`].
    pub fn back_off(&mut self, id: KeyId) {
        debug_assert_eq!(self.key(id).phase, Phase::Running);
        self.running = self.running.saturating_sub(1);
        self.key_mut(id).phase = Phase::Backoff;
    }

    /// A retry of `id` is due: takes a slot and makes the key run again.
    /// `false` (nothing changed) while no slot is free or starts are held
    /// back.
    pub fn resume(&mut self, id: KeyId) -> bool {
        if self.held_back || self.running >= self.settings.max_running {
            return false;
        }
        debug_assert_eq!(self.key(id).phase, Phase::Backoff);
        self.running += 1;
        self.key_mut(id).phase = Phase::Running;
        true
    }

    /// At start, a run of key `name` that the saved state says is to be
    /// done again (interrupted, or waiting to be retried): the key is
    /// tracked and busy as during a back-off, whatever the saved cooldown
    /// said. `None` if the table is full of busy keys.
    pub fn hold(&mut self, name: &[u8], now: Time) -> Option<KeyId> {
        let name = &name[..name.len().min(MAX_KEY_LEN)];
        let id = match self.by_name.get(name) {
            Some(&id) => id,
            None => self.admit(name, now)?,
        };
        self.unlist(id);
        let key = self.key_mut(id);
        match key.phase {
            Phase::Cooling { until } => {
                key.phase = Phase::Backoff;
                self.cooling.remove(&(until, id));
                self.reporting.remove(&(until, id));
            }
            Phase::Counting => {
                key.phase = Phase::Backoff;
                key.window.clear();
            }
            // Already busy: a second saved run of one key is not ours to
            // hold (the state never has two).
            Phase::Running | Phase::Backoff | Phase::Waiting { .. } => return None,
        }
        Some(id)
    }

    /// The key held by [`Gate::hold`] is free again (its undo ended): it
    /// cools down if its last run's cooldown is not over, else it counts,
    /// and what it queued meanwhile (`--wait 0`) goes on.
    pub fn release(&mut self, id: KeyId, now: Time) {
        if self.key(id).phase != Phase::Backoff {
            return;
        }
        let wait = self.settings.wait;
        let key = self.key_mut(id);
        match key
            .last_end
            .filter(|_| !wait.is_zero())
            .map(|end| end + wait)
            .filter(|&until| until > now)
        {
            Some(until) => {
                key.phase = Phase::Cooling { until };
                let report = key.unreported > 0;
                self.cooling.insert((until, id));
                if report {
                    self.reporting.insert((until, id));
                }
            }
            None => {
                key.phase = Phase::Counting;
                let count = std::mem::take(&mut key.unreported);
                if count > 0 {
                    let key = key.name.clone();
                    self.notices.push(Notice::Suppressed { key, count });
                }
                self.replay(id);
            }
        }
        self.list(id);
    }

    /// The id of the key `name`, if it is tracked.
    pub fn id_of(&self, name: &[u8]) -> Option<KeyId> {
        self.by_name
            .get(&name[..name.len().min(MAX_KEY_LEN)])
            .copied()
    }

    /// Matches of `id` suppressed since its last run started.
    pub fn suppressed(&self, id: KeyId) -> u64 {
        self.key(id).suppressed
    }

    /// When `on_deadline` has a suppressed count to report; `None` while
    /// there is none, so an idle daemon sets no timer.
    pub fn deadline(&self) -> Option<Time> {
        self.reporting.first().map(|&(until, _)| until)
    }

    /// Ends the cooldowns that are over (their counts become notices).
    pub fn on_deadline(&mut self, now: Time) {
        while let Some(&(until, id)) = self.cooling.first()
            && until <= now
        {
            self.unlist(id);
            self.end_cooldown(id);
            self.list(id);
        }
    }

    /// What happened worth logging since the last call.
    pub fn take_notices(&mut self) -> std::vec::Drain<'_, Notice> {
        self.notices.drain(..)
    }

    /// Stopping (or the end of `--once`): every count not reported yet
    /// becomes a notice, once.
    pub fn report_all(&mut self) {
        for key in self.keys.iter_mut().flatten() {
            if key.unreported > 0 {
                self.notices.push(Notice::Suppressed {
                    key: key.name.clone(),
                    count: std::mem::take(&mut key.unreported),
                });
            }
        }
        if self.overflowed_unreported > 0 {
            self.notices.push(Notice::QueueFull {
                count: std::mem::take(&mut self.overflowed_unreported),
            });
        }
        if self.dropped_unreported > 0 {
            self.notices.push(Notice::TableFull {
                count: std::mem::take(&mut self.dropped_unreported),
            });
        }
    }

    /// The key's value, as the command and the log see it.
    pub fn key_name(&self, id: KeyId) -> &[u8] {
        &self.key(id).name
    }

    /// Commands running now, as the gate counts them.
    #[cfg(test)]
    pub fn running(&self) -> usize {
        self.running
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Matches held now: queued behind their key's run (`--wait 0`), or
    /// triggers waiting for a free slot.
    pub fn held_count(&self) -> usize {
        self.queued + self.slot_queue.len()
    }

    /// Matches of new keys dropped because the table was full of busy keys.
    #[cfg(test)]
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The state worth keeping across a restart: keys that are cooling
    /// down, counting, or hold a suppressed count. A key running is
    /// recorded as if its run ended at `ran_until(key)` (the line time of
    /// its trigger and how long it has run): its cooldown holds.
    pub fn export(&self, ran_until: impl Fn(KeyId) -> Time) -> Vec<KeySnapshot> {
        self.keys
            .iter()
            .enumerate()
            .filter_map(|(id, key)| Some((id, key.as_ref()?)))
            .filter(|(_, key)| {
                key.phase != Phase::Counting || !key.window.is_empty() || key.suppressed > 0
            })
            .map(|(id, key)| KeySnapshot {
                key: key.name.to_vec(),
                // A key waiting for a slot has not run: its trigger's line
                // is read again at the next start (the saved position stays
                // before it) and must find the key free to trigger, not
                // cooling.
                last_end: match key.phase {
                    Phase::Running | Phase::Backoff => Some(ran_until(id)),
                    _ => key.last_end,
                },
                suppressed: key.suppressed,
                window: key.window.iter().copied().collect(),
            })
            .collect()
    }

    /// What the gate holds, in the order the matches arrived: the triggers
    /// waiting for a slot and the `--wait 0` queue, handled but not run
    /// yet. A restart gets them back from the state file.
    /// Each with whether it is a trigger waiting for a slot, and its key.
    pub fn held(&self) -> Vec<(&T, bool, &[u8])> {
        if self.queued == 0 && self.slot_queue.is_empty() {
            return Vec::new();
        }
        // (arrival, payload, is a trigger waiting for a slot, key)
        let mut held: Vec<(u64, &T, bool, &[u8])> = Vec::new();
        for key in self.keys.iter().flatten() {
            if let (Phase::Waiting { seq }, Some((_, payload))) = (key.phase, &key.pending) {
                held.push((seq, payload, true, &key.name));
            }
            held.extend(
                key.queue
                    .iter()
                    .map(|queued| (queued.seq, &queued.payload, false, &key.name[..])),
            );
        }
        held.sort_by_key(|&(seq, ..)| seq);
        held.into_iter()
            .map(|(_, payload, trigger, key)| (payload, trigger, key))
            .collect()
    }

    /// Restores keys saved by `export` (into an empty gate, at start);
    /// keys beyond `max_keys` are left out. A cooldown is restored as it
    /// was: the lines that follow decide whether it is over, by their
    /// times (a backlog written while the daemon was down may fall in it).
    pub fn import(&mut self, records: impl IntoIterator<Item = KeySnapshot>) {
        for record in records {
            let name = &record.key[..record.key.len().min(MAX_KEY_LEN)];
            if self.by_name.contains_key(name) || self.by_name.len() >= self.settings.max_keys {
                continue;
            }
            self.seq += 1;
            let id = self.insert(name);
            let max_window = self.settings.threshold.count as usize - 1;
            let wait = self.settings.wait;
            let mut window = record.window;
            window.sort();
            let skip = window.len().saturating_sub(max_window);
            let key = self.key_mut(id);
            key.seen = 0;
            key.suppressed = record.suppressed;
            key.last_end = record.last_end;
            key.window = window.into_iter().skip(skip).collect();
            // A window that counts after the cooldown says it was over.
            // Without a wait there is no cooldown (as `finished` has it):
            // a restored key cooling until its last run's end would
            // suppress the lines stamped before that end, and with
            // `--wait 0` every match runs.
            if let Some(until) = record
                .last_end
                .filter(|_| !wait.is_zero())
                .map(|end| end + wait)
                && key.window.back().is_none_or(|&last| last < until)
            {
                key.window.clear();
                key.phase = Phase::Cooling { until };
                self.cooling.insert((until, id));
            }
            self.list(id);
        }
    }

    fn queues(&self) -> bool {
        self.settings.wait.is_zero() && self.settings.queue_bound > 0
    }

    fn key(&self, id: KeyId) -> &Key<T> {
        match self.keys.get(id) {
            Some(Some(key)) => key,
            // Ids only come from this table.
            _ => unreachable!("unknown key id {id}"),
        }
    }

    fn key_mut(&mut self, id: KeyId) -> &mut Key<T> {
        match self.keys.get_mut(id) {
            Some(Some(key)) => key,
            _ => unreachable!("unknown key id {id}"),
        }
    }

    fn eviction_entry(&self, id: KeyId) -> Option<EvictionEntry> {
        let key = self.key(id);
        (key.phase == Phase::Counting).then_some((!key.window.is_empty(), key.seen, id))
    }

    fn unlist(&mut self, id: KeyId) {
        if let Some(entry) = self.eviction_entry(id) {
            self.evictable.remove(&entry);
        }
    }

    fn list(&mut self, id: KeyId) {
        if let Some(entry) = self.eviction_entry(id) {
            self.evictable.insert(entry);
        }
    }

    /// Makes a place for a new key, forgetting another if the table is full.
    fn admit(&mut self, name: &[u8], now: Time) -> Option<KeyId> {
        if self.by_name.len() >= self.settings.max_keys {
            // Cooldowns that are over make their keys forgettable.
            self.on_deadline(now);
            match self.evictable.pop_first() {
                Some((_, _, victim)) => self.forget(victim),
                None => {
                    self.dropped += 1;
                    self.dropped_unreported += 1;
                    if self
                        .last_table_warning
                        .is_none_or(|at| now.saturating_duration_since(at) >= WARN_INTERVAL)
                    {
                        self.last_table_warning = Some(now);
                        self.notices.push(Notice::TableFull {
                            count: std::mem::take(&mut self.dropped_unreported),
                        });
                    }
                    return None;
                }
            }
        }
        Some(self.insert(name))
    }

    fn insert(&mut self, name: &[u8]) -> KeyId {
        let key = Key {
            name: name.into(),
            phase: Phase::Counting,
            window: VecDeque::new(),
            suppressed: 0,
            unreported: 0,
            seen: self.seq,
            last_end: None,
            pending: None,
            queue: VecDeque::new(),
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.keys[id] = Some(key);
                id
            }
            None => {
                self.keys.push(Some(key));
                self.keys.len() - 1
            }
        };
        self.by_name.insert(name.into(), id);
        id
    }

    /// Drops a counting key (already taken out of `evictable`).
    fn forget(&mut self, id: KeyId) {
        if let Some(key) = self.keys[id].take() {
            self.by_name.remove(&key.name);
            self.free.push(id);
        }
    }

    fn suppress(&mut self, id: KeyId) -> Verdict {
        let key = self.key_mut(id);
        key.suppressed += 1;
        key.unreported += 1;
        if let Phase::Cooling { until } = key.phase {
            self.reporting.insert((until, id));
        }
        Verdict::Suppressed
    }

    /// A match counts toward the key's threshold; with `direct`, a trigger
    /// that finds a free slot runs at once.
    /// A match of a counting key; `reached`: it is known to make a trigger
    /// (restored), whatever the window holds.
    fn count(
        &mut self,
        id: KeyId,
        at: Time,
        seq: u64,
        direct: bool,
        reached: bool,
        hold: impl FnOnce() -> T,
    ) -> Verdict {
        let threshold = self.settings.threshold;
        let key = self.key_mut(id);
        while let Some(&first) = key.window.front()
            && at.saturating_duration_since(first) >= threshold.window
        {
            key.window.pop_front();
        }
        if !reached && key.window.len() + 1 < threshold.count as usize {
            key.window.push_back(at);
            return Verdict::Counted;
        }
        key.window.clear();
        if direct
            && !self.held_back
            && self.running < self.settings.max_running
            && self.slot_queue.is_empty()
        {
            self.running += 1;
            let key = self.key_mut(id);
            key.phase = Phase::Running;
            return Verdict::Run(Launch {
                key: id,
                count: threshold.count,
                suppressed: std::mem::take(&mut key.suppressed),
            });
        }
        let payload = hold();
        if self.held_bytes + payload.bytes() > HELD_BYTES {
            self.overflow(at);
            return self.suppress(id);
        }
        self.held_bytes += payload.bytes();
        let key = self.key_mut(id);
        key.phase = Phase::Waiting { seq };
        key.pending = Some((threshold.count, payload));
        self.slot_queue.insert(seq, id);
        Verdict::Waiting
    }

    fn enqueue(&mut self, id: KeyId, at: Time, seq: u64, hold: impl FnOnce() -> T) -> Verdict {
        if self.queued >= self.settings.queue_bound {
            self.overflow(at);
            return self.suppress(id);
        }
        let payload = hold();
        if self.held_bytes + payload.bytes() > HELD_BYTES {
            self.overflow(at);
            return self.suppress(id);
        }
        self.queued += 1;
        self.held_bytes += payload.bytes();
        self.key_mut(id)
            .queue
            .push_back(Queued { at, seq, payload });
        Verdict::Queued
    }

    fn overflow(&mut self, now: Time) {
        self.overflowed_unreported += 1;
        if self
            .last_queue_warning
            .is_none_or(|at| now.saturating_duration_since(at) >= WARN_INTERVAL)
        {
            self.last_queue_warning = Some(now);
            self.notices.push(Notice::QueueFull {
                count: std::mem::take(&mut self.overflowed_unreported),
            });
        }
    }

    /// The key is counting again: the matches it held (`--wait 0`) go
    /// through the threshold in order, at their arrival times, until one
    /// triggers (it then waits for a slot, in arrival order).
    fn replay(&mut self, id: KeyId) {
        while self.key(id).phase == Phase::Counting
            && let Some(queued) = self.key_mut(id).queue.pop_front()
        {
            self.queued -= 1;
            self.held_bytes -= queued.payload.bytes();
            let Queued { at, seq, payload } = queued;
            self.count(id, at, seq, false, false, || payload);
        }
    }

    fn end_cooldown(&mut self, id: KeyId) {
        let key = self.key_mut(id);
        let Phase::Cooling { until } = key.phase else {
            return;
        };
        key.phase = Phase::Counting;
        let count = std::mem::take(&mut key.unreported);
        let name = (count > 0).then(|| key.name.clone());
        self.cooling.remove(&(until, id));
        self.reporting.remove(&(until, id));
        if let Some(key) = name {
            self.notices.push(Notice::Suppressed { key, count });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(3);

    fn settings(wait: Duration) -> Settings {
        Settings {
            wait,
            threshold: Threshold::EVERY_MATCH,
            max_keys: 10_000,
            max_running: 1,
            queue_bound: QUEUE_BOUND,
        }
    }

    fn at(start: Time, millis: u64) -> Time {
        start + Duration::from_millis(millis)
    }

    fn gate(settings: Settings) -> Gate<Box<[u8]>> {
        Gate::new(settings)
    }

    fn line(text: &str) -> impl FnOnce() -> Box<[u8]> + '_ {
        move || text.as_bytes().into()
    }

    fn run(verdict: Verdict) -> Launch {
        match verdict {
            Verdict::Run(start) => start,
            other => panic!("expected a run, got {other:?}"),
        }
    }

    fn notices(g: &mut Gate<Box<[u8]>>) -> Vec<Notice> {
        g.take_notices().collect()
    }

    fn suppressed(key: &str, count: u64) -> Notice {
        Notice::Suppressed {
            key: key.as_bytes().into(),
            count,
        }
    }

    #[test]
    fn the_first_match_runs_and_matches_during_the_run_are_counted() {
        let t0 = Time::now();
        let mut g = gate(settings(WAIT));
        let start = run(g.on_match(b"", t0, line("1")));
        assert_eq!((start.count, start.suppressed), (1, 0));
        assert_eq!(g.on_match(b"", at(t0, 10), line("2")), Verdict::Suppressed);
        assert_eq!(
            g.on_match(b"", at(t0, 20_000), line("3")),
            Verdict::Suppressed
        );
        assert_eq!(g.deadline(), None, "no cooldown before the command exits");
    }

    #[test]
    fn matches_during_the_wait_are_suppressed_and_reported_once_at_its_end() {
        let t0 = Time::now();
        let mut g = gate(settings(WAIT));
        let id = run(g.on_match(b"", t0, line("1"))).key;
        g.finished(id, at(t0, 1000));
        assert_eq!(g.deadline(), None, "nothing to report: no timer");
        assert_eq!(
            g.on_match(b"", at(t0, 1500), line("2")),
            Verdict::Suppressed
        );
        assert_eq!(
            g.on_match(b"", at(t0, 3999), line("3")),
            Verdict::Suppressed
        );
        assert_eq!(g.deadline(), Some(at(t0, 4000)));
        g.on_deadline(at(t0, 3999));
        assert_eq!(notices(&mut g), [], "not yet");
        g.on_deadline(at(t0, 4000));
        assert_eq!(notices(&mut g), [suppressed("", 2)]);
        assert_eq!(g.deadline(), None);
        g.on_deadline(at(t0, 5000));
        g.report_all();
        assert_eq!(notices(&mut g), [], "reported once");
        let start = run(g.on_match(b"", at(t0, 6000), line("4")));
        assert_eq!(start.suppressed, 2, "the count goes to the next run");
    }

    #[test]
    fn a_match_after_the_wait_runs_even_without_a_deadline() {
        let t0 = Time::now();
        let mut g = gate(settings(WAIT));
        let id = run(g.on_match(b"", t0, line("1"))).key;
        g.finished(id, at(t0, 100));
        run(g.on_match(b"", at(t0, 3100), line("2")));
    }

    #[test]
    fn without_a_queue_wait_zero_triggers_whenever_no_command_runs() {
        let t0 = Time::now();
        let mut g = gate(Settings {
            queue_bound: 0,
            ..settings(Duration::ZERO)
        });
        let id = run(g.on_match(b"", t0, line("1"))).key;
        assert_eq!(g.on_match(b"", t0, line("2")), Verdict::Suppressed);
        g.finished(id, at(t0, 5));
        assert_eq!(
            notices(&mut g),
            [suppressed("", 1)],
            "reported when the run ends"
        );
        assert_eq!(run(g.on_match(b"", at(t0, 5), line("3"))).suppressed, 1);
    }

    #[test]
    fn wait_zero_queues_every_match_and_replays_them_in_order() {
        let t0 = Time::now();
        let mut g = gate(settings(Duration::ZERO));
        let mut id = run(g.on_match(b"", t0, line("1"))).key;
        for n in 2..=5 {
            let text = n.to_string();
            assert_eq!(g.on_match(b"", at(t0, n), line(&text)), Verdict::Queued);
        }
        assert_eq!(g.next_ready(), None, "the slot is taken");
        let mut order = Vec::new();
        for n in 0..4 {
            g.finished(id, at(t0, 100 + n));
            let (start, payload) = g.next_ready().expect("the next queued match");
            assert_eq!(start.suppressed, 0);
            order.push(String::from_utf8_lossy(&payload).into_owned());
            id = start.key;
            assert_eq!(g.next_ready(), None, "one run at a time");
        }
        assert_eq!(order, ["2", "3", "4", "5"]);
        g.finished(id, at(t0, 200));
        assert_eq!(g.next_ready(), None);
        g.report_all();
        assert_eq!(notices(&mut g), []);
    }

    #[test]
    fn the_wait_zero_queue_is_bounded_and_its_overflow_reported_once() {
        let t0 = Time::now();
        let mut g = gate(Settings {
            queue_bound: 3,
            ..settings(Duration::ZERO)
        });
        let id = run(g.on_match(b"", t0, line("1"))).key;
        let verdicts: Vec<_> = (0..5).map(|_| g.on_match(b"", t0, line("x"))).collect();
        assert_eq!(verdicts[..3], [Verdict::Queued; 3]);
        assert_eq!(verdicts[3..], [Verdict::Suppressed; 2]);
        assert_eq!(
            notices(&mut g),
            [Notice::QueueFull { count: 1 }],
            "warned at once"
        );
        g.finished(id, at(t0, 10));
        // The two overflowing matches: reported when the run ends...
        assert_eq!(notices(&mut g), [suppressed("", 2)]);
        let (start, _) = g.next_ready().unwrap();
        assert_eq!(start.suppressed, 2, "and passed on to the next run");
        // ...and not again at the end.
        g.report_all();
        assert_eq!(notices(&mut g), [Notice::QueueFull { count: 1 }]);
        g.report_all();
        assert_eq!(notices(&mut g), []);
    }

    #[test]
    fn what_is_held_comes_out_in_arrival_order() {
        let t0 = Time::now();
        let mut g = gate(settings(Duration::ZERO));
        assert!(g.held().is_empty());
        run(g.on_match(b"a", t0, line("a1")));
        assert_eq!(g.on_match(b"a", t0, line("a2")), Verdict::Queued);
        assert_eq!(g.on_match(b"b", t0, line("b1")), Verdict::Waiting);
        assert_eq!(g.on_match(b"a", t0, line("a3")), Verdict::Queued);
        let held: Vec<(&[u8], bool)> = g.held().into_iter().map(|(l, t, _)| (&l[..], t)).collect();
        assert_eq!(held, [(&b"a2"[..], false), (b"b1", true), (b"a3", false)]);
    }

    fn threshold(count: u32, secs: u64) -> Settings {
        Settings {
            threshold: Threshold {
                count,
                window: Duration::from_secs(secs),
            },
            ..settings(WAIT)
        }
    }

    #[test]
    fn exactly_n_within_the_window_trigger_on_the_nth() {
        let t0 = Time::now();
        let mut g = gate(threshold(3, 10));
        assert_eq!(g.on_match(b"", t0, line("1")), Verdict::Counted);
        assert_eq!(g.on_match(b"", at(t0, 5000), line("2")), Verdict::Counted);
        let start = run(g.on_match(b"", at(t0, 9999), line("3")));
        assert_eq!(start.count, 3);
    }

    #[test]
    fn n_spread_just_over_the_window_do_not_trigger() {
        let t0 = Time::now();
        let mut g = gate(threshold(3, 10));
        assert_eq!(g.on_match(b"", t0, line("1")), Verdict::Counted);
        assert_eq!(g.on_match(b"", at(t0, 5000), line("2")), Verdict::Counted);
        // The first match is exactly one window old: it no longer counts.
        assert_eq!(g.on_match(b"", at(t0, 10_000), line("3")), Verdict::Counted);
        // The window slides: 5000, 10000, 14999.
        run(g.on_match(b"", at(t0, 14_999), line("4")));
    }

    #[test]
    fn after_a_trigger_the_window_starts_empty_and_busy_matches_do_not_count() {
        let t0 = Time::now();
        let mut g = gate(threshold(2, 60));
        g.on_match(b"", t0, line("1"));
        let id = run(g.on_match(b"", at(t0, 1), line("2"))).key;
        assert_eq!(g.on_match(b"", at(t0, 2), line("3")), Verdict::Suppressed);
        g.finished(id, at(t0, 10));
        assert_eq!(g.on_match(b"", at(t0, 11), line("4")), Verdict::Suppressed);
        // Cooldown over at 3010: the two suppressed matches did not count.
        assert_eq!(g.on_match(b"", at(t0, 3010), line("5")), Verdict::Counted);
        let start = run(g.on_match(b"", at(t0, 3011), line("6")));
        assert_eq!((start.count, start.suppressed), (2, 2));
    }

    #[test]
    fn keys_are_independent() {
        let t0 = Time::now();
        let mut g = gate(Settings {
            max_running: 10,
            ..threshold(2, 60)
        });
        assert_eq!(g.on_match(b"a", t0, line("a1")), Verdict::Counted);
        assert_eq!(g.on_match(b"b", t0, line("b1")), Verdict::Counted);
        let a = run(g.on_match(b"a", t0, line("a2"))).key;
        assert_eq!(g.key_name(a), b"a");
        assert_eq!(g.on_match(b"a", t0, line("a3")), Verdict::Suppressed);
        let b = run(g.on_match(b"b", t0, line("b2"))).key;
        assert_ne!(a, b);
        g.finished(a, at(t0, 1));
        assert_eq!(g.on_match(b"a", at(t0, 2), line("a4")), Verdict::Suppressed);
        assert_eq!(g.on_match(b"c", at(t0, 2), line("c1")), Verdict::Counted);
        assert_eq!(g.len(), 3);
    }

    #[test]
    fn triggers_without_a_free_slot_wait_one_per_key_in_arrival_order() {
        let t0 = Time::now();
        let mut g = gate(Settings {
            max_running: 2,
            ..settings(WAIT)
        });
        let a = run(g.on_match(b"a", t0, line("a1"))).key;
        run(g.on_match(b"b", t0, line("b1")));
        assert_eq!(g.on_match(b"c", at(t0, 1), line("c1")), Verdict::Waiting);
        assert_eq!(g.on_match(b"d", at(t0, 2), line("d1")), Verdict::Waiting);
        assert_eq!(g.on_match(b"c", at(t0, 3), line("c2")), Verdict::Suppressed);
        assert_eq!(g.next_ready(), None);
        g.finished(a, at(t0, 10));
        let (start, payload) = g.next_ready().unwrap();
        assert_eq!((g.key_name(start.key), &*payload), (&b"c"[..], &b"c1"[..]));
        assert_eq!(start.suppressed, 1, "c2 was suppressed while c waited");
        assert_eq!(g.next_ready(), None, "two slots, two runs");
        g.finished(start.key, at(t0, 11));
        let (start, payload) = g.next_ready().unwrap();
        assert_eq!((g.key_name(start.key), &*payload), (&b"d"[..], &b"d1"[..]));
        assert_eq!(g.running(), 2);
    }

    /// Starts held back (a spawn not saved yet): a trigger waits as if no
    /// slot were free, free slots or not, and starts once released.
    #[test]
    fn held_back_starts_wait_for_their_release_whatever_the_slots() {
        let t0 = Time::now();
        let mut g = gate(Settings {
            max_running: 3,
            ..settings(WAIT)
        });
        run(g.on_match(b"a", t0, line("a1")));
        g.hold_starts(true);
        assert_eq!(g.on_match(b"b", at(t0, 1), line("b1")), Verdict::Waiting);
        assert!(g.has_waiting());
        assert_eq!(g.next_ready(), None, "two slots free, yet held back");
        g.hold_starts(false);
        let (start, payload) = g.next_ready().unwrap();
        assert_eq!((g.key_name(start.key), &*payload), (&b"b"[..], &b"b1"[..]));
        assert!(!g.has_waiting());
        assert_eq!(g.running(), 2);
    }

    #[test]
    fn a_full_table_forgets_idle_keys_then_the_least_recently_seen_counting_key() {
        let t0 = Time::now();
        let mut g = gate(Settings {
            max_keys: 3,
            ..threshold(2, 60)
        });
        g.on_match(b"old", t0, line("1"));
        g.on_match(b"new", at(t0, 1), line("1"));
        // `idle` triggers, runs and cools down; its cooldown ends.
        g.on_match(b"idle", at(t0, 2), line("1"));
        let idle = run(g.on_match(b"idle", at(t0, 3), line("2"))).key;
        g.finished(idle, at(t0, 4));
        g.on_deadline(at(t0, 5000));
        assert_eq!(g.len(), 3);
        // The first newcomer takes the idle key's place...
        assert_eq!(g.on_match(b"x", at(t0, 5001), line("1")), Verdict::Counted);
        // ...the next one the least recently seen counting key's (`old`).
        assert_eq!(g.on_match(b"y", at(t0, 5002), line("1")), Verdict::Counted);
        // `new` still has its count: its second match triggers.
        run(g.on_match(b"new", at(t0, 5003), line("2")));
        // `old` was forgotten: it starts counting from nothing.
        assert_eq!(
            g.on_match(b"old", at(t0, 5004), line("2")),
            Verdict::Counted
        );
        assert_eq!(g.len(), 3);
    }

    #[test]
    fn busy_keys_are_never_forgotten_and_a_full_busy_table_drops_new_keys() {
        let t0 = Time::now();
        let mut g = gate(Settings {
            max_keys: 2,
            max_running: 1,
            ..settings(Duration::from_secs(3600))
        });
        let cooling = run(g.on_match(b"cooling", t0, line("1"))).key;
        g.finished(cooling, at(t0, 1));
        run(g.on_match(b"running", at(t0, 2), line("1")));
        for n in 0..1000 {
            let name = format!("flood{n}");
            assert_eq!(
                g.on_match(name.as_bytes(), at(t0, 3 + n), line("x")),
                Verdict::Dropped
            );
        }
        assert_eq!(g.dropped(), 1000);
        // Warned once (within a minute), the rest reported at the end.
        assert_eq!(notices(&mut g), [Notice::TableFull { count: 1 }]);
        assert_eq!(
            g.on_match(b"cooling", at(t0, 5000), line("2")),
            Verdict::Suppressed
        );
        g.report_all();
        assert_eq!(
            notices(&mut g),
            [suppressed("cooling", 1), Notice::TableFull { count: 999 }]
        );
        // A new key waiting for a slot is busy too.
        let mut g = gate(Settings {
            max_keys: 2,
            max_running: 1,
            ..settings(WAIT)
        });
        run(g.on_match(b"a", t0, line("1")));
        assert_eq!(g.on_match(b"b", t0, line("1")), Verdict::Waiting);
        assert_eq!(g.on_match(b"c", t0, line("1")), Verdict::Dropped);
    }

    #[test]
    fn a_cooldown_that_is_over_frees_its_key_for_a_newcomer() {
        let t0 = Time::now();
        let mut g = gate(Settings {
            max_keys: 1,
            ..settings(WAIT)
        });
        let a = run(g.on_match(b"a", t0, line("1"))).key;
        g.finished(a, t0);
        assert_eq!(g.on_match(b"b", at(t0, 2999), line("1")), Verdict::Dropped);
        run(g.on_match(b"b", at(t0, 3000), line("1")));
    }

    #[test]
    fn keys_are_cut_to_their_cap() {
        let t0 = Time::now();
        let mut g = gate(settings(WAIT));
        let long = vec![b'k'; MAX_KEY_LEN + 10];
        let id = run(g.on_match(&long, t0, line("1"))).key;
        assert_eq!(g.key_name(id).len(), MAX_KEY_LEN);
        assert_eq!(
            g.on_match(&long[..MAX_KEY_LEN], t0, line("2")),
            Verdict::Suppressed
        );
    }

    #[test]
    fn a_key_backing_off_stays_busy_with_its_slot_free() {
        let t0 = Time::now();
        let mut g = gate(Settings {
            max_running: 1,
            ..settings(WAIT)
        });
        let a = run(g.on_match(b"a", t0, line("a1"))).key;
        g.back_off(a);
        assert_eq!(g.running(), 0, "the slot is free");
        assert_eq!(g.on_match(b"a", at(t0, 1), line("a2")), Verdict::Suppressed);
        let b = run(g.on_match(b"b", at(t0, 2), line("b1"))).key;
        assert!(!g.resume(a), "no slot while b runs");
        g.finished(b, at(t0, 3));
        assert!(g.resume(a));
        assert_eq!(g.running(), 1);
        g.finished(a, at(t0, 10));
        assert_eq!(g.suppressed(a), 1);
        // The cooldown counts from the last attempt's end.
        assert_eq!(
            g.on_match(b"a", at(t0, 3009), line("a3")),
            Verdict::Suppressed
        );
        let next = run(g.on_match(b"a", at(t0, 3010), line("a4")));
        assert_eq!(next.suppressed, 2);
    }

    /// A retry due while starts are held back (the last spawn is not saved
    /// yet) waits as a trigger does, free slots or not.
    #[test]
    fn a_retry_waits_while_starts_are_held_back() {
        let t0 = Time::now();
        let mut g = gate(Settings {
            max_running: 3,
            ..settings(WAIT)
        });
        let a = run(g.on_match(b"a", t0, line("a1"))).key;
        g.back_off(a);
        g.hold_starts(true);
        assert!(!g.resume(a), "held back");
        assert_eq!(g.running(), 0);
        g.hold_starts(false);
        assert!(g.resume(a));
        assert_eq!(g.running(), 1);
    }

    #[test]
    fn a_held_key_is_busy_whatever_its_saved_cooldown() {
        let t0 = Time::now();
        let mut g = gate(settings(WAIT));
        g.import([KeySnapshot {
            key: b"k".to_vec(),
            last_end: Some(t0),
            suppressed: 0,
            window: vec![],
        }]);
        let id = g.hold(b"k", t0).expect("held");
        assert_eq!(g.hold(b"k", t0), None, "once");
        assert_eq!(g.id_of(b"k"), Some(id));
        assert_eq!(
            g.on_match(b"k", at(t0, 5000), line("1")),
            Verdict::Suppressed
        );
        assert_eq!(g.deadline(), None, "no cooldown left to report");
        assert!(g.resume(id));
        g.finished(id, at(t0, 5000));
        run(g.on_match(b"k", at(t0, 8000), line("2")));
    }

    /// `--wait 0` has no cooldown, also after a restart: a saved key
    /// whose last run ended (in line time) after the lines that come next
    /// (a journal's entries, 1 ms apart, and runs of 10 ms; or a line time
    /// ahead of the clock) does not suppress them, it runs them in turn.
    #[test]
    fn without_a_wait_a_restored_key_does_not_cool_down() {
        let t0 = Time::now();
        let mut g = gate(settings(Duration::ZERO));
        g.import([KeySnapshot {
            key: Vec::new(),
            last_end: Some(at(t0, 500)),
            suppressed: 0,
            window: vec![],
        }]);
        assert_eq!(g.deadline(), None, "no cooldown to end");
        run(g.on_match(b"", at(t0, 10), line("1")));
        assert_eq!(g.on_match(b"", at(t0, 20), line("2")), Verdict::Queued);
    }

    #[test]
    fn state_exports_and_imports_the_lines_times() {
        let t0 = Time::now();
        let mut g = gate(threshold(3, 60));
        g.on_match(b"counting", t0, line("1"));
        g.on_match(b"cooling", t0, line("1"));
        g.on_match(b"cooling", t0, line("2"));
        let id = run(g.on_match(b"cooling", t0, line("3"))).key;
        g.finished(id, at(t0, 1000));
        g.on_match(b"cooling", at(t0, 1500), line("4"));
        g.on_match(b"running", at(t0, 1600), line("1"));
        g.on_match(b"running", at(t0, 1600), line("2"));
        let running = run(g.on_match(b"running", at(t0, 1700), line("3"))).key;
        let mut records = g.export(|id| {
            assert_eq!(id, running);
            at(t0, 1900)
        });
        records.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(
            records,
            [
                KeySnapshot {
                    key: b"cooling".to_vec(),
                    last_end: Some(at(t0, 1000)),
                    suppressed: 1,
                    window: vec![],
                },
                KeySnapshot {
                    key: b"counting".to_vec(),
                    last_end: None,
                    suppressed: 0,
                    window: vec![t0],
                },
                KeySnapshot {
                    key: b"running".to_vec(),
                    last_end: Some(at(t0, 1900)),
                    suppressed: 0,
                    window: vec![],
                },
            ]
        );
        // A restart: the lines that follow are compared with the saved
        // times, whenever the restart happens.
        let mut g = gate(threshold(3, 60));
        g.import(records);
        assert_eq!(
            g.on_match(b"cooling", at(t0, 3999), line("5")),
            Verdict::Suppressed,
            "the cooldown of 3 s after 1000 ms holds"
        );
        assert_eq!(
            g.on_match(b"counting", at(t0, 10), line("2")),
            Verdict::Counted
        );
        run(g.on_match(b"counting", at(t0, 20), line("3")));
        g.on_match(b"cooling", at(t0, 4000), line("6"));
        g.on_match(b"cooling", at(t0, 4000), line("7"));
        assert_eq!(
            g.on_match(b"cooling", at(t0, 4000), line("8")),
            Verdict::Waiting,
            "over at 4000 ms: three new matches trigger"
        );
        assert_eq!(
            g.on_match(b"running", at(t0, 4899), line("4")),
            Verdict::Suppressed
        );
    }

    #[test]
    fn a_window_after_a_saved_cooldown_is_restored_as_counting() {
        let t0 = Time::now();
        let mut g = gate(threshold(2, 60));
        g.import([KeySnapshot {
            key: b"k".to_vec(),
            last_end: Some(t0),
            suppressed: 0,
            window: vec![at(t0, 5000)],
        }]);
        run(g.on_match(b"k", at(t0, 6000), line("2")));
    }
}
