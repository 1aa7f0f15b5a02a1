//! One output per buffer directory. Two outputs (or two agents) writing the same directory
//! would interleave segments, move each other's cursor and delete each other's undelivered
//! records, so the buffer takes an exclusive lock on `DIR/lock` before recovery touches
//! anything, and holds it until it is dropped. The lock belongs to the open file, not to the
//! process: a second open in the same process is refused as surely as one in another process,
//! and the kernel releases it when the agent dies, however it dies.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// The lock file in the buffer directory. It is left in place: only its lock matters.
pub const LOCK_FILE: &str = "lock";

/// Another buffer holds the directory's lock.
#[derive(Debug, thiserror::Error)]
#[error(
    "the buffer directory {} is in use by another output or process (it holds the lock on {}); give each output its own buffer path",
    dir.display(),
    dir.join(LOCK_FILE).display()
)]
pub struct BufferInUse {
    pub dir: PathBuf,
}

/// The lock on a buffer directory; dropping it unlocks the directory.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// Locks `dir` (which must exist), or fails with [`BufferInUse`] inside an
/// [`io::ErrorKind::ResourceBusy`] error when another buffer holds it.
pub fn lock(dir: &Path) -> io::Result<DirLock> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(DirLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(io::Error::new(
            io::ErrorKind::ResourceBusy,
            BufferInUse {
                dir: dir.to_path_buf(),
            },
        )),
        Err(TryLockError::Error(error)) => Err(io::Error::new(
            error.kind(),
            format!("cannot lock {}: {error}", path.display()),
        )),
    }
}
