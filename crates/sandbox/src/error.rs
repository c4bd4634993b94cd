//! The error type of `ferry-sandbox`.

use std::io;
use std::path::PathBuf;

/// What failed; variants name the sandbox part and keep the cause.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid sandbox spec: {field} {reason}")]
    InvalidSpec { field: &'static str, reason: String },
    #[error("invalid process spec: {reason}")]
    InvalidProcess { reason: &'static str },
    #[error("sandbox {id} already exists")]
    Exists { id: String },
    #[error("{operation} {}", path.display())]
    File {
        operation: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{operation}")]
    Sys {
        operation: &'static str,
        #[source]
        source: ferry_sys::Error,
    },
    #[error("{operation}")]
    Network {
        operation: &'static str,
        #[source]
        source: ferry_hostnet::Error,
    },
    #[error("init of sandbox {id} failed: {message}")]
    Init { id: String, message: String },
    #[error("talk to the init of sandbox {id}")]
    InitControl {
        id: String,
        #[source]
        source: io::Error,
    },
    #[error("{operation} a pipe of the process")]
    Pipe {
        operation: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("a blocking sandbox task did not finish")]
    Task(#[source] tokio::task::JoinError),
    #[error("usage: sandbox-init STATE_DIR HOSTNAME")]
    InitUsage,
}

impl Error {
    pub(crate) fn sys(operation: &'static str) -> impl FnOnce(ferry_sys::Error) -> Error {
        move |source| Error::Sys { operation, source }
    }

    pub(crate) fn network(operation: &'static str) -> impl FnOnce(ferry_hostnet::Error) -> Error {
        move |source| Error::Network { operation, source }
    }

    pub(crate) fn file(
        operation: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::File {
            operation,
            path,
            source,
        }
    }
}
