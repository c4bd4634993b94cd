//! A test implementation of `ContainerRuntime` that runs plain host processes: no sandbox, no
//! namespaces. It exists only to exercise the streaming protocol end to end; the real runtime
//! comes with the pod sandbox. A "container" is a host command whose output goes to a CRI log
//! file; exec runs another host command (with a real pseudo-terminal for `tty`).

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};

use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::watch;

use ferry_agent::streaming::{
    ContainerRuntime, ExecRequest, ExecSession, LogFile, LogStream, LogUnavailable, LogWriter,
    PodRef, StreamError, Streams, TerminalResize, TerminalSize,
};

/// Host processes standing in for containers.
#[derive(Clone)]
pub struct HostRuntime {
    dir: PathBuf,
    pods: Arc<Mutex<HashMap<PodRef, HashMap<String, Container>>>>,
}

#[derive(Clone)]
struct Container {
    state: State,
    /// The log of each instance so far, oldest first, with its exit flag.
    instances: Vec<(PathBuf, watch::Receiver<bool>)>,
    stdin: Option<Arc<tokio::sync::Mutex<Option<ChildStdin>>>>,
}

#[derive(Clone)]
enum State {
    Waiting(String),
    Running,
    Exited,
}

impl HostRuntime {
    /// A runtime keeping its logs under `dir`.
    pub fn new(dir: &Path) -> HostRuntime {
        HostRuntime {
            dir: dir.to_path_buf(),
            pods: Arc::default(),
        }
    }

    /// Declares a container that has not started, waiting for `reason`.
    pub fn add_waiting(&self, pod: &PodRef, container: &str, reason: &str) {
        let mut pods = self.pods.lock().unwrap();
        pods.entry(pod.clone()).or_default().insert(
            container.to_string(),
            Container {
                state: State::Waiting(reason.to_string()),
                instances: Vec::new(),
                stdin: None,
            },
        );
    }

