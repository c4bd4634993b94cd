//! The writer thread: it owns the redb database, applies queued requests in groups with one
//! durable commit per group, publishes the results to the cache and then replies.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::{mpsc, oneshot};

use crate::apply::{Batch, Outcome};
use crate::cache::Cache;
use crate::codec::{decode_events, decode_kv, encode_events, encode_kv};
use crate::{Event, EventKind, KeyValue, Revision, StoreError, Txn, TxnResponse};

/// key → the key's latest record.
const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");
/// revision → the events of that revision.
const LOG: TableDefinition<i64, &[u8]> = TableDefinition::new("log");
/// `REVISION` and `COMPACTED` → their values.
const META: TableDefinition<&str, i64> = TableDefinition::new("meta");
const REVISION: &str = "revision";
const COMPACTED: &str = "compacted";

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

pub(crate) enum Request {
    Write(WriteRequest),
    ReadLog(LogQuery),
    Close { reply: oneshot::Sender<()> },
}

/// A request that changes the store; those of one drain share a commit.
pub(crate) enum WriteRequest {
    Txn {
        txn: Txn,
        reply: Reply<TxnResponse>,
    },
    Compact {
        revision: Revision,
        reply: Reply<()>,
    },
}

/// The logged events under `prefix` with revisions in `from..=to`.
pub(crate) struct LogQuery {
    pub(crate) prefix: String,
    pub(crate) from: Revision,
    pub(crate) to: Revision,
    pub(crate) reply: Reply<LogRead>,
}

/// Events read from the log, with the compacted revision of the same snapshot so that the
/// caller can tell whether the range was complete.
pub(crate) struct LogRead {
    pub(crate) compacted: Revision,
    pub(crate) events: Vec<Event>,
}

/// What the file held at open.
pub(crate) struct Loaded {
    pub(crate) kvs: BTreeMap<String, KeyValue>,
    pub(crate) revision: Revision,
    pub(crate) compacted: Revision,
    /// The most recent logged events, oldest first, to seed the watch cache's ring.
    pub(crate) recent: Vec<Event>,
}

/// Counters the writer keeps, readable at any time.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) commits: AtomicU64,
    pub(crate) txns: AtomicU64,
    pub(crate) log_reads: AtomicU64,
}

/// Opens (creating if needed) the database file; blocking.
pub(crate) fn open_file(path: &Path) -> Result<Database, StoreError> {
    Database::create(path).map_err(StoreError::backend("open the store file"))
}

/// Creates a database that lives only in memory; for tests of other crates.
pub(crate) fn open_memory() -> Result<Database, StoreError> {
    Database::builder()
        .create_with_backend(redb::backends::InMemoryBackend::new())
        .map_err(StoreError::backend("create an in-memory store"))
}

/// Creates missing tables and reads the current records, the counters and the last
/// `recent_events` (or a few more) logged events; blocking.
pub(crate) fn load(db: &Database, recent_events: usize) -> Result<Loaded, StoreError> {
    let txn = db
        .begin_write()
        .map_err(StoreError::backend("begin the table setup"))?;
    {
        txn.open_table(KV)
            .map_err(StoreError::backend("create the kv table"))?;
        txn.open_table(LOG)
            .map_err(StoreError::backend("create the log table"))?;
        txn.open_table(META)
            .map_err(StoreError::backend("create the meta table"))?;
    }
    txn.commit()
        .map_err(StoreError::backend("commit the table setup"))?;

    let read = db
        .begin_read()
        .map_err(StoreError::backend("begin the load"))?;
    let meta = read
        .open_table(META)
        .map_err(StoreError::backend("open the meta table"))?;
    let counter = |name| -> Result<Revision, StoreError> {
        let value = meta
            .get(name)
            .map_err(StoreError::backend("read the meta table"))?;
        Ok(value.map_or(0, |v| v.value()))
    };
    let (revision, compacted) = (counter(REVISION)?, counter(COMPACTED)?);
    let table = read
        .open_table(KV)
        .map_err(StoreError::backend("open the kv table"))?;
    let mut kvs = BTreeMap::new();
    for entry in table
        .iter()
        .map_err(StoreError::backend("scan the kv table"))?
    {
        let (key, value) = entry.map_err(StoreError::backend("scan the kv table"))?;
        let kv = decode_kv(key.value(), value.value())?;
        kvs.insert(kv.key.clone(), kv);
    }
    let log = read
        .open_table(LOG)
        .map_err(StoreError::backend("open the log table"))?;
    let mut recent = Vec::new();
    let mut count = 0;
    for entry in log
        .iter()
        .map_err(StoreError::backend("scan the log table"))?
        .rev()
    {
        if count >= recent_events {
            break;
        }
        let (revision, value) = entry.map_err(StoreError::backend("scan the log table"))?;
        let events = decode_events(revision.value(), value.value())?;
        count += events.len();
        recent.push(events);
    }
    Ok(Loaded {
        kvs,
        revision,
        compacted,
        recent: recent.into_iter().rev().flatten().collect(),
    })
}

