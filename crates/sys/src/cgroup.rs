//! Cgroups for pods on cgroup v1, v2 and hybrid machines: a subtree of ferry's own below the
//! caller's cgroup in every hierarchy, one cgroup per pod in it, and killing all its processes.
//!
//! The subtree sits below the caller's own cgroup (not at each hierarchy's root) so that pods
//! stay inside whatever limits the caller was given; on a plain host that is the root anyway.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::mount::unescape_octal;
use crate::Error;

/// The v1 controllers a pod cgroup is made in; others (cpuset, devices…) are left alone: cpuset
/// would need its cpus and mems copied before any process could join.
const V1_CONTROLLERS: [&str; 4] = ["memory", "pids", "freezer", "cpu"];

/// How long killing waits for a cgroup to empty, and removing for the kernel to let go of it.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// ferry's subtree (a directory named by the caller) in every mounted hierarchy.
#[derive(Clone, Debug)]
pub struct CgroupRoot {
    dirs: Vec<Dir>,
}

/// One pod's cgroup: a directory of the same name under the subtree of every hierarchy.
#[derive(Clone, Debug)]
pub struct Cgroup {
    name: String,
    dirs: Vec<Dir>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Hierarchy {
    V1(&'static str),
    V2,
}

#[derive(Clone, Debug)]
struct Dir {
    hierarchy: Hierarchy,
    path: PathBuf,
}

impl CgroupRoot {
    /// Finds the mounted hierarchies (v1 memory, pids, freezer and cpu; v2 when mounted) and the
    /// caller's cgroup in each, and places the subtree `subtree` below it. Creates nothing.
    pub fn discover(subtree: &str) -> Result<CgroupRoot, Error> {
        check_name(subtree)?;
        let mountinfo = read("/proc/self/mountinfo")?;
        let own = read("/proc/self/cgroup")?;
        let dirs: Vec<Dir> = hierarchy_dirs(&mountinfo, &own)
            .into_iter()
            .map(|dir| Dir {
                path: dir.path.join(subtree),
                hierarchy: dir.hierarchy,
            })
            .collect();
        if dirs.is_empty() {
            return Err(Error::NoCgroupHierarchy);
        }
        Ok(CgroupRoot { dirs })
    }

    /// The subtree's directory in each hierarchy.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.path.clone()).collect()
    }

    /// Creates (or finds) the cgroup `name` in every hierarchy.
    pub fn create(&self, name: &str) -> Result<Cgroup, Error> {
        let cgroup = self.cgroup(name)?;
        for dir in &cgroup.dirs {
            std::fs::create_dir_all(&dir.path)
                .map_err(|e| Error::file("create cgroup", &dir.path, e))?;
        }
        Ok(cgroup)
    }

    /// The cgroup `name`, whether or not it exists (to kill and remove what a crash left).
    pub fn cgroup(&self, name: &str) -> Result<Cgroup, Error> {
        check_name(name)?;
        Ok(Cgroup {
            name: name.to_string(),
            dirs: self
                .dirs
                .iter()
                .map(|d| Dir {
                    hierarchy: d.hierarchy.clone(),
                    path: d.path.join(name),
                })
                .collect(),
        })
    }

    /// Every cgroup in the subtree, in any hierarchy, by name.
    pub fn children(&self) -> Result<Vec<Cgroup>, Error> {
        let mut names = Vec::new();
        for dir in &self.dirs {
            let entries = match std::fs::read_dir(&dir.path) {
                Ok(entries) => entries,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::file("list", &dir.path, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| Error::file("list", &dir.path, e))?;
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    names.push(entry.file_name().to_string_lossy().into_owned());
                }
            }
        }
        names.sort();
        names.dedup();
        names.iter().map(|name| self.cgroup(name)).collect()
    }

    /// Removes the subtree's directories; they must hold no cgroups any more.
    pub fn remove(&self) -> Result<(), Error> {
        self.dirs.iter().try_for_each(|dir| remove_dir(&dir.path))
    }
}

