//! End-to-end: `kubectl exec` and `kubectl logs` through `ferry server` to a node agent's
//! streaming server, all inside a lab network namespace. The agent is the real
//! `ferry_agent::streaming` server with the agent crate's host-process test runtime (the pod
//! sandbox is not part of this test); it serves from threads that entered the lab's network
//! namespace, so every connection stays on the lab's loopback.

mod support;

// Shared with the agent crate's own tests, which use parts this test does not.
#[allow(dead_code)]
#[path = "../../agent/tests/support/host_runtime.rs"]
mod host_runtime;

use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsFd;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use ferry_agent::streaming::{
    server_tls, AllowedClients, PodRef, StreamingConfig, StreamingServer,
};
use ferry_pki::{Pki, PkiOptions};
use host_runtime::HostRuntime;
use support::Lab;

/// Where the test's agent listens inside the lab (the PKI's serving certificate covers
/// 127.0.0.1, so the agent can present it).
const AGENT_PORT: u16 = 10250;

const NODE: &str = "apiVersion: v1
kind: Node
metadata:
  name: node-1
";

const NODE_STATUS: &str = r#"{"status":{"addresses":[{"type":"InternalIP","address":"127.0.0.1"},{"type":"Hostname","address":"node-1"}],"daemonEndpoints":{"kubeletEndpoint":{"Port":10250}}}}"#;

