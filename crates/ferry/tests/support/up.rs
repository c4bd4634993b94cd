//! `ferry up --nodes N` as the tests' lab: the whole cluster (control plane, a network namespace
//! per node, a bridge) inside a network namespace made for the test, driven with the real
//! kubectl through the caller's loopback. Stopped by PID on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `ferry up --nodes N` in a network namespace made for the test: a shell holds that
/// namespace (the caller's, for ferry) and runs ferry in the background.
pub struct UpLab {
    holder: Option<Child>,
    ferry_pid: u32,
    pub dir: tempfile::TempDir,
}

impl UpLab {
    pub fn start(nodes: u8) -> UpLab {
        UpLab::start_in(tempfile::tempdir().unwrap(), nodes)
    }

    /// Starts with extra `ferry up` flags.
    pub fn start_with(nodes: u8, flags: &[&str]) -> UpLab {
        UpLab::launch(tempfile::tempdir().unwrap(), nodes, flags)
    }

    /// Starts in `dir` (a cluster's data dir is `dir/data`).
    pub fn start_in(dir: tempfile::TempDir, nodes: u8) -> UpLab {
        UpLab::launch(dir, nodes, &[])
    }

    fn launch(dir: tempfile::TempDir, nodes: u8, flags: &[&str]) -> UpLab {
        let ferry = env!("CARGO_BIN_EXE_ferry");
        let data = dir.path().join("data");
        let pid_file = dir.path().join("ferry.pid");
        // A restart in the same directory must not read the previous run's PID.
        let _ = std::fs::remove_file(&pid_file);
        let script = format!(
            "ip link set lo up && {ferry} up --nodes {nodes} --data-dir {} --port 6443 {} \
             >{}/up.log 2>&1 & echo $! > {}; wait",
            data.display(),
            flags.join(" "),
            dir.path().display(),
            pid_file.display()
        );
        let holder = Command::new("unshare")
            .args(["--net", "--", "sh", "-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let ferry_pid = loop {
            if let Some(pid) = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|p| p.trim().parse().ok())
            {
                break pid;
            }
            assert!(Instant::now() < deadline, "ferry up did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        let lab = UpLab {
            holder: Some(holder),
            ferry_pid,
            dir,
        };
        lab.eventually("all nodes Ready", Duration::from_secs(60), || {
            let out = lab.kubectl(&["get", "nodes", "--no-headers"]);
            let text = String::from_utf8_lossy(&out.stdout);
            text.lines().filter(|l| l.contains(" Ready ")).count() == usize::from(nodes)
        });
        lab
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log(&self) -> String {
        let mut log = std::fs::read_to_string(self.dir.path().join("up.log")).unwrap_or_default();
        for node in ["node-1", "node-2"] {
            let path = self.data_dir().join("nodes").join(node).join("agent.log");
            if let Ok(text) = std::fs::read_to_string(path) {
                log.push_str(&format!("\n--- {node} ---\n{text}"));
            }
        }
        log
    }

    /// The caller's network namespace (the holder shell's).
    pub fn netns(&self) -> String {
        format!(
            "--net=/proc/{}/ns/net",
            self.holder.as_ref().map_or(0, Child::id)
        )
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .arg(self.netns())
            .args(["--", "kubectl"])
            .arg(format!(
                "--kubeconfig={}",
                self.data_dir().join("kubeconfig").display()
            ))
            .arg(format!(
                "--cache-dir={}",
                self.dir.path().join("kube-cache").display()
            ))
            .args(args)
            .env_remove("KUBECONFIG")
            .output()
            .unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\nlog:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn apply(&self, manifest: &str) {
        let path = self.dir.path().join("manifest.yaml");
        std::fs::write(&path, manifest).unwrap();
        self.ok(&["apply", "-f", &path.display().to_string()]);
    }

    pub fn eventually(&self, what: &str, deadline: Duration, mut check: impl FnMut() -> bool) {
        let end = Instant::now() + deadline;
        while Instant::now() < end {
            if check() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for {what}; log:\n{}", self.log());
    }

    /// SIGKILL to ferry, and waits for its holder; gives the directory back for a restart.
    pub fn crash(mut self) -> tempfile::TempDir {
        let _ = Command::new("kill")
            .args(["-KILL", &self.ferry_pid.to_string()])
            .status();
        if let Some(mut holder) = self.holder.take() {
            let _ = holder.wait();
        }
        let placeholder = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, placeholder)
    }

    /// SIGTERM to ferry, and waits for it (and so its holder) to finish.
    pub fn stop(&mut self) {
        let Some(mut holder) = self.holder.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &self.ferry_pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = holder.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-KILL", &self.ferry_pid.to_string()])
            .status();
        let _ = holder.kill();
        let _ = holder.wait();
    }
}

impl Drop for UpLab {
    fn drop(&mut self) {
        self.stop();
    }
}

impl UpLab {
    /// Runs kubectl with `input` on stdin.
    pub fn kubectl_stdin(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = Command::new("nsenter")
            .arg(self.netns())
            .args(["--", "kubectl"])
            .arg(format!(
                "--kubeconfig={}",
                self.data_dir().join("kubeconfig").display()
            ))
            .arg(format!(
                "--cache-dir={}",
                self.dir.path().join("kube-cache").display()
            ))
            .args(args)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// `kubectl exec POD -- ARGS`, its stdout when it succeeded.
    pub fn exec(&self, pod: &str, args: &[&str]) -> Output {
        let mut full = vec!["exec", pod, "--"];
        full.extend_from_slice(args);
        self.kubectl(&full)
    }

    /// Runs `args` with `ferry shell` on the cluster's network, outside every node.
    pub fn shell(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .arg(self.netns())
            .args(["--", env!("CARGO_BIN_EXE_ferry"), "shell", "--data-dir"])
            .arg(self.data_dir())
            .arg("--")
            .args(args)
            .output()
            .unwrap()
    }

    /// Starts `args` with `ferry shell` in the background; the caller stops it.
    pub fn shell_spawn(&self, args: &[&str]) -> Child {
        Command::new("nsenter")
            .arg(self.netns())
            .args(["--", env!("CARGO_BIN_EXE_ferry"), "shell", "--data-dir"])
            .arg(self.data_dir())
            .arg("--")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Pods of `selector` that are Ready and not terminating, as `(name, IP)` pairs.
    pub fn ready_pods(&self, selector: &str) -> Vec<(String, String)> {
        let out = self.ok(&[
            "get",
            "pods",
            "-l",
            selector,
            "-o",
            r#"jsonpath={range .items[*]}{.metadata.name} {.status.podIP} {.metadata.deletionTimestamp} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#,
        ]);
        out.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                (f.len() == 4 && f[2].is_empty() && f[3] == "True")
                    .then(|| (f[0].to_string(), f[1].to_string()))
            })
            .collect()
    }

    /// Whether pod `name`'s Ready condition is True.
    pub fn is_ready(&self, name: &str) -> bool {
        let out = self.kubectl(&[
            "get",
            "pod",
            name,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ]);
        String::from_utf8_lossy(&out.stdout) == "True"
    }
}
