//! Web root publisher (`--provider webroot --webroot DIR`): writes each HTTP record's file under DIR.
//!
//! The URL path maps to `DIR/<path>` (e.g. `DIR/.well-known/pki-validation/fileauth.txt`). Files are
//! written atomically (temp file in the same directory, then rename) with mode 0644; missing
//! directories are created (0755) and listed so cleanup can remove them again; a file that was there
//! is kept (base64) and written back by cleanup. Nothing is ever written outside DIR: the path is
//! built from checked components only. Never waits, never prints.

use super::{Provider, Publisher, Serves, Setup};
use crate::error::{Error, Result};
use crate::fsutil::write_atomically;
use crate::record::{Published, Record, RecordType};
use data_encoding::BASE64;
use serde::{Deserialize, Serialize};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// The provider name.
pub const NAME: &str = "webroot";

/// The webroot flags.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct WebrootArgs {
    /// Web root directory: http-token and http-01 files go below it (provider webroot).
    #[arg(long, value_name = "DIR", help_heading = "Provider: webroot")]
    pub webroot: Option<PathBuf>,
}

/// What the state keeps per file: what it replaced and which directories it created.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undo {
    /// The previous content (base64) that publishing replaced; cleanup writes it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<String>,
    /// Mode, owner and modification time of the replaced file, restored along with its content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_meta: Option<FileMeta>,
    /// Directories publishing created (outermost first); cleanup removes them again when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_dirs: Vec<String>,
}

/// What a file was besides its content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Modification time, seconds and nanoseconds since the Unix epoch.
    pub mtime: i64,
    pub mtime_nsec: i64,
}

impl Provider for Webroot {
    const NAME: &'static str = NAME;
    const SERVES: Serves = Serves::Http;
    type Args = WebrootArgs;
    type Settings = Webroot;
    type Undo = Undo;

    /// For auth, `--webroot`; for cleanup, the web root each recorded file went to (the flag is then
    /// not needed, but when given the state must agree with it: a state file never widens where
    /// cleanup may write).
    fn settings(args: WebrootArgs, setup: &Setup, _: Option<&Undo>) -> Result<Webroot> {
        let (root, flag) = match setup.remembered.first() {
            Some(p) => (webroot_of(p)?, args.webroot),
            None => (
                args.webroot
                    .ok_or_else(|| Error::usage("--provider webroot needs --webroot DIR"))?,
                None,
            ),
        };
        let webroot = Webroot::new(&root)?;
        if let Some(flag) = flag
            && Webroot::new(&flag)?.root != webroot.root
        {
            return Err(Error::config(format!(
                "the state says these files went to the web root {}, not --webroot {}; clean up with that --webroot (or without one)",
                webroot.root.display(),
                flag.display()
            )));
        }
        Ok(webroot)
    }

    fn publisher(settings: Webroot, _setup: &Setup) -> Result<Box<dyn Publisher>> {
        Ok(Box::new(settings))
    }

    /// The web root: a file's undo data (what it replaced) is its own, the root is what undoes it.
    fn how_published(published: &Published) -> Result<String> {
        Ok(webroot_of(published)?.display().to_string())
    }
}

/// The web root a recorded file lives in: its path minus the URL path.
fn webroot_of(p: &Published) -> Result<PathBuf> {
    let (_, url_path) = p
        .record
        .http_host_and_path()
        .ok_or_else(|| Error::data(format!("state for {} is not an HTTP record", p.location)))?;
    p.location
        .strip_suffix(url_path)
        .map(PathBuf::from)
        .ok_or_else(|| {
            Error::data(format!(
                "cannot tell the web root of {} from the state; remove that state file and the file by hand",
                p.location
            ))
        })
}

/// Publishes HTTP tokens as files under a web root.
pub struct Webroot {
    root: PathBuf,
}

impl Webroot {
    /// Checks that `root` is an existing directory and makes it absolute.
    pub fn new(root: &Path) -> Result<Webroot> {
        let root = root.canonicalize().map_err(|e| {
            Error::cant_create(format!(
                "web root {} is not usable ({e}); pass an existing directory to --webroot",
                root.display()
            ))
        })?;
        if !root.is_dir() {
            return Err(Error::cant_create(format!(
                "web root {} is not a directory; pass one to --webroot",
                root.display()
            )));
        }
        Ok(Webroot { root })
    }

