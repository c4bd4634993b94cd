//! End-to-end tests of pod sandboxes against the real kernel: two sandboxes with their own IPs,
//! hostnames, files and DNS config talking through the node's routes; exec with pipes and a
//! pty; destroy and crash cleanup leaving nothing behind.
//!
//! Runs as root. The test process moves itself into a new network and mount namespace before
//! starting any thread (hence `harness = false`), so it is the "node" and never touches the
//! machine's network or mount table. This binary is also the sandbox init and the pods' little
//! TCP tools, chosen by argv[1].

use std::ffi::OsString;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ferry_sandbox::{
    Error, ExitStatus, InitCommand, Process, ProcessSpec, Runtime, RuntimeConfig, Sandbox,
    SandboxSpec, Signal, Stdio, WindowSize, DEFAULT_GATEWAY,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

type Case = (&'static str, fn() -> Pin<Box<dyn Future<Output = ()>>>);

/// Lists the async test functions with their names.
macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), || Box::pin($name()))),*]
    };
}

const CASES: &[Case] = cases![
    two_sandboxes_route_to_each_other_and_keep_their_own_files,
    processes_get_pipes_files_a_tty_exit_codes_and_signals,
    destroy_leaves_no_process_mount_link_cgroup_or_namespace,
    cleanup_removes_what_a_crashed_runtime_left,
    bad_specs_and_failed_inits_change_nothing,
];

/// The tags of the tests' runtimes (each names a cgroup subtree).
const TAGS: [&str; 6] = ["route", "process", "destroy", "crash", "bad", "broken"];

const RESOLV_CONF: &str =
    "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    if let Some(code) = helper(&args) {
        return code;
    }
    ferry_sys::unshare(&[ferry_sys::Namespace::Net, ferry_sys::Namespace::Mount])
        .expect("unshare net and mount");
    ferry_sys::make_private_recursive(Path::new("/")).expect("make / private");
    start_watchdog();
    let filter = args
        .iter()
        .skip(1)
        .filter_map(|a| a.to_str())
        .find(|a| !a.starts_with('-'))
        .map(str::to_string);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = run(&runtime, CASES, filter.as_deref());
    remove_test_cgroups();
    code
}

/// Ends the whole test process if it hangs: exiting closes every init's control socket, so the
/// sandboxes go with it.
fn start_watchdog() {
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(240));
        eprintln!("sandbox tests did not finish in 240 s");
        std::process::exit(1);
    });
}

/// Removes the cgroups a failed test left (a passing test removes its own).
fn remove_test_cgroups() {
    for tag in TAGS {
        let Ok(root) = ferry_sys::CgroupRoot::discover(&cgroup_subtree(tag)) else {
            continue;
        };
        for cgroup in root.children().unwrap_or_default() {
            let _ = cgroup.kill_all();
            let _ = cgroup.remove();
        }
        let _ = root.remove();
    }
}

/// Runs the cases one after another and prints libtest-style lines.
fn run(runtime: &tokio::runtime::Runtime, cases: &[Case], filter: Option<&str>) -> ExitCode {
    let selected: Vec<&Case> = cases
        .iter()
        .filter(|(name, _)| filter.is_none_or(|f| name.contains(f)))
        .collect();
    let started = Instant::now();
    println!("\nrunning {} tests", selected.len());
    let mut failed = 0;
    for (name, case) in &selected {
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(case())));
        println!(
            "test {name} ... {}",
            if outcome.is_ok() { "ok" } else { "FAILED" }
        );
        failed += usize::from(outcome.is_err());
    }
    println!(
        "\ntest result: {}. {} passed; {failed} failed; 0 ignored; 0 measured; {} filtered out; finished in {:.2}s\n",
        if failed == 0 { "ok" } else { "FAILED" },
        selected.len() - failed,
        cases.len() - selected.len(),
        started.elapsed().as_secs_f64()
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The roles of this binary inside sandboxes.
fn helper(args: &[OsString]) -> Option<ExitCode> {
    match args.get(1).and_then(|a| a.to_str()) {
        Some("sandbox-init") => ferry_sandbox::run_init(args[2..].to_vec()),
        Some("tcp-echo") => {
            let port: u16 = args[2].to_str()?.parse().ok()?;
            let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).expect("bind");
            println!("listening");
            for stream in listener.incoming() {
                let mut stream = stream.expect("accept");
                let mut message = Vec::new();
                stream.read_to_end(&mut message).expect("read");
                stream.write_all(&message).expect("write");
            }
            Some(ExitCode::SUCCESS)
        }
        Some("tcp-send") => {
            let target: SocketAddr = args[2].to_str()?.parse().ok()?;
            print!("{}", exchange(target, args[3].to_str()?));
            Some(ExitCode::SUCCESS)
        }
        _ => None,
    }
}

