//! A process started in a sandbox: its exit status, signals, and its pipes or terminal.

use std::fs::{File, OpenOptions};
use std::os::fd::OwnedFd;
use std::path::Path;

use ferry_sys::{AsyncPidfd, ExitStatus, Pidfd, Signal, WindowSize};
use tokio::net::unix::pipe;

use crate::{Error, Stdio};

/// A process running in a sandbox. It is a child of the caller, so [`Process::wait`] reaps it;
/// one dropped before it was reaped is reaped in the background by the tokio runtime it was
/// dropped in (the sandbox's init cannot finish exiting before that).
#[derive(Debug)]
pub struct Process {
    /// Taken only when dropped, to reap the process in the background.
    pidfd: Option<AsyncPidfd>,
    status: Option<ExitStatus>,
    /// The write end of its stdin, for [`Stdio::Pipe`].
    pub stdin: Option<pipe::Sender>,
    /// The read end of its stdout, for [`Stdio::Pipe`].
    pub stdout: Option<pipe::Receiver>,
    /// The read end of its stderr, for [`Stdio::Pipe`].
    pub stderr: Option<pipe::Receiver>,
    /// Its terminal, when started with `tty`.
    pub tty: Option<Tty>,
}

/// The caller's side of a process's pseudo-terminal. Reading `output` fails with an I/O error
/// (`EIO`) instead of returning end of file once the process and its children closed the
/// terminal: treat that as the end of the output.
#[derive(Debug)]
pub struct Tty {
    pub input: pipe::Sender,
    pub output: pipe::Receiver,
    master: OwnedFd,
}

impl Tty {
    /// Sets the terminal's size; the process gets SIGWINCH.
    pub fn resize(&self, size: WindowSize) -> Result<(), Error> {
        ferry_sys::set_window_size(&self.master, size).map_err(Error::sys("resize the terminal"))
    }
}

impl Process {
    /// Its pid in the caller's pid namespace.
    pub fn pid(&self) -> i32 {
        self.pidfd().pid()
    }

    /// Sends `signal` (SIGTERM for a graceful stop, SIGKILL after the grace period). Signalling
    /// a process that has exited does nothing.
    pub fn signal(&self, signal: Signal) -> Result<(), Error> {
        self.pidfd()
            .signal(signal)
            .map_err(Error::sys("signal the process"))
    }

    /// Waits for the process to exit and returns how it ended (again on later calls).
    pub async fn wait(&mut self) -> Result<ExitStatus, Error> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        let status = self
            .async_pidfd()
            .wait()
            .await
            .map_err(Error::sys("wait for the process"))?;
        self.status = Some(status);
        Ok(status)
    }

    /// Returns how the process ended, or `None` while it runs.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>, Error> {
        if self.status.is_none() {
            self.status = self
                .pidfd()
                .try_wait()
                .map_err(Error::sys("wait for the process"))?;
        }
        Ok(self.status)
    }

    fn pidfd(&self) -> &Pidfd {
        self.async_pidfd().get_ref()
    }

    fn async_pidfd(&self) -> &AsyncPidfd {
        // Invariant: `pidfd` is only taken in `drop`.
        self.pidfd
            .as_ref()
            .expect("the pidfd is taken only on drop")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        if let (Some(pidfd), Ok(runtime)) =
            (self.pidfd.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(async move {
                let _ = pidfd.wait().await;
            });
        }
    }
}

/// The standard streams of a process about to start: the child's descriptors 0, 1 and 2, and
/// the caller's ends.
pub(crate) struct Streams {
    pub(crate) child: [OwnedFd; 3],
    pub(crate) caller: CallerEnds,
}

/// The caller's ends of a new process's streams, kept until the process runs.
pub(crate) struct CallerEnds {
    stdin: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    master: Option<OwnedFd>,
}