impl Cgroup {
    /// The cgroup's name (the same in every hierarchy).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cgroup's directory in each hierarchy.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.path.clone()).collect()
    }

    /// Moves process `pid` (all its threads) into this cgroup in every hierarchy.
    pub fn add_process(&self, pid: i32) -> Result<(), Error> {
        self.procs_files().into_iter().try_for_each(|path| {
            std::fs::write(&path, pid.to_string()).map_err(|e| Error::file("write", path, e))
        })
    }

    /// The processes in this cgroup, in any hierarchy (sorted, without duplicates).
    pub fn pids(&self) -> Result<Vec<i32>, Error> {
        let mut pids = Vec::new();
        for path in self.procs_files() {
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::file("read", path, e)),
            };
            pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        }
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// Kills every process in the cgroup and waits until it is empty: `cgroup.kill` where v2 has
    /// it; otherwise freeze (v1 freezer), SIGKILL each process, thaw, so that nothing forks
    /// between reading the list and killing it.
    pub fn kill_all(&self) -> Result<(), Error> {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        if let Some(kill_file) = self.v2_kill_file() {
            std::fs::write(&kill_file, "1").map_err(|e| Error::file("write", kill_file, e))?;
        }
        loop {
            let pids = self.pids()?;
            if pids.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::CgroupBusy {
                    path: self.dirs[0].path.clone(),
                    seconds: SETTLE_TIMEOUT.as_secs(),
                });
            }
            self.kill_frozen()?;
            sleep(POLL_INTERVAL);
        }
    }

    /// Removes the cgroup's directories, waiting for the kernel to release a cgroup whose last
    /// processes are still exiting. A cgroup that is already gone is not an error.
    pub fn remove(&self) -> Result<(), Error> {
        self.dirs.iter().try_for_each(|dir| remove_dir(&dir.path))
    }

    /// The `cgroup.procs` files a process writes `0` into to join this cgroup.
    pub(crate) fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs
            .iter()
            .map(|d| d.path.join("cgroup.procs"))
            .collect()
    }

    fn v2_kill_file(&self) -> Option<PathBuf> {
        self.dirs
            .iter()
            .filter(|d| d.hierarchy == Hierarchy::V2)
            .map(|d| d.path.join("cgroup.kill"))
            .find(|path| path.exists())
    }

    fn kill_frozen(&self) -> Result<(), Error> {
        let freezer = self
            .dirs
            .iter()
            .find(|d| d.hierarchy == Hierarchy::V1("freezer"))
            .map(|d| d.path.join("freezer.state"))
            .filter(|path| path.exists());
        if let Some(state) = &freezer {
            freeze(state)?;
        }
        let killed = self
            .pids()?
            .into_iter()
            .try_for_each(|pid| crate::kill(pid, Signal::SIGKILL));
        // Frozen processes die of the SIGKILL only once thawed; thaw even if a kill failed.
        if let Some(state) = &freezer {
            std::fs::write(state, "THAWED").map_err(|e| Error::file("write", state, e))?;
        }
        killed
    }
}

/// Writes FROZEN and waits (briefly) for the freezer to get there; a cgroup that does not
/// settle in time (a process in uninterruptible sleep) is killed unfrozen.
fn freeze(state: &Path) -> Result<(), Error> {
    std::fs::write(state, "FROZEN").map_err(|e| Error::file("write", state, e))?;
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        let now = std::fs::read_to_string(state).map_err(|e| Error::file("read", state, e))?;
        if now.trim() == "FROZEN" {
            break;
        }
        sleep(POLL_INTERVAL);
    }
    Ok(())
}

fn remove_dir(path: &Path) -> Result<(), Error> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                sleep(POLL_INTERVAL)
            }
            Err(e) => return Err(Error::file("remove cgroup", path, e)),
        }
    }
}

fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(Error::CgroupName {
            name: name.to_string(),
        });
    }
    Ok(())
}

fn read(path: &str) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::file("read", path, e))
}

/// The caller's own cgroup directory in each hierarchy ferry uses, from the text of
/// `/proc/self/mountinfo` and `/proc/self/cgroup`.
fn hierarchy_dirs(mountinfo: &str, own: &str) -> Vec<Dir> {
    let mounts: Vec<CgroupMount> = mountinfo.lines().filter_map(CgroupMount::parse).collect();
    let mut dirs: Vec<Dir> = Vec::new();
    for controller in V1_CONTROLLERS {
        let Some(mount) = mounts
            .iter()
            .find(|m| m.version == 1 && m.controllers.iter().any(|c| c == controller))
        else {
            continue;
        };
        // Controllers mounted together (cpu,cpuacct) share one directory.
        if dirs.iter().any(|d| d.path.starts_with(&mount.point)) {
            continue;
        }
        if let Some(own_path) = own_cgroup(own, |list| list.split(',').any(|c| c == controller)) {
            dirs.push(Dir {
                hierarchy: Hierarchy::V1(controller),
                path: mount.dir_of(&own_path),
            });
        }
    }
    if let Some(mount) = mounts.iter().find(|m| m.version == 2) {
        if let Some(own_path) = own_cgroup(own, str::is_empty) {
            dirs.push(Dir {
                hierarchy: Hierarchy::V2,
                path: mount.dir_of(&own_path),
            });
        }
    }
    dirs
}

/// The path in `/proc/self/cgroup` of the hierarchy whose controller list matches.
fn own_cgroup(own: &str, matches: impl Fn(&str) -> bool) -> Option<String> {
    own.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let _id = fields.next()?;
        let controllers = fields.next()?;
        let path = fields.next()?;
        matches(controllers).then(|| path.to_string())
    })
}

