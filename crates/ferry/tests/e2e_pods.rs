//! End-to-end: real pods on a real node. `ferry server` runs in a lab network namespace (see
//! `support`), `ferry agent` joins that namespace as node `node-1`, and the real kubectl
//! creates pods, execs into them, reads their logs and deletes them; afterwards nothing of
//! the node is left on the machine.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::Lab;

const NODE: &str = "node-1";

/// A `ferry agent` in the lab's network namespace (and a mount namespace of its own).
struct Agent {
    child: Option<Child>,
    data_dir: PathBuf,
    log: PathBuf,
}

impl Agent {
    fn start(lab: &Lab) -> Agent {
        let ferry = env!("CARGO_BIN_EXE_ferry");
        let dir = lab.data_dir().parent().unwrap().join("agent");
        let credentials = dir.join("credentials");
        let status = Command::new(ferry)
            .args([
                "node-credentials",
                "--node-name",
                NODE,
                "--node-ip",
                "127.0.0.1",
            ])
            .arg("--data-dir")
            .arg(lab.data_dir())
            .arg("--out")
            .arg(&credentials)
            .status()
            .unwrap();
        assert!(status.success(), "node-credentials failed");
        let log = dir.join("agent.log");
        let child = Command::new("nsenter")
            .arg(format!("--net=/proc/{}/ns/net", lab.pid()))
            .args(["--", "unshare", "--mount", "--", ferry, "agent"])
            .args(["--server", "https://127.0.0.1:6443", "--node-name", NODE])
            .args(["--node-ip", "127.0.0.1", "--pod-cidr", "10.244.0.0/24"])
            .arg("--data-dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Agent {
            child: Some(child),
            data_dir: dir,
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, and waits for the agent to finish its cleanup.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop();
    }
}

const STUBBORN: &str = "apiVersion: v1
kind: Pod
metadata:
  name: stubborn
spec:
  nodeName: node-1
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: busybox
    command: [sh, -c, \"trap '' TERM; while true; do sleep 1; done\"]
";

fn pod(name: &str, image: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels:
    app: {name}
spec:
  nodeName: {NODE}
  containers:
  - name: main
    image: {image}
{extra}"
    )
}

fn jsonpath(lab: &Lab, pod: &str, path: &str) -> String {
    let out = lab.kubectl(&["get", "pod", pod, "-o", &format!("jsonpath={path}")]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_ready(lab: &Lab, agent: &Agent, pod: &str) {
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        let ready = jsonpath(
            lab,
            pod,
            "{.status.conditions[?(@.type==\"Ready\")].status}",
        );
        if ready == "True" {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "pod {pod} did not become Ready: {}\nagent log:\n{}",
        lab.ok(&["get", "pod", pod, "-o", "yaml"]),
        agent.log()
    );
}

/// Whether anything of the agent's is still on the machine: its cgroup subtree (named
/// `ferry-<node>-<FNV-1a of the data dir>`), processes running from its data dir, mounts
/// below it.
fn leftovers(data_dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let needle = data_dir.display().to_string();
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    found.extend(
        mounts
            .lines()
            .filter(|l| l.contains(&needle))
            .map(str::to_string),
    );
    let mut hash: u32 = 0x811c_9dc5;
    for byte in data_dir.as_os_str().as_encoded_bytes() {
        hash = (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193);
    }
    let subtree = format!("ferry-{NODE}-{hash:08x}");
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let path = hierarchy.path().join(&subtree);
        if path.exists() {
            found.push(path.display().to_string());
        }
    }
    for proc in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(proc.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&needle) {
            found.push(format!("process {}", proc.file_name().to_string_lossy()));
        }
    }
    found
}

#[test]
fn kubia_pods_run_answer_with_their_names_and_leave_nothing() {
    let lab = Lab::start();
    let mut agent = Agent::start(&lab);
    lab.eventually("node-1 Ready", Duration::from_secs(20), || {
        let out = lab.kubectl(&["get", "node", NODE]);
        String::from_utf8_lossy(&out.stdout).contains(" Ready ")
    });
    let wide = lab.ok(&["get", "nodes", "-o", "wide"]);
    assert!(
        wide.contains("v1.32.4") && wide.contains("127.0.0.1") && wide.contains("ferry://"),
        "{wide}"
    );

    let names = ["kubia-a", "kubia-b", "kubia-c"];
    for name in names {
        lab.apply(&pod(
            name,
            "luksa/kubia",
            "    ports:\n    - containerPort: 8080\n",
        ));
    }
    lab.apply(&pod("client", "busybox", ""));
    let mut ips = Vec::new();
    for name in names.iter().chain(&["client"]) {
        wait_ready(&lab, &agent, name);
        let ip = jsonpath(&lab, name, "{.status.podIP}");
        assert!(ip.starts_with("10.244.0."), "{name}: {ip}");
        assert_eq!(jsonpath(&lab, name, "{.status.phase}"), "Running");
        ips.push(ip);
    }
    let mut distinct = ips.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), ips.len(), "{ips:?}");

    for (name, ip) in names.iter().zip(&ips) {
        let out = lab.ok(&[
            "exec",
            "client",
            "--",
            "curl",
            "-s",
            &format!("http://{ip}:8080"),
        ]);
        assert_eq!(out, format!("You've hit {name}\n"));
    }
    assert_eq!(lab.ok(&["exec", "kubia-a", "--", "hostname"]), "kubia-a\n");
    let resolv = lab.ok(&["exec", "client", "--", "cat", "/etc/resolv.conf"]);
    assert_eq!(
        resolv,
        "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"
    );
    let exit = lab.kubectl(&["exec", "client", "--", "sh", "-c", "exit 3"]);
    assert_eq!(exit.status.code(), Some(3));

    // Each pod has its own root: a file one pod writes is seen by no other.
    lab.ok(&["exec", "kubia-a", "--", "touch", "/var/ready"]);
    assert!(!lab
        .kubectl(&["exec", "kubia-b", "--", "ls", "/var/ready"])
        .status
        .success());

    let logs = lab.ok(&["logs", "kubia-a"]);
    assert!(logs.starts_with("Kubia server starting...\n"), "{logs}");
    assert!(
        logs.contains("Received request from ::ffff:10.244.0."),
        "{logs}"
    );

    // An image ferry cannot run waits with a reason that says what to do.
    lab.apply(&pod("postgres", "postgres:16", ""));
    lab.eventually("ErrImagePull", Duration::from_secs(20), || {
        jsonpath(
            &lab,
            "postgres",
            "{.status.containerStatuses[0].state.waiting.reason}",
        ) == "ErrImagePull"
    });

    // A crashing container is restarted with back-off.
    lab.apply(&pod(
        "crash",
        "busybox",
        "    command: [sh, -c, 'echo dying; exit 1']\n",
    ));
    lab.eventually("a restart", Duration::from_secs(30), || {
        jsonpath(&lab, "crash", "{.status.containerStatuses[0].restartCount}")
            .parse::<u32>()
            .is_ok_and(|n| n >= 1)
    });
    assert_eq!(lab.ok(&["logs", "crash", "--previous"]), "dying\n");

    lab.ok(&["delete", "pod", "kubia-c"]);
    assert!(!lab.kubectl(&["get", "pod", "kubia-c"]).status.success());

    // Graceful deletion: the pod shows Terminating while a container that ignores SIGTERM
    // has its grace period, then it is killed and the pod goes.
    lab.apply(STUBBORN);
    wait_ready(&lab, &agent, "stubborn");
    let started = Instant::now();
    lab.ok(&["delete", "pod", "stubborn", "--wait=false"]);
    let row = lab.ok(&["get", "pod", "stubborn", "--no-headers"]);
    assert!(row.contains("Terminating"), "{row}");
    lab.eventually("stubborn gone", Duration::from_secs(20), || {
        !lab.kubectl(&["get", "pod", "stubborn"]).status.success()
    });
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    let data_dir = agent.data_dir.clone();
    agent.stop();
    let left = leftovers(&data_dir);
    assert!(
        left.is_empty(),
        "left behind: {left:?}\nagent log:\n{}",
        agent.log()
    );
    let links = Command::new("nsenter")
        .arg(format!("--net=/proc/{}/ns/net", lab.pid()))
        .args(["--", "ip", "-o", "link"])
        .output()
        .unwrap();
    let links = String::from_utf8_lossy(&links.stdout);
    assert_eq!(links.lines().count(), 1, "only lo is left: {links}");
    assert!(!data_dir.join("sandboxes").exists());
}

