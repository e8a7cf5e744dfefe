//! Where webroot may write: the file a record's URL path maps to (checked components only, no
//! symbolic link at any level), and for cleanup, whether a state file's file and directories are
//! ones dcv-hook writes (a state file is untrusted input). Changes nothing.

use super::{DOCTOR_PROBE_PREFIX, Undo, Webroot, cant_write};
use crate::error::{Error, Result};
use crate::record::Record;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

impl Webroot {
    /// The file under the web root that serves `record`'s URL path.
    pub fn file_for(&self, record: &Record) -> Result<PathBuf> {
        let url_path = record.http().map(|url| url.path.as_str()).ok_or_else(|| {
            Error::software(format!(
                "webroot can only publish HTTP records, not {record}"
            ))
        })?;
        let relative = Path::new(url_path.trim_start_matches('/'));
        let mut path = self.root.clone();
        for component in relative.components() {
            match component {
                Component::Normal(part) => path.push(part),
                _ => {
                    return Err(Error::data(format!(
                        "URL path {url_path} would leave the web root"
                    )));
                }
            }
        }
        self.check_no_links(&path)?;
        Ok(path)
    }

    /// Refuses a symbolic link (or anything but a directory or regular file) at any level between the
    /// web root and `file`: following one could write outside the web root, or read a private file
    /// into the state and serve it later.
    pub(super) fn check_no_links(&self, file: &Path) -> Result<()> {
        let Ok(relative) = file.strip_prefix(&self.root) else {
            return Err(Error::data(format!(
                "{} is outside the web root {}",
                file.display(),
                self.root.display()
            )));
        };
        let mut path = self.root.clone();
        let parts: Vec<_> = relative.components().collect();
        // A state file's `..` (or NUL) must not lead cleanup outside the web root.
        if !parts
            .iter()
            .all(|part| matches!(part, Component::Normal(p) if !p.as_bytes().contains(&0)))
        {
            return Err(Error::data(format!(
                "{} would leave the web root {}; remove that state file and the file by hand",
                file.display(),
                self.root.display()
            )));
        }
        for (i, part) in parts.iter().enumerate() {
            path.push(part);
            let meta = match fs::symlink_metadata(&path) {
                Ok(meta) => meta,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(cant_write(&path, &e)),
            };
            let last = i + 1 == parts.len();
            let ok = if last {
                meta.file_type().is_file()
            } else {
                meta.file_type().is_dir()
            };
            if !ok {
                return Err(Error::cant_create(format!(
                    "webroot: cannot write {}: {} is {}; dcv-hook does not follow links below the web root (the file could land outside it): replace it with a real {}",
                    file.display(),
                    path.display(),
                    if meta.file_type().is_symlink() {
                        "a symbolic link"
                    } else {
                        "not a plain file or directory"
                    },
                    if last { "file" } else { "directory" }
                )));
            }
        }
        Ok(())
    }

    /// Refuses a recorded file that is not a validation file of this web root, or recorded
    /// directories that are not between it and the root's `.well-known`.
    pub(super) fn check_recorded(&self, file: &Path, undo: &Undo) -> Result<()> {
        let refuse = |what: String| {
            Error::data(format!(
                "state names {what}, which dcv-hook never writes in the web root {}; remove that state file (and check the file by hand)",
                self.root.display()
            ))
        };
        let relative = file
            .strip_prefix(&self.root)
            .map_err(|_| refuse(file.display().to_string()))?;
        if !is_validation_file(relative) {
            return Err(refuse(file.display().to_string()));
        }
        let well_known = self.root.join(".well-known");
        match undo.created_dirs.iter().find(|d| {
            let d = Path::new(d);
            !(d.starts_with(&well_known) && file.starts_with(d) && d != file)
        }) {
            Some(d) => Err(refuse(format!("the directory {d}"))),
            None => Ok(()),
        }
    }
}

/// The only files dcv-hook serves, relative to the web root: DigiCert's `fileauth.txt`, a file name
/// DigiCert chose for http-token-dynamic (one plain name ending in `.txt`) and the doctor's probe
/// beside them, and an ACME http-01 token (one plain name below `acme-challenge`).
fn is_validation_file(relative: &Path) -> bool {
    let parts: Vec<_> = relative.components().collect();
    let is = |c: &Component, name: &str| matches!(c, Component::Normal(p) if *p == name);
    let probe = |c: &Component| matches!(c, Component::Normal(p) if p.as_bytes().starts_with(DOCTOR_PROBE_PREFIX.as_bytes()));
    let dynamic = |c: &Component| matches!(c, Component::Normal(p) if p.to_str().is_some_and(crate::dcv::is_dynamic_file_name));
    match parts.as_slice() {
        [w, d, f] if is(w, ".well-known") => {
            (is(d, "pki-validation") && (is(f, "fileauth.txt") || probe(f) || dynamic(f)))
                || (is(d, "acme-challenge") && matches!(f, Component::Normal(_)))
        }
        _ => false,
    }
}
