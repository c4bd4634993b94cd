//! The duties of a pid namespace's pid 1: reap every child that exits, and stay until told to
//! go.

use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::Error;

/// Reaps the caller's children (as pid 1 every orphan of the namespace becomes one) until
/// `control` reaches end of file or hangs up, which the parent causes by closing its end (or
/// by dying). Returns then, so that the caller can exit and take the namespace down with it.
/// Bytes read from `control` are ignored.
pub fn reap_until_hangup(control: impl AsFd) -> Result<(), Error> {
    let control = control.as_fd();
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    mask.thread_block().map_err(|source| Error::Fd {
        operation: "block SIGCHLD",
        fd: -1,
        source,
    })?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|source| Error::Fd {
            operation: "create a signalfd",
            fd: -1,
            source,
        })?;
    loop {
        reap_exited();
        let mut fds = [
            PollFd::new(control, PollFlags::POLLIN),
            PollFd::new(signals.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(source) => {
                return Err(Error::Fd {
                    operation: "poll",
                    fd: control.as_raw_fd(),
                    source,
                })
            }
        }
        let control_events = fds[0].revents().unwrap_or(PollFlags::empty());
        // Drain the signalfd so it does not stay readable; the reaping happens on top.
        while let Ok(Some(_)) = signals.read_signal() {}
        if control_events.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
            return Ok(());
        }
        if control_events.contains(PollFlags::POLLIN) && at_end_of_file(control)? {
            return Ok(());
        }
    }
}

/// Reaps every child that has exited, without blocking.
fn reap_exited() {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => return,
        }
    }
}

fn at_end_of_file(control: std::os::fd::BorrowedFd<'_>) -> Result<bool, Error> {
    let mut buf = [0u8; 64];
    match nix::unistd::read(control, &mut buf) {
        Ok(0) => Ok(true),
        Ok(_) | Err(Errno::EINTR | Errno::EAGAIN) => Ok(false),
        Err(Errno::ECONNRESET) => Ok(true),
        Err(source) => Err(Error::Fd {
            operation: "read",
            fd: control.as_raw_fd(),
            source,
        }),
    }
}
