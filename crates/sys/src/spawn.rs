//! Spawning a program with clone3: in new namespaces or in those of another process, inside a
//! cgroup, with chosen descriptors, a session and a parent-death signal, then exec.
//!
//! Between clone and exec the child of a multi-threaded parent may only make async-signal-safe
//! calls, so that part is a fixed list of typed steps prepared by the parent (no allocation, no
//! locks in the child), not an arbitrary hook.

use std::ffi::{CString, OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::Signal;

use crate::fd::set_cloexec;
use crate::{Cgroup, Error, Namespace, Pidfd, SpawnStep};

/// The highest descriptor number a child can be given with [`Command::fd`]; the child's scratch
/// copies start above it.
const MAX_TARGET_FD: RawFd = 9;

/// The PATH searched when the child's environment has none (the one of `execvp`).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `CLOSE_RANGE_CLOEXEC` from linux/close_range.h (libc does not export it for every target).
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

/// Session and process-group placement of the child.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Session {
    /// Stay in the parent's session and process group.
    #[default]
    Inherit,
    /// Lead a new session (`setsid`), detached from the parent's terminal.
    New,
    /// Lead a new session whose controlling terminal is the child's stdin (a pty slave).
    NewWithTerminal,
    /// Lead a new process group in the parent's session (`setpgid(0, 0)`).
    NewProcessGroup,
}

/// A program to start. The child's environment is exactly what [`Command::env`] gave (nothing
/// is inherited), and descriptors not given with [`Command::fd`] are closed at exec, except the
/// standard streams the parent has and the child was not given.
#[derive(Debug)]
pub struct Command<'a> {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
    new_namespaces: Vec<Namespace>,
    join: Option<(&'a Pidfd, Vec<Namespace>)>,
    cgroup: Option<&'a Cgroup>,
    fds: Vec<(RawFd, OwnedFd)>,
    session: Session,
    parent_death_signal: Option<Signal>,
}

impl<'a> Command<'a> {
    /// A command running `program`, found through the child's PATH when it has no `/`.
    pub fn new(program: impl Into<OsString>) -> Command<'a> {
        Command {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            new_namespaces: Vec::new(),
            join: None,
            cgroup: None,
            fds: Vec::new(),
            session: Session::Inherit,
            parent_death_signal: None,
        }
    }

    /// Appends arguments after `argv[0]` (which is the program as given).
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds one environment variable of the child.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The working directory of the child, resolved after it joined any mount namespace.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Starts the child in new namespaces of these kinds (a new pid namespace makes it pid 1).
    pub fn new_namespaces(mut self, namespaces: &[Namespace]) -> Self {
        self.new_namespaces = namespaces.to_vec();
        self
    }

    /// Starts the child in these namespaces of the process `target`. With [`Namespace::Pid`]
    /// the child is a member of that pid namespace (cloned from a short-lived thread that joined
    /// it); with [`Namespace::Mount`] its root and working directory are that namespace's root.
    pub fn join_namespaces(mut self, target: &'a Pidfd, namespaces: &[Namespace]) -> Self {
        self.join = Some((target, namespaces.to_vec()));
        self
    }

    /// Puts the child into `cgroup` (every hierarchy) before it runs any of the program.
    pub fn cgroup(mut self, cgroup: &'a Cgroup) -> Self {
        self.cgroup = Some(cgroup);
        self
    }

    /// Gives the child `source` as descriptor `target` (0 to 9).
    pub fn fd(mut self, target: RawFd, source: OwnedFd) -> Self {
        self.fds.push((target, source));
        self
    }

    /// Session and process-group placement of the child.
    pub fn session(mut self, session: Session) -> Self {
        self.session = session;
        self
    }

    /// The signal the child gets when its parent dies (`PR_SET_PDEATHSIG`). The kernel sends it
    /// when the *thread* that spawned the child exits, so spawn from a thread that lives as long
    /// as the child should.
    pub fn parent_death_signal(mut self, signal: Signal) -> Self {
        self.parent_death_signal = Some(signal);
        self
    }

    /// Starts the child and returns once it has executed the program, or with the step of its
    /// setup that failed (the child is then reaped).
    pub fn spawn(self) -> Result<Pidfd, Error> {
        let prepared = Prepared::new(&self)?;
        let joins_pid = self
            .join
            .as_ref()
            .is_some_and(|(_, kinds)| kinds.contains(&Namespace::Pid));
        match &self.join {
            Some((target, _)) if joins_pid => {
                // Joining a pid namespace applies to the children of the calling thread only,
                // so a fresh thread joins it, clones, and ends; no other thread is affected.
                std::thread::scope(|scope| {
                    scope
                        .spawn(|| {
                            crate::enter_namespace(*target, Namespace::Pid)?;
                            prepared.clone_and_exec()
                        })
                        .join()
                })
                .map_err(|_| Error::SpawnerPanicked {
                    program: prepared.display_name(),
                })?
            }
            _ => prepared.clone_and_exec(),
        }
    }
}