fn pod_manifest(name: &str, node: Option<&str>) -> String {
    let node = node
        .map(|n| format!("  nodeName: {n}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
{node}  containers:
  - name: main
    image: busybox
"
    )
}

const RUNNING_STATUS: &str = r#"{"status":{"phase":"Running","containerStatuses":[{"name":"main","image":"busybox","imageID":"","ready":true,"restartCount":0,"started":true,"state":{"running":{"startedAt":"2024-01-01T00:00:00Z"}}}]}}"#;

/// The test's node agent: a streaming server whose runtime threads live in the lab's network
/// namespace.
struct LabAgent {
    runtime: HostRuntime,
    tokio: tokio::runtime::Runtime,
    shutdown: CancellationToken,
    _logs: tempfile::TempDir,
}

impl LabAgent {
    fn start(lab: &Lab) -> LabAgent {
        let logs = tempfile::tempdir().unwrap();
        let runtime = HostRuntime::new(logs.path());
        let pki = Pki::load_or_create(&lab.data_dir().join("pki"), &PkiOptions::default()).unwrap();
        let tls = server_tls(pki.ca_cert_pem(), pki.serving()).unwrap();
        let netns = std::fs::File::open(format!("/proc/{}/ns/net", lab.pid())).unwrap();
        // A runtime built on a thread that joined the lab's namespace: its worker threads
        // start there too, and so does the listening socket bound below.
        let tokio = std::thread::spawn(move || {
            rustix::thread::move_into_link_name_space(
                netns.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .unwrap();
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
        })
        .join()
        .unwrap();
        let shutdown = CancellationToken::new();
        let config = StreamingConfig {
            listen: ([127, 0, 0, 1], AGENT_PORT).into(),
            tls,
            allowed: AllowedClients::default(),
        };
        let server = tokio
            .block_on(tokio.spawn(StreamingServer::bind(config)))
            .unwrap()
            .unwrap();
        tokio.spawn(server.serve(Arc::new(runtime.clone()), shutdown.clone()));
        LabAgent {
            runtime,
            tokio,
            shutdown,
            _logs: logs,
        }
    }

    /// Runs `f` on the agent's runtime (so processes start inside the lab too).
    fn run<F>(&self, f: F) -> F::Output
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tokio.block_on(self.tokio.spawn(f)).unwrap()
    }
}

impl Drop for LabAgent {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn pod(name: &str) -> PodRef {
    PodRef {
        namespace: "default".into(),
        name: name.into(),
    }
}

/// A lab with node-1 (the agent's address in its status), a Running pod `shell` on it whose
/// container `main` runs `main_command`, and the agent.
fn lab_with_running_pod(main_command: &'static [&'static str]) -> (Lab, LabAgent) {
    let lab = Lab::start();
    let agent = LabAgent::start(&lab);
    lab.apply(NODE);
    lab.ok(&[
        "patch",
        "node",
        "node-1",
        "--subresource=status",
        "--type=merge",
        "-p",
        NODE_STATUS,
    ]);
    lab.apply(&pod_manifest("shell", Some("node-1")));
    lab.ok(&[
        "patch",
        "pod",
        "shell",
        "--subresource=status",
        "--type=merge",
        "-p",
        RUNNING_STATUS,
    ]);
    let runtime = agent.runtime.clone();
    agent.run(async move { runtime.start(&pod("shell"), "main", main_command).await });
    (lab, agent)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn exec_carries_exit_codes_stdin_and_a_terminal() {
    let (lab, _agent) = lab_with_running_pod(&["sleep", "600"]);

    let out = lab.kubectl(&[
        "exec",
        "shell",
        "--",
        "sh",
        "-c",
        "echo to-stdout; echo to-stderr >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "to-stdout\n");
    assert_eq!(
        text(&out.stderr),
        "to-stderr\ncommand terminated with exit code 3\n"
    );

    assert_eq!(
        lab.ok(&["exec", "shell", "--", "echo", "hello", "world"]),
        "hello world\n"
    );

    let out = lab.kubectl_stdin(&["exec", "-i", "shell", "--", "wc", "-c"], "twelve bytes");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "12");

    let out = interactive_shell(
        &lab,
        "shell",
        &["echo tty-$((6*7)); tty", "exit 7"],
        "tty-42",
    );
    assert_eq!(out.status.code(), Some(7), "{:?}", text(&out.stdout));
    let screen = text(&out.stdout);
    assert!(
        screen.contains("tty-42") && screen.contains("/dev/pts/"),
        "{screen:?}"
    );
}

#[test]
fn exec_errors_are_upstreams() {
    let (lab, agent) = lab_with_running_pod(&["sleep", "600"]);
    // A scheduled pod whose container has not started, and a pod without a node.
    lab.apply(&pod_manifest("waiting", Some("node-1")));
    let runtime = agent.runtime.clone();
    agent.run(async move { runtime.add_waiting(&pod("waiting"), "main", "ContainerCreating") });
    lab.apply(&pod_manifest("unscheduled", None));

    let cases = [
        (
            vec!["exec", "waiting", "--", "true"],
            "error: Internal error occurred: unable to upgrade connection: container not found (\"main\")\n",
        ),
        (
            vec!["exec", "unscheduled", "--", "true"],
            "Error from server (BadRequest): pod unscheduled does not have a host assigned\n",
        ),
        (
            // kubectl retries with SPDY after the refused WebSocket; both get this answer.
            vec!["exec", "shell", "-c", "nope", "--", "true"],
            "Error from server (BadRequest): container nope is not valid for pod shell\n",
        ),
        (
            vec!["exec", "nothere", "--", "true"],
            "Error from server (NotFound): pods \"nothere\" not found\n",
        ),
        (
            vec!["logs", "waiting"],
            "Error from server (BadRequest): container \"main\" in pod \"waiting\" is waiting to start: ContainerCreating\n",
        ),
    ];
    for (args, want) in cases {
        let out = lab.kubectl(&args);
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(text(&out.stderr), want, "{args:?}");
    }
    assert_eq!(lab.ok(&["logs", "unscheduled"]), "");
}

#[test]
fn logs_tail_and_follow() {
    let (lab, agent) =
        lab_with_running_pod(&["sh", "-c", "echo first line; echo second line; exec cat"]);
    lab.eventually(
        "the container's first lines",
        Duration::from_secs(10),
        || lab.kubectl(&["logs", "shell"]).stdout == b"first line\nsecond line\n",
    );
    assert_eq!(lab.ok(&["logs", "shell", "--tail=1"]), "second line\n");
    assert_eq!(
        lab.ok(&["logs", "shell", "-c", "main", "--tail=-1"]),
        "first line\nsecond line\n"
    );

    let mut follow = Command::new("nsenter")
        .arg(format!("--net=/proc/{}/ns/net", lab.pid()))
        .arg("--")
        .arg("kubectl")
        .arg(format!(
            "--kubeconfig={}",
            lab.data_dir().join("kubeconfig").display()
        ))
        .args(["logs", "-f", "shell"])
        .env_remove("KUBECONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap());
    let mut read_line = || {
        let mut line = String::new();
        lines.read_line(&mut line).unwrap();
        line
    };
    assert_eq!(read_line(), "first line\n");
    assert_eq!(read_line(), "second line\n");
    let runtime = agent.runtime.clone();
    agent.run(async move {
        runtime
            .write_stdin(&pod("shell"), "main", b"third line\n")
            .await
    });
    assert_eq!(read_line(), "third line\n");
    // The container exits when its stdin closes; `logs -f` ends with it.
    let runtime = agent.runtime.clone();
    agent.run(async move { runtime.close_stdin(&pod("shell"), "main").await });
    assert_eq!(read_line(), "");
    let status = follow.wait().unwrap();
    assert!(status.success());
}

/// Runs `kubectl exec -it POD -- sh` on a terminal (`script` gives kubectl one), types
/// `lines` (the last once `ready` shows up), and returns what the terminal showed.
fn interactive_shell(lab: &Lab, pod: &str, lines: &[&str], ready: &str) -> Output {
    let kubectl = format!(
        "kubectl --kubeconfig={} exec -it {pod} -- sh",
        lab.data_dir().join("kubeconfig").display()
    );
    let mut child = Command::new("nsenter")
        .arg(format!("--net=/proc/{}/ns/net", lab.pid()))
        .arg("--")
        .args(["script", "-qefc", &kubectl, "/dev/null"])
        .env_remove("KUBECONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (first, last) = lines.split_at(lines.len() - 1);
    for line in first {
        writeln!(stdin, "{line}").unwrap();
    }
    // Read the screen until the commands' output is there, then finish the session.
    let mut stdout = child.stdout.take().unwrap();
    let mut screen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut chunk = [0u8; 4096];
    while !text(&screen).contains(ready) {
        assert!(
            Instant::now() < deadline,
            "no {ready:?} on the terminal: {}",
            text(&screen)
        );
        let n = std::io::Read::read(&mut stdout, &mut chunk).unwrap();
        assert!(n > 0, "the terminal closed early: {}", text(&screen));
        screen.extend_from_slice(&chunk[..n]);
    }
    writeln!(stdin, "{}", last[0]).unwrap();
    std::io::Read::read_to_end(&mut stdout, &mut screen).unwrap();
    let mut out = child.wait_with_output().unwrap();
    out.stdout = screen;
    drop(stdin);
    out
}