#[test]
fn probes_flip_readiness_and_restart_on_liveness_failure() {
    let lab = Lab::start();
    let agent = Agent::start(&lab);
    let readiness = "    readinessProbe:\n      exec:\n        command: [ls, /var/ready]\n      periodSeconds: 1\n";
    lab.apply(&pod("ready-a", "luksa/kubia", readiness));
    lab.apply(&pod("ready-b", "luksa/kubia", readiness));
    let ready = |name: &str| {
        jsonpath(
            &lab,
            name,
            "{.status.conditions[?(@.type==\"Ready\")].status}",
        )
    };
    lab.eventually("both running", Duration::from_secs(20), || {
        jsonpath(&lab, "ready-a", "{.status.phase}") == "Running"
            && jsonpath(&lab, "ready-b", "{.status.phase}") == "Running"
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(ready("ready-a"), "False", "{}", agent.log());
    assert_eq!(ready("ready-b"), "False");
    lab.ok(&["exec", "ready-a", "--", "touch", "/var/ready"]);
    lab.eventually("ready-a Ready", Duration::from_secs(10), || {
        ready("ready-a") == "True"
    });
    assert_eq!(ready("ready-b"), "False");
    let events = lab.ok(&["get", "events", "--field-selector", "reason=Unhealthy"]);
    assert!(events.contains("Readiness probe failed"), "{events}");

    // httpGet and tcpSocket probes against the kubia port.
    let http = "    readinessProbe:\n      httpGet:\n        port: http\n        path: /\n      periodSeconds: 1\n    ports:\n    - name: http\n      containerPort: 8080\n";
    lab.apply(&pod("ready-http", "luksa/kubia", http));
    lab.eventually("ready-http Ready", Duration::from_secs(20), || {
        ready("ready-http") == "True"
    });

    // A liveness probe that always fails restarts the container.
    let liveness = "    livenessProbe:\n      tcpSocket:\n        port: 9999\n      periodSeconds: 1\n      failureThreshold: 1\n";
    lab.apply(&pod("unlive", "luksa/kubia", liveness));
    lab.eventually("a liveness restart", Duration::from_secs(30), || {
        jsonpath(
            &lab,
            "unlive",
            "{.status.containerStatuses[0].restartCount}",
        )
        .parse::<u32>()
        .is_ok_and(|n| n >= 1)
    });
    let events = lab.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=unlive",
    ]);
    assert!(
        events.contains("Liveness probe failed: dial tcp"),
        "{events}"
    );
}
