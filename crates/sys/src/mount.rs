//! Mounts a sandbox needs: overlay, bind, proc, sysfs, tmpfs, propagation, pivot_root, unmount,
//! and reading the caller's mount table.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};

use crate::Error;

/// The layers of an overlay mount: `lower` read-only, writes copied up into `upper`; `work` is
/// the kernel's scratch directory on the same filesystem as `upper`.
#[derive(Clone, Debug)]
pub struct Overlay<'a> {
    pub lower: &'a Path,
    pub upper: &'a Path,
    pub work: &'a Path,
}

/// Mounts `overlay` on `target`. Only the filesystem of `lower` is layered, not the mounts below
/// it (a lower of `/` does not include `/proc` or `/dev`).
pub fn mount_overlay(overlay: &Overlay<'_>, target: &Path) -> Result<(), Error> {
    for layer in [overlay.lower, overlay.upper, overlay.work] {
        // The option string separates with ',' and ':' and escapes with '\'.
        if layer
            .as_os_str()
            .as_bytes()
            .iter()
            .any(|b| matches!(b, b',' | b':' | b'\\'))
        {
            return Err(Error::OverlayPath {
                path: layer.to_path_buf(),
            });
        }
    }
    let mut options = OsStr::new("lowerdir=").to_os_string();
    options.push(overlay.lower);
    options.push(",upperdir=");
    options.push(overlay.upper);
    options.push(",workdir=");
    options.push(overlay.work);
    mount(
        "overlay",
        Some("overlay"),
        Some(Path::new("overlay")),
        target,
        MsFlags::empty(),
        Some(options.as_os_str()),
    )
}

/// Bind-mounts `source` (a file or a directory, without the mounts below it) on `target`.
pub fn bind(source: &Path, target: &Path) -> Result<(), Error> {
    mount("bind", None, Some(source), target, MsFlags::MS_BIND, None)
}

/// Bind-mounts `source` with every mount below it on `target` (`mount --rbind`).
pub fn bind_recursive(source: &Path, target: &Path) -> Result<(), Error> {
    mount(
        "recursive bind",
        None,
        Some(source),
        target,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
}

/// Makes `path` and every mount below it private, so that mounts made here from now on do not
/// propagate to the namespace this one was copied from, nor theirs to here.
pub fn make_private_recursive(path: &Path) -> Result<(), Error> {
    mount(
        "private propagation",
        None,
        None,
        path,
        MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        None,
    )
}

/// Mounts a procfs for the caller's pid namespace on `target`.
pub fn mount_proc(target: &Path) -> Result<(), Error> {
    mount(
        "proc",
        Some("proc"),
        Some(Path::new("proc")),
        target,
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )
}

/// Mounts a read-only sysfs for the caller's network namespace on `target`.
pub fn mount_sysfs(target: &Path) -> Result<(), Error> {
    mount(
        "sysfs",
        Some("sysfs"),
        Some(Path::new("sysfs")),
        target,
        MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )
}

/// Mounts an empty tmpfs on `target` with tmpfs `options` such as `mode=1777,size=64m`.
pub fn mount_tmpfs(target: &Path, options: &str) -> Result<(), Error> {
    mount(
        "tmpfs",
        Some("tmpfs"),
        Some(Path::new("tmpfs")),
        target,
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(OsStr::new(options)),
    )
}

/// Detaches the mount on `target` now and frees it once nothing uses it (`umount -l`).
pub fn unmount_detach(target: &Path) -> Result<(), Error> {
    nix::mount::umount2(target, MntFlags::MNT_DETACH).map_err(|source| Error::Unmount {
        target: target.to_path_buf(),
        source,
    })
}

/// Makes the mount at `new_root` the root of the caller's mount namespace and detaches the old
/// root, then changes to `/`. `new_root` must be a mount point in a private mount namespace.
pub fn pivot_root_into(new_root: &Path) -> Result<(), Error> {
    let error = |source| Error::PivotRoot {
        new_root: new_root.to_path_buf(),
        source,
    };
    // pivot_root(".", ".") stacks the old root on top of the new one, so it needs no put_old
    // directory inside the new root; unmounting "." then removes the old root.
    nix::unistd::chdir(new_root).map_err(error)?;
    nix::unistd::pivot_root(".", ".").map_err(error)?;
    nix::mount::umount2(".", MntFlags::MNT_DETACH).map_err(error)?;
    nix::unistd::chdir("/").map_err(error)
}

/// The mount points of the caller's mount namespace, from `/proc/self/mountinfo`, in mount
/// order (unescaped).
pub fn mountpoints() -> Result<Vec<PathBuf>, Error> {
    let path = "/proc/self/mountinfo";
    let text = std::fs::read(path).map_err(|e| Error::file("read", path, e))?;
    Ok(parse_mountpoints(&text))
}

fn parse_mountpoints(mountinfo: &[u8]) -> Vec<PathBuf> {
    mountinfo
        .split(|b| *b == b'\n')
        .filter_map(|line| line.split(|b| *b == b' ').nth(4))
        .map(|field| PathBuf::from(OsStr::from_bytes(&unescape_octal(field))))
        .collect()
}

/// Undoes the kernel's `\NNN` escaping of spaces, tabs, newlines and backslashes.
pub(crate) fn unescape_octal(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let octal = field
            .get(i + 1..i + 4)
            .filter(|d| field[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(field[i]);
                i += 1;
            }
        }
    }
    out
}

fn mount(
    kind: &'static str,
    fstype: Option<&str>,
    source: Option<&Path>,
    target: &Path,
    flags: MsFlags,
    data: Option<&OsStr>,
) -> Result<(), Error> {
    nix::mount::mount(source, target, fstype, flags, data).map_err(|source| Error::Mount {
        kind,
        target: target.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines_give_unescaped_mount_points() {
        let text = b"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
            40 22 0:5 / /run/netns/with\\040space rw - nsfs nsfs rw\n";
        assert_eq!(
            parse_mountpoints(text),
            vec![PathBuf::from("/"), PathBuf::from("/run/netns/with space")]
        );
    }

    #[test]
    fn unescaping_leaves_plain_backslashes() {
        assert_eq!(unescape_octal(b"a\\b\\134c"), b"a\\b\\c".to_vec());
    }

    #[test]
    fn overlay_layers_with_separators_are_refused() {
        let overlay = Overlay {
            lower: Path::new("/"),
            upper: Path::new("/x,y"),
            work: Path::new("/w"),
        };
        let err = mount_overlay(&overlay, Path::new("/mnt")).unwrap_err();
        assert!(matches!(err, Error::OverlayPath { .. }), "{err}");
    }
}
