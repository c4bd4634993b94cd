//! The sandbox init: the first process of a sandbox's namespaces. It sets the hostname, builds
//! the pod's root (overlay of the host root, /dev, /proc, /sys, the pod's /etc files, the state
//! root hidden) and pivots into it, reports to the runtime, then reaps orphans until the runtime
//! closes its control socket, when it exits and so ends the pid namespace.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::layout::{Layout, POD_FILES};
use crate::Error;

/// The descriptor on which the init finds its control socket.
pub(crate) const CONTROL_FD: i32 = 3;

/// The line the init writes when the sandbox is ready; anything else is an error message.
pub(crate) const READY: &str = "ready";

/// The main function of the sandbox init, for the caller's hidden subcommand: `args` are the
/// arguments after that subcommand (the runtime passes the state directory and the hostname).
/// Never returns: exits 0 when the runtime lets go, 1 on a setup failure (reported to the
/// runtime and on stderr, which goes to the sandbox's `init.log`).
pub fn run_init(args: Vec<OsString>) -> ! {
    let code = match init_main(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("ferry sandbox init: {}", error_chain(&e));
            1
        }
    };
    std::process::exit(code)
}

fn init_main(args: Vec<OsString>) -> Result<(), Error> {
    let [state_dir, hostname] = <[OsString; 2]>::try_from(args).map_err(|_| Error::InitUsage)?;
    let hostname = hostname.into_string().map_err(|_| Error::InitUsage)?;
    let layout = Layout::at(PathBuf::from(state_dir));
    let control =
        ferry_sys::take_inherited_fd(CONTROL_FD).map_err(Error::sys("take the control socket"))?;
    let mut control = UnixStream::from(control);
    let id = layout.dir().display().to_string();
    let reply = match build_sandbox(&layout, &hostname) {
        Ok(()) => format!("{READY}\n"),
        Err(e) => format!("{}\n", error_chain(&e)),
    };
    control
        .write_all(reply.as_bytes())
        .map_err(|source| Error::InitControl {
            id: id.clone(),
            source,
        })?;
    if !reply.starts_with(READY) {
        return Err(Error::Init {
            id,
            message: reply.trim().to_string(),
        });
    }
    ferry_sys::reap_until_hangup(&control).map_err(Error::sys("reap the sandbox's orphans"))
}

/// Runs in the init's fresh namespaces, before any process of the pod.
fn build_sandbox(layout: &Layout, hostname: &str) -> Result<(), Error> {
    ferry_sys::set_hostname(hostname).map_err(Error::sys("set the hostname"))?;
    // Nothing mounted from here on may reach the node's mount namespace.
    ferry_sys::make_private_recursive(Path::new("/"))
        .map_err(Error::sys("make the mount namespace private"))?;
    let rootfs = layout.rootfs();
    let (upper, work) = (layout.upper(), layout.work());
    let overlay = ferry_sys::Overlay {
        lower: Path::new("/"),
        upper: &upper,
        work: &work,
    };
    ferry_sys::mount_overlay(&overlay, &rootfs).map_err(Error::sys("mount the pod's root"))?;
    ferry_sys::bind_recursive(Path::new("/dev"), &rootfs.join("dev"))
        .map_err(Error::sys("bind /dev"))?;
    // The node's /dev/shm would be shared memory across pods; give the pod its own.
    ferry_sys::mount_tmpfs(&rootfs.join("dev/shm"), "mode=1777")
        .map_err(Error::sys("mount /dev/shm"))?;
    ferry_sys::mount_proc(&rootfs.join("proc")).map_err(Error::sys("mount /proc"))?;
    ferry_sys::mount_sysfs(&rootfs.join("sys")).map_err(Error::sys("mount /sys"))?;
    hide_state_root(layout, &rootfs)?;
    for (name, target) in POD_FILES {
        let target = rootfs.join(target);
        replace_with_regular_file(&target)?;
        ferry_sys::bind(&layout.file(name), &target).map_err(Error::sys("bind a pod file"))?;
    }
    ferry_sys::pivot_root_into(&rootfs).map_err(Error::sys("pivot into the pod's root"))
}

/// The overlay's lower layer is the host root, which contains every sandbox's state; an empty
/// tmpfs over the state root keeps pods from reading each other's writable layers.
fn hide_state_root(layout: &Layout, rootfs: &Path) -> Result<(), Error> {
    let Some(state_root) = layout.dir().parent() else {
        return Ok(());
    };
    let inside = rootfs.join(state_root.strip_prefix("/").unwrap_or(state_root));
    ferry_sys::mount_tmpfs(&inside, "mode=700,size=64k").map_err(Error::sys("hide the state root"))
}

/// Makes `path` (inside the overlay) a plain file to bind over. A symlink would be followed
/// when mounting, relative to the node's root rather than the pod's (Debian's resolv.conf is
/// often a link into /run), so it is replaced; the change stays in the pod's writable layer.
fn replace_with_regular_file(path: &Path) -> Result<(), Error> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => return Ok(()),
        Ok(meta) if meta.is_dir() => {
            std::fs::remove_dir_all(path).map_err(Error::file("replace", path))?
        }
        Ok(_) => std::fs::remove_file(path).map_err(Error::file("replace", path))?,
        Err(_) => {}
    }
    std::fs::write(path, "").map_err(Error::file("create", path))
}

/// `error: cause: cause…`, for one-line reports.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