/// Sends `message`, half-closes, and returns the reply.
fn exchange(target: SocketAddr, message: &str) -> String {
    let mut stream = TcpStream::connect_timeout(&target, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(message.as_bytes()).expect("send");
    stream.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("receive");
    reply
}

/// A runtime with its own state root and cgroup subtree, for one test.
struct Node {
    runtime: Option<Runtime>,
    state_root: PathBuf,
    tag: &'static str,
    _dir: tempfile::TempDir,
}

impl Node {
    fn open(tag: &'static str) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let state_root = dir.path().join("pods");
        let runtime = Runtime::open(config(&state_root, tag)).unwrap();
        Node {
            runtime: Some(runtime),
            state_root,
            tag,
            _dir: dir,
        }
    }

    fn runtime(&self) -> &Runtime {
        self.runtime.as_ref().unwrap()
    }

    async fn create(&self, id: &str, ip: Ipv4Addr) -> Sandbox {
        self.runtime().create(spec(id, ip)).await.unwrap()
    }

    /// Removes the runtime's subtree and state root, and checks they are gone.
    async fn close(mut self) {
        let runtime = self.runtime.take().unwrap();
        runtime.remove_all().await.unwrap();
        assert!(!self.state_root.exists());
        let subtree = ferry_sys::CgroupRoot::discover(&cgroup_subtree(self.tag)).unwrap();
        for path in subtree.paths() {
            assert!(!path.exists(), "cgroup {} is left", path.display());
        }
    }
}

fn config(state_root: &Path, tag: &str) -> RuntimeConfig {
    RuntimeConfig {
        state_root: state_root.to_path_buf(),
        cgroup_subtree: cgroup_subtree(tag),
        init: InitCommand {
            program: std::env::current_exe().unwrap(),
            args: vec!["sandbox-init".into()],
        },
    }
}

fn cgroup_subtree(tag: &str) -> String {
    format!("ferry-sandboxtest-{}-{tag}", std::process::id())
}

fn spec(id: &str, ip: Ipv4Addr) -> SandboxSpec {
    SandboxSpec {
        id: id.to_string(),
        hostname: id.to_string(),
        ip,
        gateway: DEFAULT_GATEWAY,
        hosts_file: format!("127.0.0.1\tlocalhost\n{ip}\t{id}\n"),
        resolv_conf: RESOLV_CONF.to_string(),
    }
}

fn process(argv: &[&str]) -> ProcessSpec {
    ProcessSpec {
        argv: argv.iter().map(|a| a.to_string()).collect(),
        env: vec![("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into())],
        cwd: PathBuf::from("/"),
        stdin: Stdio::Null,
        stdout: Stdio::Pipe,
        stderr: Stdio::Pipe,
        tty: false,
    }
}

/// Runs `argv` in `sandbox` and returns its status and stdout (stderr is printed).
async fn run_in(sandbox: &Sandbox, argv: &[&str]) -> (ExitStatus, String) {
    let mut child = sandbox.spawn(process(argv)).await.unwrap();
    let mut stdout = String::new();
    let mut stderr = String::new();
    let (out, err) = (
        child.stdout.as_mut().unwrap(),
        child.stderr.as_mut().unwrap(),
    );
    let (a, b) = tokio::join!(
        out.read_to_string(&mut stdout),
        err.read_to_string(&mut stderr)
    );
    a.unwrap();
    b.unwrap();
    if !stderr.is_empty() {
        eprintln!("{argv:?}: {stderr}");
    }
    (child.wait().await.unwrap(), stdout)
}

async fn output_of(sandbox: &Sandbox, argv: &[&str]) -> String {
    let (status, stdout) = run_in(sandbox, argv).await;
    assert_eq!(status, ExitStatus::Exited(0), "{argv:?}");
    stdout
}

/// Starts the TCP echo helper on `port` in `sandbox` and waits until it listens.
async fn start_echo(sandbox: &Sandbox, port: u16) -> Process {
    let exe = std::env::current_exe().unwrap();
    let port = port.to_string();
    let mut echo = sandbox
        .spawn(process(&[exe.to_str().unwrap(), "tcp-echo", &port]))
        .await
        .unwrap();
    let mut line = String::new();
    BufReader::new(echo.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .await
        .unwrap();
    assert_eq!(line, "listening\n");
    echo
}

async fn two_sandboxes_route_to_each_other_and_keep_their_own_files() {
    let node = Node::open("route");
    assert_eq!(
        node.runtime().cleanup_leftovers().await.unwrap(),
        Default::default()
    );
    let (ip_a, ip_b) = (Ipv4Addr::new(10, 244, 0, 2), Ipv4Addr::new(10, 244, 0, 3));
    let a = node.create("pod-a", ip_a).await;
    let b = node.create("pod-b", ip_b).await;

    // Network: the pod IP as /32 on eth0, the default route via the link-local gateway.
    let addresses = output_of(&a, &["ip", "-o", "-4", "addr", "show", "eth0"]).await;
    assert!(addresses.contains("inet 10.244.0.2/32"), "{addresses}");
    let routes = output_of(&b, &["ip", "route"]).await;
    assert!(
        routes.contains("default via 169.254.1.1 dev eth0"),
        "{routes}"
    );
    let node_links = command_output("ip", &["-o", "link"]);
    assert!(node_links.contains(a.veth()) && node_links.contains(b.veth()));

    // TCP: pod to pod in both directions, and node to pod, through the node's routes.
    let exe = std::env::current_exe().unwrap();
    let exe = exe.to_str().unwrap();
    let mut echo_a = start_echo(&a, 8080).await;
    let mut echo_b = start_echo(&b, 8080).await;
    let reply = output_of(&a, &[exe, "tcp-send", "10.244.0.3:8080", "hello from a"]).await;
    assert_eq!(reply, "hello from a");
    let reply = output_of(&b, &[exe, "tcp-send", "10.244.0.2:8080", "hello from b"]).await;
    assert_eq!(reply, "hello from b");
    let reply = tokio::task::spawn_blocking(|| {
        exchange("10.244.0.2:8080".parse().unwrap(), "from the node")
    })
    .await
    .unwrap();
    assert_eq!(reply, "from the node");

    // UTS and pid namespaces.
    assert_eq!(
        output_of(&a, &["cat", "/proc/sys/kernel/hostname"]).await,
        "pod-a\n"
    );
    assert_eq!(output_of(&b, &["hostname"]).await, "pod-b\n");
    assert_ne!(hostname(), "pod-a");
    let init_cmdline = output_of(&a, &["cat", "/proc/1/cmdline"]).await;
    assert!(init_cmdline.contains("sandbox-init"), "{init_cmdline:?}");

    // The pod's own /etc files.
    assert_eq!(
        output_of(&a, &["cat", "/etc/resolv.conf"]).await,
        RESOLV_CONF
    );
    assert_eq!(output_of(&a, &["cat", "/etc/hostname"]).await, "pod-a\n");
    assert_eq!(
        output_of(&b, &["cat", "/etc/hosts"]).await,
        "127.0.0.1\tlocalhost\n10.244.0.3\tpod-b\n"
    );

    // A file written in one pod is seen by no other pod and not by the node.
    let marker = format!("/var/ferry-ready-{}", std::process::id());
    assert!(!Path::new(&marker).exists());
    output_of(&a, &["touch", &marker]).await;
    output_of(&a, &["test", "-e", &marker]).await;
    assert_eq!(
        run_in(&b, &["test", "-e", &marker]).await.0,
        ExitStatus::Exited(1)
    );
    assert!(!Path::new(&marker).exists());
    // Nor can a pod read the sandboxes' state, where the writable layers are.
    let state_root = node.state_root.to_str().unwrap();
    assert_eq!(output_of(&b, &["ls", "-A", state_root]).await, "");

    echo_a.signal(Signal::SIGKILL).unwrap();
    echo_b.signal(Signal::SIGKILL).unwrap();
    echo_a.wait().await.unwrap();
    echo_b.wait().await.unwrap();
    a.destroy().await.unwrap();
    b.destroy().await.unwrap();
    node.close().await;
}

async fn processes_get_pipes_files_a_tty_exit_codes_and_signals() {
    let node = Node::open("process");
    let pod = node.create("pod-c", Ipv4Addr::new(10, 244, 0, 4)).await;

    // stdin and stdout pipes, as for `kubectl exec -i`.
    let mut cat = pod
        .spawn(ProcessSpec {
            stdin: Stdio::Pipe,
            ..process(&["cat"])
        })
        .await
        .unwrap();
    let mut stdin = cat.stdin.take().unwrap();
    stdin.write_all(b"piped through cat").await.unwrap();
    drop(stdin);
    let mut echoed = String::new();
    cat.stdout
        .as_mut()
        .unwrap()
        .read_to_string(&mut echoed)
        .await
        .unwrap();
    assert_eq!(echoed, "piped through cat");
    assert_eq!(cat.wait().await.unwrap(), ExitStatus::Exited(0));

    // Output to a file on the node, a working directory and the environment as given.
    let log = node.state_root.parent().unwrap().join("container.log");
    let mut env_echo = pod
        .spawn(ProcessSpec {
            env: vec![("GREETING".into(), "hi".into())],
            cwd: PathBuf::from("/etc"),
            stdout: Stdio::File(log.clone()),
            ..process(&[
                "/bin/sh",
                "-c",
                "echo \"$GREETING from $(pwd)\"; env | grep -c PATH || true",
            ])
        })
        .await
        .unwrap();
    assert_eq!(env_echo.wait().await.unwrap(), ExitStatus::Exited(0));
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "hi from /etc\n0\n");

    // Exit codes and signals.
    assert_eq!(
        run_in(&pod, &["sh", "-c", "exit 7"]).await.0,
        ExitStatus::Exited(7)
    );
    let mut sleeper = pod.spawn(process(&["sleep", "100"])).await.unwrap();
    assert_eq!(sleeper.try_wait().unwrap(), None);
    sleeper.signal(Signal::SIGTERM).unwrap();
    let status = sleeper.wait().await.unwrap();
    assert_eq!(
        (status, status.code()),
        (ExitStatus::Signaled(Signal::SIGTERM), 143)
    );
    let err = pod
        .spawn(process(&["ferry-no-such-program"]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Sys { .. }), "{err}");
    assert!(
        error_text(&err).contains("No such file or directory"),
        "{}",
        error_text(&err)
    );

    // An interactive shell on a pty, resized, as for `kubectl exec -it`.
    let mut shell = pod
        .spawn(ProcessSpec {
            tty: true,
            ..process(&["sh"])
        })
        .await
        .unwrap();
    let mut tty = shell.tty.take().unwrap();
    tty.resize(WindowSize {
        rows: 24,
        columns: 91,
    })
    .unwrap();
    tty.input
        .write_all(b"stty size; test -t 0 && echo on-a-tty; exit 3\n")
        .await
        .unwrap();
    let mut screen = Vec::new();
    let mut buf = [0u8; 1024];
    // The output ends with EIO once the shell has exited and closed the terminal.
    while let Ok(n) = tty.output.read(&mut buf).await {
        if n == 0 {
            break;
        }
        screen.extend_from_slice(&buf[..n]);
    }
    let screen = String::from_utf8_lossy(&screen);
    assert!(
        screen.contains("24 91") && screen.contains("on-a-tty"),
        "{screen:?}"
    );
    assert_eq!(shell.wait().await.unwrap(), ExitStatus::Exited(3));

    pod.destroy().await.unwrap();
    node.close().await;
}

async fn destroy_leaves_no_process_mount_link_cgroup_or_namespace() {
    let node = Node::open("destroy");
    let pod = node.create("pod-d", Ipv4Addr::new(10, 244, 0, 5)).await;
    let survivor = node.create("pod-e", Ipv4Addr::new(10, 244, 0, 6)).await;
    let init_pid = pod.init_pid();
    let netns = std::fs::read_link(format!("/proc/{init_pid}/ns/net")).unwrap();
    let mntns = std::fs::read_link(format!("/proc/{init_pid}/ns/mnt")).unwrap();
    let veth = pod.veth().to_string();
    let cgroups = pod.cgroup_paths();
    let state_dir = pod.state_dir().to_path_buf();
    let mut sleeper = pod
        .spawn(process(&["sh", "-c", "sleep 1000 & sleep 1000"]))
        .await
        .unwrap();
    poll(|| (cgroup_pids(&cgroups).len() >= 4).then_some(()));
    let pids = cgroup_pids(&cgroups);

    pod.destroy().await.unwrap();
    assert!(cgroup_pids(&cgroups).is_empty());
    // The init finishes exiting (and is reaped in the background) once the processes this
    // test started in the pod are reaped.
    assert_eq!(
        sleeper.wait().await.unwrap(),
        ExitStatus::Signaled(Signal::SIGKILL)
    );
    poll(|| (!Path::new(&format!("/proc/{init_pid}")).exists()).then_some(()));
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} is left"
        );
    }
    assert!(
        processes_in_namespace(&netns, "net").is_empty(),
        "network namespace is left"
    );
    assert!(
        processes_in_namespace(&mntns, "mnt").is_empty(),
        "mount namespace is left"
    );
    assert!(!command_output("ip", &["-o", "link"]).contains(&veth));
    assert!(!command_output("ip", &["route"]).contains("10.244.0.5"));
    for path in &cgroups {
        assert!(!path.exists(), "cgroup {} is left", path.display());
    }
    assert!(!state_dir.exists());
    assert!(!ferry_sys::mountpoints()
        .unwrap()
        .iter()
        .any(|m| m.starts_with(&node.state_root)));
    // The other pod is untouched.
    assert_eq!(output_of(&survivor, &["hostname"]).await, "pod-e\n");
    survivor.destroy().await.unwrap();
    node.close().await;
}

