//! Tests of spawning, namespaces, pidfds, cgroups, mounts and ptys against the real kernel.
//!
//! Runs as root. The test process first moves itself into a new network and mount namespace
//! (while it is still single-threaded, hence `harness = false`), so nothing it does reaches the
//! machine's network or mount table. Helper roles of this same binary are chosen by argv[1].

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ferry_sys::{
    CgroupRoot, Command, Error, ExitStatus, Namespace, Session, Signal, SpawnStep, WindowSize,
};

type Case = (&'static str, fn());

/// Lists the test functions with their names.
macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), $name as fn())),*]
    };
}

const CASES: &[Case] = cases![
    exit_codes_and_signals_are_reported,
    a_missing_program_fails_at_the_exec_step,
    environment_directory_and_descriptors_are_the_given_ones,
    new_namespaces_make_the_child_pid_1_with_its_own_hostname,
    joining_namespaces_of_a_holder_shares_its_hostname_network_and_pids,
    cgroup_kill_all_kills_every_descendant_and_remove_cleans_up,
    the_parent_death_signal_follows_the_spawning_thread,
    overlay_bind_and_tmpfs_mounts_work_and_detach,
    pivot_root_into_a_tmpfs_hides_the_old_root,
    a_pty_is_the_controlling_terminal_with_its_window_size,
    inherited_descriptors_are_taken_once,
    pid_1_reaps_orphans_and_leaves_on_hangup,
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Some(code) = helper(&args) {
        return code;
    }
    ferry_sys::unshare(&[Namespace::Net, Namespace::Mount]).expect("unshare net and mount");
    ferry_sys::make_private_recursive(Path::new("/")).expect("make / private");
    // Ends the whole test process (and so its children's control sockets) if a case hangs.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(120));
        eprintln!("kernel tests did not finish in 120 s");
        std::process::exit(1);
    });
    let filter = args.iter().skip(1).find(|a| !a.starts_with('-')).cloned();
    run(CASES, filter.as_deref())
}

