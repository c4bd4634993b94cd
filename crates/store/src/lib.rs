//! An MVCC key-value store with etcd v3 semantics: one cluster-wide revision, compare-and-swap
//! on a key's mod revision, list at a past revision, watch from a revision, compaction.
//!
//! It must not know Kubernetes: keys are plain strings (`/registry/services/default/kubia` is
//! just a string here) and values are opaque bytes. Only `ferry-apiserver` uses this crate.
//!
//! # Semantics
//! - The revision starts at 0 for an empty store; every transaction that changes something gets
//!   the next revision (a transaction with several operations gets one revision; a failed compare,
//!   or a delete of a missing key alone, changes nothing and gets none).
//! - `create_revision`, `mod_revision` and `version` behave as in etcd: `version` counts the puts
//!   since the key was created and a delete resets the key.
//! - An [`Event`] of kind `Delete` carries the key's last value, its `create_revision`,
//!   `mod_revision` = the deletion's revision and `version` 0; `prev` is the deleted record.
//! - [`Store::compact`] at `R` discards the history up to and including `R`: listing at a revision
//!   below `R`, or watching from a revision up to `R`, fails with [`StoreError::Compacted`].
//!
//! # Design of the embedded backend ([`EmbeddedStore`])
//! - **Persistence**: a redb file with three tables: `kv` (key → latest record), `log`
//!   (revision → the events of that revision, each with its previous record) and `meta` (the
//!   revision counter and the compacted revision). Every commit is `Durability::Immediate`: a write
//!   is acknowledged only after its commit is fsynced.
//! - **Group commit**: one writer thread owns the database. It takes every request waiting in its
//!   channel, applies the transactions one after another against the current state plus the
//!   effects of the earlier ones in the batch (each successful one gets its own revision), writes
//!   them all in one redb transaction, commits once, publishes the events to memory and only then
//!   replies. Many concurrent writers therefore share one fsync.
//! - **Watch cache**: the current keys live in a `BTreeMap` (loaded at open, updated after each
//!   commit), so `get` and latest `list` never touch the disk. Recent events live in an in-memory
//!   ring (seeded from the tail of the log at open, bounded in events and bytes) and are fanned
//!   out through a broadcast channel, so a thousand watchers cost no storage reads. Publishing and subscribing happen under one lock, so a watcher's catch-up (from the
//!   ring, or from the `log` table when older than the ring) joins the live stream with no gap and
//!   no duplicate. A list at a past revision undoes the newer events, using the `prev` records.
//! - **Crash safety** is redb's: a commit is atomic and, once `commit` returns, durable; after a
//!   crash the file reopens at the last commit, so every acknowledged write is there.
//! - A watcher that falls behind the broadcast buffer resumes from the ring; if the ring no longer
//!   holds its position it gets [`StoreError::Lagged`] and its client re-lists.
//! - [`EmbeddedStore::in_memory`] runs the same code on redb's in-memory backend, for tests of
//!   other crates.

mod apply;
mod cache;
mod codec;
mod embedded;
mod error;
mod watch;
mod writer;

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

pub use embedded::{EmbeddedStore, StoreConfig, StoreStats};
pub use error::StoreError;
pub use watch::Watch;

/// The cluster-wide revision: 0 for an empty store, then one more per changing transaction.
pub type Revision = i64;

/// One key's record at some revision.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// The revision of the put that created the key (since its last delete).
    pub create_revision: Revision,
    /// The revision of the last change of the key.
    pub mod_revision: Revision,
    /// The number of puts since the key was created; 0 in a delete event.
    pub version: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Put,
    Delete,
}

/// A change of one key; its revision is `kv.mod_revision`.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    /// For `Put` the new record; for `Delete` the key with its last value, `mod_revision` the
    /// deletion's revision and `version` 0.
    pub kv: KeyValue,
    /// The record before this change, if the key existed.
    pub prev: Option<KeyValue>,
}

