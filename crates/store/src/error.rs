//! The store's error type, shared by every backend.

use std::error::Error as StdError;
use std::sync::Arc;

use crate::Revision;

/// What went wrong in a store call. Cloneable, because one failed group commit answers many
/// callers with the same error.
#[derive(thiserror::Error, Debug, Clone)]
pub enum StoreError {
    #[error("required revision {requested} has been compacted (compacted revision {compacted})")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },
    #[error("required revision {requested} is a future revision (current revision {current})")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    #[error("watcher fell too far behind the event stream")]
    Lagged,
    #[error("store is closed")]
    Closed,
    #[error("empty key in transaction")]
    EmptyKey,
    #[error("duplicate key {key} in transaction")]
    DuplicateKey { key: String },
    #[error("store backend: {op}")]
    Backend {
        op: &'static str,
        #[source]
        source: Arc<dyn StdError + Send + Sync>,
    },
    #[error("decode {what} from the store file: record is corrupt")]
    Corrupt { what: &'static str },
    #[error("open the store: the loading task failed")]
    OpenTask(#[source] Arc<tokio::task::JoinError>),
    #[error("start the store writer thread")]
    SpawnWriter(#[source] Arc<std::io::Error>),
}

impl StoreError {
    /// Wraps a backend failure of operation `op`.
    pub(crate) fn backend<E: Into<redb::Error>>(op: &'static str) -> impl FnOnce(E) -> StoreError {
        move |source| StoreError::Backend {
            op,
            source: Arc::new(source.into()),
        }
    }
}
