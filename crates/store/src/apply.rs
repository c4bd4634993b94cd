//! Applies a batch of transactions and compactions to the committed state, in memory and in
//! order, giving each changing transaction its own revision. Pure: the writer persists the result.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::{
    Compare, Event, EventKind, KeyValue, Op, OpResult, Revision, StoreError, Txn, TxnResponse,
};

/// The effects of one batch, ready to be persisted and published.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Outcome {
    /// The revision after the batch.
    pub(crate) revision: Revision,
    /// The compacted revision after the batch.
    pub(crate) compacted: Revision,
    /// Every event of the batch, by ascending revision and, within one revision, in op order.
    pub(crate) events: Vec<Event>,
    /// Set if the batch compacted the history up to and including this revision.
    pub(crate) compact_to: Option<Revision>,
}

impl Outcome {
    /// Whether the batch changed nothing, so that there is nothing to commit.
    pub(crate) fn is_empty(&self) -> bool {
        self.events.is_empty() && self.compact_to.is_none()
    }
}

/// A batch being applied on top of the committed records.
pub(crate) struct Batch<'a> {
    committed: &'a BTreeMap<String, KeyValue>,
    /// Keys changed by earlier transactions of this batch (`None`: deleted).
    overlay: HashMap<String, Option<KeyValue>>,
    outcome: Outcome,
}

impl<'a> Batch<'a> {
    pub(crate) fn new(
        committed: &'a BTreeMap<String, KeyValue>,
        revision: Revision,
        compacted: Revision,
    ) -> Self {
        Batch {
            committed,
            overlay: HashMap::new(),
            outcome: Outcome {
                revision,
                compacted,
                ..Outcome::default()
            },
        }
    }

    /// Evaluates `txn` against the state left by the earlier transactions of the batch.
    pub(crate) fn txn(&mut self, txn: Txn) -> Result<TxnResponse, StoreError> {
        validate(&txn)?;
        if !txn.compares.iter().all(|c| self.holds(c)) {
            return Ok(self.failed(&txn));
        }
        let revision = self.outcome.revision + 1;
        let results: Vec<OpResult> = txn
            .success
            .into_iter()
            .map(|op| self.op(op, revision))
            .collect();
        if self.outcome.events.last().map(Event::revision) == Some(revision) {
            self.outcome.revision = revision;
        }
        Ok(TxnResponse {
            succeeded: true,
            revision: self.outcome.revision,
            results,
            current: Vec::new(),
        })
    }

    /// Discards the history up to and including `revision`.
    pub(crate) fn compact(&mut self, revision: Revision) -> Result<(), StoreError> {
        if revision > self.outcome.revision {
            return Err(StoreError::FutureRevision {
                requested: revision,
                current: self.outcome.revision,
            });
        }
        if revision <= self.outcome.compacted {
            return Err(StoreError::Compacted {
                requested: revision,
                compacted: self.outcome.compacted,
            });
        }
        self.outcome.compacted = revision;
        self.outcome.compact_to = Some(revision);
        Ok(())
    }

    pub(crate) fn finish(self) -> Outcome {
        self.outcome
    }

    fn current(&self, key: &str) -> Option<&KeyValue> {
        match self.overlay.get(key) {
            Some(overlaid) => overlaid.as_ref(),
            None => self.committed.get(key),
        }
    }

    fn holds(&self, compare: &Compare) -> bool {
        match compare {
            Compare::ModRevision { key, revision } => {
                self.current(key).map_or(0, |kv| kv.mod_revision) == *revision
            }
        }
    }

    fn failed(&self, txn: &Txn) -> TxnResponse {
        let current = if txn.failure_get {
            txn.compares
                .iter()
                .map(|c| self.current(c.key()).cloned())
                .collect()
        } else {
            Vec::new()
        };
        TxnResponse {
            succeeded: false,
            revision: self.outcome.revision,
            results: Vec::new(),
            current,
        }
    }

    fn op(&mut self, op: Op, revision: Revision) -> OpResult {
        match op {
            Op::Put { key, value } => {
                let prev = self.current(&key).cloned();
                let kv = KeyValue {
                    key: key.clone(),
                    value,
                    create_revision: prev.as_ref().map_or(revision, |p| p.create_revision),
                    mod_revision: revision,
                    version: prev.as_ref().map_or(1, |p| p.version + 1),
                };
                self.overlay.insert(key, Some(kv.clone()));
                self.outcome.events.push(Event {
                    kind: EventKind::Put,
                    kv: kv.clone(),
                    prev,
                });
                OpResult::Put(kv)
            }
            Op::Delete { key } => {
                let prev = self.current(&key).cloned();
                if let Some(last) = &prev {
                    self.overlay.insert(key, None);
                    self.outcome.events.push(deletion(last, revision));
                }
                OpResult::Delete(prev)
            }
        }
    }
}

/// The event of deleting `last` at `revision`.
pub(crate) fn deletion(last: &KeyValue, revision: Revision) -> Event {
    Event {
        kind: EventKind::Delete,
        kv: KeyValue {
            mod_revision: revision,
            version: 0,
            ..last.clone()
        },
        prev: Some(last.clone()),
    }
}