    /// Starts (or restarts) the container as `command`, its stdin a pipe the test can write
    /// with [`Self::write_stdin`] and close with [`Self::close_stdin`].
    pub async fn start(&self, pod: &PodRef, container: &str, command: &[&str]) {
        let index = {
            let pods = self.pods.lock().unwrap();
            pods.get(pod)
                .and_then(|p| p.get(container))
                .map_or(0, |c| c.instances.len())
        };
        let log = self.dir.join(format!(
            "{}_{}_{container}_{index}.log",
            pod.namespace, pod.name
        ));
        let writer = LogWriter::create(&log).await.unwrap();
        let mut child = Command::new(command[0])
            .args(&command[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = Arc::new(tokio::sync::Mutex::new(child.stdin.take()));
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (exit_tx, exited) = watch::channel(false);
        {
            let mut pods = self.pods.lock().unwrap();
            let entry = pods
                .entry(pod.clone())
                .or_default()
                .entry(container.to_string())
                .or_insert_with(|| Container {
                    state: State::Running,
                    instances: Vec::new(),
                    stdin: None,
                });
            entry.state = State::Running;
            entry.instances.push((log, exited));
            entry.stdin = Some(stdin);
        }
        let runtime = self.clone();
        let (pod, container) = (pod.clone(), container.to_string());
        tokio::spawn(async move {
            let out = writer.copy_from(LogStream::Stdout, stdout);
            let err = writer.copy_from(LogStream::Stderr, stderr);
            let (out, err) = tokio::join!(out, err);
            out.unwrap();
            err.unwrap();
            let _ = child.wait().await;
            runtime.set_state(&pod, &container, State::Exited);
            // Only now is everything the instance wrote in its log.
            let _ = exit_tx.send(true);
        });
    }

    /// Writes to the running container's stdin.
    pub async fn write_stdin(&self, pod: &PodRef, container: &str, data: &[u8]) {
        use tokio::io::AsyncWriteExt;
        let stdin = self.container(pod, container).unwrap().stdin.unwrap();
        let mut stdin = stdin.lock().await;
        let pipe = stdin.as_mut().unwrap();
        pipe.write_all(data).await.unwrap();
        pipe.flush().await.unwrap();
    }

    /// Closes the running container's stdin (a `cat` container then exits).
    pub async fn close_stdin(&self, pod: &PodRef, container: &str) {
        let stdin = self.container(pod, container).unwrap().stdin.unwrap();
        stdin.lock().await.take();
    }

    /// Waits until the container's latest instance has exited.
    pub async fn wait_exited(&self, pod: &PodRef, container: &str) {
        let mut exited = self
            .container(pod, container)
            .unwrap()
            .instances
            .last()
            .unwrap()
            .1
            .clone();
        let _ = exited.wait_for(|e| *e).await;
    }

    fn set_state(&self, pod: &PodRef, container: &str, state: State) {
        let mut pods = self.pods.lock().unwrap();
        if let Some(c) = pods.get_mut(pod).and_then(|p| p.get_mut(container)) {
            c.state = state;
        }
    }

    fn container(&self, pod: &PodRef, container: &str) -> Result<Container, StreamError> {
        let pods = self.pods.lock().unwrap();
        let containers = pods
            .get(pod)
            .ok_or_else(|| StreamError::PodNotFound { pod: pod.clone() })?;
        containers
            .get(container)
            .cloned()
            .ok_or_else(|| StreamError::ContainerNotInSpec {
                pod: pod.clone(),
                container: container.to_string(),
            })
    }

    fn running(&self, pod: &PodRef, container: &str) -> Result<(), StreamError> {
        let not_running = || StreamError::ContainerNotRunning {
            pod: pod.clone(),
            container: container.to_string(),
        };
        match self.container(pod, container) {
            Ok(Container {
                state: State::Running,
                ..
            }) => Ok(()),
            Ok(_) | Err(StreamError::ContainerNotInSpec { .. }) => Err(not_running()),
            Err(e) => Err(e),
        }
    }
}

impl ContainerRuntime for HostRuntime {
    async fn exec(
        &self,
        pod: &PodRef,
        container: &str,
        request: ExecRequest,
    ) -> Result<ExecSession, StreamError> {
        self.running(pod, container)?;
        let start_error = |source| StreamError::Start {
            pod: pod.clone(),
            container: container.to_string(),
            command: request.command.clone(),
            source,
        };
        if request.command.is_empty() {
            return Err(start_error(std::io::Error::other("no command")));
        }
        let wait_error = {
            let (pod, container) = (pod.clone(), container.to_string());
            move |source| StreamError::Wait {
                pod,
                container,
                source,
            }
        };
        if request.streams.tty {
            return spawn_with_terminal(&request, start_error, wait_error);
        }
        spawn_with_pipes(&request, start_error, wait_error)
    }

    async fn attach(
        &self,
        pod: &PodRef,
        container: &str,
        _streams: Streams,
    ) -> Result<ExecSession, StreamError> {
        // Host containers keep their output in the log only; nothing to attach to.
        self.container(pod, container)?;
        Err(StreamError::ContainerNotRunning {
            pod: pod.clone(),
            container: container.to_string(),
        })
    }

    fn log_file(
        &self,
        pod: &PodRef,
        container: &str,
        previous: bool,
    ) -> Result<LogFile, StreamError> {
        let c = self.container(pod, container)?;
        let unavailable = |why| StreamError::LogUnavailable {
            pod: pod.clone(),
            container: container.to_string(),
            why,
        };
        let wanted = if previous {
            c.instances.len().checked_sub(2)
        } else {
            c.instances.len().checked_sub(1)
        };
        match (wanted, &c.state) {
            (Some(i), _) => {
                let (path, exited) = c.instances[i].clone();
                Ok(LogFile { path, exited })
            }
            (None, _) if previous => Err(unavailable(LogUnavailable::NoPreviousInstance)),
            (None, State::Waiting(reason)) => {
                Err(unavailable(LogUnavailable::Waiting(reason.clone())))
            }
            (None, _) => Err(unavailable(LogUnavailable::NoLogsYet)),
        }
    }
}

fn spawn_with_pipes(
    request: &ExecRequest,
    start_error: impl Fn(std::io::Error) -> StreamError,
    wait_error: impl FnOnce(std::io::Error) -> StreamError + Send + 'static,
) -> Result<ExecSession, StreamError> {
    let pipe = |wanted: bool| {
        if wanted {
            Stdio::piped()
        } else {
            Stdio::null()
        }
    };
    let s = request.streams;
    let mut child = Command::new(&request.command[0])
        .args(&request.command[1..])
        .stdin(pipe(s.stdin))
        .stdout(pipe(s.stdout))
        .stderr(pipe(s.stderr))
        .kill_on_drop(true)
        .spawn()
        .map_err(&start_error)?;
    Ok(ExecSession {
        stdin: child.stdin.take().map(|w| Box::pin(w) as _),
        stdout: child.stdout.take().map(|r| Box::pin(r) as _),
        stderr: child.stderr.take().map(|r| Box::pin(r) as _),
        terminal: None,
        exit: Box::pin(wait(child, wait_error)),
    })
}

/// Runs the command on a new pseudo-terminal, as its session leader (`setsid -c` makes the
/// terminal the controlling one, so the shell gets job control and SIGWINCH).
fn spawn_with_terminal(
    request: &ExecRequest,
    start_error: impl Fn(std::io::Error) -> StreamError,
    wait_error: impl FnOnce(std::io::Error) -> StreamError + Send + 'static,
) -> Result<ExecSession, StreamError> {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let io = |e: rustix::io::Errno| start_error(std::io::Error::from(e));
    let master =
        openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).map_err(io)?;
    grantpt(&master).map_err(io)?;
    unlockpt(&master).map_err(io)?;
    let name = ptsname(&master, Vec::new()).map_err(io)?;
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_string_lossy().as_ref())
        .map_err(&start_error)?;
    let stdio = |f: &std::fs::File| f.try_clone().map(Stdio::from).map_err(&start_error);
    let child = Command::new("setsid")
        .args(["-w", "-c"])
        .args(&request.command)
        .stdin(stdio(&slave)?)
        .stdout(stdio(&slave)?)
        .stderr(stdio(&slave)?)
        .kill_on_drop(true)
        .spawn()
        .map_err(&start_error)?;
    drop(slave);
    let dup = |fd: &OwnedFd| fd.try_clone().map_err(&start_error);
    let reader = tokio::fs::File::from_std(std::fs::File::from(dup(&master)?));
    let writer = tokio::fs::File::from_std(std::fs::File::from(dup(&master)?));
    Ok(ExecSession {
        stdin: request.streams.stdin.then(|| Box::pin(writer) as _),
        stdout: Some(Box::pin(reader)),
        stderr: None,
        terminal: Some(Box::new(Terminal(master))),
        exit: Box::pin(wait(child, wait_error)),
    })
}

async fn wait(
    mut child: Child,
    wait_error: impl FnOnce(std::io::Error) -> StreamError,
) -> Result<i32, StreamError> {
    child.wait().await.map(exit_code).map_err(wait_error)
}

fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

/// The terminal's master side, for resizes.
struct Terminal(OwnedFd);

impl TerminalResize for Terminal {
    fn resize(&mut self, size: TerminalSize) -> std::io::Result<()> {
        let winsize = rustix::termios::Winsize {
            ws_row: size.height,
            ws_col: size.width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&self.0, winsize).map_err(std::io::Error::from)
    }
}