/// Everything the child needs, converted in the parent so the child only reads memory.
struct Prepared {
    program: CString,
    candidates: Vec<CString>,
    argv: Vec<CString>,
    envp: Vec<CString>,
    cwd: Option<CString>,
    clone_flags: u64,
    join: Option<(RawFd, libc::c_int)>,
    cgroup_files: Vec<File>,
    fds: Vec<(RawFd, RawFd)>,
    /// Keeps the mapped sources open until the child has them.
    _sources: Vec<OwnedFd>,
    session: Session,
    parent_death_signal: Option<libc::c_int>,
    checks_parent: bool,
}

impl Prepared {
    fn new(command: &Command<'_>) -> Result<Prepared, Error> {
        let program = cstring(&command.program, "program")?;
        let mut argv = vec![program.clone()];
        for arg in &command.args {
            argv.push(cstring(arg, "argument")?);
        }
        let mut envp = Vec::new();
        for (key, value) in &command.env {
            let mut entry = key.clone();
            entry.push("=");
            entry.push(value);
            envp.push(cstring(&entry, "environment variable")?);
        }
        let path = command
            .env
            .iter()
            .rev()
            .find(|(key, _)| key == "PATH")
            .map(|(_, value)| value.as_os_str())
            .unwrap_or(OsStr::new(DEFAULT_PATH));
        let candidates = exec_candidates(&command.program, path)?;
        let cwd = match &command.cwd {
            Some(dir) => Some(cstring(dir.as_os_str(), "working directory")?),
            None => None,
        };
        let new_pid = command.new_namespaces.contains(&Namespace::Pid);
        let join = command.join.as_ref().and_then(|(target, kinds)| {
            let others: Vec<Namespace> = kinds
                .iter()
                .copied()
                .filter(|kind| *kind != Namespace::Pid)
                .collect();
            (!others.is_empty()).then(|| (target.as_raw_fd(), Namespace::flags(&others).bits()))
        });
        let joins_pid = command
            .join
            .as_ref()
            .is_some_and(|(_, kinds)| kinds.contains(&Namespace::Pid));
        let cgroup_files = match command.cgroup {
            Some(cgroup) => open_procs_files(cgroup)?,
            None => Vec::new(),
        };
        let mut fds = Vec::new();
        let mut sources = Vec::new();
        for (target, source) in &command.fds {
            if !(0..=MAX_TARGET_FD).contains(target) {
                return Err(Error::Fd {
                    operation: "map (targets are 0 to 9)",
                    fd: *target,
                    source: Errno::EINVAL,
                });
            }
            let source = source.try_clone().map_err(|e| Error::Fd {
                operation: "duplicate",
                fd: source.as_raw_fd(),
                source: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EBADF)),
            })?;
            set_cloexec(&source)?;
            fds.push((source.as_raw_fd(), *target));
            sources.push(source);
        }
        Ok(Prepared {
            program,
            candidates,
            argv,
            envp,
            cwd,
            clone_flags: Namespace::flags(&command.new_namespaces).bits() as u64,
            join,
            cgroup_files,
            fds,
            _sources: sources,
            session: command.session,
            parent_death_signal: command.parent_death_signal.map(|s| s as libc::c_int),
            checks_parent: !new_pid && !joins_pid,
        })
    }

    fn display_name(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    fn clone_and_exec(&self) -> Result<Pidfd, Error> {
        let (status_read, status_write) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(Error::StatusPipe)?;
        let argv = null_terminated(&self.argv);
        let envp = null_terminated(&self.envp);
        let candidates: Vec<*const libc::c_char> =
            self.candidates.iter().map(|c| c.as_ptr()).collect();
        let cgroup_fds: Vec<RawFd> = self.cgroup_files.iter().map(|f| f.as_raw_fd()).collect();
        let mut scratch = vec![-1; self.fds.len()];
        let plan = ChildPlan {
            status_fd: status_write.as_raw_fd(),
            cgroup_fds: &cgroup_fds,
            join: self.join,
            session: self.session,
            fds: &self.fds,
            parent_death_signal: self.parent_death_signal,
            parent: if self.checks_parent {
                std::process::id() as libc::pid_t
            } else {
                0
            },
            cwd: self.cwd.as_ref().map(|c| c.as_ptr()),
            candidates: &candidates,
            argv: argv.as_ptr(),
            envp: envp.as_ptr(),
        };
        let mut pidfd: RawFd = -1;
        let mut args = CloneArgs {
            flags: self.clone_flags | libc::CLONE_PIDFD as u64,
            pidfd: &mut pidfd as *mut RawFd as u64,
            exit_signal: libc::SIGCHLD as u64,
            ..CloneArgs::default()
        };
        // SAFETY: clone3 with a valid, fully initialised clone_args of the size passed and no
        // CLONE_VM: the child gets a copy of this address space and runs on a copy of this
        // stack, so `plan`, `scratch` and the pointers it holds stay valid in the child. The
        // child only runs `run_child`, which never returns.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_clone3,
                &mut args as *mut CloneArgs,
                std::mem::size_of::<CloneArgs>(),
            )
        };
        if rc == 0 {
            run_child(&plan, &mut scratch);
        }
        if rc < 0 {
            return Err(Error::Clone {
                program: self.display_name(),
                source: Errno::last(),
            });
        }
        drop(status_write);
        let pid = rc as i32;
        // SAFETY: with CLONE_PIDFD the kernel stored a new pidfd for the child in `pidfd`; it is
        // owned by nothing else.
        let child = Pidfd::from_clone(unsafe { OwnedFd::from_raw_fd(pidfd) }, pid);
        match read_status(&status_read) {
            None => Ok(child),
            Some((step, source)) => {
                // The child exits right after reporting; reap it so no zombie is left.
                let _ = child.wait();
                Err(Error::Spawn {
                    program: self.display_name(),
                    step,
                    source,
                })
            }
        }
    }
}

