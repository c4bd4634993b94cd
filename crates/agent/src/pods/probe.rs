//! Container probes as the kubelet runs them: startup, then readiness and liveness; exec
//! (inside the container's namespaces), httpGet and tcpSocket; upstream's defaults
//! (period 10 s, timeout 1 s, success 1, failure 3) and semantics (readiness starts failed and
//! never restarts anything, liveness starts passed and kills the container after
//! `failureThreshold` failures, startup holds the others back until it passes), with Warning
//! `Unhealthy` events for failures.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use ferry_sandbox::{ProcessSpec, Stdio};

use crate::pods::events::{self, Kind};
use crate::pods::worker::PodEntry;
use crate::pods::Pods;

/// The most of a probe's output that goes into its event message (the kubelet's limit is
/// 10 KiB).
const MAX_OUTPUT: usize = 10 * 1024;

/// Which probe, for its behaviour and its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Startup,
    Readiness,
    Liveness,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Startup => "Startup",
            Role::Readiness => "Readiness",
            Role::Liveness => "Liveness",
        }
    }
}

/// What one container instance's probes need.
pub(crate) struct Target {
    pub(crate) pods: Arc<Pods>,
    pub(crate) entry: Arc<PodEntry>,
    pub(crate) index: usize,
    pub(crate) container: Container,
    pub(crate) env: Vec<(String, String)>,
    /// Cancelled when a liveness or startup probe decides the container must be restarted.
    pub(crate) kill: CancellationToken,
}

/// Runs the container instance's probes until the task is dropped.
pub(crate) async fn run(target: Target) {
    if let Some(probe) = target.container.startup_probe.clone() {
        if !probe_loop(&target, Role::Startup, &probe).await {
            return;
        }
    }
    let has_readiness = target.container.readiness_probe.is_some();
    target.entry.update(target.index, |slot| {
        slot.started = true;
        slot.ready = !has_readiness;
    });
    let readiness = async {
        if let Some(probe) = target.container.readiness_probe.clone() {
            probe_loop(&target, Role::Readiness, &probe).await;
        }
    };
    let liveness = async {
        if let Some(probe) = target.container.liveness_probe.clone() {
            probe_loop(&target, Role::Liveness, &probe).await;
        }
    };
    tokio::join!(readiness, liveness);
}

fn seconds(value: Option<i32>, default: u64) -> Duration {
    Duration::from_secs(
        value
            .and_then(|v| u64::try_from(v).ok())
            .filter(|v| *v > 0)
            .unwrap_or(default),
    )
}

/// Probes every period; returns `true` when a startup probe passed, `false` when the
/// container is to be killed (readiness never returns).
async fn probe_loop(target: &Target, role: Role, probe: &Probe) -> bool {
    let initial = Duration::from_secs(
        probe
            .initial_delay_seconds
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(0),
    );
    let period = seconds(probe.period_seconds, 10);
    let timeout = seconds(probe.timeout_seconds, 1);
    let success_threshold = probe.success_threshold.filter(|v| *v > 0).unwrap_or(1);
    let failure_threshold = probe.failure_threshold.filter(|v| *v > 0).unwrap_or(3);
    tokio::time::sleep(initial).await;
    let (mut successes, mut failures) = (0, 0);
    loop {
        match probe_once(target, probe, timeout).await {
            Ok(()) => {
                successes += 1;
                failures = 0;
            }
            Err(output) => {
                failures += 1;
                successes = 0;
                let message = format!("{} probe failed: {output}", role.name());
                events::record(
                    &target.pods,
                    &target.entry,
                    &target.container.name,
                    Kind::Warning,
                    "Unhealthy",
                    &message,
                )
                .await;
            }
        }
        match role {
            Role::Startup if successes >= 1 => return true,
            Role::Readiness if successes >= success_threshold => {
                target.entry.update(target.index, |slot| slot.ready = true);
            }
            Role::Readiness if failures >= failure_threshold => {
                target.entry.update(target.index, |slot| slot.ready = false);
            }
            Role::Startup | Role::Liveness if failures >= failure_threshold => {
                let message = format!(
                    "Container {} failed {} probe, will be restarted",
                    target.container.name,
                    role.name().to_lowercase()
                );
                events::record(
                    &target.pods,
                    &target.entry,
                    &target.container.name,
                    Kind::Normal,
                    "Killing",
                    &message,
                )
                .await;
                target.kill.cancel();
                return false;
            }
            _ => {}
        }
        tokio::time::sleep(period).await;
    }
}

