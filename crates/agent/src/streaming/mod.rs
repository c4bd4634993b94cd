//! The node agent's streaming server, in the kubelet API's role (HTTPS, port 10250): the API
//! server proxies `kubectl exec` and `attach` here as WebSocket `v5.channel.k8s.io` sessions
//! and `kubectl logs` as chunked text.
//!
//! Callers must present a client certificate signed by the cluster CA whose identity
//! [`AllowedClients`] admits (the API server's `kube-apiserver-kubelet-client`). Processes and
//! log files come from a [`ContainerRuntime`], which the pod runtime implements; this module
//! knows nothing of namespaces or cgroups.

mod auth;
mod error;
mod exec;
mod log_format;
mod logs;
mod options;
mod runtime;
mod server;
mod status;
mod tls;

pub use auth::AllowedClients;
pub use error::StreamError;
pub use log_format::{LogStream, LogWriter};
pub use runtime::{
    ByteSink, ByteSource, ContainerRuntime, ExecRequest, ExecSession, ExitFuture, LogFile,
    LogUnavailable, PodRef, Streams, TerminalResize, TerminalSize,
};
pub use server::{StreamingConfig, StreamingServer, DEFAULT_PORT};
pub use tls::server_tls;
