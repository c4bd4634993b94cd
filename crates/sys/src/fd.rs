//! File descriptor helpers: adopting a descriptor inherited across exec, non-blocking mode.

use std::collections::HashSet;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};

use crate::Error;

/// Descriptors already handed out by [`take_inherited_fd`]; taking one twice would give two
/// owners of the same descriptor.
static TAKEN: Mutex<Option<HashSet<RawFd>>> = Mutex::new(None);

/// Takes ownership of descriptor `fd`, which the parent set up for this process across exec
/// (for example fd 3 of a sandbox init). Fails when `fd` is not open or was already taken. The
/// descriptor is marked close-on-exec so it does not leak into the processes this one starts.
pub fn take_inherited_fd(fd: RawFd) -> Result<OwnedFd, Error> {
    let mut taken = TAKEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let taken = taken.get_or_insert_with(HashSet::new);
    if fd <= 2 || taken.contains(&fd) {
        return Err(Error::FdTaken { fd });
    }
    // SAFETY: F_GETFD only reads the descriptor flags of `fd`; it touches no memory.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(Error::Fd {
            operation: "inspect",
            fd,
            source: nix::errno::Errno::last(),
        });
    }
    taken.insert(fd);
    // SAFETY: `fd` is open (checked above), is not a standard stream, and this function hands
    // each descriptor out at most once, so the OwnedFd is its only owner in this process.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    fcntl(&owned, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(|source| Error::Fd {
        operation: "set close-on-exec",
        fd,
        source,
    })?;
    Ok(owned)
}

/// Puts a descriptor (a pty master, a pipe end) into non-blocking mode for an async reactor.
pub fn set_nonblocking(fd: impl AsFd) -> Result<(), Error> {
    let fd = fd.as_fd();
    let raw = fd.as_raw_fd();
    let flags = fcntl(fd, FcntlArg::F_GETFL).map_err(|source| Error::Fd {
        operation: "read flags",
        fd: raw,
        source,
    })?;
    let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
    fcntl(fd, FcntlArg::F_SETFL(flags)).map_err(|source| Error::Fd {
        operation: "set non-blocking",
        fd: raw,
        source,
    })?;
    Ok(())
}

/// Marks a descriptor close-on-exec, so that it never leaks into a spawned program.
pub(crate) fn set_cloexec(fd: impl AsFd) -> Result<(), Error> {
    let fd = fd.as_fd();
    let raw = fd.as_raw_fd();
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(|source| Error::Fd {
        operation: "set close-on-exec",
        fd: raw,
        source,
    })?;
    Ok(())
}

/// A pipe whose ends are both close-on-exec: `(read end, write end)`.
pub fn pipe() -> Result<(OwnedFd, OwnedFd), Error> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|source| Error::Fd {
        operation: "create a pipe",
        fd: -1,
        source,
    })
}
