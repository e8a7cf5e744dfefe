//! Exclusive advisory locks (`flock`) on files, waited for up to a deadline: the one way dcv-hook
//! makes other invocations on this machine wait (the state lock, and the locks that serialize a
//! whole record set's read-modify-write). The lock goes with the open file, so a process that dies,
//! even by kill -9, releases it; waiting polls, so a signal still stops the wait.

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// How often a waiting invocation tries the lock again.
const RETRY: Duration = Duration::from_millis(20);

/// Holds a lock until dropped.
#[derive(Debug)]
pub struct Held {
    _file: File,
}

/// Locks `path` (created mode 0600 when missing; a symlink there is refused, not followed),
/// waiting for the process that holds it up to `timeout`, then 75 saying `held_for` what.
pub fn lock(path: &Path, timeout: Duration, held_for: &str) -> Result<Held> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(|e| cant_open(path, &e))?;
    let deadline = Instant::now() + timeout;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Held { _file: file }),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                crate::signals::sleep(RETRY)?;
            }
            Err(TryLockError::WouldBlock) => {
                return Err(Error::temp_fail(format!(
                    "the lock {} has been held by another dcv-hook {held_for} for {}s; is one stuck? try again",
                    path.display(),
                    timeout.as_secs()
                )));
            }
            Err(TryLockError::Error(e)) => return Err(cant_open(path, &e)),
        }
    }
}

fn cant_open(path: &Path, e: &std::io::Error) -> Error {
    Error::cant_create(format!(
        "cannot open the lock file {}: {e}; pass a writable --state-dir",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_until_the_first_lets_go_and_times_out_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l");
        let first = lock(&path, Duration::from_secs(1), "x").unwrap();
        let err = lock(&path, Duration::from_millis(100), "changing zone z").unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::TempFail);
        assert!(err.message().contains("changing zone z"), "{err}");
        assert!(err.message().contains(&path.display().to_string()), "{err}");
        drop(first);
        lock(&path, Duration::from_millis(100), "x").unwrap();
    }

    #[test]
    fn a_symlink_in_its_place_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let path = dir.path().join("l");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        assert!(lock(&path, Duration::from_millis(10), "x").is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    }
}
