//! Writing and restoring webroot's files: what a file holds before (kept for cleanup), the atomic
//! write with the directories it needs, and cleanup's removal or restore of content, mode, owner
//! and time. Where a file may be is decided in `safety.rs`, never here.

use super::{FileMeta, NAME, Undo, Webroot, cant_write};
use crate::error::{Error, Result};
use crate::fsutil::write_atomically;
use crate::record::{Published, Record};
use data_encoding::BASE64;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

impl Webroot {
    /// The record with its file and what that file holds now (nothing is changed).
    pub(super) fn snapshot(&self, record: &Record, file: &Path) -> Result<Published> {
        let mut published = Published::new(record, NAME);
        published.location = file.display().to_string();
        match fs::read(file) {
            Ok(old) if old == record.value.as_bytes() => published.preexisting = true,
            Ok(old) => {
                published.set_undo(&Undo {
                    replaced: Some(BASE64.encode(&old)),
                    replaced_meta: fs::metadata(file).ok().map(|m| FileMeta {
                        mode: m.mode() & 0o7777,
                        uid: m.uid(),
                        gid: m.gid(),
                        mtime: m.mtime(),
                        mtime_nsec: m.mtime_nsec(),
                    }),
                    created_dirs: Vec::new(),
                })?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {}
            Err(e) => return Err(cant_write(file, &e)),
        }
        Ok(published)
    }

    /// What `prepare` records for `record` at `file`: its snapshot, and the directories writing
    /// it would create, so cleanup after a crash between the write and the state update removes
    /// them too (only when empty, as always).
    pub(super) fn prepared(&self, record: &Record, file: &Path) -> Result<Published> {
        let mut published = self.snapshot(record, file)?;
        let Some(parent) = file.parent().filter(|_| !published.preexisting) else {
            return Ok(published);
        };
        let mut undo: Undo = published.undo()?;
        undo.created_dirs = missing_dirs(&self.root, parent)
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        published.set_undo(&undo)?;
        Ok(published)
    }

    /// Writes `record`'s value to `file` (a path `file_for` gave), creating the directories it
    /// needs; the entry records what the file held and which directories were created.
    pub(super) fn write_one(&self, record: &Record, file: &Path) -> Result<Published> {
        let mut published = self.snapshot(record, file)?;
        if published.preexisting {
            return Ok(published);
        }
        let parent = file
            .parent()
            .ok_or_else(|| Error::software("file without a parent directory"))?;
        let mut undo: Undo = published.undo()?;
        undo.created_dirs = create_dirs(&self.root, parent)?;
        let result = published.set_undo(&undo).and_then(|()| {
            write_atomically(file, record.value.as_bytes(), 0o644).map_err(|e| cant_write(file, &e))
        });
        match result {
            Ok(()) => Ok(published),
            Err(e) => {
                remove_empty_dirs(&undo.created_dirs);
                Err(e)
            }
        }
    }

    /// Undoes one recorded file: removes it, or writes back what it replaced, and removes the
    /// directories publishing created. The state is untrusted input: only a validation file below
    /// the web root and directories between it and `.well-known` are ever touched.
    pub(super) fn undo_one(&self, p: &Published) -> Result<()> {
        let file = PathBuf::from(&p.location);
        self.check_no_links(&file)?;
        let undo: Undo = p.undo()?;
        self.check_recorded(&file, &undo)?;
        let outcome = match fs::read(&file) {
            // The file no longer holds our token: whoever changed it since owns it now, and
            // restoring what we replaced would put back a stale token.
            Ok(current) if current != p.record.value.as_bytes() => Ok(()),
            Ok(_) => match &undo.replaced {
                Some(old) => restore(&file, old, undo.replaced_meta.as_ref()),
                None => fs::remove_file(&file).map_err(|e| cant_write(&file, &e)),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(cant_write(&file, &e)),
        };
        outcome.map(|()| remove_empty_dirs(&undo.created_dirs))
    }
}

/// Writes back the content (base64) and metadata a published file replaced.
fn restore(file: &Path, old: &str, meta: Option<&FileMeta>) -> Result<()> {
    let bytes = BASE64.decode(old.as_bytes()).map_err(|_| {
        Error::data(format!(
            "state for {} holds a damaged backup",
            file.display()
        ))
    })?;
    write_atomically(file, &bytes, 0o644).map_err(|e| cant_write(file, &e))?;
    restore_meta(file, meta);
    Ok(())
}

/// Gives a restored file back its mode, owner and modification time. Best effort: a user who may not
/// chown still gets the content and mode back.
fn restore_meta(file: &Path, meta: Option<&FileMeta>) {
    let Some(meta) = meta else { return };
    let _ = fs::set_permissions(file, fs::Permissions::from_mode(meta.mode));
    let _ = std::os::unix::fs::chown(file, Some(meta.uid), Some(meta.gid));
    // From state, so possibly edited: a time that does not fit is left alone rather than panic.
    let mtime = u64::try_from(meta.mtime)
        .ok()
        .zip(
            u32::try_from(meta.mtime_nsec)
                .ok()
                .filter(|n| *n < 1_000_000_000),
        )
        .and_then(|(secs, nanos)| {
            std::time::UNIX_EPOCH.checked_add(std::time::Duration::new(secs, nanos))
        });
    if let (Some(mtime), Ok(f)) = (mtime, fs::File::options().write(true).open(file)) {
        let _ = f.set_modified(mtime);
    }
}

/// The directories between `root` and `dir` that do not exist yet, outermost first.
fn missing_dirs(root: &Path, dir: &Path) -> Vec<PathBuf> {
    let mut missing = Vec::new();
    let mut current = dir;
    while current != root && !current.exists() {
        missing.push(current.to_path_buf());
        current = current.parent().unwrap_or(root);
    }
    missing.reverse();
    missing
}

/// Creates the missing directories between `root` and `dir`; returns those it created, outermost first.
fn create_dirs(root: &Path, dir: &Path) -> Result<Vec<String>> {
    let mut created = Vec::new();
    for d in &missing_dirs(root, dir) {
        if let Err(e) = fs::DirBuilder::new().mode(0o755).create(d) {
            remove_empty_dirs(&created);
            return Err(cant_write(d, &e));
        }
        // The umask may have narrowed the mode; web servers need to read and traverse.
        let _ = fs::set_permissions(d, fs::Permissions::from_mode(0o755));
        created.push(d.display().to_string());
    }
    Ok(created)
}

/// Removes `dirs` (outermost first) from the deepest up, each only if empty.
fn remove_empty_dirs(dirs: &[String]) {
    for d in dirs.iter().rev() {
        let _ = fs::remove_dir(d);
    }
}
