//! End-to-end: real pods on real nodes, with the real kubectl.
//!
//! Most tests run `ferry server` in a lab network namespace (see `support`) and `ferry agent`
//! in the same namespace as node `node-1`. The lab-mode test runs `ferry up --nodes 2` inside
//! a network namespace made for it (its nodes are namespaces of their own on the cluster's
//! bridge) and drives it through the caller's loopback. Afterwards nothing of the cluster is
//! left on the machine.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::up::UpLab;
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

const KUBIA_SERVICE: &str = "apiVersion: v1
kind: Service
metadata:
  name: kubia
spec:
  selector:
    app: kubia
  ports:
  - port: 80
    targetPort: 8080
";

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
    leftovers_of(data_dir, NODE)
}

fn leftovers_of(data_dir: &Path, node: &str) -> Vec<String> {
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
    let subtree = format!("ferry-{node}-{hash:08x}");
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
    lab.apply(KUBIA_SERVICE);
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
    // Service discovery through environment variables, as the kubelet sets them.
    let env = lab.ok(&["exec", "client", "--", "env"]);
    let service_ip = lab.ok(&["get", "svc", "kubia", "-o", "jsonpath={.spec.clusterIP}"]);
    assert!(
        env.contains(&format!("KUBIA_SERVICE_HOST={service_ip}\n")),
        "{env}"
    );
    assert!(env.contains("KUBIA_SERVICE_PORT=80\n"), "{env}");
    assert!(env.contains("KUBERNETES_SERVICE_HOST=10.96.0.1\n"), "{env}");
    assert!(env.contains("HOSTNAME=client\n"), "{env}");
    let exit = lab.kubectl(&["exec", "client", "--", "sh", "-c", "exit 3"]);
    assert_eq!(exit.status.code(), Some(3));
    // `exec -it` gets a terminal in the pod (`script` gives kubectl one).
    let kubectl = format!(
        "kubectl --kubeconfig={} exec -it client -- sh",
        lab.data_dir().join("kubeconfig").display()
    );
    let mut child = Command::new("nsenter")
        .arg(format!("--net=/proc/{}/ns/net", lab.pid()))
        .args(["--", "script", "-qefc", &kubectl, "/dev/null"])
        .env_remove("KUBECONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"tty; echo \"term=$TERM\"; exit 7\n")
        .unwrap();
    let session = child.wait_with_output().unwrap();
    let screen = String::from_utf8_lossy(&session.stdout);
    assert_eq!(session.status.code(), Some(7), "{screen}");
    assert!(
        screen.contains("/dev/pts/") && screen.contains("term=xterm"),
        "{screen}"
    );

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

fn fnv32(path: &Path) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in path.as_os_str().as_encoded_bytes() {
        hash = (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193);
    }
    format!("{hash:08x}")
}

fn on_node(name: &str, image: &str, node: &str) -> String {
    pod(name, image, "").replace(&format!("nodeName: {NODE}"), &format!("nodeName: {node}"))
}

