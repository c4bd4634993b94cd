//! End-to-end: service discovery as seed section 5.1.2 describes it, from inside pods of a lab
//! cluster: environment variables, and names resolved by the ordinary glibc resolver and by dig
//! through each node's own cluster DNS at 10.96.0.10. Outside names go to an upstream resolver
//! the test runs on the cluster's network (a few lines of Python at 172.18.0.1), never off the
//! machine.

mod support;

use std::collections::BTreeSet;
use std::process::Child;
use std::time::{Duration, Instant};

use support::up::UpLab;

const WORKLOADS: &str = "apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: kubia
spec:
  replicas: 3
  selector:
    matchLabels:
      app: kubia
  template:
    metadata:
      labels:
        app: kubia
    spec:
      containers:
      - name: kubia
        image: luksa/kubia
---
apiVersion: v1
kind: Service
metadata:
  name: kubia
spec:
  selector:
    app: kubia
  ports:
  - name: http
    port: 80
    targetPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: kubia-headless
spec:
  clusterIP: None
  selector:
    app: kubia
  ports:
  - name: http
    port: 80
    targetPort: 8080
---
apiVersion: v1
kind: Pod
metadata:
  name: unready
  labels:
    app: unready
spec:
  containers:
  - name: kubia
    image: luksa/kubia
    readinessProbe:
      exec:
        command: [ls, /var/ready]
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: unready
spec:
  clusterIP: None
  selector:
    app: unready
  ports:
  - port: 80
---
apiVersion: v1
kind: Service
metadata:
  name: unready-published
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector:
    app: unready
  ports:
  - port: 80
---
apiVersion: v1
kind: Service
metadata:
  name: ext
spec:
  type: ExternalName
  externalName: example.org
";

const CLIENT: &str = "apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  containers:
  - name: main
    image: busybox
";

/// An upstream resolver on the cluster's network: answers every A query with 192.0.2.7 and
/// every other query with no data. Started through `ferry shell`, stopped by PID.
const UPSTREAM: &str = r#"
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("172.18.0.1", 53))
open(sys.argv[1], "w").write("ready")
while True:
    q, peer = s.recvfrom(512)
    i = 12
    while q[i] != 0:
        i += q[i] + 1
    qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
    question = q[12:i + 5]
    answer = b""
    if qtype == 1:
        answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 7])
    head = q[:2] + struct.pack("!HHHHH", 0x8180, 1, 1 if answer else 0, 0, 0)
    s.sendto(head + question + answer, peer)
"#;

struct Upstream {
    shell: Child,
    pid_file: std::path::PathBuf,
}

impl Upstream {
    fn start(lab: &UpLab) -> Upstream {
        let pid_file = lab.dir.path().join("upstream.pid");
        let ready = lab.dir.path().join("upstream.ready");
        let script_path = lab.dir.path().join("upstream.py");
        std::fs::write(&script_path, UPSTREAM).unwrap();
        let script = format!(
            "echo $$ > {}; exec python3 {} {}",
            pid_file.display(),
            script_path.display(),
            ready.display()
        );
        let shell = lab.shell_spawn(&["sh", "-c", &script]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready.exists() {
            assert!(
                Instant::now() < deadline,
                "the upstream resolver did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Upstream { shell, pid_file }
    }

    fn stop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.pid_file) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", pid.trim()])
                .status();
        }
        let _ = self.shell.wait();
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop();
    }
}