/// `struct clone_args` of linux/sched.h (version 2, 88 bytes); libc exports it only for some
/// targets.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// What the child reads between clone and exec; only raw descriptors and pointers.
struct ChildPlan<'p> {
    status_fd: RawFd,
    cgroup_fds: &'p [RawFd],
    join: Option<(RawFd, libc::c_int)>,
    session: Session,
    fds: &'p [(RawFd, RawFd)],
    parent_death_signal: Option<libc::c_int>,
    parent: libc::pid_t,
    cwd: Option<*const libc::c_char>,
    candidates: &'p [*const libc::c_char],
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
}

/// The child's side: set up, then exec; on failure report the step and errno and exit 127.
/// Only async-signal-safe libc calls are made here.
fn run_child(plan: &ChildPlan<'_>, scratch: &mut [RawFd]) -> ! {
    let fail = |step: SpawnStep| -> ! {
        report_failure(plan.status_fd, step, Errno::last_raw());
        // SAFETY: _exit ends the child at once, without running the parent's atexit handlers.
        unsafe { libc::_exit(127) }
    };
    reset_signals();
    for fd in plan.cgroup_fds {
        // SAFETY: writes one byte from a static buffer to a descriptor the parent opened.
        if unsafe { libc::write(*fd, b"0".as_ptr().cast(), 1) } != 1 {
            fail(SpawnStep::JoinCgroup);
        }
    }
    if let Some((fd, flags)) = plan.join {
        // SAFETY: setns takes a descriptor and flags and reads no memory.
        if unsafe { libc::setns(fd, flags) } != 0 {
            fail(SpawnStep::JoinNamespaces);
        }
    }
    // SAFETY: setsid and setpgid take no pointers.
    let session_rc = unsafe {
        match plan.session {
            Session::Inherit => 0,
            Session::New | Session::NewWithTerminal => libc::setsid().min(0),
            Session::NewProcessGroup => libc::setpgid(0, 0),
        }
    };
    if session_rc != 0 {
        fail(SpawnStep::Session);
    }
    if !map_descriptors(plan.fds, scratch) {
        fail(SpawnStep::Descriptors);
    }
    if plan.session == Session::NewWithTerminal {
        // SAFETY: TIOCSCTTY takes an integer argument; stdin is the terminal the parent gave.
        if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } != 0 {
            fail(SpawnStep::ControllingTerminal);
        }
    }
    if let Some(signal) = plan.parent_death_signal {
        // SAFETY: PR_SET_PDEATHSIG takes an integer; getppid has no preconditions.
        unsafe {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong) != 0 {
                fail(SpawnStep::ParentDeathSignal);
            }
            // The parent may have died before the signal was armed.
            if plan.parent != 0 && libc::getppid() != plan.parent {
                libc::_exit(127);
            }
        }
    }
    if let Some(cwd) = plan.cwd {
        // SAFETY: `cwd` points into a CString the parent keeps alive (copied into the child).
        if unsafe { libc::chdir(cwd) } != 0 {
            fail(SpawnStep::ChangeDirectory);
        }
    }
    exec_first(plan);
    fail(SpawnStep::Exec)
}

