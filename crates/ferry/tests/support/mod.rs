//! A lab cluster for end-to-end tests: `ferry server` in a fresh network namespace of its own
//! (so nothing it does can reach the machine's network), driven with the real kubectl through
//! `nsenter` into that namespace. Everything is stopped by PID and removed on drop.

#![allow(dead_code)]

pub mod up;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a cluster may take to answer `/readyz`.
const START_DEADLINE: Duration = Duration::from_secs(30);

pub struct Lab {
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// Extra `ferry server` flags, kept for restarts.
    flags: Vec<String>,
}

impl Lab {
    /// Starts a cluster in a new network namespace with only loopback up.
    pub fn start() -> Lab {
        Lab::start_with(&[])
    }

    /// Starts a cluster whose `ferry server` gets extra flags.
    pub fn start_with(flags: &[&str]) -> Lab {
        let dir = tempfile::tempdir().expect("temp dir");
        let flags = flags.iter().map(|f| f.to_string()).collect();
        let mut lab = Lab {
            child: None,
            dir,
            flags,
        };
        lab.spawn();
        lab
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn spawn(&mut self) {
        let ferry = env!("CARGO_BIN_EXE_ferry");
        let script = format!(
            "ip link set lo up && exec {ferry} server --data-dir {} --port 6443 {}",
            self.data_dir().display(),
            self.flags.join(" ")
        );
        let log = std::fs::File::create(self.dir.path().join("ferry.log")).expect("log file");
        let child = Command::new("unshare")
            .args(["--net", "--", "sh", "-c", &script])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start ferry in a new network namespace (needs root and unshare)");
        self.child = Some(child);
        self.wait_ready();
    }

    /// The PID of `ferry server`, whose network namespace is the lab's.
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .map(Child::id)
            .expect("ferry is running")
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if self.data_dir().join("kubeconfig").exists() {
                let out = self.kubectl(&["get", "--raw", "/readyz"]);
                if out.status.success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "ferry did not become ready; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ferry.log")).unwrap_or_default()
    }

    fn kubectl_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/proc/{}/ns/net", self.pid()))
            .arg("--")
            .arg("kubectl")
            .arg(format!(
                "--kubeconfig={}",
                self.data_dir().join("kubeconfig").display()
            ))
            .arg(format!(
                "--cache-dir={}",
                self.dir.path().join("kube-cache").display()
            ))
            .args(args)
            .env_remove("KUBECONFIG");
        cmd
    }

    /// Runs kubectl inside the cluster's network namespace.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_command(args).output().expect("run kubectl")
    }

    /// Runs kubectl with `input` on stdin.
    pub fn kubectl_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .kubectl_command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("kubectl output")
    }

    /// Starts kubectl in the background with stdout piped (for `get -w`).
    pub fn kubectl_spawn(&self, args: &[&str]) -> Child {
        self.kubectl_command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run kubectl")
    }

    /// Runs kubectl with extra environment variables.
    pub fn kubectl_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.kubectl_command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run kubectl")
    }

    /// Runs kubectl and returns stdout, failing the test with stderr if it failed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\nferry log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl expecting failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            !out.status.success(),
            "kubectl {args:?} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Applies a manifest given as text.
    pub fn apply(&self, manifest: &str) -> String {
        let out = self.kubectl_stdin(&["apply", "-f", "-"], manifest);
        assert!(
            out.status.success(),
            "apply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stops ferry with SIGTERM (SIGKILL after a deadline) and starts it again on the same data.
    pub fn restart(&mut self) {
        self.stop(libc_signal::TERM);
        self.spawn();
    }

    /// Kills ferry with SIGKILL and starts it again on the same data.
    pub fn crash_and_restart(&mut self) {
        self.stop(libc_signal::KILL);
        self.spawn();
    }

    fn stop(&mut self, signal: &str) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Polls `check` until it returns true or the deadline passes.
    pub fn eventually(&self, what: &str, deadline: Duration, mut check: impl FnMut() -> bool) {
        let end = Instant::now() + deadline;
        while Instant::now() < end {
            if check() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}; ferry log:\n{}", self.log());
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop(libc_signal::TERM);
    }
}

mod libc_signal {
    pub const TERM: &str = "-TERM";
    pub const KILL: &str = "-KILL";
}

/// The repository's examples directory.
pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

/// Replaces ages and other volatile cells so tables compare exactly.
pub fn columns(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}
