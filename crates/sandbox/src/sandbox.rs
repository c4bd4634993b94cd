//! A running pod sandbox: start processes in it, destroy it.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_sys::{AsyncPidfd, Cgroup, Command, Namespace, Pidfd, Session, Signal};

use crate::init::READY;
use crate::layout::Layout;
use crate::process::Streams;
use crate::{network, Error, Process, ProcessSpec, SandboxSpec};

/// The namespaces a sandbox holds and every process in it shares.
pub(crate) const NAMESPACES: [Namespace; 5] = [
    Namespace::Net,
    Namespace::Uts,
    Namespace::Mount,
    Namespace::Pid,
    Namespace::Ipc,
];

/// How long the init may take to build the pod's root.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A pod sandbox, made by [`crate::Runtime::create`]. Call [`Sandbox::destroy`] to remove it;
/// merely dropping it closes the init's control socket, so the init exits and the kernel kills
/// every process of the sandbox, but its cgroup and state directory stay until
/// [`crate::Runtime::cleanup_leftovers`].
///
/// The init is a child of the caller and is reaped in the background once it has exited. A
/// pid namespace's init finishes exiting only when every process of the namespace has been
/// reaped, including the caller's [`Process`]es: wait for them (or drop them inside the tokio
/// runtime, which reaps them in the background).
#[derive(Debug)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    spec: SandboxSpec,
    layout: Layout,
    veth: String,
    cgroup: Cgroup,
    /// Taken only when dropped, to reap the init in the background.
    init: Option<AsyncPidfd>,
    /// The runtime's end of the init's control socket; closing it tells the init to exit.
    control: Mutex<Option<UnixStream>>,
}

impl Sandbox {
    pub(crate) fn new(inner: Arc<Inner>) -> Sandbox {
        Sandbox { inner }
    }

    pub fn spec(&self) -> &SandboxSpec {
        &self.inner.spec
    }

    /// The node side of the sandbox's veth.
    pub fn veth(&self) -> &str {
        &self.inner.veth
    }

    /// The init's pid in the caller's pid namespace (`/proc/PID/ns/*` are the sandbox's).
    pub fn init_pid(&self) -> i32 {
        self.inner.init().pid()
    }

    pub fn state_dir(&self) -> &Path {
        self.inner.layout.dir()
    }

    /// The sandbox's cgroup directories, one per hierarchy.
    pub fn cgroup_paths(&self) -> Vec<PathBuf> {
        self.inner.cgroup.paths()
    }

    /// Starts a process in the sandbox: in all its namespaces, its root, and its cgroup, as a
    /// member of its pid namespace (and a child of the caller), leading a session of its own.
    pub async fn spawn(&self, spec: ProcessSpec) -> Result<Process, Error> {
        spec.validate()?;
        let ProcessSpec {
            argv,
            env,
            cwd,
            stdin,
            stdout,
            stderr,
            tty,
        } = spec;
        let (streams, session) = if tty {
            (Streams::terminal()?, Session::NewWithTerminal)
        } else {
            (Streams::from_stdio(stdin, stdout, stderr)?, Session::New)
        };
        let Streams { child, caller } = streams;
        let inner = self.inner.clone();
        let pidfd = tokio::task::spawn_blocking(move || {
            let [stdin, stdout, stderr] = child;
            let mut command = Command::new(&argv[0])
                .args(&argv[1..])
                .current_dir(cwd)
                .join_namespaces(inner.init(), &NAMESPACES)
                .cgroup(&inner.cgroup)
                .fd(0, stdin)
                .fd(1, stdout)
                .fd(2, stderr)
                .session(session);
            for (key, value) in env {
                command = command.env(key, value);
            }
            command.spawn()
        })
        .await
        .map_err(Error::Task)?
        .map_err(Error::sys("start a process in the sandbox"))?;
        caller.into_process(pidfd)
    }