#[test]
fn lab_mode_runs_two_nodes_whose_pods_reach_each_other_and_leaves_nothing() {
    let mut lab = UpLab::start(2);
    let wide = lab.ok(&["get", "nodes", "-o", "wide"]);
    assert!(
        wide.contains("172.18.0.2") && wide.contains("172.18.0.3"),
        "{wide}"
    );

    let placement = [
        ("kubia-0", "node-1"),
        ("kubia-1", "node-2"),
        ("kubia-2", "node-1"),
    ];
    for (name, node) in placement {
        lab.apply(&on_node(name, "luksa/kubia", node));
    }
    lab.apply(&on_node("client", "busybox", "node-2"));
    let ready = |name: &str| {
        let out = lab.kubectl(&[
            "get",
            "pod",
            name,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ]);
        String::from_utf8_lossy(&out.stdout) == "True"
    };
    lab.eventually("4 Ready pods", Duration::from_secs(30), || {
        ["kubia-0", "kubia-1", "kubia-2", "client"]
            .iter()
            .all(|p| ready(p))
    });
    let wide = lab.ok(&["get", "pods", "-o", "wide", "--no-headers"]);
    let mut ips = Vec::new();
    for (name, node) in placement {
        let row = wide
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .unwrap_or_default();
        assert_eq!(row.get(2).map(String::as_str), Some("Running"), "{wide}");
        assert_eq!(row.get(6).map(String::as_str), Some(node), "{wide}");
        let ip = row.get(5).cloned().unwrap_or_default();
        assert!(ip.starts_with("10.244."), "{wide}");
        ips.push(ip);
    }
    let mut distinct = ips.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "{ips:?}");
    // From node-2's client to pods on both nodes.
    for ((name, _), ip) in placement.iter().zip(&ips) {
        let out = lab.ok(&[
            "exec",
            "client",
            "--",
            "curl",
            "-s",
            "-m",
            "5",
            &format!("http://{ip}:8080"),
        ]);
        assert_eq!(out, format!("You've hit {name}\n"));
    }
    // Pods reach the control plane at the address the kubernetes Service publishes.
    let endpoints = lab.ok(&[
        "get",
        "endpoints",
        "kubernetes",
        "-o",
        "jsonpath={.subsets[0].addresses[0].ip}",
    ]);
    assert_eq!(endpoints, "172.18.0.1");
    let version = lab.ok(&[
        "exec",
        "client",
        "--",
        "curl",
        "-sk",
        "-m",
        "5",
        "https://172.18.0.1:6443/version",
    ]);
    assert!(version.contains("v1.32.4"), "{version}");
    // `ferry shell` runs on the cluster's network, outside every node.
    let shell = Command::new("nsenter")
        .arg(lab.netns())
        .args(["--", env!("CARGO_BIN_EXE_ferry"), "shell", "--data-dir"])
        .arg(lab.data_dir())
        .args([
            "--",
            "curl",
            "-s",
            "-m",
            "5",
            &format!("http://{}:8080", ips[1]),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&shell.stdout),
        "You've hit kubia-1\n"
    );

    // The readiness probe of the book, on the second node: only the touched pod turns Ready.
    let probe = "    readinessProbe:\n      exec:\n        command: [ls, /var/ready]\n      periodSeconds: 1\n";
    for name in ["probed-a", "probed-b"] {
        lab.apply(
            &pod(name, "luksa/kubia", probe)
                .replace(&format!("nodeName: {NODE}"), "nodeName: node-2"),
        );
    }
    lab.eventually("probed pods running", Duration::from_secs(30), || {
        let out = lab.kubectl(&["get", "pods", "probed-a", "probed-b", "--no-headers"]);
        String::from_utf8_lossy(&out.stdout)
            .matches("Running")
            .count()
            == 2
    });
    lab.ok(&["exec", "probed-a", "--", "touch", "/var/ready"]);
    lab.eventually("probed-a Ready", Duration::from_secs(15), || {
        ready("probed-a")
    });
    assert!(!ready("probed-b"));

    let data_dir = lab.data_dir();
    let netns_prefix = format!("ferry-{}", fnv32(&data_dir));
    lab.stop();
    let namespaces: Vec<String> = std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&netns_prefix))
        .collect();
    assert!(namespaces.is_empty(), "{namespaces:?}");
    for node in ["node-1", "node-2"] {
        let node_dir = data_dir.join("nodes").join(node);
        let left = leftovers_of(&node_dir, node);
        assert!(left.is_empty(), "{node} left {left:?}\n{}", lab.log());
    }
}

#[test]
fn a_killed_lab_stops_its_agents_and_the_next_start_removes_the_rest() {
    let lab = UpLab::start(1);
    lab.apply(&on_node("sleeper", "busybox", "node-1"));
    lab.eventually("sleeper running", Duration::from_secs(30), || {
        let out = lab.kubectl(&["get", "pod", "sleeper", "-o", "jsonpath={.status.phase}"]);
        String::from_utf8_lossy(&out.stdout) == "Running"
    });
    let data_dir = lab.data_dir();
    let node_dir = data_dir.join("nodes").join("node-1");
    let netns_prefix = format!("ferry-{}", fnv32(&data_dir));
    let dir = lab.crash();
    // The agent notices that ferry up is gone, stops its pods and removes its sandboxes.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !leftovers_of(&node_dir, "node-1").is_empty() {
        assert!(
            Instant::now() < deadline,
            "left: {:?}",
            leftovers_of(&node_dir, "node-1")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let named = || -> Vec<String> {
        std::fs::read_dir("/run/netns")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&netns_prefix))
            .collect()
    };
    // A killed ferry up leaves its named namespaces; the next start removes them.
    assert_eq!(named().len(), 2, "{:?}", named());
    let mut again = UpLab::start_in(dir, 1);
    assert!(
        again.log().contains("removed what an earlier run left"),
        "{}",
        again.log()
    );
    again.stop();
    assert!(named().is_empty(), "{:?}\n{}", named(), again.log());
}