/// One probe; `Err` carries what the kubelet would put in the event.
async fn probe_once(target: &Target, probe: &Probe, timeout: Duration) -> Result<(), String> {
    if let Some(exec) = &probe.exec {
        let command = exec.command.clone().unwrap_or_default();
        return exec_probe(target, command, timeout).await;
    }
    let pod_ip = IpAddr::V4(target.entry.ip);
    if let Some(http) = &probe.http_get {
        let port = port_number(&target.container, &http.port)?;
        let host = match http.host.as_deref().filter(|h| !h.is_empty()) {
            Some(host) => host
                .parse::<Ipv4Addr>()
                .map(IpAddr::V4)
                .map_err(|_| format!("host {host:?} is not an IPv4 address"))?,
            None => pod_ip,
        };
        if http.scheme.as_deref() == Some("HTTPS") {
            return Err("HTTPS probes are not supported by ferry yet".to_string());
        }
        let path = http
            .path
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or("/");
        let headers: Vec<(String, String)> = http
            .http_headers
            .iter()
            .flatten()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect();
        return http_probe(SocketAddr::new(host, port), path, &headers, timeout).await;
    }
    if let Some(tcp) = &probe.tcp_socket {
        let port = port_number(&target.container, &tcp.port)?;
        let addr = SocketAddr::new(pod_ip, port);
        return match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("dial tcp {addr}: connect: {}", io_message(&e))),
            Err(_) => Err(format!("dial tcp {addr}: i/o timeout")),
        };
    }
    Err("probe has no handler (exec, httpGet or tcpSocket)".to_string())
}

/// A port by number, or by the name of one of the container's ports.
fn port_number(container: &Container, port: &IntOrString) -> Result<u16, String> {
    match port {
        IntOrString::Int(n) => u16::try_from(*n).map_err(|_| format!("invalid port {n}")),
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .and_then(|p| u16::try_from(p.container_port).ok())
            .ok_or_else(|| format!("couldn't find port: {name} in container {}", container.name)),
    }
}

/// The kubelet's wording for common connect errors (Go's).
fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        _ => e.to_string(),
    }
}

async fn exec_probe(
    target: &Target,
    command: Vec<String>,
    timeout: Duration,
) -> Result<(), String> {
    let spec = ProcessSpec {
        argv: command.clone(),
        env: target.env.clone(),
        cwd: "/".into(),
        stdin: Stdio::Null,
        stdout: Stdio::Pipe,
        stderr: Stdio::Pipe,
        tty: false,
    };
    let spawned = match target.entry.sandbox.read().await.as_ref() {
        Some(sandbox) => sandbox.spawn(spec).await,
        None => return Err("the pod has no sandbox".to_string()),
    };
    let mut process = spawned.map_err(|e| crate::node::error_chain(&e))?;
    let (stdout, stderr) = (process.stdout.take(), process.stderr.take());
    let outcome = tokio::time::timeout(timeout, async {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let read_out = async {
            if let Some(mut pipe) = stdout {
                let _ = pipe.read_to_end(&mut out).await;
            }
        };
        let read_err = async {
            if let Some(mut pipe) = stderr {
                let _ = pipe.read_to_end(&mut err).await;
            }
        };
        tokio::join!(read_out, read_err);
        out.extend_from_slice(&err);
        (process.wait().await, out)
    })
    .await;
    match outcome {
        Ok((Ok(status), _)) if status.code() == 0 => Ok(()),
        Ok((Ok(_), output)) => output_truncated(&output),
        Ok((Err(e), _)) => Err(crate::node::error_chain(&e)),
        Err(_) => {
            let _ = process.signal(ferry_sandbox::Signal::SIGKILL);
            let _ = process.wait().await;
            Err(format!("command {:?} timed out", command.join(" ")))
        }
    }
}

fn output_truncated(output: &[u8]) -> Result<(), String> {
    let end = output.len().min(MAX_OUTPUT);
    Err(String::from_utf8_lossy(&output[..end]).into_owned())
}

/// GET `path` over HTTP/1.1; 200-399 passes.
async fn http_probe(
    addr: SocketAddr,
    path: &str,
    headers: &[(String, String)],
    timeout: Duration,
) -> Result<(), String> {
    let url = format!("http://{addr}{path}");
    let attempt = async {
        let mut stream = TcpStream::connect(addr).await.map_err(|e| {
            format!(
                "Get \"{url}\": dial tcp {addr}: connect: {}",
                io_message(&e)
            )
        })?;
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n");
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
        {
            request.push_str("User-Agent: kube-probe/1.32\r\n");
        }
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("accept"))
        {
            request.push_str("Accept: */*\r\n");
        }
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("Connection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("Get \"{url}\": {e}"))?;
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.contains(&b'\n') && head.len() < 8192 {
            let n = stream
                .read(&mut buf)
                .await
                .map_err(|e| format!("Get \"{url}\": {e}"))?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&head);
        let code: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("Get \"{url}\": malformed HTTP response"))?;
        if (200..400).contains(&code) {
            Ok(())
        } else {
            Err(format!("HTTP probe failed with statuscode: {code}"))
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )),
    }
}