async fn cleanup_removes_what_a_crashed_runtime_left() {
    let node = Node::open("crash");
    let crashed = node.create("pod-f", Ipv4Addr::new(10, 244, 0, 7)).await;
    let frozen = node.create("pod-g", Ipv4Addr::new(10, 244, 0, 8)).await;
    let frozen_cgroups = frozen.cgroup_paths();
    let frozen_veth = frozen.veth().to_string();
    let _sleeper = frozen.spawn(process(&["sleep", "1000"])).await.unwrap();
    // A crash closes the control socket: the init exits and takes the pod's processes along.
    drop(crashed);
    // A runtime that hangs on to its sandboxes while a new one starts: everything still runs.
    std::mem::forget(frozen);
    assert!(!cgroup_pids(&frozen_cgroups).is_empty());

    let restarted = Runtime::open(config(&node.state_root, "crash")).unwrap();
    let leftovers = restarted.cleanup_leftovers().await.unwrap();
    assert_eq!(leftovers.sandboxes, ["pod-f", "pod-g"]);
    assert_eq!(leftovers.cgroups, ["pod-f", "pod-g"]);
    assert!(leftovers.links.len() <= 1, "{leftovers:?}");
    assert!(frozen_cgroups.iter().all(|p| !p.exists()));
    assert!(!command_output("ip", &["-o", "link"]).contains(&frozen_veth));
    assert_eq!(std::fs::read_dir(&node.state_root).unwrap().count(), 0);
    assert_eq!(
        restarted.cleanup_leftovers().await.unwrap(),
        Default::default()
    );
    drop(restarted);
    node.close().await;
}