    /// The file under the web root that serves `record`'s URL path.
    pub fn file_for(&self, record: &Record) -> Result<PathBuf> {
        let (_, url_path) = record
            .http_host_and_path()
            .filter(|_| record.rtype == RecordType::Http)
            .ok_or_else(|| {
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
    fn check_no_links(&self, file: &Path) -> Result<()> {
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

    /// The record with its file and what that file holds now (nothing is changed).
    fn snapshot(&self, record: &Record, file: &Path) -> Result<Published> {
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
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {}
            Err(e) => return Err(cant_write(file, &e)),
        }
        Ok(published)
    }

    fn write_one(&self, record: &Record, file: &Path) -> Result<Published> {
        let mut published = self.snapshot(record, file)?;
        if published.preexisting {
            return Ok(published);
        }
        let parent = file
            .parent()
            .ok_or_else(|| Error::software("file without a parent directory"))?;
        let mut undo: Undo = published.undo()?;
        undo.created_dirs = create_dirs(&self.root, parent)?;
        published.set_undo(&undo);
        let result = write_atomically(file, record.value.as_bytes(), 0o644)
            .map_err(|e| cant_write(file, &e));
        match result {
            Ok(()) => Ok(published),
            Err(e) => {
                remove_empty_dirs(&undo.created_dirs);
                Err(e)
            }
        }
    }
}

impl Publisher for Webroot {
    fn provider(&self) -> &'static str {
        NAME
    }

    fn prepare(&mut self, records: &[Record]) -> Result<Vec<Published>> {
        records
            .iter()
            .map(|r| self.snapshot(r, &self.file_for(r)?))
            .collect()
    }

    fn present(&mut self, records: &[Record]) -> Result<Vec<Published>> {
        // Two different tokens for one file cannot both be served: refuse before writing anything.
        let mut files = Vec::new();
        for record in records {
            let file = self.file_for(record)?;
            if let Some((_, other)) = files
                .iter()
                .find(|(f, r): &&(PathBuf, &Record)| *f == file && r.value != record.value)
            {
                return Err(Error::data(format!(
                    "{} would have to hold two different tokens ({} and {}); validate the domains in separate runs",
                    file.display(),
                    other.domain,
                    record.domain
                )));
            }
            if !files.iter().any(|(f, _)| *f == file) {
                files.push((file, record));
            }
        }
        let mut done: Vec<Published> = Vec::new();
        for (file, record) in &files {
            match self.write_one(record, file) {
                Ok(p) => done.push(p),
                Err(e) => {
                    // All or nothing: undo the files already written.
                    let _ = self.cleanup(&done);
                    return Err(e);
                }
            }
        }
        // Every record of the batch gets its entry, even those sharing a file.
        Ok(records
            .iter()
            .map(|record| {
                let file = self.file_for(record).expect("checked above");
                let mut p = done
                    .iter()
                    .find(|p| p.location == file.display().to_string())
                    .expect("written")
                    .clone();
                p.record = record.clone();
                p
            })
            .collect())
    }

    fn cleanup(&mut self, published: &[Published]) -> Result<()> {
        let mut first_error = None;
        let mut seen = Vec::new();
        for p in published {
            if p.preexisting || seen.contains(&p.location) {
                continue;
            }
            seen.push(p.location.clone());
            if let Err(e) = self.undo_one(p) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// How `doctor` names its probe file, beside `fileauth.txt` (the rest is random hex).
pub const DOCTOR_PROBE_PREFIX: &str = "dcv-hook-doctor-";

/// The only files dcv-hook serves, relative to the web root: DigiCert's `fileauth.txt` and the
/// doctor's probe beside it, and an ACME http-01 token (one plain name below `acme-challenge`).
fn is_validation_file(relative: &Path) -> bool {
    let parts: Vec<_> = relative.components().collect();
    let is = |c: &Component, name: &str| matches!(c, Component::Normal(p) if *p == name);
    let probe = |c: &Component| matches!(c, Component::Normal(p) if p.as_bytes().starts_with(DOCTOR_PROBE_PREFIX.as_bytes()));
    match parts.as_slice() {
        [w, d, f] if is(w, ".well-known") => {
            (is(d, "pki-validation") && (is(f, "fileauth.txt") || probe(f)))
                || (is(d, "acme-challenge") && matches!(f, Component::Normal(_)))
        }
        _ => false,
    }
}

impl Webroot {
    /// Undoes one recorded file: removes it, or writes back what it replaced, and removes the
    /// directories publishing created. The state is untrusted input: only a validation file below
    /// the web root and directories between it and `.well-known` are ever touched.
    fn undo_one(&self, p: &Published) -> Result<()> {
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

    /// Refuses a recorded file that is not a validation file of this web root, or recorded
    /// directories that are not between it and the root's `.well-known`.
    fn check_recorded(&self, file: &Path, undo: &Undo) -> Result<()> {
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

/// Creates the missing directories between `root` and `dir`; returns those it created, outermost first.
fn create_dirs(root: &Path, dir: &Path) -> Result<Vec<String>> {
    let mut missing = Vec::new();
    let mut current = dir;
    while current != root && !current.exists() {
        missing.push(current.to_path_buf());
        current = current.parent().unwrap_or(root);
    }
    missing.reverse();
    let mut created = Vec::new();
    for d in &missing {
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

fn cant_write(path: &Path, e: &std::io::Error) -> Error {
    Error::cant_create(format!(
        "webroot: cannot write {}: {e}; check --webroot and its permissions",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(domain: &str, token: &str) -> Record {
        Record {
            domain: domain.into(),
            rtype: RecordType::Http,
            name: format!("http://{domain}/.well-known/pki-validation/fileauth.txt"),
            value: token.into(),
        }
    }

    fn tree(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                out.push(p.strip_prefix(root).unwrap().display().to_string());
                if p.is_dir() {
                    stack.push(p);
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn writes_0644_and_cleanup_leaves_the_root_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("index.html"), "hi").unwrap();
        let before = tree(dir.path());
        let mut w = Webroot::new(dir.path()).unwrap();
        let published = w
            .present(&[record("a.example", "tok"), record("b.example", "tok")])
            .unwrap();
        assert_eq!(published.len(), 2);
        let file = dir.path().join(".well-known/pki-validation/fileauth.txt");
        assert_eq!(fs::read_to_string(&file).unwrap(), "tok");
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o644
        );
        w.cleanup(&published).unwrap();
        assert_eq!(tree(dir.path()), before);
    }

    #[test]
    fn a_replaced_file_is_restored() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".well-known/pki-validation/fileauth.txt");
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(&file, "old token\n").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
        let old_mtime =
            fs::metadata(&file).unwrap().modified().unwrap() - std::time::Duration::from_secs(3600);
        fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(old_mtime)
            .unwrap();
        let mut w = Webroot::new(dir.path()).unwrap();
        let published = w.present(&[record("a.example", "new")]).unwrap();
        assert_eq!(fs::read_to_string(&file).unwrap(), "new");
        w.cleanup(&published).unwrap();
        assert_eq!(fs::read_to_string(&file).unwrap(), "old token\n");
        let meta = fs::metadata(&file).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
        assert_eq!(meta.modified().unwrap(), old_mtime);
    }

    #[test]
    fn what_prepare_saw_is_enough_to_undo_an_interrupted_present() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".well-known/pki-validation/fileauth.txt");
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(&file, "original").unwrap();
        let mut w = Webroot::new(dir.path()).unwrap();
        let prepared = w.prepare(&[record("a.example", "tok")]).unwrap();
        // The process dies right after writing the token, before it could record anything else.
        fs::write(&file, "tok").unwrap();
        w.cleanup(&prepared).unwrap();
        assert_eq!(fs::read_to_string(&file).unwrap(), "original");
    }

    #[test]
    fn two_tokens_for_one_file_are_refused_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Webroot::new(dir.path()).unwrap();
        let err = w
            .present(&[record("a.example", "one"), record("b.example", "two")])
            .unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::DataErr);
        assert!(tree(dir.path()).is_empty());
    }

    #[test]
    fn an_unwritable_spot_fails_73_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        // A file where a directory must go fails even for root, unlike permission bits.
        fs::create_dir(dir.path().join(".well-known")).unwrap();
        fs::write(dir.path().join(".well-known/pki-validation"), "x").unwrap();
        let before = tree(dir.path());
        let mut w = Webroot::new(dir.path()).unwrap();
        let err = w.present(&[record("a.example", "tok")]).unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::CantCreat);
        assert_eq!(tree(dir.path()), before);
    }

    #[test]
    fn symlinks_below_the_web_root_are_never_followed() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        // .well-known pointing outside: nothing may be written there.
        std::os::unix::fs::symlink(outside.path(), root.path().join(".well-known")).unwrap();
        let mut w = Webroot::new(root.path()).unwrap();
        let err = w.present(&[record("www.example.test", "tok")]).unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::CantCreat, "{err}");
        assert!(err.message().contains("symbolic link"), "{err}");
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);

        // fileauth.txt pointing at a private file: never read into the state, never replaced.
        fs::remove_file(root.path().join(".well-known")).unwrap();
        let dir = root.path().join(".well-known/pki-validation");
        fs::create_dir_all(&dir).unwrap();
        let private = outside.path().join("secret.key");
        fs::write(&private, "private key").unwrap();
        std::os::unix::fs::symlink(&private, dir.join("fileauth.txt")).unwrap();
        assert!(w.prepare(&[record("www.example.test", "tok")]).is_err());
        assert!(w.present(&[record("www.example.test", "tok")]).is_err());
        assert_eq!(fs::read_to_string(&private).unwrap(), "private key");
        assert!(
            fs::symlink_metadata(dir.join("fileauth.txt"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
}
