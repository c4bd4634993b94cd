//! Named network namespaces as `ip netns` keeps them (a bind mount of the namespace on
//! `/run/netns/NAME`, so `ip netns exec NAME` and `ip -n NAME` see them), and running code on a
//! thread inside any network namespace.

use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ferry_sys::{Errno, Namespace};

use crate::Error;

/// Where named network namespaces are mounted, as iproute2 does.
const NETNS_DIR: &str = "/run/netns";

/// The file a named network namespace is mounted on.
pub fn netns_path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// Creates the empty network namespace `name` (only a down `lo` in it), kept alive by its
/// mount on [`netns_path`] until [`delete_netns`]. Fails if one of that name exists.
///
/// Unlike `ip netns add` this does not turn `/run/netns` into a shared mount point, so the
/// machine's mount table gets nothing but the namespace's own mount.
pub fn create_netns(name: &str) -> Result<(), Error> {
    check_name(name)?;
    std::fs::create_dir_all(NETNS_DIR).map_err(|source| Error::File {
        operation: "create",
        path: NETNS_DIR.into(),
        source,
    })?;
    let path = netns_path(name);
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(&path)
    {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            return Err(Error::NetnsExists {
                name: name.to_string(),
            })
        }
        Err(source) => {
            return Err(Error::File {
                operation: "create",
                path,
                source,
            })
        }
    }
    // A new network namespace applies to the calling thread only, so a thread of its own makes
    // it, pins it with the bind mount, and ends.
    let made = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                ferry_sys::unshare(&[Namespace::Net])?;
                ferry_sys::bind(Path::new("/proc/thread-self/ns/net"), &path)
            })
            .join()
    });
    let failure = match made {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(source)) => Error::Netns {
            operation: "create",
            name: name.to_string(),
            source,
        },
        Err(_) => Error::NamespaceThread,
    };
    let _ = std::fs::remove_file(&path);
    Err(failure)
}

/// Removes the named network namespace: unmounts and deletes its file. The namespace itself
/// ends once no process, socket or open descriptor uses it. A missing one is not an error.
pub fn delete_netns(name: &str) -> Result<(), Error> {
    check_name(name)?;
    let path = netns_path(name);
    if let Err(source) = ferry_sys::unmount_detach(&path) {
        // EINVAL: a file left without its mount (a crash between the two steps).
        let gone = matches!(source.errno(), Some(Errno::ENOENT | Errno::EINVAL));
        if !gone {
            return Err(Error::Netns {
                operation: "unmount",
                name: name.to_string(),
                source,
            });
        }
    }
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::File {
            operation: "remove",
            path,
            source,
        }),
    }
}

/// Opens the named network namespace, for [`in_netns`], [`crate::Netlink::connect_in`] or to
/// move a link into it.
pub fn open_netns(name: &str) -> Result<OwnedFd, Error> {
    check_name(name)?;
    let path = netns_path(name);
    std::fs::File::open(&path)
        .map(OwnedFd::from)
        .map_err(|source| Error::File {
            operation: "open",
            path,
            source,
        })
}

/// The names of the named network namespaces, sorted.
pub fn netns_names() -> Result<Vec<String>, Error> {
    let entries = match std::fs::read_dir(NETNS_DIR) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::File {
                operation: "list",
                path: NETNS_DIR.into(),
                source,
            })
        }
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// Runs `f` on a new thread inside the network namespace `netns` (an nsfs file such as
/// [`open_netns`] gives, or a pidfd of a process in it) and returns its result. Sockets `f`
/// creates stay in that namespace for their whole life, wherever they are used later; the
/// thread ends after `f`, so no other code ever runs in the namespace by accident.
pub async fn in_netns<T, F>(netns: impl AsFd, f: F) -> Result<T, Error>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let fd = netns
        .as_fd()
        .try_clone_to_owned()
        .map_err(Error::SpawnThread)?;
    let (reply, answer) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("ferry-netns".to_string())
        .spawn(move || {
            let result = ferry_sys::enter_namespace(&fd, Namespace::Net).map(|()| f());
            let _ = reply.send(result);
        })
        .map_err(Error::SpawnThread)?;
    answer
        .await
        .map_err(|_| Error::NamespaceThread)?
        .map_err(Error::EnterNetns)
}

fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(Error::NetnsName {
            name: name.to_string(),
        });
    }
    Ok(())
}
