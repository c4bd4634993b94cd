//! The node's sandbox runtime: where sandboxes live, making them, and removing what a crashed
//! ferry left.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;

use ferry_hostnet::{pod_veth_name, Netlink, POD_VETH_PREFIX};
use ferry_sys::{AsyncPidfd, Cgroup, CgroupRoot, Command, Pidfd, Session};

use crate::init::CONTROL_FD;
use crate::layout::Layout;
use crate::sandbox::{teardown, Inner, NAMESPACES};
use crate::{network, Error, InitCommand, RuntimeConfig, Sandbox, SandboxSpec};

/// The sandboxes of one node. Open one per node process and call
/// [`Runtime::cleanup_leftovers`] before creating sandboxes.
#[derive(Debug)]
pub struct Runtime {
    state_root: PathBuf,
    cgroups: CgroupRoot,
    init: InitCommand,
}

/// What [`Runtime::cleanup_leftovers`] removed, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// State directories (sandbox ids).
    pub sandboxes: Vec<String>,
    pub cgroups: Vec<String>,
    pub links: Vec<String>,
}

impl Runtime {
    /// Prepares the state root, finds the cgroup hierarchies, and turns on IPv4 forwarding in
    /// the caller's network namespace (the node's), which routes every pod packet.
    pub fn open(config: RuntimeConfig) -> Result<Runtime, Error> {
        std::fs::create_dir_all(&config.state_root)
            .map_err(Error::file("create", &config.state_root))?;
        let cgroups = CgroupRoot::discover(&config.cgroup_subtree)
            .map_err(Error::sys("find the cgroup hierarchies"))?;
        ferry_hostnet::enable_ip_forwarding().map_err(Error::network("enable forwarding"))?;
        Ok(Runtime {
            state_root: config.state_root,
            cgroups,
            init: config.init,
        })
    }

    /// Makes a sandbox: state directory, cgroup, init in new namespaces (which builds and enters
    /// the pod's root), then the veth. Anything made before a failure is removed again.
    pub async fn create(&self, spec: SandboxSpec) -> Result<Sandbox, Error> {
        spec.validate()?;
        let layout = Layout::new(&self.state_root, &spec.id);
        let veth = pod_veth_name(&spec.id);
        let cgroups = self.cgroups.clone();
        let init = self.init.clone();
        let inner = tokio::task::spawn_blocking(move || start(layout, spec, veth, &cgroups, &init))
            .await
            .map_err(Error::Task)??;
        let inner = Arc::new(inner);
        let spec = inner.spec();
        if let Err(e) = network::attach(inner.veth(), spec.ip, spec.gateway, inner.init()).await {
            let _ = teardown(inner).await;
            return Err(e);
        }
        Ok(Sandbox::new(inner))
    }

    /// Removes every sandbox a previous run left: kills and removes the cgroups in the subtree,
    /// deletes pod veths in the caller's network namespace, and removes the state directories.
    /// Call it before creating sandboxes; it would remove live ones too.
    pub async fn cleanup_leftovers(&self) -> Result<Leftovers, Error> {
        let cgroups = self.cgroups.clone();
        let state_root = self.state_root.clone();
        let (cgroup_names, sandboxes) =
            tokio::task::spawn_blocking(move || remove_leftover_state(&cgroups, &state_root))
                .await
                .map_err(Error::Task)??;
        let node = Netlink::connect().map_err(Error::network("connect to netlink"))?;
        let links = ferry_hostnet::cleanup_links(&node, POD_VETH_PREFIX)
            .await
            .map_err(Error::network("delete leftover pod veths"))?;
        Ok(Leftovers {
            sandboxes,
            cgroups: cgroup_names,
            links,
        })
    }

    /// Removes everything of this runtime, for a node that stops: what
    /// [`Runtime::cleanup_leftovers`] removes, then the cgroup subtree and the state root.
    pub async fn remove_all(self) -> Result<Leftovers, Error> {
        let leftovers = self.cleanup_leftovers().await?;
        self.cgroups
            .remove()
            .map_err(Error::sys("remove the cgroup subtree"))?;
        match std::fs::remove_dir(&self.state_root) {
            Ok(()) => Ok(leftovers),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(leftovers),
            Err(e) => Err(Error::file("remove", &self.state_root)(e)),
        }
    }
}