impl Streams {
    /// A new pseudo-terminal: the slave is all three streams of the child.
    pub(crate) fn terminal() -> Result<Streams, Error> {
        let pty = ferry_sys::open_pty(None).map_err(Error::sys("open a pseudo-terminal"))?;
        let copy = |fd: &OwnedFd| {
            fd.try_clone().map_err(|source| Error::Pipe {
                operation: "duplicate",
                source,
            })
        };
        Ok(Streams {
            child: [copy(&pty.slave)?, copy(&pty.slave)?, pty.slave],
            caller: CallerEnds {
                stdin: None,
                stdout: None,
                stderr: None,
                master: Some(pty.master),
            },
        })
    }

    /// Descriptors for the three `Stdio` choices.
    pub(crate) fn from_stdio(stdin: Stdio, stdout: Stdio, stderr: Stdio) -> Result<Streams, Error> {
        let (child_in, stdin) = input(stdin)?;
        let (child_out, stdout) = output(stdout)?;
        let (child_err, stderr) = output(stderr)?;
        Ok(Streams {
            child: [child_in, child_out, child_err],
            caller: CallerEnds {
                stdin,
                stdout,
                stderr,
                master: None,
            },
        })
    }
}

impl CallerEnds {
    /// Wraps the caller's ends for async IO once the child has them.
    pub(crate) fn into_process(self, pidfd: Pidfd) -> Result<Process, Error> {
        let tty = self.master.map(terminal).transpose()?;
        let register = |source| Error::Pipe {
            operation: "register",
            source,
        };
        Ok(Process {
            pidfd: Some(AsyncPidfd::new(pidfd).map_err(Error::sys("register the process"))?),
            status: None,
            stdin: self
                .stdin
                .map(pipe::Sender::from_owned_fd)
                .transpose()
                .map_err(register)?,
            stdout: self
                .stdout
                .map(pipe::Receiver::from_owned_fd)
                .transpose()
                .map_err(register)?,
            stderr: self
                .stderr
                .map(pipe::Receiver::from_owned_fd)
                .transpose()
                .map_err(register)?,
            tty,
        })
    }
}

fn terminal(master: OwnedFd) -> Result<Tty, Error> {
    ferry_sys::set_nonblocking(&master).map_err(Error::sys("make the terminal non-blocking"))?;
    let io = |source| Error::Pipe {
        operation: "register the terminal of",
        source,
    };
    let input =
        pipe::Sender::from_owned_fd_unchecked(master.try_clone().map_err(io)?).map_err(io)?;
    let output =
        pipe::Receiver::from_owned_fd_unchecked(master.try_clone().map_err(io)?).map_err(io)?;
    Ok(Tty {
        input,
        output,
        master,
    })
}

/// The child's stdin and the caller's end of it.
fn input(stdio: Stdio) -> Result<(OwnedFd, Option<OwnedFd>), Error> {
    match stdio {
        Stdio::Null => Ok((open(Path::new("/dev/null"), Access::Read)?, None)),
        Stdio::Pipe => {
            let (read, write) = ferry_sys::pipe().map_err(Error::sys("create a stdin pipe"))?;
            Ok((read, Some(write)))
        }
        Stdio::File(path) => Ok((open(&path, Access::Read)?, None)),
        Stdio::Fd(fd) => Ok((fd, None)),
    }
}

/// The child's stdout or stderr and the caller's end of it.
fn output(stdio: Stdio) -> Result<(OwnedFd, Option<OwnedFd>), Error> {
    match stdio {
        Stdio::Null => Ok((open(Path::new("/dev/null"), Access::Write)?, None)),
        Stdio::Pipe => {
            let (read, write) = ferry_sys::pipe().map_err(Error::sys("create an output pipe"))?;
            Ok((write, Some(read)))
        }
        Stdio::File(path) => Ok((open(&path, Access::Append)?, None)),
        Stdio::Fd(fd) => Ok((fd, None)),
    }
}

enum Access {
    Read,
    Write,
    Append,
}

fn open(path: &Path, access: Access) -> Result<OwnedFd, Error> {
    let mut options = OpenOptions::new();
    match access {
        Access::Read => options.read(true),
        Access::Write => options.write(true),
        Access::Append => options.append(true).create(true),
    };
    options
        .open(path)
        .map(|file: File| file.into())
        .map_err(Error::file("open", path))
}
