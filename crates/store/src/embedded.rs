//! The embedded store: a redb file written by one group-committing thread, read through the
//! in-memory watch cache.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use redb::Database;
use tokio::sync::{mpsc, oneshot};

use crate::cache::{undo, Cache, CacheLimits, ListPlan};
use crate::writer::{self, Counters, LogQuery, LogRead, Request, WriteRequest, Writer};
use crate::{
    KeyValue, ListResponse, Revision, Store, StoreError, StoreFuture, Txn, TxnResponse, Watch,
};

/// Tuning of the embedded store; the defaults suit a small cluster.
#[derive(Clone, Copy, Debug)]
pub struct StoreConfig {
    /// The most recent events kept in memory for watch catch-up and past lists.
    pub ring_events: usize,
    /// An upper bound on the memory those events may hold, estimated from keys and values.
    pub ring_bytes: usize,
    /// How many commits a watcher may fall behind before it resumes from the ring.
    pub watch_buffer: usize,
    /// The most requests applied in one commit.
    pub max_batch: usize,
    /// The capacity of the writer's request queue.
    pub queue: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            ring_events: 100_000,
            ring_bytes: 128 << 20,
            watch_buffer: 4096,
            max_batch: 1024,
            queue: 4096,
        }
    }
}

/// What the store has done since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Durable commits (each one fsync) of the store file.
    pub commits: u64,
    /// Transactions and compactions processed, including failed compares.
    pub txns: u64,
    /// Watch catch-ups and past lists that reached back beyond the in-memory ring.
    pub log_reads: u64,
}

/// The default store: one redb file, group commit, watch cache.
pub struct EmbeddedStore {
    requests: mpsc::Sender<Request>,
    cache: Arc<Cache>,
    counters: Arc<Counters>,
}

impl EmbeddedStore {
    /// Opens the store file at `path`, creating it if missing, with the default configuration.
    pub async fn open(path: &Path) -> Result<Arc<Self>, StoreError> {
        Self::open_with(path, StoreConfig::default()).await
    }

    pub async fn open_with(path: &Path, config: StoreConfig) -> Result<Arc<Self>, StoreError> {
        let path = path.to_owned();
        Self::start(move || writer::open_file(&path), config).await
    }

    /// A store with the same semantics that keeps everything in memory; for tests.
    pub async fn in_memory() -> Result<Arc<Self>, StoreError> {
        Self::start(writer::open_memory, StoreConfig::default()).await
    }

    /// Stops the writer after the requests already queued, releases the file and ends every
    /// watch. Later calls fail with [`StoreError::Closed`].
    pub async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.requests.send(Request::Close { reply }).await.is_ok() {
            // An error means the writer already stopped, which is what was asked.
            let _ = done.await;
        }
    }

    pub fn stats(&self) -> StoreStats {
        StoreStats {
            commits: self.counters.commits.load(Ordering::Relaxed),
            txns: self.counters.txns.load(Ordering::Relaxed),
            log_reads: self.counters.log_reads.load(Ordering::Relaxed),
        }
    }

    /// Durable commits so far; fewer than the writes when concurrent writers were grouped.
    pub fn commit_count(&self) -> u64 {
        self.stats().commits
    }

    async fn start(
        open: impl FnOnce() -> Result<Database, StoreError> + Send + 'static,
        config: StoreConfig,
    ) -> Result<Arc<Self>, StoreError> {
        let (db, loaded) = tokio::task::spawn_blocking(move || {
            let db = open()?;
            let loaded = writer::load(&db, config.ring_events)?;
            Ok::<_, StoreError>((db, loaded))
        })
        .await
        .map_err(|e| StoreError::OpenTask(Arc::new(e)))??;
        tracing::debug!(
            revision = loaded.revision,
            keys = loaded.kvs.len(),
            "opened store"
        );
        let limits = CacheLimits {
            ring_events: config.ring_events,
            ring_bytes: config.ring_bytes,
            watch_buffer: config.watch_buffer,
        };
        let cache = Arc::new(Cache::new(loaded, limits));
        let counters = Arc::new(Counters::default());
        let (requests, receiver) = mpsc::channel(config.queue.max(1));
        let writer = Writer {
            db,
            requests: receiver,
            cache: cache.clone(),
            counters: counters.clone(),
            max_batch: config.max_batch.max(1),
        };
        std::thread::Builder::new()
            .name("ferry-store-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| StoreError::SpawnWriter(Arc::new(e)))?;
        Ok(Arc::new(EmbeddedStore {
            requests,
            cache,
            counters,
        }))
    }

    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Request,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(make(reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn read_log(
        &self,
        prefix: &str,
        from: Revision,
        to: Revision,
    ) -> Result<LogRead, StoreError> {
        let prefix = prefix.to_owned();
        self.request(|reply| {
            Request::ReadLog(LogQuery {
                prefix,
                from,
                to,
                reply,
            })
        })
        .await
    }

    async fn list_impl(
        &self,
        prefix: &str,
        at: Option<Revision>,
    ) -> Result<ListResponse, StoreError> {
        match self.cache.list(prefix, at)? {
            ListPlan::Ready(list) => Ok(list),
            ListPlan::NeedsLog { mut kvs, at, to } => {
                let read = self.read_log(prefix, at + 1, to).await?;
                if at < read.compacted {
                    return Err(StoreError::Compacted {
                        requested: at,
                        compacted: read.compacted,
                    });
                }
                undo(&mut kvs, &read.events);
                Ok(ListResponse {
                    kvs: kvs.into_values().collect(),
                    revision: at,
                })
            }
        }
    }

    async fn watch_impl(&self, prefix: &str, start: Revision) -> Result<Watch, StoreError> {
        let sub = self.cache.subscribe(prefix, start)?;
        let (log_from, covered) = (sub.log_from, sub.covered);
        let mut watch = Watch::new(prefix, start, sub, self.cache.clone());
        if let Some(from) = log_from {
            let read = self.read_log(prefix, from, covered).await?;
            if from <= read.compacted {
                return Err(StoreError::Compacted {
                    requested: from,
                    compacted: read.compacted,
                });
            }
            watch.prepend(read.events);
        }
        Ok(watch)
    }
}

impl Store for EmbeddedStore {
    fn txn(&self, txn: Txn) -> StoreFuture<'_, TxnResponse> {
        Box::pin(self.request(|reply| Request::Write(WriteRequest::Txn { txn, reply })))
    }

    fn get(&self, key: &str) -> StoreFuture<'_, Option<KeyValue>> {
        let found = self.cache.get(key);
        Box::pin(async move { found })
    }

    fn list(&self, prefix: &str, at: Option<Revision>) -> StoreFuture<'_, ListResponse> {
        let prefix = prefix.to_owned();
        Box::pin(async move { self.list_impl(&prefix, at).await })
    }

    fn watch(&self, prefix: &str, start: Revision) -> StoreFuture<'_, Watch> {
        let prefix = prefix.to_owned();
        Box::pin(async move { self.watch_impl(&prefix, start).await })
    }

    fn compact(&self, revision: Revision) -> StoreFuture<'_, ()> {
        Box::pin(
            self.request(move |reply| Request::Write(WriteRequest::Compact { revision, reply })),
        )
    }

    fn current_revision(&self) -> Revision {
        self.cache.revision()
    }

    fn compacted_revision(&self) -> Revision {
        self.cache.compacted()
    }
}
