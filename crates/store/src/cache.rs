//! The watch cache: the current records, a ring of recent events and the live fan-out, all
//! behind one lock so that a watcher's catch-up and its live stream meet without gap or overlap.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::broadcast;

use crate::apply::Outcome;
use crate::writer::Loaded;
use crate::{Event, EventKind, KeyValue, ListResponse, Revision, StoreError};

/// The events of one commit, as sent to every live watcher.
pub(crate) type Published = Arc<[Event]>;

/// How much history the ring keeps and how far a watcher may fall behind the live stream.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CacheLimits {
    pub(crate) ring_events: usize,
    pub(crate) ring_bytes: usize,
    pub(crate) watch_buffer: usize,
}

pub(crate) struct Cache {
    state: RwLock<State>,
}

/// How to answer a list at a past revision.
pub(crate) enum ListPlan {
    Ready(ListResponse),
    /// The ring does not reach back far enough: undo the log's events in `(at, to]` on `kvs`,
    /// which are the records under the prefix at revision `to`.
    NeedsLog {
        kvs: BTreeMap<String, KeyValue>,
        at: Revision,
        to: Revision,
    },
}

/// A watcher's start: its live receiver and what it missed before subscribing.
pub(crate) struct Subscription {
    pub(crate) live: broadcast::Receiver<Published>,
    /// Catch-up events from the ring, already filtered.
    pub(crate) pending: VecDeque<Event>,
    /// Every event up to this revision is in `pending` (or must come from the log); the live
    /// stream is taken only above it.
    pub(crate) covered: Revision,
    /// Set when the catch-up must be read from the log, from this revision up to `covered`.
    pub(crate) log_from: Option<Revision>,
}

struct State {
    kvs: BTreeMap<String, KeyValue>,
    revision: Revision,
    compacted: Revision,
    /// Every event with a revision above `ring_floor`, oldest first.
    ring: VecDeque<Event>,
    ring_floor: Revision,
    ring_bytes: usize,
    limits: CacheLimits,
    /// `None` once the store is closed.
    live: Option<broadcast::Sender<Published>>,
}

impl Cache {
    /// A cache of what the store file holds; its ring starts with the loaded recent events.
    pub(crate) fn new(loaded: Loaded, limits: CacheLimits) -> Self {
        let (live, _) = broadcast::channel(limits.watch_buffer.max(1));
        let ring_floor = loaded
            .recent
            .first()
            .map_or(loaded.revision, |oldest| oldest.revision() - 1);
        let mut state = State {
            kvs: loaded.kvs,
            revision: loaded.revision,
            compacted: loaded.compacted,
            ring: VecDeque::new(),
            ring_floor,
            ring_bytes: 0,
            limits,
            live: Some(live),
        };
        state.push_ring(loaded.recent);
        Cache {
            state: RwLock::new(state),
        }
    }

    /// Runs `f` on the committed records, revision and compacted revision.
    pub(crate) fn with_committed<R>(
        &self,
        f: impl FnOnce(&BTreeMap<String, KeyValue>, Revision, Revision) -> R,
    ) -> R {
        let state = self.read();
        f(&state.kvs, state.revision, state.compacted)
    }

    /// Makes a committed batch visible to readers and watchers.
    pub(crate) fn publish(&self, outcome: Outcome) {
        let mut state = self.write();
        for event in &outcome.events {
            match event.kind {
                EventKind::Put => state.kvs.insert(event.kv.key.clone(), event.kv.clone()),
                EventKind::Delete => state.kvs.remove(&event.kv.key),
            };
        }
        state.revision = outcome.revision;
        state.compacted = outcome.compacted;
        if !outcome.events.is_empty() {
            if let Some(live) = &state.live {
                // No receivers is fine: nobody watches.
                let _ = live.send(outcome.events.clone().into());
            }
        }
        state.push_ring(outcome.events);
    }

