//! The plain inputs of the runtime: where sandboxes live, what a sandbox is, what a process is.

use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use crate::Error;

/// The gateway every pod routes through: link-local, held by the node side of each pod's veth.
pub const DEFAULT_GATEWAY: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 1);

/// The longest hostname the kernel takes (`HOST_NAME_MAX`).
const MAX_HOSTNAME: usize = 64;

/// The longest sandbox id (it names a directory and a cgroup).
const MAX_ID: usize = 128;

/// Where this node's sandboxes live; shared by all of them.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Each sandbox's state is `state_root/<id>`; nothing else may live here, and the whole
    /// directory is hidden from the pods.
    pub state_root: PathBuf,
    /// The name of ferry's cgroup subtree below the caller's cgroup, unique per node (two agents
    /// of one lab share a cgroup and must not clean up each other's pods).
    pub cgroup_subtree: String,
    /// How to start a sandbox's init.
    pub init: InitCommand,
}

/// The program started as each sandbox's init, usually the caller's own executable with the
/// hidden subcommand that calls [`crate::run_init`]. The runtime appends two arguments (the
/// sandbox's state directory and hostname), which that subcommand passes on unchanged.
#[derive(Clone, Debug)]
pub struct InitCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

/// One pod sandbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxSpec {
    /// Unique on the node: letters, digits, `-`, `_` and `.` (a pod UID fits).
    pub id: String,
    pub hostname: String,
    /// The pod IP, put on `eth0` as a /32.
    pub ip: Ipv4Addr,
    /// Usually [`DEFAULT_GATEWAY`].
    pub gateway: Ipv4Addr,
    /// The whole content of the pod's `/etc/hosts`.
    pub hosts_file: String,
    /// The whole content of the pod's `/etc/resolv.conf`.
    pub resolv_conf: String,
}

/// A process to start in a sandbox (a container's main process or an exec).
#[derive(Debug)]
pub struct ProcessSpec {
    /// The program and its arguments; the program is looked up in the `PATH` of `env` (or a
    /// default PATH) inside the sandbox.
    pub argv: Vec<String>,
    /// The whole environment; nothing is added.
    pub env: Vec<(String, String)>,
    /// The working directory inside the sandbox.
    pub cwd: PathBuf,
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
    /// Run on a new pseudo-terminal (stdin, stdout and stderr, and the controlling terminal);
    /// the three `Stdio` fields are then ignored.
    pub tty: bool,
}

/// Where one standard stream of a process goes.
#[derive(Debug, Default)]
pub enum Stdio {
    /// `/dev/null`.
    #[default]
    Null,
    /// A pipe to the caller ([`crate::Process`] holds its end).
    Pipe,
    /// A file on the node, appended to (stdout, stderr) or read (stdin).
    File(PathBuf),
    /// A descriptor the caller opened.
    Fd(OwnedFd),
}

impl SandboxSpec {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= MAX_ID
            && !self.id.starts_with('.')
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !id_ok {
            return Err(Error::InvalidSpec {
                field: "id",
                reason: format!("{:?} must be 1 to {MAX_ID} letters, digits, '-', '_' or '.', not starting with '.'", self.id),
            });
        }
        if self.hostname.is_empty()
            || self.hostname.len() > MAX_HOSTNAME
            || self.hostname.contains(['/', '\0'])
        {
            return Err(Error::InvalidSpec {
                field: "hostname",
                reason: format!("{:?} must be 1 to {MAX_HOSTNAME} bytes", self.hostname),
            });
        }
        if self.ip.is_unspecified() || self.ip.is_broadcast() || self.ip.is_multicast() {
            return Err(Error::InvalidSpec {
                field: "ip",
                reason: format!("{} is not a unicast address", self.ip),
            });
        }
        Ok(())
    }
}

impl ProcessSpec {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.argv.first().is_none_or(String::is_empty) {
            return Err(Error::InvalidProcess {
                reason: "argv needs a program",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SandboxSpec {
        SandboxSpec {
            id: "5f0e8c2a-6b1d-4f5e-9a3c-2d7b8e9f0a1b".to_string(),
            hostname: "kubia-5xq2b".to_string(),
            ip: Ipv4Addr::new(10, 244, 0, 5),
            gateway: DEFAULT_GATEWAY,
            hosts_file: String::new(),
            resolv_conf: String::new(),
        }
    }

    #[test]
    fn a_pod_uid_and_name_are_valid() {
        spec().validate().unwrap();
    }

    #[test]
    fn ids_that_could_escape_the_state_root_are_refused() {
        for id in ["", "..", ".hidden", "a/b", "a b"] {
            let bad = SandboxSpec {
                id: id.to_string(),
                ..spec()
            };
            assert!(bad.validate().is_err(), "{id:?}");
        }
    }

    #[test]
    fn hostnames_and_ips_are_checked() {
        let long = SandboxSpec {
            hostname: "x".repeat(65),
            ..spec()
        };
        assert!(long.validate().is_err());
        let zero = SandboxSpec {
            ip: Ipv4Addr::UNSPECIFIED,
            ..spec()
        };
        assert!(zero.validate().is_err());
    }
}
