//! End-to-end: `ferry up --host` runs "this machine" as the cluster's one node. The machine is
//! a network namespace made for the test (a veth pair gives it an address and a default route
//! that leads nowhere), never the real machine's: pods, the service proxy's table and the DNS
//! address land in that namespace, and the test checks they are gone after ferry stops.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const MANIFEST: &str = "apiVersion: v1
kind: Pod
metadata:
  name: kubia
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
  - port: 80
    targetPort: 8080
---
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  containers:
  - name: main
    image: busybox
";

struct HostLab {
    holder: Child,
    dir: tempfile::TempDir,
    ferry_pid: u32,
}

impl HostLab {
    fn start() -> HostLab {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let script = format!(
            "ip link set lo up && \
             ip link add fhost0 type veth peer name fhost1 && \
             ip addr add 192.0.2.10/24 dev fhost0 && ip link set fhost0 up && \
             ip link set fhost1 up && ip route add default via 192.0.2.1 dev fhost0 && \
             {ferry} up --host --data-dir {d}/data --port 6443 >{d}/up.log 2>&1 & \
             echo $! > {d}/ferry.pid; wait; \
             nft list tables > {d}/after-tables; ip -o link > {d}/after-links; \
             ip -o addr show dev lo > {d}/after-lo; ip route > {d}/after-routes",
            ferry = env!("CARGO_BIN_EXE_ferry"),
        );
        let holder = Command::new("unshare")
            .args(["--net", "--", "sh", "-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid_file = dir.path().join("ferry.pid");
        let deadline = Instant::now() + Duration::from_secs(10);
        let ferry_pid = loop {
            if let Some(pid) = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|p| p.trim().parse().ok())
            {
                break pid;
            }
            assert!(Instant::now() < deadline, "ferry up --host did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        HostLab {
            holder,
            dir,
            ferry_pid,
        }
    }

    fn netns(&self) -> String {
        format!("--net=/proc/{}/ns/net", self.holder.id())
    }

    fn log(&self) -> String {
        let mut log = std::fs::read_to_string(self.dir.path().join("up.log")).unwrap_or_default();
        if let Ok(nodes) = std::fs::read_dir(self.dir.path().join("data/nodes")) {
            for node in nodes.flatten() {
                let agent = std::fs::read_to_string(node.path().join("agent.log"));
                log.push_str(&format!("\n--- agent ---\n{}", agent.unwrap_or_default()));
            }
        }
        log
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .arg(self.netns())
            .args(["--", "kubectl"])
            .arg(format!(
                "--kubeconfig={}/data/kubeconfig",
                self.dir.path().display()
            ))
            .arg(format!(
                "--cache-dir={}/kube-cache",
                self.dir.path().display()
            ))
            .args(args)
            .env_remove("KUBECONFIG")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn eventually(&self, what: &str, mut check: impl FnMut() -> bool) {
        let end = Instant::now() + Duration::from_secs(60);
        while Instant::now() < end {
            if check() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for {what}; log:\n{}", self.log());
    }

    /// SIGTERM to ferry; waits for the holder, which records what is left in the namespace.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.ferry_pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.holder.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-KILL", &self.ferry_pid.to_string()])
            .status();
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        panic!("ferry up --host did not stop; log:\n{}", self.log());
    }

    fn after(&self, what: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("after-{what}"))).unwrap_or_default()
    }
}

impl Drop for HostLab {
    fn drop(&mut self) {
        if let Ok(None) = self.holder.try_wait() {
            let _ = Command::new("kill")
                .args(["-KILL", &self.ferry_pid.to_string()])
                .status();
            let _ = self.holder.kill();
            let _ = self.holder.wait();
        }
    }
}

#[test]
fn the_machine_itself_is_the_node_and_is_left_as_it_was() {
    let mut lab = HostLab::start();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_lowercase();
    lab.eventually("the machine Ready as a node", || {
        let out = lab.kubectl(&["get", "nodes", "-o", "wide", "--no-headers"]);
        let text = String::from_utf8_lossy(&out.stdout);
        text.starts_with(&format!("{hostname} ")) && text.contains(" Ready ")
    });
    let wide = lab.ok(&["get", "nodes", "-o", "wide"]);
    assert!(wide.contains("192.0.2.10"), "{wide}");

    let path = lab.dir.path().join("manifest.yaml");
    std::fs::write(&path, MANIFEST).unwrap();
    lab.ok(&["apply", "-f", &path.display().to_string()]);
    lab.eventually("pods Ready", || {
        let out = lab.kubectl(&[
            "get",
            "pods",
            "-o",
            r#"jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}"#,
        ]);
        String::from_utf8_lossy(&out.stdout) == "True True"
    });
    let ip = lab.ok(&["get", "svc", "kubia", "-o", "jsonpath={.spec.clusterIP}"]);
    // From a pod, by cluster IP and by name; and from the machine itself.
    for url in [format!("http://{ip}"), "http://kubia".to_string()] {
        lab.eventually(&format!("{url} from a pod"), || {
            let out = lab.kubectl(&["exec", "client", "--", "curl", "-s", "-m", "2", &url]);
            String::from_utf8_lossy(&out.stdout) == "You've hit kubia\n"
        });
    }
    lab.eventually("the cluster IP from the machine", || {
        let out = Command::new("nsenter")
            .arg(lab.netns())
            .args(["--", "curl", "-s", "-m", "2", &format!("http://{ip}")])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout) == "You've hit kubia\n"
    });

    lab.stop();
    let tables = lab.after("tables");
    assert!(!tables.contains("ferry"), "{tables}");
    let links = lab.after("links");
    assert!(
        links.contains("fhost0"),
        "the namespace was not inspected: {links:?}"
    );
    assert!(!links.contains("fpod"), "{links}");
    let lo = lab.after("lo");
    assert!(!lo.contains("10.96.0.10"), "{lo}");
    let routes = lab.after("routes");
    assert!(!routes.contains("10.244."), "{routes}");
}