/// The writer loop; returns when the store is closed or dropped.
pub(crate) struct Writer {
    pub(crate) db: Database,
    pub(crate) requests: mpsc::Receiver<Request>,
    pub(crate) cache: Arc<Cache>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) max_batch: usize,
}

/// A write request taken from the queue, waiting for the group's commit.
enum Write {
    Txn(Reply<TxnResponse>, Result<TxnResponse, StoreError>),
    Compact(Reply<()>, Result<(), StoreError>),
}

impl Writer {
    pub(crate) fn run(mut self) {
        while let Some(first) = self.requests.blocking_recv() {
            let mut queued = vec![first];
            while queued.len() < self.max_batch {
                match self.requests.try_recv() {
                    Ok(request) => queued.push(request),
                    Err(_) => break,
                }
            }
            if let Some(reply) = self.serve(queued) {
                self.close(reply);
                return;
            }
        }
        self.cache.shutdown();
    }

    /// Serves one drained group: writes first (one commit), then log reads. Returns the reply
    /// channel of a close request, if there was one.
    fn serve(&mut self, queued: Vec<Request>) -> Option<oneshot::Sender<()>> {
        let mut writes = Vec::new();
        let mut reads = Vec::new();
        let mut close = None;
        for request in queued {
            match request {
                Request::Write(write) => writes.push(write),
                Request::ReadLog(query) => reads.push(query),
                Request::Close { reply } => close = Some(reply),
            }
        }
        if !writes.is_empty() {
            self.write_group(writes);
        }
        for query in reads {
            self.counters.log_reads.fetch_add(1, Ordering::Relaxed);
            // The caller may have given up waiting; nothing to do then.
            let read = read_log(&self.db, &query);
            let _ = query.reply.send(read);
        }
        close
    }

    /// Applies the group in memory, commits it once, publishes it, then answers every caller.
    fn write_group(&mut self, requests: Vec<WriteRequest>) {
        let (outcome, writes) = self.cache.with_committed(|kvs, revision, compacted| {
            let mut batch = Batch::new(kvs, revision, compacted);
            let writes: Vec<Write> = requests
                .into_iter()
                .map(|request| match request {
                    WriteRequest::Txn { txn, reply } => Write::Txn(reply, batch.txn(txn)),
                    WriteRequest::Compact { revision, reply } => {
                        Write::Compact(reply, batch.compact(revision))
                    }
                })
                .collect();
            (batch.finish(), writes)
        });
        self.counters
            .txns
            .fetch_add(writes.len() as u64, Ordering::Relaxed);
        let failure = if outcome.is_empty() {
            None
        } else {
            match persist(&self.db, &outcome) {
                Ok(()) => {
                    self.counters.commits.fetch_add(1, Ordering::Relaxed);
                    self.cache.publish(outcome);
                    None
                }
                Err(e) => {
                    tracing::error!(error = %e, "store commit failed; the group's writes are refused");
                    Some(e)
                }
            }
        };
        for write in writes {
            // A caller that gave up waiting simply does not hear the answer.
            match write {
                Write::Txn(reply, result) => {
                    let _ = reply.send(failure.clone().map_or(result, Err));
                }
                Write::Compact(reply, result) => {
                    let _ = reply.send(failure.clone().map_or(result, Err));
                }
            }
        }
    }

