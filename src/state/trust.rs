//! The trust checks on the state directory and its files, as ssh's StrictModes: state is trusted as
//! code and paths, so what another user could have written is refused (78) with the fix named.
//! Reads a file only through [`read_trusted`], so what is checked is what is read; never writes.

use crate::error::{Error, Result};
use std::fs;
use std::path::Path;

/// Checks that `root` and its `records` directory are only ours (or root's) to write.
pub(super) fn check_dirs(root: &Path) -> Result<()> {
    for dir in [root.to_path_buf(), root.join("records")] {
        let meta = fs::metadata(&dir).map_err(|e| {
            Error::cant_create(format!(
                "cannot read state directory {}: {e}",
                dir.display()
            ))
        })?;
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
    use std::os::unix::fs::MetadataExt;
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