/// A cgroup filesystem in the mount table.
struct CgroupMount {
    version: u8,
    controllers: Vec<String>,
    /// The cgroup mounted there (usually `/`).
    root: PathBuf,
    point: PathBuf,
}

impl CgroupMount {
    fn parse(line: &str) -> Option<CgroupMount> {
        let (before, after) = line.split_once(" - ")?;
        let fields: Vec<&str> = before.split(' ').collect();
        let mut rest = after.split(' ');
        let fstype = rest.next()?;
        let _source = rest.next()?;
        let options = rest.next().unwrap_or("");
        let version = match fstype {
            "cgroup" => 1,
            "cgroup2" => 2,
            _ => return None,
        };
        let unescape = |f: &str| {
            PathBuf::from(String::from_utf8_lossy(&unescape_octal(f.as_bytes())).into_owned())
        };
        Some(CgroupMount {
            version,
            controllers: options.split(',').map(str::to_string).collect(),
            root: unescape(fields.get(3)?),
            point: unescape(fields.get(4)?),
        })
    }

    /// Where cgroup `path` (as `/proc/self/cgroup` names it) lives under this mount.
    fn dir_of(&self, path: &str) -> PathBuf {
        let path = Path::new(path);
        let relative = path.strip_prefix(&self.root).unwrap_or(path);
        let relative = relative.strip_prefix("/").unwrap_or(relative);
        self.point.join(relative)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTINFO: &str = "\
30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
31 25 0:27 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
32 25 0:28 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
33 25 0:29 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
34 25 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 25 0:31 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
36 25 0:32 / /proc rw - proc proc rw
";

    const HYBRID_OWN: &str = "\
9:name=systemd:/
8:pids:/
6:freezer:/
4:memory:/process_api/abc
1:cpu,cpuacct:/
0::/
";

    fn found(mountinfo: &str, own: &str) -> Vec<(Hierarchy, PathBuf)> {
        hierarchy_dirs(mountinfo, own)
            .into_iter()
            .map(|d| (d.hierarchy, d.path))
            .collect()
    }

    #[test]
    fn hybrid_machines_use_each_v1_controller_and_the_unified_hierarchy() {
        assert_eq!(
            found(HYBRID_MOUNTINFO, HYBRID_OWN),
            vec![
                (
                    Hierarchy::V1("memory"),
                    PathBuf::from("/sys/fs/cgroup/memory/process_api/abc")
                ),
                (Hierarchy::V1("pids"), PathBuf::from("/sys/fs/cgroup/pids")),
                (
                    Hierarchy::V1("freezer"),
                    PathBuf::from("/sys/fs/cgroup/freezer")
                ),
                (
                    Hierarchy::V1("cpu"),
                    PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
                ),
                (Hierarchy::V2, PathBuf::from("/sys/fs/cgroup/unified")),
            ]
        );
    }

    #[test]
    fn pure_v2_machines_use_the_own_cgroup_below_the_mount_root() {
        let mountinfo = "29 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let own = "0::/system.slice/ferry.service\n";
        assert_eq!(
            found(mountinfo, own),
            vec![(
                Hierarchy::V2,
                PathBuf::from("/sys/fs/cgroup/system.slice/ferry.service")
            )]
        );
    }

    #[test]
    fn a_cgroup_namespace_root_is_stripped_from_the_own_path() {
        let mountinfo = "29 23 0:26 /outer /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            found(mountinfo, "0::/outer/inner\n"),
            vec![(Hierarchy::V2, PathBuf::from("/sys/fs/cgroup/inner"))]
        );
    }

    #[test]
    fn freezing_and_killing_empties_a_cgroup_without_cgroup_kill() {
        let root =
            CgroupRoot::discover(&format!("ferry-freezetest-{}", std::process::id())).unwrap();
        let cgroup = root.create("pod").unwrap();
        let child = crate::Command::new("sh")
            .args(["-c", "sleep 100 & sleep 100 & wait"])
            .cgroup(&cgroup)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while cgroup.pids().unwrap().len() < 3 {
            assert!(Instant::now() < deadline, "children did not start");
            sleep(POLL_INTERVAL);
        }
        // The v1 path alone, as on a machine without cgroup v2.
        while !cgroup.pids().unwrap().is_empty() {
            assert!(Instant::now() < deadline, "cgroup did not empty");
            cgroup.kill_frozen().unwrap();
            sleep(POLL_INTERVAL);
        }
        assert_eq!(
            child.wait().unwrap(),
            crate::ExitStatus::Signaled(Signal::SIGKILL)
        );
        cgroup.remove().unwrap();
        root.remove().unwrap();
    }

    #[test]
    fn names_must_be_one_path_component() {
        for bad in ["", ".", "..", "a/b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name("ferry-pod-1").is_ok());
    }
}
