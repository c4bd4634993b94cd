//! The streaming server's view of the pod runtime: `exec` starts a process in the pod's
//! sandbox with the container's environment, `logs` reads the container's CRI log files.

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::unix::pipe;

use ferry_sandbox::{ProcessSpec, Stdio, Tty};

use crate::pods::worker::{PodEntry, Slot, State};
use crate::pods::Pods;
use crate::streaming::{
    ContainerRuntime, ExecRequest, ExecSession, LogFile, LogUnavailable, PodRef, StreamError,
    Streams, TerminalResize, TerminalSize,
};

impl Pods {
    fn entry(&self, pod: &PodRef) -> Result<Arc<PodEntry>, StreamError> {
        self.table
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .find(|e| &e.pod_ref == pod && !e.is_stopping())
            .cloned()
            .ok_or_else(|| StreamError::PodNotFound { pod: pod.clone() })
    }

    fn slot(&self, pod: &PodRef, container: &str) -> Result<(Arc<PodEntry>, Slot), StreamError> {
        let entry = self.entry(pod)?;
        let slot = entry
            .containers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|s| s.name == container)
            .cloned()
            .ok_or_else(|| StreamError::ContainerNotInSpec {
                pod: pod.clone(),
                container: container.to_string(),
            })?;
        Ok((entry, slot))
    }
}

impl ContainerRuntime for Pods {
    async fn exec(
        &self,
        pod: &PodRef,
        container: &str,
        request: ExecRequest,
    ) -> Result<ExecSession, StreamError> {
        let not_running = || StreamError::ContainerNotRunning {
            pod: pod.clone(),
            container: container.to_string(),
        };
        let (entry, slot) = self.slot(pod, container).map_err(|e| match e {
            StreamError::ContainerNotInSpec { .. } => not_running(),
            other => other,
        })?;
        if !matches!(slot.state, State::Running { .. }) {
            return Err(not_running());
        }
        let start_error = |source: std::io::Error| StreamError::Start {
            pod: pod.clone(),
            container: container.to_string(),
            command: request.command.clone(),
            source,
        };
        let working_dir = entry
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.containers.iter().find(|c| c.name == container))
            .and_then(|c| c.working_dir.clone())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "/".to_string());
        let streams = request.streams;
        let pipe_or_null = |wanted: bool| if wanted { Stdio::Pipe } else { Stdio::Null };
        let mut env = slot.env.clone();
        if streams.tty {
            env.push(("TERM".to_string(), "xterm".to_string()));
        }
        let spec = ProcessSpec {
            argv: request.command.clone(),
            env,
            cwd: PathBuf::from(working_dir),
            stdin: pipe_or_null(streams.stdin),
            stdout: pipe_or_null(streams.stdout),
            stderr: pipe_or_null(streams.stderr),
            tty: streams.tty,
        };
        let spawned = match entry.sandbox.read().await.as_ref() {
            Some(sandbox) => sandbox.spawn(spec).await,
            None => return Err(not_running()),
        };
        let mut process = spawned
            .map_err(|e| start_error(std::io::Error::other(crate::node::error_chain(&e))))?;
        let wait_error = {
            let (pod, container) = (pod.clone(), container.to_string());
            move |e: ferry_sandbox::Error| StreamError::Wait {
                pod,
                container,
                source: std::io::Error::other(crate::node::error_chain(&e)),
            }
        };
        let mut session = ExecSession {
            stdin: process.stdin.take().map(|w| Box::pin(w) as _),
            stdout: process.stdout.take().map(|r| Box::pin(r) as _),
            stderr: process.stderr.take().map(|r| Box::pin(r) as _),
            terminal: None,
            exit: Box::pin(async { Ok(0) }),
        };
        if let Some(tty) = process.tty.take() {
            let (input, output) = terminal_ends(&tty).map_err(start_error)?;
            session.stdin = streams.stdin.then(|| Box::pin(input) as _);
            session.stdout = Some(Box::pin(output));
            session.terminal = Some(Box::new(Terminal(tty)));
        }
        session.exit = Box::pin(async move {
            process
                .wait()
                .await
                .map(ferry_sandbox::ExitStatus::code)
                .map_err(wait_error)
        });
        Ok(session)
    }

    async fn attach(
        &self,
        pod: &PodRef,
        container: &str,
        _streams: Streams,
    ) -> Result<ExecSession, StreamError> {
        // Container output goes to its log only; there is no live stream to attach to.
        self.slot(pod, container)?;
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
        let (_, slot) = self.slot(pod, container)?;
        let unavailable = |why| StreamError::LogUnavailable {
            pod: pod.clone(),
            container: container.to_string(),
            why,
        };
        let wanted = if previous {
            slot.instances.len().checked_sub(2)
        } else {
            slot.instances.len().checked_sub(1)
        };
        match (wanted, &slot.state) {
            (Some(i), _) => {
                let (path, exited) = slot.instances[i].clone();
                Ok(LogFile { path, exited })
            }
            (None, _) if previous => Err(unavailable(LogUnavailable::NoPreviousInstance)),
            (None, State::Waiting { reason, .. }) => {
                Err(unavailable(LogUnavailable::Waiting(reason.clone())))
            }
            (None, _) => Err(unavailable(LogUnavailable::NoLogsYet)),
        }
    }
}

/// Separate handles on the terminal's input and output, so the [`Tty`] itself stays whole
/// for resizes.
fn terminal_ends(tty: &Tty) -> Result<(pipe::Sender, pipe::Receiver), std::io::Error> {
    let input = tty.input.as_fd().try_clone_to_owned()?;
    let output = tty.output.as_fd().try_clone_to_owned()?;
    Ok((
        pipe::Sender::from_owned_fd_unchecked(input)?,
        pipe::Receiver::from_owned_fd_unchecked(output)?,
    ))
}

/// The exec's terminal, for resizes.
struct Terminal(Tty);

impl TerminalResize for Terminal {
    fn resize(&mut self, size: TerminalSize) -> std::io::Result<()> {
        self.0
            .resize(ferry_sandbox::WindowSize {
                rows: size.height,
                columns: size.width,
            })
            .map_err(|e| std::io::Error::other(crate::node::error_chain(&e)))
    }
}