fn stdout(out: std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `dig +short ARGS` from the client pod, its answer lines.
fn dig(lab: &UpLab, args: &[&str]) -> Vec<String> {
    let mut full = vec!["dig", "+short", "+time=2", "+tries=1"];
    full.extend_from_slice(args);
    stdout(lab.exec("client", &full))
        .lines()
        .map(str::to_string)
        .collect()
}

fn pod_ips(lab: &UpLab, selector: &str) -> BTreeSet<String> {
    lab.ok(&[
        "get",
        "pods",
        "-l",
        selector,
        "-o",
        "jsonpath={.items[*].status.podIP}",
    ])
    .split_whitespace()
    .map(str::to_string)
    .collect()
}

#[test]
fn pods_find_services_by_environment_and_by_dns() {
    let lab = UpLab::start_with(1, &["--upstream-dns", "172.18.0.1"]);
    let mut upstream = Upstream::start(&lab);
    // A pod that exists before the service gets no variables for it.
    lab.apply(&CLIENT.replace("name: client", "name: early"));
    lab.eventually("early Ready", Duration::from_secs(60), || {
        lab.is_ready("early")
    });
    lab.apply(WORKLOADS);
    lab.apply(CLIENT);
    lab.eventually(
        "kubia pods and the client Ready",
        Duration::from_secs(60),
        || {
            let ready = lab.ok(&["get", "pods", "-l", "app=kubia", "--no-headers"]);
            ready.lines().filter(|l| l.contains("1/1")).count() == 3 && lab.is_ready("client")
        },
    );
    let ip = lab.ok(&["get", "svc", "kubia", "-o", "jsonpath={.spec.clusterIP}"]);

    let env = stdout(lab.exec("client", &["env"]));
    assert!(env.contains(&format!("KUBIA_SERVICE_HOST={ip}\n")), "{env}");
    assert!(env.contains("KUBIA_SERVICE_PORT=80\n"), "{env}");
    assert!(env.contains("KUBERNETES_SERVICE_HOST=10.96.0.1\n"), "{env}");
    let early_env = stdout(lab.exec("early", &["env"]));
    assert!(!early_env.contains("KUBIA_SERVICE_HOST"), "{early_env}");

    // Short, namespaced and fully qualified names, through glibc and the search path.
    for name in ["kubia", "kubia.default", "kubia.default.svc.cluster.local"] {
        let answer = stdout(lab.exec(
            "client",
            &["curl", "-s", "-m", "5", &format!("http://{name}")],
        ));
        assert!(
            answer.starts_with("You've hit kubia-"),
            "{name}: {answer:?}\n{}",
            lab.log()
        );
    }
    let hosts = stdout(lab.exec("client", &["getent", "hosts", "kubia"]));
    assert_eq!(
        hosts.split_whitespace().collect::<Vec<_>>(),
        [ip.as_str(), "kubia.default.svc.cluster.local"],
        "{hosts}"
    );

    // A headless service answers with its pods; SRV for the named port; PTR for the IP.
    let headless: BTreeSet<String> = dig(&lab, &["kubia-headless.default.svc.cluster.local"])
        .into_iter()
        .collect();
    assert_eq!(headless, pod_ips(&lab, "app=kubia"));
    let srv = dig(&lab, &["SRV", "_http._tcp.kubia.default.svc.cluster.local"]);
    assert_eq!(srv.len(), 1, "{srv:?}");
    assert!(
        srv[0].ends_with(" 80 kubia.default.svc.cluster.local."),
        "{srv:?}"
    );
    assert_eq!(
        dig(&lab, &["-x", &ip]),
        ["kubia.default.svc.cluster.local."]
    );
    // Not-ready pods only where the service publishes them.
    assert!(dig(&lab, &["unready.default.svc.cluster.local"]).is_empty());
    assert_eq!(
        dig(&lab, &["unready-published.default.svc.cluster.local"])
            .into_iter()
            .collect::<BTreeSet<_>>(),
        pod_ips(&lab, "app=unready")
    );
    // An ExternalName service is a CNAME.
    let ext = dig(&lab, &["CNAME", "ext.default.svc.cluster.local"]);
    assert_eq!(ext, ["example.org."]);
    // A name that does not exist in the cluster domain is NXDOMAIN.
    let missing = stdout(lab.exec(
        "client",
        &[
            "dig",
            "+time=2",
            "+tries=1",
            "missing.default.svc.cluster.local",
        ],
    ));
    assert!(missing.contains("status: NXDOMAIN"), "{missing}");

    // A service created now resolves as soon as the name is asked for.
    lab.ok(&["create", "service", "clusterip", "late", "--tcp=80:8080"]);
    let late = lab.ok(&["get", "svc", "late", "-o", "jsonpath={.spec.clusterIP}"]);
    lab.eventually("the new service resolves", Duration::from_secs(5), || {
        dig(&lab, &["late.default.svc.cluster.local"]) == [late.clone()]
    });

    // Outside names go to the upstream resolver; without one, they fail fast.
    let outside = stdout(lab.exec("client", &["getent", "hosts", "example.org"]));
    assert!(outside.starts_with("192.0.2.7"), "{outside:?}");
    upstream.stop();
    let started = Instant::now();
    let failed = lab.exec("client", &["getent", "hosts", "gone.example"]);
    assert!(!failed.status.success(), "{}", stdout(failed));
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "a dead upstream must not hang lookups: {:?}",
        started.elapsed()
    );
}
