//! Property test: random transactions, sent in concurrent groups so that the writer batches
//! them, must give the same responses, lists at every revision and watch events as a naive
//! sequential model that keeps a full copy of the state at each revision.

use std::collections::BTreeMap;

use bytes::Bytes;
use ferry_store::{
    Compare, EmbeddedStore, Event, EventKind, KeyValue, Op, OpResult, Revision, Store, StoreConfig,
    StoreError, Txn, TxnResponse,
};
use proptest::prelude::*;

const KEYS: [&str; 5] = ["/a/1", "/a/2", "/a/3", "/b/1", "/b/2"];

/// How a generated transaction picks the revision it compares against.
#[derive(Clone, Debug)]
enum Guard {
    /// The key's current mod revision (0 if missing): the compare holds.
    Current,
    /// A fixed revision: usually a conflict.
    Fixed(Revision),
    /// No compare at all.
    None,
}

#[derive(Clone, Debug)]
struct Step {
    guard: Guard,
    guard_key: usize,
    ops: Vec<(usize, Option<u8>)>, // (key index, Some(value) = put, None = delete)
}

fn step() -> impl Strategy<Value = Step> {
    let guard = prop_oneof![
        3 => Just(Guard::Current),
        1 => (0i64..6).prop_map(Guard::Fixed),
        1 => Just(Guard::None),
    ];
    let op = (0..KEYS.len(), prop::option::weighted(0.75, any::<u8>()));
    (guard, 0..KEYS.len(), prop::collection::vec(op, 0..3)).prop_map(|(guard, guard_key, ops)| {
        Step {
            guard,
            guard_key,
            ops,
        }
    })
}

/// The naive model: the whole state at every revision, and every event.
struct Model {
    states: Vec<BTreeMap<String, KeyValue>>,
    events: Vec<Event>,
}

impl Model {
    fn current(&self) -> &BTreeMap<String, KeyValue> {
        self.states.last().unwrap()
    }

    fn revision(&self) -> Revision {
        self.states.len() as Revision - 1
    }

    /// Turns a step into a transaction against the current model state.
    fn txn(&self, step: &Step) -> Txn {
        let key = KEYS[step.guard_key].to_owned();
        let current = self.current().get(&key).map_or(0, |kv| kv.mod_revision);
        let compares = match step.guard {
            Guard::Current => vec![Compare::ModRevision {
                key,
                revision: current,
            }],
            Guard::Fixed(revision) => vec![Compare::ModRevision { key, revision }],
            Guard::None => Vec::new(),
        };
        let mut success = Vec::new();
        let mut used = Vec::new();
        for (k, value) in &step.ops {
            if used.contains(k) {
                continue;
            }
            used.push(*k);
            let key = KEYS[*k].to_owned();
            success.push(match value {
                Some(v) => Op::Put {
                    key,
                    value: Bytes::from(vec![*v]),
                },
                None => Op::Delete { key },
            });
        }
        Txn {
            compares,
            success,
            failure_get: true,
        }
    }

    fn apply(&mut self, txn: &Txn) -> TxnResponse {
        let state = self.current().clone();
        let holds = txn
            .compares
            .iter()
            .all(|Compare::ModRevision { key, revision }| {
                state.get(key).map_or(0, |kv| kv.mod_revision) == *revision
            });
        if !holds {
            let current = txn
                .compares
                .iter()
                .map(|Compare::ModRevision { key, .. }| state.get(key).cloned())
                .collect();
            return TxnResponse {
                succeeded: false,
                revision: self.revision(),
                results: Vec::new(),
                current,
            };
        }
        let revision = self.revision() + 1;
        let mut next = state;
        let mut events = Vec::new();
        let mut results = Vec::new();
        for op in &txn.success {
            match op {
                Op::Put { key, value } => {
                    let prev = next.get(key).cloned();
                    let kv = KeyValue {
                        key: key.clone(),
                        value: value.clone(),
                        create_revision: prev.as_ref().map_or(revision, |p| p.create_revision),
                        mod_revision: revision,
                        version: prev.as_ref().map_or(0, |p| p.version) + 1,
                    };
                    next.insert(key.clone(), kv.clone());
                    events.push(Event {
                        kind: EventKind::Put,
                        kv: kv.clone(),
                        prev,
                    });
                    results.push(OpResult::Put(kv));
                }
                Op::Delete { key } => {
                    let prev = next.remove(key);
                    if let Some(p) = &prev {
                        events.push(Event {
                            kind: EventKind::Delete,
                            kv: KeyValue {
                                mod_revision: revision,
                                version: 0,
                                ..p.clone()
                            },
                            prev: Some(p.clone()),
                        });
                    }
                    results.push(OpResult::Delete(prev));
                }
            }
        }
        if !events.is_empty() {
            self.states.push(next);
            self.events.extend(events);
        }
        TxnResponse {
            succeeded: true,
            revision: self.revision(),
            results,
            current: Vec::new(),
        }
    }
}

async fn check(
    groups: Vec<Vec<Step>>,
    compact_at: usize,
    ring_events: usize,
) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        ring_events,
        ..StoreConfig::default()
    };
    let store = EmbeddedStore::open_with(&dir.path().join("s.redb"), config)
        .await
        .unwrap();
    let mut model = Model {
        states: vec![BTreeMap::new()],
        events: Vec::new(),
    };
    for group in groups {
        let mut txns = Vec::new();
        let mut want = Vec::new();
        for step in &group {
            let txn = model.txn(step);
            want.push(model.apply(&txn));
            txns.push(txn);
        }
        // Sent together, so the writer is free to apply them in one commit.
        let got = futures_util::future::join_all(txns.into_iter().map(|t| store.txn(t))).await;
        let got: Vec<TxnResponse> = got.into_iter().map(Result::unwrap).collect();
        prop_assert_eq!(got, want);
    }
    let current = model.revision();
    prop_assert_eq!(store.current_revision(), current);
    for revision in 1..=current {
        let list = store.list("/a/", Some(revision)).await.unwrap();
        let want: Vec<KeyValue> = model.states[revision as usize]
            .values()
            .filter(|kv| kv.key.starts_with("/a/"))
            .cloned()
            .collect();
        prop_assert_eq!(list.kvs, want, "list at {}", revision);
    }
    let mut watch = store.watch("/", 1).await.unwrap();
    for want in &model.events {
        let got = watch.next().await.unwrap().unwrap();
        prop_assert_eq!(&got, want);
    }

    let compact_to = (compact_at as Revision).min(current);
    if compact_to > 0 {
        store.compact(compact_to).await.unwrap();
        let too_old = store.list("/", Some(compact_to - 1)).await;
        let refused = matches!(too_old, Err(StoreError::Compacted { .. }));
        prop_assert!(
            compact_to == 1 || refused,
            "list below the compacted revision"
        );
        let at = store.list("/", Some(compact_to)).await.unwrap();
        let want: Vec<KeyValue> = model.states[compact_to as usize]
            .values()
            .cloned()
            .collect();
        prop_assert_eq!(at.kvs, want);
        let watched = store.watch("/", compact_to).await;
        let refused = matches!(watched, Err(StoreError::Compacted { .. }));
        prop_assert!(refused, "watch from the compacted revision");
    }
    store.close().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_model(
        groups in prop::collection::vec(prop::collection::vec(step(), 1..6), 1..12),
        compact_at in 0usize..20,
        ring_events in prop_oneof![Just(2usize), Just(100_000usize)],
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(check(groups, compact_at, ring_events))?;
    }
}