/// Restores the signal state a program expects: nothing blocked and SIGPIPE at its default
/// (Rust programs ignore SIGPIPE, and ignored signals stay ignored across exec).
fn reset_signals() {
    // SAFETY: sigemptyset initialises the set on our stack; sigprocmask and signal are
    // async-signal-safe and take valid arguments.
    unsafe {
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Moves each source to its target. Sources are first copied above every target so that a
/// source whose number is another mapping's target is not overwritten before it is used.
fn map_descriptors(fds: &[(RawFd, RawFd)], scratch: &mut [RawFd]) -> bool {
    for ((source, _), copy) in fds.iter().zip(scratch.iter_mut()) {
        // SAFETY: F_DUPFD_CLOEXEC duplicates an open descriptor; no memory is involved.
        *copy = unsafe { libc::fcntl(*source, libc::F_DUPFD_CLOEXEC, MAX_TARGET_FD + 1) };
        if *copy < 0 {
            return false;
        }
    }
    // Everything inherited above stderr closes at exec unless mapped below; kernels without
    // close_range only rely on the parent's close-on-exec flags.
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes descriptor flags.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC);
    }
    for ((_, target), copy) in fds.iter().zip(scratch.iter()) {
        // SAFETY: dup2 between two descriptors; the copy is open and distinct from the target.
        if unsafe { libc::dup2(*copy, *target) } < 0 {
            return false;
        }
    }
    true
}

/// Tries each PATH candidate like `execvp`: a missing file moves on to the next one.
fn exec_first(plan: &ChildPlan<'_>) {
    let mut denied = false;
    for candidate in plan.candidates {
        // SAFETY: candidate, argv and envp are NUL-terminated strings and null-terminated
        // pointer arrays the parent built and keeps alive.
        unsafe { libc::execve(*candidate, plan.argv, plan.envp) };
        match Errno::last() {
            Errno::ENOENT | Errno::ENOTDIR => {}
            Errno::EACCES => denied = true,
            _ => return,
        }
    }
    if denied {
        Errno::EACCES.set();
    }
}

fn report_failure(fd: RawFd, step: SpawnStep, errno: i32) {
    let mut message = [0u8; 8];
    message[..4].copy_from_slice(&step.code().to_le_bytes());
    message[4..].copy_from_slice(&errno.to_le_bytes());
    // SAFETY: writes 8 bytes from a stack buffer; a pipe write this small is atomic.
    unsafe { libc::write(fd, message.as_ptr().cast(), message.len()) };
}

/// Reads the child's report: nothing (the pipe closed at exec) means the exec succeeded.
fn read_status(pipe: &OwnedFd) -> Option<(SpawnStep, Errno)> {
    let mut message = [0u8; 8];
    let mut filled = 0;
    while filled < message.len() {
        match nix::unistd::read(pipe, &mut message[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    if filled < message.len() {
        return None;
    }
    let step = u32::from_le_bytes([message[0], message[1], message[2], message[3]]);
    let errno = i32::from_le_bytes([message[4], message[5], message[6], message[7]]);
    Some((
        SpawnStep::from_code(step).unwrap_or(SpawnStep::Exec),
        Errno::from_raw(errno),
    ))
}

fn open_procs_files(cgroup: &Cgroup) -> Result<Vec<File>, Error> {
    cgroup
        .procs_files()
        .into_iter()
        .map(|path| {
            OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| Error::file("open", path, e))
        })
        .collect()
}

fn exec_candidates(program: &OsStr, path: &OsStr) -> Result<Vec<CString>, Error> {
    if program.as_bytes().contains(&b'/') {
        return Ok(vec![cstring(program, "program")?]);
    }
    path.as_bytes()
        .split(|b| *b == b':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| {
            let mut full = dir.to_vec();
            full.push(b'/');
            full.extend_from_slice(program.as_bytes());
            cstring(OsStr::from_bytes(&full), "program path")
        })
        .collect()
}

fn cstring(value: &OsStr, what: &str) -> Result<CString, Error> {
    CString::new(value.as_bytes()).map_err(|_| Error::NulByte {
        what: format!("{what} {}", value.to_string_lossy()),
    })
}

fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_with_a_slash_are_not_searched() {
        let found = exec_candidates(OsStr::new("./run"), OsStr::new("/bin:/usr/bin")).unwrap();
        assert_eq!(found, vec![CString::new("./run").unwrap()]);
    }

    #[test]
    fn programs_are_searched_in_path_order_skipping_empty_entries() {
        let found = exec_candidates(OsStr::new("sh"), OsStr::new("/a::/b")).unwrap();
        assert_eq!(
            found,
            vec![
                CString::new("/a/sh").unwrap(),
                CString::new("/b/sh").unwrap()
            ]
        );
    }

    #[test]
    fn step_codes_round_trip() {
        for code in 0..8 {
            let step = SpawnStep::from_code(code).unwrap();
            assert_eq!(step.code(), code);
        }
        assert_eq!(SpawnStep::from_code(99), None);
    }
}