/// The blocking part of making a sandbox, up to the init's report.
fn start(
    layout: Layout,
    spec: SandboxSpec,
    veth: String,
    cgroups: &CgroupRoot,
    init: &InitCommand,
) -> Result<Inner, Error> {
    layout.prepare(&spec)?;
    let cgroup = match cgroups.create(&spec.id) {
        Ok(cgroup) => cgroup,
        Err(e) => {
            let _ = layout.remove();
            return Err(Error::sys("create the sandbox's cgroup")(e));
        }
    };
    let started = spawn_init(&layout, &spec, &cgroup, init).and_then(|(control, pidfd)| {
        let init = AsyncPidfd::new(pidfd).map_err(Error::sys("register the sandbox init"))?;
        Ok((control, init))
    });
    let (control, pidfd) = match started {
        Ok(started) => started,
        Err(e) => {
            let _ = cgroup.kill_all();
            let _ = cgroup.remove();
            let _ = layout.remove();
            return Err(e);
        }
    };
    let inner = Inner::new(spec, layout, veth, cgroup, pidfd, control);
    if let Err(e) = inner.wait_ready() {
        let _ = inner.stop_processes();
        let _ = inner.remove_state();
        return Err(e);
    }
    Ok(inner)
}

/// Starts the init in new namespaces and the sandbox's cgroup; returns the runtime's end of
/// its control socket and the init's pidfd.
fn spawn_init(
    layout: &Layout,
    spec: &SandboxSpec,
    cgroup: &Cgroup,
    init: &InitCommand,
) -> Result<(UnixStream, Pidfd), Error> {
    let (ours, theirs) = UnixStream::pair().map_err(|source| Error::InitControl {
        id: spec.id.clone(),
        source,
    })?;
    let null_in = File::open("/dev/null").map_err(Error::file("open", "/dev/null"))?;
    let null_out = OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .map_err(Error::file("open", "/dev/null"))?;
    let log_path = layout.init_log();
    let log = OpenOptions::new()
        .append(true)
        .create(true)
        .open(&log_path)
        .map_err(Error::file("open", &log_path))?;
    let pidfd = Command::new(&init.program)
        .args(init.args.iter().cloned())
        .args([layout.dir().as_os_str(), spec.hostname.as_ref()])
        .new_namespaces(&NAMESPACES)
        .cgroup(cgroup)
        .fd(0, null_in.into())
        .fd(1, null_out.into())
        .fd(2, log.into())
        .fd(CONTROL_FD, theirs.into())
        .session(Session::New)
        .spawn()
        .map_err(Error::sys("start the sandbox init"))?;
    Ok((ours, pidfd))
}

/// Kills and removes every cgroup of the subtree and removes every state directory; returns
/// their names.
fn remove_leftover_state(
    cgroups: &CgroupRoot,
    state_root: &std::path::Path,
) -> Result<(Vec<String>, Vec<String>), Error> {
    let mut cgroup_names = Vec::new();
    for cgroup in cgroups
        .children()
        .map_err(Error::sys("list leftover cgroups"))?
    {
        cgroup
            .kill_all()
            .map_err(Error::sys("kill a leftover sandbox"))?;
        cgroup
            .remove()
            .map_err(Error::sys("remove a leftover cgroup"))?;
        cgroup_names.push(cgroup.name().to_string());
    }
    let mut sandboxes = Vec::new();
    let entries = match std::fs::read_dir(state_root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok((cgroup_names, sandboxes)),
        Err(e) => return Err(Error::file("list", state_root)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(Error::file("list", state_root))?;
        Layout::at(entry.path()).remove()?;
        sandboxes.push(entry.file_name().to_string_lossy().into_owned());
    }
    sandboxes.sort();
    Ok((cgroup_names, sandboxes))
}
