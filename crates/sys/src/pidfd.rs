//! Process handles by pidfd: open, signal, wait for exit; and plain `kill` by pid.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::io::unix::AsyncFd;

use crate::Error;

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It called `exit` with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled(Signal),
}

impl ExitStatus {
    /// The shell's view of the status: the exit code, or 128 + the signal number (what
    /// Kubernetes reports as a container's exit code).
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => code,
            ExitStatus::Signaled(signal) => 128 + signal as i32,
        }
    }
}

/// A process referred to by a pidfd, which names that process and no other even after its pid
/// is reused. Waiting works only for children of this process; signalling works for any.
/// The descriptor becomes readable when the process exits, so async code can poll it.
#[derive(Debug)]
pub struct Pidfd {
    fd: OwnedFd,
    pid: i32,
}

impl Pidfd {
    /// Opens a pidfd for `pid` (`pidfd_open(2)`).
    pub fn open(pid: i32) -> Result<Pidfd, Error> {
        // SAFETY: pidfd_open takes two integers and returns a new descriptor or -1.
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if raw < 0 {
            return Err(Error::Process {
                operation: "open a pidfd for",
                pid,
                source: Errno::last(),
            });
        }
        let raw = RawFd::try_from(raw).map_err(|_| Error::Process {
            operation: "open a pidfd for",
            pid,
            source: Errno::EBADF,
        })?;
        // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(Pidfd { fd, pid })
    }

    /// Wraps a pidfd the kernel returned from clone3 for child `pid`.
    pub(crate) fn from_clone(fd: OwnedFd, pid: i32) -> Pidfd {
        Pidfd { fd, pid }
    }

    /// The process id, as seen from this process's pid namespace.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Sends `signal` to the process (`pidfd_send_signal(2)`). A process that has already
    /// exited is not an error: there is nothing left to signal.
    pub fn signal(&self, signal: Signal) -> Result<(), Error> {
        // SAFETY: pidfd_send_signal with a null siginfo and zero flags reads no memory.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.as_raw_fd(),
                signal as libc::c_int,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        match rc {
            0 => Ok(()),
            _ if Errno::last() == Errno::ESRCH => Ok(()),
            _ => Err(Error::Process {
                operation: "signal",
                pid: self.pid,
                source: Errno::last(),
            }),
        }
    }

    /// Reaps the child if it has exited, without blocking. Returns `None` while it runs.
    pub fn try_wait(&self) -> Result<Option<ExitStatus>, Error> {
        self.wait_with(WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG)
    }

    /// Blocks until the child exits and reaps it.
    pub fn wait(&self) -> Result<ExitStatus, Error> {
        loop {
            if let Some(status) = self.wait_with(WaitPidFlag::WEXITED)? {
                return Ok(status);
            }
        }
    }

    fn wait_with(&self, flags: WaitPidFlag) -> Result<Option<ExitStatus>, Error> {
        loop {
            match waitid(Id::PIDFd(self.fd.as_fd()), flags) {
                Ok(WaitStatus::Exited(_, code)) => return Ok(Some(ExitStatus::Exited(code))),
                Ok(WaitStatus::Signaled(_, signal, _)) => {
                    return Ok(Some(ExitStatus::Signaled(signal)))
                }
                Ok(_) | Err(Errno::EAGAIN) => return Ok(None),
                Err(Errno::EINTR) => continue,
                Err(source) => {
                    return Err(Error::Process {
                        operation: "wait for",
                        pid: self.pid,
                        source,
                    })
                }
            }
        }
    }
}

impl AsFd for Pidfd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Pidfd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// A [`Pidfd`] registered with the tokio reactor, to await a child's exit without a thread.
#[derive(Debug)]
pub struct AsyncPidfd {
    fd: AsyncFd<Pidfd>,
}

impl AsyncPidfd {
    /// Registers `pidfd` with the current tokio runtime (call inside one).
    pub fn new(pidfd: Pidfd) -> Result<AsyncPidfd, Error> {
        let raw = pidfd.as_raw_fd();
        // SAFETY: `Pidfd` owns its descriptor, which stays open and is the same one on every
        // `as_raw_fd` call until the `Pidfd` is dropped, and the `AsyncFd` owns the `Pidfd`.
        let fd = unsafe { AsyncFd::register(pidfd) }.map_err(|e| Error::Fd {
            operation: "register with the async reactor",
            fd: raw,
            source: Errno::from_raw(std::io::Error::from(e).raw_os_error().unwrap_or(libc::EIO)),
        })?;
        Ok(AsyncPidfd { fd })
    }

    pub fn get_ref(&self) -> &Pidfd {
        self.fd.get_ref()
    }

    /// Waits until the child exits, and reaps it.
    pub async fn wait(&self) -> Result<ExitStatus, Error> {
        loop {
            // The pidfd becomes readable when the process exits.
            let mut ready = self.fd.readable().await.map_err(|e| Error::Fd {
                operation: "wait for readiness of",
                fd: self.fd.as_raw_fd(),
                source: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            })?;
            if let Some(status) = self.get_ref().try_wait()? {
                return Ok(status);
            }
            ready.clear_ready();
        }
    }
}

/// Sends `signal` to `pid`. Prefer [`Pidfd::signal`], which cannot hit a reused pid; this is for
/// pids read from places such as a frozen cgroup, where reuse cannot happen.
pub fn kill(pid: i32, signal: Signal) -> Result<(), Error> {
    match nix::sys::signal::kill(Pid::from_raw(pid), signal) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(source) => Err(Error::Process {
            operation: "signal",
            pid,
            source,
        }),
    }
}