/// Rejects transactions etcd rejects: an empty key, or one key written twice.
fn validate(txn: &Txn) -> Result<(), StoreError> {
    let mut seen = HashSet::new();
    for key in txn.compares.iter().map(Compare::key) {
        if key.is_empty() {
            return Err(StoreError::EmptyKey);
        }
    }
    for key in txn.success.iter().map(Op::key) {
        if key.is_empty() {
            return Err(StoreError::EmptyKey);
        }
        if !seen.insert(key) {
            return Err(StoreError::DuplicateKey {
                key: key.to_owned(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `txns` as one batch on an empty store and renders each response on one line.
    fn run(txns: Vec<Txn>) -> Vec<String> {
        let committed = BTreeMap::new();
        let mut batch = Batch::new(&committed, 0, 0);
        txns.into_iter()
            .map(|txn| match batch.txn(txn) {
                Ok(r) => render(&r),
                Err(e) => format!("error: {e}"),
            })
            .collect()
    }

    fn render(r: &TxnResponse) -> String {
        let kv = |kv: &KeyValue| {
            format!(
                "{}={} c{} m{} v{}",
                kv.key,
                String::from_utf8_lossy(&kv.value),
                kv.create_revision,
                kv.mod_revision,
                kv.version
            )
        };
        let mut parts = vec![format!(
            "{} @{}",
            if r.succeeded { "ok" } else { "failed" },
            r.revision
        )];
        for result in &r.results {
            parts.push(match result {
                OpResult::Put(p) => format!("put {}", kv(p)),
                OpResult::Delete(Some(d)) => format!("deleted {}", kv(d)),
                OpResult::Delete(None) => "deleted nothing".to_owned(),
            });
        }
        for current in &r.current {
            parts.push(
                current
                    .as_ref()
                    .map_or("current none".to_owned(), |c| format!("current {}", kv(c))),
            );
        }
        parts.join("; ")
    }

    #[test]
    fn batch_semantics() {
        let cases: Vec<(&str, Vec<Txn>, Vec<&str>)> = vec![
            (
                "create then conflicting create",
                vec![Txn::create("/a", "1"), Txn::create("/a", "2")],
                vec![
                    "ok @1; put /a=1 c1 m1 v1",
                    "failed @1; current /a=1 c1 m1 v1",
                ],
            ),
            (
                "guarded update sees the earlier txn of the batch",
                vec![
                    Txn::create("/a", "1"),
                    Txn::update("/a", 1, "2"),
                    Txn::update("/a", 1, "3"),
                ],
                vec![
                    "ok @1; put /a=1 c1 m1 v1",
                    "ok @2; put /a=2 c1 m2 v2",
                    "failed @2; current /a=2 c1 m2 v2",
                ],
            ),
            (
                "delete resets create_revision and version",
                vec![
                    Txn::create("/a", "1"),
                    Txn::delete("/a", 1),
                    Txn::create("/a", "2"),
                ],
                vec![
                    "ok @1; put /a=1 c1 m1 v1",
                    "ok @2; deleted /a=1 c1 m1 v1",
                    "ok @3; put /a=2 c3 m3 v1",
                ],
            ),
            (
                "delete of a missing key changes nothing",
                vec![
                    Txn {
                        success: vec![Op::Delete { key: "/x".into() }],
                        ..Txn::default()
                    },
                    Txn::delete("/x", 5),
                ],
                vec!["ok @0; deleted nothing", "failed @0; current none"],
            ),
            (
                "several ops share one revision",
                vec![Txn {
                    success: vec![
                        Op::Put {
                            key: "/a".into(),
                            value: "1".into(),
                        },
                        Op::Put {
                            key: "/b".into(),
                            value: "2".into(),
                        },
                    ],
                    ..Txn::default()
                }],
                vec!["ok @1; put /a=1 c1 m1 v1; put /b=2 c1 m1 v1"],
            ),
            (
                "invalid txns",
                vec![
                    Txn::put("", "1"),
                    Txn {
                        success: vec![
                            Op::Put {
                                key: "/a".into(),
                                value: "1".into(),
                            },
                            Op::Delete { key: "/a".into() },
                        ],
                        ..Txn::default()
                    },
                ],
                vec![
                    "error: empty key in transaction",
                    "error: duplicate key /a in transaction",
                ],
            ),
            (
                "failure without failure_get returns no records",
                vec![Txn {
                    failure_get: false,
                    ..Txn::update("/a", 3, "1")
                }],
                vec!["failed @0"],
            ),
        ];
        for (name, txns, want) in cases {
            assert_eq!(run(txns), want, "{name}");
        }
    }

    #[test]
    fn events_of_a_batch() {
        let committed = BTreeMap::new();
        let mut batch = Batch::new(&committed, 0, 0);
        batch.txn(Txn::create("/a", "1")).unwrap();
        batch.txn(Txn::delete("/a", 1)).unwrap();
        let outcome = batch.finish();
        let put = KeyValue {
            key: "/a".into(),
            value: "1".into(),
            create_revision: 1,
            mod_revision: 1,
            version: 1,
        };
        assert_eq!(
            outcome.events,
            vec![
                Event {
                    kind: EventKind::Put,
                    kv: put.clone(),
                    prev: None
                },
                deletion(&put, 2),
            ]
        );
        assert_eq!(outcome.events[1].kv.value, "1");
        assert_eq!(outcome.revision, 2);
    }

    #[test]
    fn compaction_bounds() {
        let committed = BTreeMap::new();
        let mut batch = Batch::new(&committed, 5, 2);
        let render = |r: Result<(), StoreError>| r.map_or_else(|e| e.to_string(), |()| "ok".into());
        assert_eq!(
            render(batch.compact(6)),
            "required revision 6 is a future revision (current revision 5)"
        );
        assert_eq!(
            render(batch.compact(2)),
            "required revision 2 has been compacted (compacted revision 2)"
        );
        assert_eq!(render(batch.compact(4)), "ok");
        let outcome = batch.finish();
        assert_eq!((outcome.compacted, outcome.compact_to), (4, Some(4)));
    }
}
