//! The one way dcv-hook replaces a file: write a temporary file beside it, set its mode, flush it to
//! disk, rename it over the target, and flush the directory, so a crash leaves the old file or the
//! new one, never half of either (used for web root files, state files and man pages); and the one
//! way it reads a settings or credentials file: a regular file of at most [`MAX_SMALL_FILE`], so a
//! name like `/dev/zero` or a FIFO is refused at once instead of read without end or waited on.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The most a settings or credentials file may hold (a config file, a key file, an ini file).
pub const MAX_SMALL_FILE: u64 = 1 << 20;

/// Reads `path`, a regular file of at most [`MAX_SMALL_FILE`], as UTF-8 text. Anything else is an
/// error saying what the path is (`InvalidInput`: a device, a FIFO, a directory; `FileTooLarge`);
/// text that is no UTF-8 is `InvalidData`, as `fs::read_to_string` says it.
///
/// It is checked before it is opened, so a FIFO or a device is never opened (a FIFO would block in
/// `open` until a writer came), and opened non-blocking and checked again on the open file, so what
/// was checked is what is read even if the name was swapped in between.
pub fn read_small_file(path: &Path) -> io::Result<String> {
    read_text(open_small_file(path)?)
}

/// `path` opened for reading once checked as [`read_small_file`] checks it (for a caller that
/// checks more on the open file, as the state does).
pub fn open_small_file(path: &Path) -> io::Result<fs::File> {
    check_small_file(&fs::metadata(path)?)?;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32)
        .open(path)?;
    check_small_file(&file.metadata()?)?;
    Ok(file)
}

/// The text of `file` (from [`open_small_file`]), at most [`MAX_SMALL_FILE`] bytes of UTF-8.
pub fn read_text(mut file: fs::File) -> io::Result<String> {
    let mut bytes = Vec::new();
    // A file that grows while it is read stops one byte past the limit: still too large.
    (&mut file)
        .take(MAX_SMALL_FILE + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_SMALL_FILE {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// `Ok` for a regular file of at most [`MAX_SMALL_FILE`].
fn check_small_file(meta: &fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    let what = match () {
        _ if kind.is_file() && meta.size() > MAX_SMALL_FILE => return Err(too_large()),
        _ if kind.is_file() => return Ok(()),
        _ if kind.is_dir() => "a directory",
        _ if kind.is_fifo() => "a FIFO",
        _ if kind.is_char_device() => "a character device",
        _ if kind.is_block_device() => "a block device",
        _ if kind.is_socket() => "a socket",
        _ => "not a plain file",
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("it is {what}, not a regular file"),
    ))
}

fn too_large() -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!("it is larger than {} KiB", MAX_SMALL_FILE / 1024),
    )
}

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
    fn reads_only_small_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok");
        fs::write(&ok, "key = 1\n").unwrap();
        assert_eq!(read_small_file(&ok).unwrap(), "key = 1\n");
        let big = dir.path().join("big");
        fs::write(&big, vec![b'a'; MAX_SMALL_FILE as usize + 1]).unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap();
        // (path, kind, words): a FIFO must fail at once, not wait for a writer.
        let cases: &[(&Path, io::ErrorKind, &str)] = &[
            (
                Path::new("/dev/zero"),
                io::ErrorKind::InvalidInput,
                "a character device",
            ),
            (&fifo, io::ErrorKind::InvalidInput, "a FIFO"),
            (dir.path(), io::ErrorKind::InvalidInput, "a directory"),
            (&big, io::ErrorKind::FileTooLarge, "larger than 1024 KiB"),
        ];
        for (path, kind, words) in cases {
            let err = read_small_file(path).unwrap_err();
            assert_eq!(err.kind(), *kind, "{}: {err}", path.display());
            assert!(err.to_string().contains(words), "{}: {err}", path.display());
        }
    }

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
