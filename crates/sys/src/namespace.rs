//! Linux namespaces: the kinds ferry uses, entering one, unsharing, and the UTS hostname.

use std::os::fd::AsFd;

use nix::sched::CloneFlags;

use crate::Error;

/// A kind of namespace a pod sandbox holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Namespace {
    Net,
    Uts,
    Mount,
    Pid,
    Ipc,
}

impl Namespace {
    pub(crate) fn flag(self) -> CloneFlags {
        match self {
            Namespace::Net => CloneFlags::CLONE_NEWNET,
            Namespace::Uts => CloneFlags::CLONE_NEWUTS,
            Namespace::Mount => CloneFlags::CLONE_NEWNS,
            Namespace::Pid => CloneFlags::CLONE_NEWPID,
            Namespace::Ipc => CloneFlags::CLONE_NEWIPC,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Namespace::Net => "network",
            Namespace::Uts => "uts",
            Namespace::Mount => "mount",
            Namespace::Pid => "pid",
            Namespace::Ipc => "ipc",
        }
    }

    pub(crate) fn flags(namespaces: &[Namespace]) -> CloneFlags {
        namespaces
            .iter()
            .fold(CloneFlags::empty(), |all, ns| all | ns.flag())
    }
}

/// Moves the calling *thread* into the `namespace` that `fd` refers to: an nsfs file such as
/// `/proc/PID/ns/net` or `/run/netns/NAME`, or a pidfd (then the namespace of that process).
///
/// Network, UTS and IPC namespaces are per thread, so a multi-threaded program should do this on
/// a thread of its own that does nothing else. A mount namespace can only be entered by a
/// single-threaded process; entering a pid namespace affects only the children created later.
pub fn enter_namespace(fd: impl AsFd, namespace: Namespace) -> Result<(), Error> {
    nix::sched::setns(fd, namespace.flag()).map_err(|source| Error::EnterNamespace {
        namespace: namespace.name(),
        source,
    })
}

/// Gives the calling thread new, empty namespaces of the given kinds (`unshare(2)`).
///
/// A new network namespace applies to the calling thread only. A new mount namespace needs a
/// single-threaded process (the start of `main`, before any runtime starts threads); a new pid
/// namespace applies to the children created afterwards.
pub fn unshare(namespaces: &[Namespace]) -> Result<(), Error> {
    nix::sched::unshare(Namespace::flags(namespaces)).map_err(Error::Unshare)
}

/// Sets the hostname of the caller's UTS namespace.
pub fn set_hostname(hostname: &str) -> Result<(), Error> {
    nix::unistd::sethostname(hostname).map_err(|source| Error::Hostname {
        hostname: hostname.to_string(),
        source,
    })
}