#[test]
fn the_books_replicaset_and_a_deployment_rollout_on_real_pods() {
    let lab = UpLab::start(2);
    lab.apply(
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: kubia\nspec:\n  replicas: 3\n  selector:\n    matchLabels:\n      app: kubia\n  template:\n    metadata:\n      labels:\n        app: kubia\n    spec:\n      containers:\n      - name: kubia\n        image: luksa/kubia\n",
    );
    lab.eventually("3 kubia pods Ready", Duration::from_secs(60), || {
        lab.ready_pods("app=kubia").len() == 3
    });
    let pods = lab.ready_pods("app=kubia");
    let mut ips: Vec<&String> = pods.iter().map(|(_, ip)| ip).collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 3, "{pods:?}");
    assert!(ips.iter().all(|ip| ip.starts_with("10.244.")), "{pods:?}");
    lab.apply(&pod("client", "busybox", ""));
    lab.eventually("client running", Duration::from_secs(60), || {
        lab.kubectl(&["exec", "client", "--", "true"])
            .status
            .success()
    });
    for (name, ip) in &pods {
        let answer = lab.ok(&[
            "exec",
            "client",
            "--",
            "curl",
            "-s",
            &format!("http://{ip}:8080"),
        ]);
        assert_eq!(answer, format!("You've hit {name}\n"));
    }

    let victim = pods[0].0.clone();
    lab.ok(&["delete", "pod", &victim]);
    lab.eventually("a replacement pod", Duration::from_secs(60), || {
        let now = lab.ready_pods("app=kubia");
        now.len() == 3 && now.iter().all(|(n, _)| *n != victim)
    });
    lab.ok(&["scale", "rs", "kubia", "--replicas=5"]);
    lab.eventually("5 pods Ready", Duration::from_secs(60), || {
        lab.ready_pods("app=kubia").len() == 5
    });
    lab.ok(&["scale", "rs", "kubia", "--replicas=1"]);
    lab.eventually("1 pod left", Duration::from_secs(60), || {
        lab.ok(&["get", "pods", "-l", "app=kubia", "-o", "name"])
            .lines()
            .count()
            == 1
    });
    lab.ok(&["delete", "rs", "kubia"]);
    lab.eventually(
        "the ReplicaSet's pods gone",
        Duration::from_secs(60),
        || {
            lab.ok(&["get", "pods", "-l", "app=kubia", "-o", "name"])
                .is_empty()
        },
    );

    lab.ok(&[
        "create",
        "deployment",
        "web",
        "--image=luksa/kubia",
        "--replicas=2",
    ]);
    lab.eventually("2 web pods Ready", Duration::from_secs(60), || {
        lab.ready_pods("app=web").len() == 2
    });
    let before: Vec<String> = lab
        .ready_pods("app=web")
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    lab.ok(&["set", "env", "deployment/web", "GREETING=v2"]);
    lab.ok(&["rollout", "status", "deployment/web", "--timeout=90s"]);
    lab.eventually(
        "2 new web pods Ready, the old ones gone",
        Duration::from_secs(60),
        || {
            let now = lab.ready_pods("app=web");
            let all = lab
                .ok(&["get", "pods", "-l", "app=web", "-o", "name"])
                .lines()
                .count();
            now.len() == 2 && all == 2 && now.iter().all(|(n, _)| !before.contains(n))
        },
    );
    let env = lab.ok(&["exec", "deploy/web", "--", "sh", "-c", "echo $GREETING"]);
    assert_eq!(env, "v2\n");
}
