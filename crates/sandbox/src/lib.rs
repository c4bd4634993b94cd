//! Pod sandboxes from a plain spec: a small init process holding network, UTS, mount, pid and
//! IPC namespaces; a routed veth with the pod IP as /32 on `eth0` and a default route via a
//! link-local gateway; a copy-on-write overlay of the host root with the pod's own
//! `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf`; a cgroup; and processes started inside
//! all of it, with pipes or a pty.
//!
//! It knows nothing of Kubernetes: the agent turns pods and containers into [`SandboxSpec`] and
//! [`ProcessSpec`]. The init is the caller's own executable (see [`InitCommand`]), whose hidden
//! subcommand calls [`run_init`].

mod error;
mod init;
mod layout;
mod network;
mod process;
mod runtime;
mod sandbox;
mod spec;

pub use error::Error;
pub use ferry_sys::{ExitStatus, Signal, WindowSize};
pub use init::run_init;
pub use process::{Process, Tty};
pub use runtime::{Leftovers, Runtime};
pub use sandbox::Sandbox;
pub use spec::{InitCommand, ProcessSpec, RuntimeConfig, SandboxSpec, Stdio, DEFAULT_GATEWAY};

#[cfg(test)]
mod tests {
    /// The agent shares sandboxes between tasks and moves processes into them.
    #[test]
    fn handles_can_cross_tasks() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<crate::Sandbox>();
        send_sync::<crate::Runtime>();
        send::<crate::Process>();
    }
}