/// Runs the cases one after another and prints libtest-style lines.
fn run(cases: &[Case], filter: Option<&str>) -> ExitCode {
    let selected: Vec<&Case> = cases
        .iter()
        .filter(|(name, _)| filter.is_none_or(|f| name.contains(f)))
        .collect();
    let started = Instant::now();
    println!("\nrunning {} tests", selected.len());
    let mut failed = Vec::new();
    for (name, case) in &selected {
        let outcome = std::panic::catch_unwind(case);
        println!(
            "test {name} ... {}",
            if outcome.is_ok() { "ok" } else { "FAILED" }
        );
        if outcome.is_err() {
            failed.push(*name);
        }
    }
    let passed = selected.len() - failed.len();
    let verdict = if failed.is_empty() { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {verdict}. {passed} passed; {} failed; 0 ignored; 0 measured; {} filtered out; finished in {:.2}s\n",
        failed.len(),
        cases.len() - selected.len(),
        started.elapsed().as_secs_f64()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Roles this binary plays when it is the spawned program.
fn helper(args: &[String]) -> Option<ExitCode> {
    match args.get(1).map(String::as_str) {
        Some("helper-take-fd") => {
            let fd = ferry_sys::take_inherited_fd(3).expect("take fd 3");
            let again = ferry_sys::take_inherited_fd(3);
            let mut file = File::from(fd);
            let verdict = match again {
                Err(Error::FdTaken { fd: 3 }) => "taken-once",
                _ => "taken-twice",
            };
            file.write_all(verdict.as_bytes()).expect("write to fd 3");
            Some(ExitCode::SUCCESS)
        }
        Some("helper-pivot") => {
            let root = PathBuf::from(&args[2]);
            ferry_sys::make_private_recursive(Path::new("/")).expect("private");
            ferry_sys::mount_tmpfs(&root, "mode=755").expect("tmpfs");
            std::fs::create_dir(root.join("marker")).expect("marker");
            ferry_sys::pivot_root_into(&root).expect("pivot");
            let ok = Path::new("/marker").exists() && !Path::new("/proc/self").exists();
            Some(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Some("helper-reaper") => {
            let control = ferry_sys::take_inherited_fd(3).expect("take fd 3");
            // sh exits at once; its sleep is orphaned to us (pid 1) and exits a little later.
            Command::new("sh")
                .args(["-c", "sleep 0.2 & exit 0"])
                .spawn()
                .expect("spawn sh");
            ferry_sys::reap_until_hangup(&control).expect("reap");
            Some(ExitCode::SUCCESS)
        }
        _ => None,
    }
}

fn exit_codes_and_signals_are_reported() {
    let child = Command::new("/bin/sh")
        .args(["-c", "exit 3"])
        .spawn()
        .unwrap();
    assert_eq!(child.wait().unwrap(), ExitStatus::Exited(3));

    let child = Command::new("sleep").args(["100"]).spawn().unwrap();
    assert_eq!(child.try_wait().unwrap(), None);
    // A pidfd opened by pid refers to the same process.
    let opened = ferry_sys::Pidfd::open(child.pid()).unwrap();
    opened.signal(Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status, ExitStatus::Signaled(Signal::SIGTERM));
    assert_eq!(status.code(), 143);
    // Signalling a reaped process is not an error.
    child.signal(Signal::SIGKILL).unwrap();
}

fn a_missing_program_fails_at_the_exec_step() {
    let err = Command::new("ferry-no-such-program").spawn().unwrap_err();
    match err {
        Error::Spawn { step, source, .. } => {
            assert_eq!(step, SpawnStep::Exec);
            assert_eq!(source, nix::errno::Errno::ENOENT);
        }
        other => panic!("unexpected error {other}"),
    }
    let err = Command::new("/bin/true")
        .current_dir("/ferry-no-such-dir")
        .spawn()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Spawn {
                step: SpawnStep::ChangeDirectory,
                ..
            }
        ),
        "{err}"
    );
}

fn environment_directory_and_descriptors_are_the_given_ones() {
    let (read, write) = ferry_sys::pipe().unwrap();
    let child = Command::new("sh")
        .args([
            "-c",
            "echo \"$GREETING\"; pwd; env | grep -c CARGO; echo to-fd-5 >&5",
        ])
        .env("GREETING", "hello pod")
        .current_dir("/usr")
        .fd(1, write.try_clone().unwrap())
        .fd(5, write)
        .spawn()
        .unwrap();
    assert_eq!(child.wait().unwrap(), ExitStatus::Exited(0));
    // cargo's variables in this process's environment do not reach the child.
    assert_eq!(read_all(read), "hello pod\n/usr\n0\nto-fd-5\n");
}

fn new_namespaces_make_the_child_pid_1_with_its_own_hostname() {
    let (read, write) = ferry_sys::pipe().unwrap();
    let child = Command::new("sh")
        .args(["-c", "hostname inside-ns && echo $$ && hostname"])
        .new_namespaces(&[
            Namespace::Net,
            Namespace::Uts,
            Namespace::Mount,
            Namespace::Pid,
            Namespace::Ipc,
        ])
        .fd(1, write)
        .spawn()
        .unwrap();
    assert_eq!(child.wait().unwrap(), ExitStatus::Exited(0));
    assert_eq!(read_all(read), "1\ninside-ns\n");
    assert_ne!(hostname(), "inside-ns");
}

fn joining_namespaces_of_a_holder_shares_its_hostname_network_and_pids() {
    let holder = Command::new("sh")
        .args(["-c", "hostname holder && exec sleep 100"])
        .new_namespaces(&[
            Namespace::Net,
            Namespace::Uts,
            Namespace::Pid,
            Namespace::Ipc,
        ])
        .spawn()
        .unwrap();
    let holder_net = std::fs::read_link(format!("/proc/{}/ns/net", holder.pid())).unwrap();
    let output = poll(|| {
        let (read, write) = ferry_sys::pipe().unwrap();
        let joined = Command::new("sh")
            .args(["-c", "hostname; echo $$; readlink /proc/self/ns/net"])
            .join_namespaces(&holder, &[Namespace::Net, Namespace::Uts, Namespace::Pid])
            .fd(1, write)
            .spawn()
            .unwrap();
        assert_eq!(joined.wait().unwrap(), ExitStatus::Exited(0));
        let output = read_all(read);
        output.starts_with("holder\n").then_some(output)
    });
    let lines: Vec<&str> = output.lines().collect();
    let pid_inside: i32 = lines[1].parse().unwrap();
    assert!(
        pid_inside > 1 && pid_inside < 100,
        "pid in the holder's namespace: {pid_inside}"
    );
    assert_eq!(Path::new(lines[2]), holder_net);
    holder.signal(Signal::SIGKILL).unwrap();
    holder.wait().unwrap();
}

fn cgroup_kill_all_kills_every_descendant_and_remove_cleans_up() {
    let root = CgroupRoot::discover(&format!("ferry-systest-{}", std::process::id())).unwrap();
    let cgroup = root.create("pod-a").unwrap();
    for path in cgroup.paths() {
        assert!(path.is_dir(), "{}", path.display());
    }
    let child = Command::new("sh")
        .args(["-c", "sleep 100 & sleep 100 & wait"])
        .cgroup(&cgroup)
        .spawn()
        .unwrap();
    poll(|| (cgroup.pids().unwrap().len() == 3).then_some(()));
    assert!(cgroup.pids().unwrap().contains(&child.pid()));
    // A process started elsewhere can be moved in.
    let moved = Command::new("sleep").args(["100"]).spawn().unwrap();
    cgroup.add_process(moved.pid()).unwrap();
    assert!(cgroup.pids().unwrap().contains(&moved.pid()));
    assert_eq!(root.children().unwrap().len(), 1);

    cgroup.kill_all().unwrap();
    assert_eq!(child.wait().unwrap(), ExitStatus::Signaled(Signal::SIGKILL));
    assert_eq!(moved.wait().unwrap(), ExitStatus::Signaled(Signal::SIGKILL));
    assert!(cgroup.pids().unwrap().is_empty());
    cgroup.remove().unwrap();
    root.remove().unwrap();
    for path in root.paths() {
        assert!(!path.exists(), "{}", path.display());
    }
}

fn the_parent_death_signal_follows_the_spawning_thread() {
    let child = std::thread::spawn(|| {
        Command::new("sleep")
            .args(["100"])
            .parent_death_signal(Signal::SIGKILL)
            .spawn()
            .unwrap()
    })
    .join()
    .unwrap();
    // The spawning thread has ended, so the child got its parent death signal.
    assert_eq!(child.wait().unwrap(), ExitStatus::Signaled(Signal::SIGKILL));
}

fn overlay_bind_and_tmpfs_mounts_work_and_detach() {
    let dir = tempfile::tempdir().unwrap();
    let [lower, upper, work, merged, scratch] =
        ["lower", "upper", "work", "merged", "scratch"].map(|n| dir.path().join(n));
    for d in [&lower, &upper, &work, &merged, &scratch] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(lower.join("base"), "from lower").unwrap();
    let overlay = ferry_sys::Overlay {
        lower: &lower,
        upper: &upper,
        work: &work,
    };
    ferry_sys::mount_overlay(&overlay, &merged).unwrap();
    assert_eq!(
        std::fs::read_to_string(merged.join("base")).unwrap(),
        "from lower"
    );
    std::fs::write(merged.join("new"), "written").unwrap();
    assert!(upper.join("new").exists());
    assert!(!lower.join("new").exists());

    ferry_sys::mount_tmpfs(&scratch, "size=1m").unwrap();
    std::fs::write(scratch.join("file"), "in tmpfs").unwrap();
    ferry_sys::bind(&scratch.join("file"), &merged.join("base")).unwrap();
    assert_eq!(
        std::fs::read_to_string(merged.join("base")).unwrap(),
        "in tmpfs"
    );

    let mounts = ferry_sys::mountpoints().unwrap();
    assert!(mounts.contains(&merged) && mounts.contains(&scratch));
    ferry_sys::unmount_detach(&merged.join("base")).unwrap();
    ferry_sys::unmount_detach(&merged).unwrap();
    ferry_sys::unmount_detach(&scratch).unwrap();
    let mounts = ferry_sys::mountpoints().unwrap();
    assert!(!mounts.iter().any(|m| m.starts_with(dir.path())));
}

fn pivot_root_into_a_tmpfs_hides_the_old_root() {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([std::ffi::OsStr::new("helper-pivot"), dir.path().as_os_str()])
        .new_namespaces(&[Namespace::Mount])
        .spawn()
        .unwrap();
    assert_eq!(child.wait().unwrap(), ExitStatus::Exited(0));
    // The pivot happened in the child's mount namespace only.
    assert!(!ferry_sys::mountpoints()
        .unwrap()
        .contains(&dir.path().to_path_buf()));
}

fn a_pty_is_the_controlling_terminal_with_its_window_size() {
    let pty = ferry_sys::open_pty(None).unwrap();
    ferry_sys::set_window_size(
        &pty.master,
        WindowSize {
            rows: 33,
            columns: 101,
        },
    )
    .unwrap();
    let child = Command::new("sh")
        .args([
            "-c",
            "stty size; test -t 0 && echo tty; ps -o tty= -p $$ | grep -q pts && echo ctty",
        ])
        .env("PATH", "/usr/bin:/bin")
        .fd(0, pty.slave.try_clone().unwrap())
        .fd(1, pty.slave.try_clone().unwrap())
        .fd(2, pty.slave)
        .session(Session::NewWithTerminal)
        .spawn()
        .unwrap();
    assert_eq!(child.wait().unwrap(), ExitStatus::Exited(0));
    let mut output = Vec::new();
    let mut master = File::from(pty.master);
    let mut buf = [0u8; 512];
    // Reading a master whose slave is closed ends with EIO rather than 0.
    while let Ok(n) = master.read(&mut buf) {
        if n == 0 {
            break;
        }
        output.extend_from_slice(&buf[..n]);
    }
    assert_eq!(
        String::from_utf8_lossy(&output),
        "33 101\r\ntty\r\nctty\r\n"
    );
}

fn inherited_descriptors_are_taken_once() {
    let (read, write) = ferry_sys::pipe().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["helper-take-fd"])
        .fd(3, write)
        .spawn()
        .unwrap();
    assert_eq!(child.wait().unwrap(), ExitStatus::Exited(0));
    assert_eq!(read_all(read), "taken-once");
}

fn pid_1_reaps_orphans_and_leaves_on_hangup() {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let reaper = Command::new(std::env::current_exe().unwrap())
        .args(["helper-reaper"])
        .new_namespaces(&[Namespace::Pid])
        .fd(3, theirs.into())
        .spawn()
        .unwrap();
    // First the sleep shows up as the reaper's child, then it is gone, zombie included.
    poll(|| (!children_of(reaper.pid()).is_empty()).then_some(()));
    poll(|| children_of(reaper.pid()).is_empty().then_some(()));
    assert_eq!(reaper.try_wait().unwrap(), None);
    drop(ours);
    assert_eq!(reaper.wait().unwrap(), ExitStatus::Exited(0));
}

/// Pids whose parent is `parent`, zombies included, from /proc.
fn children_of(parent: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                // The fields after the parenthesised command name: state, ppid, ...
                let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
                after.split_whitespace().nth(1) == Some(parent.to_string().as_str())
            })
        })
        .collect()
}

fn read_all(fd: OwnedFd) -> String {
    let mut text = String::new();
    File::from(fd).read_to_string(&mut text).unwrap();
    text
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

/// Retries `check` until it gives a value, for at most five seconds.
fn poll<T>(mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "condition not reached in 5 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}