    /// Refuses what is still queued, releases the file and ends the live streams.
    fn close(mut self, reply: oneshot::Sender<()>) {
        self.requests.close();
        while let Ok(request) = self.requests.try_recv() {
            refuse(request);
        }
        drop(self.db);
        self.cache.shutdown();
        let _ = reply.send(());
    }
}

fn refuse(request: Request) {
    match request {
        Request::Write(WriteRequest::Txn { reply, .. }) => {
            drop(reply.send(Err(StoreError::Closed)))
        }
        Request::Write(WriteRequest::Compact { reply, .. }) => {
            drop(reply.send(Err(StoreError::Closed)))
        }
        Request::ReadLog(query) => drop(query.reply.send(Err(StoreError::Closed))),
        Request::Close { reply } => drop(reply.send(())),
    }
}

/// Writes a group's records, log entries and counters in one durable redb transaction.
fn persist(db: &Database, outcome: &Outcome) -> Result<(), StoreError> {
    let mut txn = db
        .begin_write()
        .map_err(StoreError::backend("begin a commit"))?;
    txn.set_durability(Durability::Immediate)
        .map_err(StoreError::backend("set commit durability"))?;
    {
        let mut kv = txn
            .open_table(KV)
            .map_err(StoreError::backend("open the kv table"))?;
        let mut log = txn
            .open_table(LOG)
            .map_err(StoreError::backend("open the log table"))?;
        let mut meta = txn
            .open_table(META)
            .map_err(StoreError::backend("open the meta table"))?;
        for event in &outcome.events {
            let key = event.kv.key.as_str();
            match event.kind {
                EventKind::Put => kv.insert(key, encode_kv(&event.kv).as_slice()).map(drop),
                EventKind::Delete => kv.remove(key).map(drop),
            }
            .map_err(StoreError::backend("write the kv table"))?;
        }
        for events in outcome.events.chunk_by(|a, b| a.revision() == b.revision()) {
            log.insert(events[0].revision(), encode_events(events).as_slice())
                .map_err(StoreError::backend("append to the log table"))?;
        }
        if let Some(compact_to) = outcome.compact_to {
            log.retain_in(..=compact_to, |_, _| false)
                .map_err(StoreError::backend("compact the log table"))?;
            meta.insert(COMPACTED, compact_to)
                .map_err(StoreError::backend("write the compacted revision"))?;
        }
        meta.insert(REVISION, outcome.revision)
            .map_err(StoreError::backend("write the revision"))?;
    }
    txn.commit().map_err(StoreError::backend("commit"))
}

/// Answers `query` from one snapshot of the log.
fn read_log(db: &Database, query: &LogQuery) -> Result<LogRead, StoreError> {
    let (prefix, from, to) = (query.prefix.as_str(), query.from, query.to);
    let read = db
        .begin_read()
        .map_err(StoreError::backend("begin a log read"))?;
    let meta = read
        .open_table(META)
        .map_err(StoreError::backend("open the meta table"))?;
    let compacted = meta
        .get(COMPACTED)
        .map_err(StoreError::backend("read the compacted revision"))?
        .map_or(0, |v| v.value());
    let log = read
        .open_table(LOG)
        .map_err(StoreError::backend("open the log table"))?;
    let mut events = Vec::new();
    if from <= to {
        for entry in log
            .range(from..=to)
            .map_err(StoreError::backend("scan the log table"))?
        {
            let (revision, value) = entry.map_err(StoreError::backend("scan the log table"))?;
            let logged = decode_events(revision.value(), value.value())?;
            events.extend(logged.into_iter().filter(|e| e.kv.key.starts_with(prefix)));
        }
    }
    Ok(LogRead { compacted, events })
}
