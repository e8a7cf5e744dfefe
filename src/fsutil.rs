//! The one way dcv-hook replaces a file: write a temporary file beside it, set its mode, flush it to
//! disk, rename it over the target, and flush the directory, so a crash leaves the old file or the
//! new one, never half of either (used for web root files and state files).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Replaces `file` with `bytes` atomically and durably, with permission bits `mode`.
pub fn write_atomically(file: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = file
        .parent()
        .ok_or_else(|| io::Error::other("file without a parent directory"))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))?;
    tmp.as_file().sync_all()?;
    tmp.persist(file).map_err(|e| e.error)?;
    // The rename is only durable once the directory entry is on disk too.
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_with_the_mode_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, "old").unwrap();
        write_atomically(&file, b"new", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&file).unwrap(), "new");
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