    pub(crate) fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let state = self.open()?;
        Ok(state.kvs.get(key).cloned())
    }

    pub(crate) fn list(&self, prefix: &str, at: Option<Revision>) -> Result<ListPlan, StoreError> {
        let state = self.open()?;
        let at = at.filter(|&at| at > 0 && at != state.revision);
        let Some(at) = at else {
            return Ok(ListPlan::Ready(ListResponse {
                kvs: under(&state.kvs, prefix).cloned().collect(),
                revision: state.revision,
            }));
        };
        state.check_past(at)?;
        let mut kvs: BTreeMap<String, KeyValue> = under(&state.kvs, prefix)
            .map(|kv| (kv.key.clone(), kv.clone()))
            .collect();
        if at < state.ring_floor {
            return Ok(ListPlan::NeedsLog {
                kvs,
                at,
                to: state.revision,
            });
        }
        let newer: Vec<Event> = state.ring_after(at, prefix).collect();
        undo(&mut kvs, &newer);
        Ok(ListPlan::Ready(ListResponse {
            kvs: kvs.into_values().collect(),
            revision: at,
        }))
    }

    /// Subscribes to events under `prefix` from revision `start` (0: from now on).
    pub(crate) fn subscribe(
        &self,
        prefix: &str,
        start: Revision,
    ) -> Result<Subscription, StoreError> {
        let state = self.open()?;
        if start > 0 && start <= state.compacted {
            return Err(StoreError::Compacted {
                requested: start,
                compacted: state.compacted,
            });
        }
        let after = if start > 0 { start - 1 } else { state.revision };
        if after < state.ring_floor {
            return Ok(Subscription {
                live: state.subscribe()?,
                pending: VecDeque::new(),
                covered: state.revision,
                log_from: Some(start),
            });
        }
        state.resume(prefix, after)
    }

    /// Restarts a watcher that lagged behind the live stream from the ring, or fails with
    /// [`StoreError::Lagged`] if the ring no longer holds the events after `covered`.
    pub(crate) fn resync(
        &self,
        prefix: &str,
        covered: Revision,
    ) -> Result<Subscription, StoreError> {
        let state = self.open()?;
        if covered < state.ring_floor {
            return Err(StoreError::Lagged);
        }
        state.resume(prefix, covered)
    }

    pub(crate) fn revision(&self) -> Revision {
        self.read().revision
    }

    pub(crate) fn compacted(&self) -> Revision {
        self.read().compacted
    }

    /// Ends every watcher's live stream and refuses further reads.
    pub(crate) fn shutdown(&self) {
        self.write().live = None;
    }

    fn open(&self) -> Result<RwLockReadGuard<'_, State>, StoreError> {
        let state = self.read();
        if state.live.is_none() {
            return Err(StoreError::Closed);
        }
        Ok(state)
    }

    // A panic while holding the lock cannot leave the state half-updated in a way that matters
    // more than losing the store, so poisoning is ignored.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn check_past(&self, at: Revision) -> Result<(), StoreError> {
        if at > self.revision {
            return Err(StoreError::FutureRevision {
                requested: at,
                current: self.revision,
            });
        }
        if at < self.compacted {
            return Err(StoreError::Compacted {
                requested: at,
                compacted: self.compacted,
            });
        }
        Ok(())
    }

    fn subscribe(&self) -> Result<broadcast::Receiver<Published>, StoreError> {
        self.live
            .as_ref()
            .map(broadcast::Sender::subscribe)
            .ok_or(StoreError::Closed)
    }

    /// A subscription whose catch-up is the ring's events above `after`.
    fn resume(&self, prefix: &str, after: Revision) -> Result<Subscription, StoreError> {
        Ok(Subscription {
            live: self.subscribe()?,
            pending: self.ring_after(after, prefix).collect(),
            covered: self.revision,
            log_from: None,
        })
    }

    fn ring_after<'a>(
        &'a self,
        after: Revision,
        prefix: &'a str,
    ) -> impl Iterator<Item = Event> + 'a {
        let first = self.ring.partition_point(|e| e.revision() <= after);
        self.ring
            .range(first..)
            .filter(move |e| e.kv.key.starts_with(prefix))
            .cloned()
    }

    fn push_ring(&mut self, events: Vec<Event>) {
        for event in events {
            self.ring_bytes += footprint(&event);
            self.ring.push_back(event);
        }
        while self.ring.len() > self.limits.ring_events || self.ring_bytes > self.limits.ring_bytes
        {
            self.pop_oldest_revision();
        }
        // Compacted history is gone from the log; the ring must not outlive it either.
        while self.ring_floor < self.compacted {
            if self.ring.is_empty() {
                self.ring_floor = self.compacted;
            } else {
                self.pop_oldest_revision();
            }
        }
    }

    /// Drops all events of the oldest revision in the ring, keeping the ring whole per revision.
    fn pop_oldest_revision(&mut self) {
        let Some(oldest) = self.ring.front().map(Event::revision) else {
            self.ring_floor = self.revision;
            return;
        };
        while self.ring.front().map(Event::revision) == Some(oldest) {
            if let Some(event) = self.ring.pop_front() {
                self.ring_bytes = self.ring_bytes.saturating_sub(footprint(&event));
            }
        }
        self.ring_floor = oldest;
    }
}

