//! What the streaming server needs from the pod runtime: start a process in a container (or
//! attach to its main process) and find a container's log file. The pod runtime implements
//! [`ContainerRuntime`]; the server only moves bytes.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use crate::streaming::StreamError;

/// A container runtime as the streaming server sees it.
///
/// Errors say why, in [`StreamError`]'s runtime variants: [`StreamError::PodNotFound`] when
/// the node does not run the pod, [`StreamError::ContainerNotRunning`] when an exec or attach
/// target has no running process, [`StreamError::ContainerNotInSpec`] and
/// [`StreamError::LogUnavailable`] for logs; the server turns them into the kubelet's answers.
/// Anything else (e.g. [`StreamError::Start`]) is reported to the client as an internal error.
pub trait ContainerRuntime: Send + Sync + 'static {
    /// Starts `request.command` in the container's namespaces, with the streams it asks for:
    /// pipes for stdin/stdout/stderr, or one terminal for all of them when `tty` is set.
    fn exec(
        &self,
        pod: &PodRef,
        container: &str,
        request: ExecRequest,
    ) -> impl Future<Output = Result<ExecSession, StreamError>> + Send;

    /// Connects to the running container's main process: its stdin (when the container spec
    /// has `stdin: true`), its output from now on, its terminal when the spec has `tty: true`.
    /// `exit` of the session resolves when the container exits.
    fn attach(
        &self,
        pod: &PodRef,
        container: &str,
        streams: Streams,
    ) -> impl Future<Output = Result<ExecSession, StreamError>> + Send;

    /// The log of the container's current instance, or of the one before it when `previous`.
    /// The file is in the CRI logging format that [`crate::streaming::LogWriter`] writes.
    fn log_file(
        &self,
        pod: &PodRef,
        container: &str,
        previous: bool,
    ) -> Result<LogFile, StreamError>;
}

/// A pod as streaming URLs name it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for PodRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Which streams a session carries, as the kubelet reads them from the request.
/// Invariant: `stderr` is never set together with `tty` (a terminal has one output).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Streams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

/// An exec request: the command (argv, never through a shell) and its streams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecRequest {
    pub command: Vec<String>,
    pub streams: Streams,
}

/// Bytes from a process (its stdout, stderr or terminal).
pub type ByteSource = Pin<Box<dyn AsyncRead + Send>>;
/// Bytes to a process (its stdin or terminal). Dropping it closes the process's stdin.
pub type ByteSink = Pin<Box<dyn AsyncWrite + Send>>;
/// Resolves to the process's exit code (128 + the signal number when a signal ended it).
pub type ExitFuture = Pin<Box<dyn Future<Output = Result<i32, StreamError>> + Send>>;

/// A started process and its streams. Each stream is present exactly when the request asked
/// for it; with a terminal, `stdout` is the terminal's output, `stdin` its input, `stderr` is
/// `None` and `terminal` resizes it.
///
/// The server drops the whole session when the client goes away before the process ends: the
/// runtime should then end the process (as closing a terminal hangs it up).
pub struct ExecSession {
    pub stdin: Option<ByteSink>,
    pub stdout: Option<ByteSource>,
    pub stderr: Option<ByteSource>,
    pub terminal: Option<Box<dyn TerminalResize>>,
    pub exit: ExitFuture,
}

/// Resizes a session's terminal.
pub trait TerminalResize: Send {
    fn resize(&mut self, size: TerminalSize) -> std::io::Result<()>;
}

/// A terminal size in character cells, as kubectl sends it on the resize channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct TerminalSize {
    #[serde(rename = "Width")]
    pub width: u16,
    #[serde(rename = "Height")]
    pub height: u16,
}

/// A container instance's log: where it is, and whether that instance has exited.
#[derive(Debug)]
pub struct LogFile {
    pub path: PathBuf,
    /// Becomes `true` once the instance has exited and everything it wrote is in the file;
    /// `logs -f` ends there. Already `true` for a previous instance.
    pub exited: watch::Receiver<bool>,
}

/// Why a container has no log to read, in the kubelet's cases (its
/// `validateContainerLogStatus`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogUnavailable {
    /// The pod has no status for the container yet.
    NoStatus,
    /// `previous` was asked for and no earlier instance has terminated.
    NoPreviousInstance,
    /// The container terminated without an instance that left a log.
    Terminated,
    /// The container is waiting to start, for this reason (`ContainerCreating`,
    /// `CrashLoopBackOff`, `ErrImagePull`, ...).
    Waiting(String),
    /// No state at all yet.
    NoLogsYet,
}
