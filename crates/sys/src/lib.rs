//! The only crate of ferry allowed `unsafe`: namespaces, process spawning with clone3, pidfds,
//! mounts, cgroups and pseudo-terminals, behind small typed and safe wrappers.
//!
//! It knows nothing of Kubernetes, pods or networks: callers (`ferry-hostnet`, `ferry-sandbox`)
//! decide what to spawn, mount and kill. Every `unsafe` block carries a `// SAFETY:` reason.

mod cgroup;
mod error;
mod fd;
mod init;
mod mount;
mod namespace;
mod pidfd;
mod pty;
mod spawn;

pub use cgroup::{Cgroup, CgroupRoot};
pub use error::{Error, SpawnStep};
pub use fd::{pipe, set_nonblocking, take_inherited_fd};
pub use init::reap_until_hangup;
pub use mount::{
    bind, bind_recursive, make_private_recursive, mount_overlay, mount_proc, mount_sysfs,
    mount_tmpfs, mountpoints, pivot_root_into, unmount_detach, Overlay,
};
pub use namespace::{enter_namespace, set_hostname, unshare, Namespace};
pub use nix::errno::Errno;
pub use nix::sys::signal::Signal;
pub use pidfd::{kill, AsyncPidfd, ExitStatus, Pidfd};
pub use pty::{open_pty, set_window_size, Pty, WindowSize};
pub use spawn::{Command, Session};