async fn bad_specs_and_failed_inits_change_nothing() {
    let node = Node::open("bad");
    let bad = SandboxSpec {
        id: "../escape".to_string(),
        ..spec("pod-h", Ipv4Addr::new(10, 244, 0, 9))
    };
    assert!(matches!(
        node.runtime().create(bad).await,
        Err(Error::InvalidSpec { field: "id", .. })
    ));
    let pod = node.create("pod-h", Ipv4Addr::new(10, 244, 0, 9)).await;
    let again = node
        .runtime()
        .create(spec("pod-h", Ipv4Addr::new(10, 244, 0, 10)))
        .await;
    assert!(matches!(again, Err(Error::Exists { .. })));
    assert_eq!(output_of(&pod, &["hostname"]).await, "pod-h\n");
    pod.destroy().await.unwrap();

    // An init that exits without building anything.
    let dir = tempfile::tempdir().unwrap();
    let state_root = dir.path().join("pods");
    let broken = Runtime::open(RuntimeConfig {
        init: InitCommand {
            program: PathBuf::from("/bin/true"),
            args: Vec::new(),
        },
        ..config(&state_root, "broken")
    })
    .unwrap();
    let err = broken
        .create(spec("pod-i", Ipv4Addr::new(10, 244, 0, 11)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Init { .. }), "{err}");
    assert_eq!(std::fs::read_dir(&state_root).unwrap().count(), 0);
    assert!(broken.cleanup_leftovers().await.unwrap() == Default::default());
    broken.remove_all().await.unwrap();
    node.close().await;
}

fn error_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

fn command_output(program: &str, args: &[&str]) -> String {
    let output = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{program} {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

/// The pids in a cgroup, read from its directory in every hierarchy.
fn cgroup_pids(paths: &[PathBuf]) -> Vec<i32> {
    let mut pids: Vec<i32> = paths
        .iter()
        .filter_map(|p| std::fs::read_to_string(p.join("cgroup.procs")).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(|l| l.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Processes whose namespace of `kind` is `namespace` (as `readlink /proc/PID/ns/KIND` shows).
fn processes_in_namespace(namespace: &Path, kind: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).is_ok_and(|ns| ns == namespace)
        })
        .collect()
}

/// Retries `check` until it gives a value, for at most ten seconds.
fn poll<T>(mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "condition not reached in 10 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}
