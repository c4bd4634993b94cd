//! A sandbox's state directory: overlay layers, the pod's own /etc files, the init's log.
//!
//! `<state_root>/<id>/` holds `upper/` and `work/` (the overlay's writable layer and scratch),
//! `rootfs/` (where the init mounts the pod's root, inside its own mount namespace),
//! `files/{hosts,hostname,resolv.conf}` (bind-mounted over the pod's /etc files) and
//! `init.log` (the init's stderr).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::{Error, SandboxSpec};

/// The pod's own files: name under `files/`, path inside the pod.
pub(crate) const POD_FILES: [(&str, &str); 3] = [
    ("hosts", "etc/hosts"),
    ("hostname", "etc/hostname"),
    ("resolv.conf", "etc/resolv.conf"),
];

#[derive(Clone, Debug)]
pub(crate) struct Layout {
    dir: PathBuf,
}

impl Layout {
    pub(crate) fn new(state_root: &Path, id: &str) -> Layout {
        Layout {
            dir: state_root.join(id),
        }
    }

    pub(crate) fn at(dir: PathBuf) -> Layout {
        Layout { dir }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    pub(crate) fn work(&self) -> PathBuf {
        self.dir.join("work")
    }

    pub(crate) fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.dir.join("files").join(name)
    }

    pub(crate) fn init_log(&self) -> PathBuf {
        self.dir.join("init.log")
    }

    /// Creates the directory (failing if the sandbox exists) and writes the pod's files.
    pub(crate) fn prepare(&self, spec: &SandboxSpec) -> Result<(), Error> {
        match std::fs::create_dir(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return Err(Error::Exists {
                    id: spec.id.clone(),
                })
            }
            Err(e) => return Err(Error::file("create", &self.dir)(e)),
        }
        for dir in [
            self.upper(),
            self.work(),
            self.rootfs(),
            self.dir.join("files"),
        ] {
            std::fs::create_dir(&dir).map_err(Error::file("create", &dir))?;
        }
        let contents = [
            spec.hosts_file.clone(),
            format!("{}\n", spec.hostname),
            spec.resolv_conf.clone(),
        ];
        for ((name, _), content) in POD_FILES.iter().zip(contents) {
            let path = self.file(name);
            std::fs::write(&path, content).map_err(Error::file("write", &path))?;
        }
        Ok(())
    }

    /// Removes the directory, first detaching anything still mounted below it in the caller's
    /// mount namespace (normally nothing: the pod's mounts live in its own namespace).
    pub(crate) fn remove(&self) -> Result<(), Error> {
        let mut mounted: Vec<PathBuf> = ferry_sys::mountpoints()
            .map_err(Error::sys("read the mount table"))?
            .into_iter()
            .filter(|m| m.starts_with(&self.dir))
            .collect();
        // Deepest first, so that no mount hides another.
        mounted.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
        for mount in mounted {
            ferry_sys::unmount_detach(&mount).map_err(Error::sys("unmount a sandbox leftover"))?;
        }
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::file("remove", &self.dir)(e)),
        }
    }
}