/// The records under `prefix`, by key.
fn under<'a>(
    kvs: &'a BTreeMap<String, KeyValue>,
    prefix: &'a str,
) -> impl Iterator<Item = &'a KeyValue> + 'a {
    kvs.range::<str, _>((
        std::ops::Bound::Included(prefix),
        std::ops::Bound::Unbounded,
    ))
    .take_while(move |(key, _)| key.starts_with(prefix))
    .map(|(_, kv)| kv)
}

/// Rewinds `kvs` by undoing `newer`, which are all events after the wanted revision, oldest
/// first.
pub(crate) fn undo(kvs: &mut BTreeMap<String, KeyValue>, newer: &[Event]) {
    for event in newer.iter().rev() {
        match &event.prev {
            Some(prev) => kvs.insert(prev.key.clone(), prev.clone()),
            None => kvs.remove(&event.kv.key),
        };
    }
}

/// An estimate of the memory an event holds in the ring.
fn footprint(event: &Event) -> usize {
    let kv = |kv: &KeyValue| kv.key.len() + kv.value.len() + 64;
    kv(&event.kv) + event.prev.as_ref().map_or(0, kv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::Batch;
    use crate::Txn;

    fn empty(ring_events: usize) -> Cache {
        let loaded = Loaded {
            kvs: BTreeMap::new(),
            revision: 0,
            compacted: 0,
            recent: Vec::new(),
        };
        let limits = CacheLimits {
            ring_events,
            ring_bytes: usize::MAX,
            watch_buffer: 16,
        };
        Cache::new(loaded, limits)
    }

    /// Commits each txn as its own batch.
    fn commit(cache: &Cache, txns: Vec<Txn>) {
        for txn in txns {
            let outcome = cache.with_committed(|kvs, rev, compacted| {
                let mut batch = Batch::new(kvs, rev, compacted);
                batch.txn(txn).unwrap();
                batch.finish()
            });
            cache.publish(outcome);
        }
    }

    fn keys(plan: ListPlan) -> String {
        match plan {
            ListPlan::Ready(list) => format!(
                "@{}: {}",
                list.revision,
                list.kvs
                    .iter()
                    .map(|kv| format!("{}={}", kv.key, String::from_utf8_lossy(&kv.value)))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            ListPlan::NeedsLog { at, to, .. } => format!("log ({at}, {to}]"),
        }
    }

    #[test]
    fn lists_at_past_revisions_from_the_ring() {
        let cache = empty(3);
        commit(
            &cache,
            vec![
                Txn::create("/a/1", "x"),    // 1
                Txn::create("/b/1", "y"),    // 2
                Txn::update("/a/1", 1, "z"), // 3
                Txn::delete("/a/1", 3),      // 4
                Txn::create("/a/2", "w"),    // 5
            ],
        );
        let cases = [
            (None, "@5: /a/2=w"),
            (Some(5), "@5: /a/2=w"),
            (Some(4), "@4: "),
            (Some(3), "@3: /a/1=z"),
            (Some(2), "@2: /a/1=x"),
            (Some(1), "log (1, 5]"),
        ];
        for (at, want) in cases {
            assert_eq!(keys(cache.list("/a/", at).unwrap()), want, "at {at:?}");
        }
        assert!(matches!(
            cache.list("/a/", Some(6)),
            Err(StoreError::FutureRevision {
                requested: 6,
                current: 5
            })
        ));
    }

    #[test]
    fn ring_keeps_whole_revisions_and_respects_compaction() {
        let cache = empty(2);
        commit(&cache, vec![Txn::create("/a", "1"), Txn::create("/b", "2")]);
        let sub = cache.subscribe("/", 1).unwrap();
        assert_eq!(sub.pending.len(), 2);
        commit(&cache, vec![Txn::create("/c", "3")]);
        let sub = cache.subscribe("/", 1).unwrap();
        assert_eq!((sub.log_from, sub.covered), (Some(1), 3));
        assert!(matches!(cache.resync("/", 0), Err(StoreError::Lagged)));
        assert_eq!(cache.resync("/", 1).unwrap().pending.len(), 2);
    }
}
