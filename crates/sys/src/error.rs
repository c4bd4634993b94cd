//! The error type of every operation in this crate.

use std::fmt;
use std::io;
use std::path::PathBuf;

use nix::errno::Errno;

/// What failed in `ferry-sys`; each variant names the operation and keeps the OS error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} contains a NUL byte")]
    NulByte { what: String },
    #[error("create the spawn status pipe")]
    StatusPipe(#[source] Errno),
    #[error("clone a child for {program}")]
    Clone {
        program: String,
        #[source]
        source: Errno,
    },
    #[error("spawn {program}: {step}")]
    Spawn {
        program: String,
        step: SpawnStep,
        #[source]
        source: Errno,
    },
    #[error("the spawner thread for {program} panicked")]
    SpawnerPanicked { program: String },
    #[error("{operation} process {pid}")]
    Process {
        operation: &'static str,
        pid: i32,
        #[source]
        source: Errno,
    },
    #[error("enter the {namespace} namespace")]
    EnterNamespace {
        namespace: &'static str,
        #[source]
        source: Errno,
    },
    #[error("unshare namespaces")]
    Unshare(#[source] Errno),
    #[error("set hostname {hostname}")]
    Hostname {
        hostname: String,
        #[source]
        source: Errno,
    },
    #[error("mount {kind} on {}", target.display())]
    Mount {
        kind: &'static str,
        target: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("overlay layer path {} contains ',', ':' or '\\'", path.display())]
    OverlayPath { path: PathBuf },
    #[error("unmount {}", target.display())]
    Unmount {
        target: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("pivot root into {}", new_root.display())]
    PivotRoot {
        new_root: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("{operation} {}", path.display())]
    File {
        operation: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("no cgroup hierarchy (v1 memory, pids, freezer, cpu or v2) is mounted")]
    NoCgroupHierarchy,
    #[error("cgroup name {name:?} is not a single path component")]
    CgroupName { name: String },
    #[error("cgroup {} still has processes after {seconds} s", path.display())]
    CgroupBusy { path: PathBuf, seconds: u64 },
    #[error("open a pseudo-terminal")]
    OpenPty(#[source] Errno),
    #[error("{operation} on file descriptor {fd}")]
    Fd {
        operation: &'static str,
        fd: i32,
        #[source]
        source: Errno,
    },
    #[error("file descriptor {fd} was already taken")]
    FdTaken { fd: i32 },
}

/// The step of the child's setup between clone and exec that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnStep {
    JoinCgroup,
    JoinNamespaces,
    Session,
    Descriptors,
    ControllingTerminal,
    ParentDeathSignal,
    ChangeDirectory,
    Exec,
}

impl SpawnStep {
    pub(crate) fn code(self) -> u32 {
        self as u32
    }

    pub(crate) fn from_code(code: u32) -> Option<SpawnStep> {
        [
            SpawnStep::JoinCgroup,
            SpawnStep::JoinNamespaces,
            SpawnStep::Session,
            SpawnStep::Descriptors,
            SpawnStep::ControllingTerminal,
            SpawnStep::ParentDeathSignal,
            SpawnStep::ChangeDirectory,
            SpawnStep::Exec,
        ]
        .into_iter()
        .find(|step| step.code() == code)
    }
}

impl fmt::Display for SpawnStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpawnStep::JoinCgroup => "join the cgroup",
            SpawnStep::JoinNamespaces => "join the namespaces",
            SpawnStep::Session => "start a session or process group",
            SpawnStep::Descriptors => "set up file descriptors",
            SpawnStep::ControllingTerminal => "acquire the controlling terminal",
            SpawnStep::ParentDeathSignal => "set the parent death signal",
            SpawnStep::ChangeDirectory => "change to the working directory",
            SpawnStep::Exec => "execute the program",
        })
    }
}

impl Error {
    pub(crate) fn file(
        operation: &'static str,
        path: impl Into<PathBuf>,
        source: io::Error,
    ) -> Self {
        Error::File {
            operation,
            path: path.into(),
            source,
        }
    }

    /// The OS error number behind this error, when there is one (for callers that treat
    /// `ENOENT`, `ESRCH` or `EEXIST` as "already done").
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::StatusPipe(e)
            | Error::Unshare(e)
            | Error::OpenPty(e)
            | Error::Clone { source: e, .. }
            | Error::Spawn { source: e, .. }
            | Error::Process { source: e, .. }
            | Error::EnterNamespace { source: e, .. }
            | Error::Hostname { source: e, .. }
            | Error::Mount { source: e, .. }
            | Error::Unmount { source: e, .. }
            | Error::PivotRoot { source: e, .. }
            | Error::Fd { source: e, .. } => Some(*e),
            Error::File { source, .. } => source.raw_os_error().map(Errno::from_raw),
            _ => None,
        }
    }
}