    /// Kills every process of the sandbox (through its cgroup) and the init, deletes the veth,
    /// the cgroup and the state directory. The mounts and namespaces end with the last process.
    /// Every step is tried; the first failure is returned.
    pub async fn destroy(self) -> Result<(), Error> {
        teardown(self.inner).await
    }
}

impl Inner {
    pub(crate) fn new(
        spec: SandboxSpec,
        layout: Layout,
        veth: String,
        cgroup: Cgroup,
        init: AsyncPidfd,
        control: UnixStream,
    ) -> Inner {
        Inner {
            spec,
            layout,
            veth,
            cgroup,
            init: Some(init),
            control: Mutex::new(Some(control)),
        }
    }

    pub(crate) fn spec(&self) -> &SandboxSpec {
        &self.spec
    }

    pub(crate) fn init(&self) -> &Pidfd {
        // Invariant: `init` is only taken in `drop`.
        self.init
            .as_ref()
            .map(AsyncPidfd::get_ref)
            .expect("the init is taken only on drop")
    }

    pub(crate) fn veth(&self) -> &str {
        &self.veth
    }

    /// Reads the init's report: `ready`, or what went wrong while it built the sandbox.
    pub(crate) fn wait_ready(&self) -> Result<(), Error> {
        let control_error = |source| Error::InitControl {
            id: self.spec.id.clone(),
            source,
        };
        let guard = self.control.lock().unwrap_or_else(|p| p.into_inner());
        let Some(control) = guard.as_ref() else {
            return Err(self.init_failed("the sandbox was already stopped".to_string()));
        };
        control
            .set_read_timeout(Some(READY_TIMEOUT))
            .map_err(control_error)?;
        let mut line = String::new();
        BufReader::new(control)
            .read_line(&mut line)
            .map_err(control_error)?;
        control.set_read_timeout(None).map_err(control_error)?;
        match line.trim() {
            READY => Ok(()),
            "" => Err(self.init_failed(format!(
                "the init exited before the sandbox was ready (see {})",
                self.layout.init_log().display()
            ))),
            message => Err(self.init_failed(message.to_string())),
        }
    }

    fn init_failed(&self, message: String) -> Error {
        Error::Init {
            id: self.spec.id.clone(),
            message,
        }
    }

    /// Kills every process, the init included. Blocking. It does not wait for the init: that
    /// could wait for the caller to reap its own processes of the sandbox (see [`Sandbox`]).
    pub(crate) fn stop_processes(&self) -> Result<(), Error> {
        let killed = self
            .cgroup
            .kill_all()
            .map_err(Error::sys("kill the sandbox's processes"));
        // Should the cgroup not empty, the init at least goes: the kernel then kills the rest
        // of its pid namespace.
        let signalled = self
            .init()
            .signal(Signal::SIGKILL)
            .map_err(Error::sys("kill the sandbox init"));
        drop(
            self.control
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
        killed.and(signalled)
    }

    /// Removes the cgroup and the state directory. Blocking.
    pub(crate) fn remove_state(&self) -> Result<(), Error> {
        let cgroup = self
            .cgroup
            .remove()
            .map_err(Error::sys("remove the sandbox's cgroup"));
        cgroup.and(self.layout.remove())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The init is our child: reap it whenever it has exited. Outside a runtime (the
        // caller is shutting down) it stays a zombie until the caller exits.
        if let (Some(init), Ok(runtime)) = (self.init.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(async move {
                let _ = init.wait().await;
            });
        }
    }
}

/// Everything [`Sandbox::destroy`] does; also undoes a half-made sandbox.
pub(crate) async fn teardown(inner: Arc<Inner>) -> Result<(), Error> {
    let stopping = inner.clone();
    let stopped = tokio::task::spawn_blocking(move || stopping.stop_processes())
        .await
        .map_err(Error::Task)
        .and_then(|r| r);
    let detached = network::detach(&inner.veth).await;
    let removed = tokio::task::spawn_blocking(move || inner.remove_state())
        .await
        .map_err(Error::Task)
        .and_then(|r| r);
    stopped.and(detached).and(removed)
}