impl Event {
    /// The revision at which this change happened.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// A condition of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Compare {
    /// The key's `mod_revision` equals `revision`; 0 means the key must not exist.
    ModRevision { key: String, revision: Revision },
}

impl Compare {
    fn key(&self) -> &str {
        match self {
            Compare::ModRevision { key, .. } => key,
        }
    }
}

/// A write of a transaction's success branch.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Put { key: String, value: Bytes },
    Delete { key: String },
}

impl Op {
    fn key(&self) -> &str {
        match self {
            Op::Put { key, .. } | Op::Delete { key } => key,
        }
    }
}

/// If all `compares` hold, apply `success` atomically at one new revision.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Txn {
    pub compares: Vec<Compare>,
    pub success: Vec<Op>,
    /// On failure, return the current record of each compared key in [`TxnResponse::current`].
    pub failure_get: bool,
}

impl Txn {
    /// Create `key` only if it does not exist.
    pub fn create(key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        Self::update(key, 0, value)
    }

    /// Put `key` only if its `mod_revision` is `revision` (0: only if it does not exist).
    pub fn update(key: impl Into<String>, revision: Revision, value: impl Into<Bytes>) -> Self {
        let key = key.into();
        Txn {
            compares: vec![Compare::ModRevision {
                key: key.clone(),
                revision,
            }],
            success: vec![Op::Put {
                key,
                value: value.into(),
            }],
            failure_get: true,
        }
    }

    /// Delete `key` only if its `mod_revision` is `revision`.
    pub fn delete(key: impl Into<String>, revision: Revision) -> Self {
        let key = key.into();
        Txn {
            compares: vec![Compare::ModRevision {
                key: key.clone(),
                revision,
            }],
            success: vec![Op::Delete { key }],
            failure_get: true,
        }
    }

    /// Put `key` whatever its state.
    pub fn put(key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        Txn {
            compares: Vec::new(),
            success: vec![Op::Put {
                key: key.into(),
                value: value.into(),
            }],
            failure_get: false,
        }
    }
}

/// The outcome of one operation of a successful transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum OpResult {
    /// The record as written.
    Put(KeyValue),
    /// The deleted record, or `None` if the key did not exist.
    Delete(Option<KeyValue>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct TxnResponse {
    pub succeeded: bool,
    /// On success the transaction's revision (the current one if it changed nothing); on failure
    /// the current revision.
    pub revision: Revision,
    /// On success, one result per operation, in order.
    pub results: Vec<OpResult>,
    /// On failure with `failure_get`, the current record of each compared key, in order.
    pub current: Vec<Option<KeyValue>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ListResponse {
    /// The records under the prefix, sorted by key.
    pub kvs: Vec<KeyValue>,
    /// The revision the list reflects: the current one, or the one asked for.
    pub revision: Revision,
}

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The store as the API server sees it; object-safe so that `Arc<dyn Store>` can hold the
/// embedded backend or an etcd client.
pub trait Store: Send + Sync + 'static {
    /// Apply a transaction; durable once the future resolves with `Ok`. A transaction whose
    /// future is dropped after it was queued may still be applied, as with etcd.
    fn txn(&self, txn: Txn) -> StoreFuture<'_, TxnResponse>;
    /// The current record of `key`.
    fn get(&self, key: &str) -> StoreFuture<'_, Option<KeyValue>>;
    /// The records whose key starts with `prefix`, at `at` (`None` or 0: the latest revision).
    fn list(&self, prefix: &str, at: Option<Revision>) -> StoreFuture<'_, ListResponse>;
    /// The events under `prefix` with revision >= `start`, then live ones; `start` 0: from now on.
    fn watch(&self, prefix: &str, start: Revision) -> StoreFuture<'_, Watch>;
    /// Discard the history up to and including `revision`.
    fn compact(&self, revision: Revision) -> StoreFuture<'_, ()>;
    fn current_revision(&self) -> Revision;
    fn compacted_revision(&self) -> Revision;
}
