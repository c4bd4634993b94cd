//! The streaming server's errors, including those a [`crate::streaming::ContainerRuntime`]
//! reports about its pods.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::streaming::{LogUnavailable, PodRef};

/// What failed while serving a stream, or why a runtime could not give one.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("pod {pod} is not on this node")]
    PodNotFound { pod: PodRef },
    #[error("container {container} is not in the spec of pod {pod}")]
    ContainerNotInSpec { pod: PodRef, container: String },
    #[error("container {container} of pod {pod} is not running")]
    ContainerNotRunning { pod: PodRef, container: String },
    #[error("container {container} of pod {pod} has no log to read: {why:?}")]
    LogUnavailable {
        pod: PodRef,
        container: String,
        why: LogUnavailable,
    },
    #[error("start {command:?} in container {container} of pod {pod}")]
    Start {
        pod: PodRef,
        container: String,
        command: Vec<String>,
        #[source]
        source: std::io::Error,
    },
    #[error("wait for the process in container {container} of pod {pod}")]
    Wait {
        pod: PodRef,
        container: String,
        #[source]
        source: std::io::Error,
    },
    #[error("listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("parse the {what} pem")]
    Pem { what: &'static str },
    #[error("build the client certificate verifier")]
    ClientVerifier(#[source] rustls::server::VerifierBuilderError),
    #[error("build the tls configuration")]
    Tls(#[source] rustls::Error),
    #[error("open log file {path}")]
    OpenLog {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("read log file {path}")]
    ReadLog {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("write log file {path}")]
    WriteLog {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl StreamError {
    /// The error and its causes on one line, as Go prints wrapped errors.
    pub(crate) fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}
