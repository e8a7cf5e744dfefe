//! The state directory: one JSON file per published record, so `cleanup` can undo exactly what `auth`
//! did, even after a crash, a reboot or a partial `auth`.
//!
//! Layout: `DIR/records/<id>.json` (mode 0600, written atomically: temp file + rename) and `DIR/lock`,
//! an advisory lock held only while entries are read or changed, so parallel invocations never clobber
//! each other's files yet can publish at the same time. An entry is written *before* its record is
//! published (status `pending`) and updated once the publisher reports what it did.
//!
//! State is trusted as code and paths (cleanup runs the program an entry names, removes the file it
//! names), so, as ssh's StrictModes does, a state directory or file that another user could have
//! written (writable by group or others, or owned by someone other than this user or root) is refused.
//!
//! This file is the store (open, lock, save, load, remove); `entry.rs` is the file format and its id,
//! `trust.rs` the ownership and mode checks every directory and file passes before it is used.

mod entry;
mod trust;

pub use entry::{AcmeSource, Entry, Owner, PersistSource, Source, Status, pending_entry};

use crate::error::{Error, Result};
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// Longest wait for the state lock.
pub const LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// An open state directory.
pub struct StateDir {
    root: PathBuf,
}

/// Holds the state lock until dropped.
pub struct Lock {
    _held: crate::filelock::Held,
}

impl StateDir {
    /// Opens `root`, creating it (mode 0700) when missing; refuses one another user could write, or
    /// could redirect (a directory or link on the way that is not ours or root's, see `trust.rs`).
    pub fn open(root: &Path) -> Result<StateDir> {
        // Checked before creating, so nothing is created through another user's link.
        trust::check_path(root)?;
        private_dir(&root.join("records")).map_err(|e| cant_write(root, &e))?;
        StateDir::trusted(root)
    }

    /// Opens `root` only if it exists (cleanup and status must not create it).
    pub fn open_existing(root: &Path) -> Result<Option<StateDir>> {
        if root.join("records").is_dir() {
            StateDir::trusted(root).map(Some)
        } else {
            Ok(None)
        }
    }

    /// `root` after checking the way to it, and that it and its `records` directory are only ours
    /// to write.
    fn trusted(root: &Path) -> Result<StateDir> {
        trust::check_path(root)?;
        trust::check_dirs(root)?;
        Ok(StateDir {
            root: root.to_path_buf(),
        })
    }

    /// Takes the exclusive lock, waiting for other invocations to finish their state changes (held
    /// for milliseconds, never across network I/O) up to [`LOCK_TIMEOUT`], then 75.
    pub fn lock(&self) -> Result<Lock> {
        crate::filelock::lock(&self.root.join("lock"), LOCK_TIMEOUT, "changing the state")
            .map(|held| Lock { _held: held })
    }

    /// The directory of the locks that serialize changes outside the state (created mode 0700):
    /// see [`crate::filelock`].
    pub fn locks_dir(root: &Path) -> Result<PathBuf> {
        let dir = root.join("locks");
        private_dir(&dir).map_err(|e| cant_write(&dir, &e))?;
        Ok(dir)
    }

    /// The file of `entry`.
    fn file_of(&self, entry: &Entry) -> PathBuf {
        self.root
            .join("records")
            .join(format!("{}.json", entry.id()))
    }

    /// Writes `entry` atomically (mode 0600). Call with the lock held.
    pub fn save(&self, entry: &Entry, _lock: &Lock) -> Result<()> {
        let target = self.file_of(entry);
        let json = serde_json::to_vec_pretty(entry)
            .map_err(|e| Error::software(format!("cannot encode state: {e}")))?;
        crate::fsutil::write_atomically(&target, &json, 0o600).map_err(|e| cant_write(&target, &e))
    }

    /// Every entry, oldest first. A file that cannot be read or parsed is skipped with a warning
    /// naming it.
    pub fn load_all(&self, _lock: &Lock) -> Result<Vec<Entry>> {
        let dir = self.root.join("records");
        let mut entries = Vec::new();
        for item in fs::read_dir(&dir).map_err(|e| cant_read(&dir, &e))? {
            let path = item.map_err(|e| cant_read(&dir, &e))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            // One bad file must not block every cleanup and auth: it is named and skipped.
            let entry = match trust::read_trusted(&path)? {
                Ok(text) => serde_json::from_str::<Entry>(&text).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match entry {
                Ok(entry) => entries.push(entry),
                Err(why) => crate::ui::warn(&format!(
                    "skipping state file {} ({why}); if it was dcv-hook's, remove its record by hand and then the file",
                    path.display()
                )),
            }
        }
        entries.sort_by_key(|e| (e.created, e.id()));
        Ok(entries)
    }

    /// Removes `entry`'s file; a missing file is fine. Call with the lock held.
    pub fn remove(&self, entry: &Entry, _lock: &Lock) -> Result<()> {
        let path = self.file_of(entry);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(cant_write(&path, &e)),
            _ => Ok(()),
        }
    }
}

/// Makes `dir` and its missing parents, mode 0700.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn cant_read(dir: &Path, e: &std::io::Error) -> Error {
    Error::cant_create(format!(
        "cannot read state directory {}: {e}",
        dir.display()
    ))
}

fn cant_write(path: &Path, e: &std::io::Error) -> Error {
    Error::cant_create(format!(
        "cannot write state at {}: {e}; pass a writable --state-dir",
        path.display()
    ))
}

#[cfg(test)]
mod tests;
