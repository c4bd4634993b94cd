//! Pseudo-terminals for interactive processes (`kubectl exec -it`): open a pair, resize it.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::errno::Errno;

use crate::fd::set_cloexec;
use crate::Error;

/// A pseudo-terminal pair. The slave becomes the child's stdin, stdout and stderr (and its
/// controlling terminal); the parent reads and writes the master. Once every copy of the slave
/// is closed, reading the master fails with `EIO`, which means end of output.
#[derive(Debug)]
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// A terminal's size in character cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowSize {
    pub rows: u16,
    pub columns: u16,
}

/// Opens a pseudo-terminal pair; both ends are close-on-exec.
pub fn open_pty(size: Option<WindowSize>) -> Result<Pty, Error> {
    let winsize = size.map(to_winsize);
    let pair = nix::pty::openpty(winsize.as_ref(), None).map_err(Error::OpenPty)?;
    set_cloexec(&pair.master)?;
    set_cloexec(&pair.slave)?;
    Ok(Pty {
        master: pair.master,
        slave: pair.slave,
    })
}

/// Sets the window size of the terminal behind `fd` (either end); the foreground process group
/// gets SIGWINCH.
pub fn set_window_size(fd: impl AsFd, size: WindowSize) -> Result<(), Error> {
    let fd = fd.as_fd();
    let winsize = to_winsize(size);
    // SAFETY: TIOCSWINSZ reads one `struct winsize` from the pointer, which points to a live,
    // initialised value on our stack.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &winsize) };
    if rc != 0 {
        return Err(Error::Fd {
            operation: "set the window size",
            fd: fd.as_raw_fd(),
            source: Errno::last(),
        });
    }
    Ok(())
}

fn to_winsize(size: WindowSize) -> libc::winsize {
    libc::winsize {
        ws_row: size.rows,
        ws_col: size.columns,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}
