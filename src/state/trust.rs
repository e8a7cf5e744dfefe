//! The trust checks on the state directory and its files, as ssh's StrictModes: state is trusted as
//! code and paths, so what another user could have written is refused (78) with the fix named.
//! Reads a file only through [`read_trusted`], so what is checked is what is read; never writes.
//!
//! The way to the state directory is checked too ([`check_path`]), every directory and symbolic
//! link from `/` down, links followed as the kernel follows them: another user who could replace a
//! directory on the way, or who owns a link on it, chooses where the state really is. A directory on
//! the way must be root's or ours and not writable by group or others unless it is sticky (`/tmp`,
//! 1777: others may add names there but not replace ours); a link must be root's or ours (in a sticky
//! directory anyone may plant one, and the sticky bit protects only names that are ours).

use crate::error::{Error, Result};
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// Links followed on the way before giving up, as the kernel's ELOOP does.
const MAX_LINKS: usize = 40;

/// Checks every directory and link on the way to `root`, as far as it exists (what is missing is
/// created by us, 0700, after this check). Run before anything is created, so nothing is made
/// through a link another user planted.
pub(super) fn check_path(root: &Path) -> Result<()> {
    let cannot = |path: &Path, e: std::io::Error| {
        Error::cant_create(format!(
            "cannot read {} (on the way to the state directory {}): {e}",
            path.display(),
            root.display()
        ))
    };
    let absolute = if root.is_absolute() {
        root.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| cannot(root, e))?
            .join(root)
    };
    let mut at = PathBuf::from("/");
    check_on_the_way(root, &at, &fs::metadata(&at).map_err(|e| cannot(&at, e))?)?;
    let mut ahead = names(&absolute);
    let mut links = 0;
    while let Some(name) = ahead.pop() {
        if name == ".." {
            at.pop();
            continue;
        }
        let next = at.join(&name);
        let meta = match fs::symlink_metadata(&next) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(cannot(&next, e)),
        };
        if !meta.file_type().is_symlink() {
            // The state directory itself passes the stricter [`check_dirs`].
            if !ahead.is_empty() {
                check_on_the_way(root, &next, &meta)?;
            }
            if !meta.is_dir() {
                // A file where a directory belongs: creating the state there fails and says so.
                return Ok(());
            }
            at = next;
            continue;
        }
        check_link(root, &next, &meta)?;
        links += 1;
        let target = fs::read_link(&next).map_err(|e| cannot(&next, e))?;
        if links > MAX_LINKS {
            return Err(cannot(
                &next,
                std::io::Error::other("too many symbolic links"),
            ));
        }
        if target.is_absolute() {
            at = PathBuf::from("/");
        }
        ahead.extend(names(&target));
    }
    Ok(())
}

/// The names of `path` to walk, last first (so the next one is `pop`ped); `.` left out, `..` kept.
fn names(path: &Path) -> Vec<OsString> {
    path.components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// A directory on the way to the state: root's or ours, and writable by no one else unless sticky.
fn check_on_the_way(root: &Path, dir: &Path, meta: &fs::Metadata) -> Result<()> {
    let way = format!(
        "{} (on the way to the state directory {})",
        dir.display(),
        root.display()
    );
    check_owner(&way, meta.uid(), "could replace what it holds")?;
    if meta.is_dir() && meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0 {
        return Err(Error::config(format!(
            "{way} can be written by other users and is not sticky (mode {:o}), so they could replace the state directory; `chmod go-w {}`, or pass a --state-dir on a path only you and root can write",
            meta.mode() & 0o7777,
            dir.display()
        )));
    }
    Ok(())
}

/// A symbolic link on the way to the state: root's or ours (its target is checked as the walk goes on).
fn check_link(root: &Path, link: &Path, meta: &fs::Metadata) -> Result<()> {
    let way = format!(
        "{} (a symbolic link on the way to the state directory {})",
        link.display(),
        root.display()
    );
    check_owner(&way, meta.uid(), "chose where it leads")
}

/// Refuses `owner` unless it is this user or root; `what` says what the other owner could do.
fn check_owner(way: &str, owner: u32, what: &str) -> Result<()> {
    let me = rustix::process::geteuid().as_raw();
    if owner == me || owner == 0 {
        return Ok(());
    }
    Err(Error::config(format!(
        "{way} belongs to uid {owner}, not to this user (uid {me}) or root, who {what}; pass a --state-dir on a path only you and root own"
    )))
}

/// Checks that `root` and its `records` directory are only ours (or root's) to write.
pub(super) fn check_dirs(root: &Path) -> Result<()> {
    for dir in [root.to_path_buf(), root.join("records")] {
        let meta = fs::metadata(&dir).map_err(|e| super::cant_read(&dir, &e))?;
        check_trusted(&dir, &meta)?;
    }
    Ok(())
}

/// A state file's text (`Ok(Err)` when it cannot be read), or `Err` when another user could have
/// written it. Checked on the open file, so what is checked is what is read.
pub(super) fn read_trusted(path: &Path) -> Result<std::io::Result<String>> {
    let file = match crate::fsutil::open_small_file(path) {
        Ok(file) => file,
        Err(e) => return Ok(Err(e)),
    };
    match file.metadata() {
        Ok(meta) => check_trusted(path, &meta)?,
        Err(e) => return Ok(Err(e)),
    }
    Ok(crate::fsutil::read_text(file))
}

/// Refuses a state directory or file that a user other than this one or root owns or could write.
fn check_trusted(path: &Path, meta: &fs::Metadata) -> Result<()> {
    let what = if meta.is_dir() {
        "state directory"
    } else {
        "state file"
    };
    let me = rustix::process::geteuid().as_raw();
    let owner = meta.uid();
    if owner != me && owner != 0 {
        return Err(Error::config(format!(
            "{what} {} belongs to uid {owner}, not to this user (uid {me}) or root, and dcv-hook runs what its state says; check who wrote it, then `chown {me} {}`, or pass another --state-dir",
            path.display(),
            path.display()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        let fix = if meta.is_dir() { "700" } else { "600" };
        return Err(Error::config(format!(
            "{what} {} can be written by other users (mode {:o}), and dcv-hook runs what its state says; check its contents, then `chmod {fix} {}`",
            path.display(),
            meta.mode() & 0o7777,
            path.display()
        )));
    }
    Ok(())
}
