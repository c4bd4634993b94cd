//! Reading and writing the PEM files of the PKI directory: keys readable by the owner only, every
//! write atomic (temporary file, fsync, rename) so a crash never leaves half a key behind.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::PkiError;

/// What a file holds, which decides who may read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contents {
    Certificate,
    PrivateKey,
}

impl Contents {
    fn mode(self) -> u32 {
        match self {
            Contents::Certificate => 0o644,
            Contents::PrivateKey => 0o600,
        }
    }
}

/// Creates the directory (owner-only, as it holds the CA key) if it does not exist yet.
pub(crate) fn create_dir(dir: &Path) -> Result<(), PkiError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| PkiError::CreateDir {
            path: dir.to_owned(),
            source,
        })
}

/// The file's text, or `None` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, PkiError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PkiError::ReadFile {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Replaces `path` with `text` atomically, with the mode `contents` calls for.
pub(crate) fn write(path: &Path, text: &str, contents: Contents) -> Result<(), PkiError> {
    let wrap = |source| PkiError::WriteFile {
        path: path.to_owned(),
        source,
    };
    let tmp = temporary_path(path);
    write_synced(&tmp, text, contents.mode()).map_err(wrap)?;
    fs::rename(&tmp, path).map_err(wrap)?;
    sync_parent(path).map_err(wrap)
}

fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".tmp");
    path.with_file_name(name)
}

fn write_synced(path: &Path, text: &str, mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    // The mode given to open only applies to a new file; a stale temporary may have another.
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Makes the rename itself durable.
fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => File::open(parent)?.sync_all(),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_owner_only_and_rewrites_replace() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("a.key");
        let cert = dir.path().join("a.crt");
        write(&key, "one", Contents::PrivateKey).unwrap();
        write(&key, "two", Contents::PrivateKey).unwrap();
        write(&cert, "c", Contents::Certificate).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(&cert), 0o644);
        assert_eq!(read_optional(&key).unwrap().as_deref(), Some("two"));
        assert_eq!(read_optional(&dir.path().join("missing")).unwrap(), None);
        assert!(!dir.path().join("a.key.tmp").exists());
    }

    #[test]
    fn created_directory_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let pki = dir.path().join("data/pki");
        create_dir(&pki).unwrap();
        create_dir(&pki).unwrap();
        assert_eq!(
            fs::metadata(&pki).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
}
