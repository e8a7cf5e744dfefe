//! Web root publisher (`--provider webroot --webroot DIR`): writes each HTTP record's file under DIR.
//!
//! The URL path maps to `DIR/<path>` (e.g. `DIR/.well-known/pki-validation/fileauth.txt`). Files are
//! written atomically (temp file in the same directory, then rename) with mode 0644; missing
//! directories are created (0755) and listed so cleanup can remove them again; a file that was there
//! is kept (base64) and written back by cleanup. Nothing is ever written outside DIR: the path is
//! built from checked components only. Never waits, never prints.
//!
//! This file is the provider (flags, settings, the batch); `safety.rs` decides where a file may be,
//! `files.rs` writes and restores files.

mod files;
mod safety;

use super::{Provider, Publisher, Serves, Setup, rolled_back};
use crate::error::{Error, Result};
use crate::record::{Published, Record};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The provider name.
pub const NAME: &str = "webroot";

/// The webroot flags.
#[derive(Clone, Debug, Default, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct WebrootArgs {
    /// Web root directory: http-token and http-01 files go below it (provider webroot).
    #[arg(long, value_name = "DIR", help_heading = "Provider: webroot")]
    pub webroot: Option<PathBuf>,
}

/// What the state keeps per file: what it replaced and which directories it created.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Undo {
    /// The previous content (base64) that publishing replaced; cleanup writes it back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced: Option<String>,
    /// Mode, owner and modification time of the replaced file, restored along with its content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced_meta: Option<FileMeta>,
    /// Directories publishing created (outermost first); cleanup removes them again when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
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
    type Undo = Undo;

    /// For auth, `--webroot`; for cleanup, the web root each recorded file went to (the flag is then
    /// not needed, but when given the state must agree with it: a state file never widens where
    /// cleanup may write).
    fn publisher(args: WebrootArgs, setup: &Setup, _: Option<&Undo>) -> Result<Box<dyn Publisher>> {
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
        Ok(Box::new(webroot))
    }

    /// The web root: a file's undo data (what it replaced) is its own, the root is what undoes it.
    fn how_published(published: &Published) -> Result<String> {
        Ok(webroot_of(published)?.display().to_string())
    }
}

/// The web root a recorded file lives in: its path minus the URL path.
fn webroot_of(p: &Published) -> Result<PathBuf> {
    let url_path = p
        .record
        .http()
        .map(|url| url.path.as_str())
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
}

impl Publisher for Webroot {
    fn provider(&self) -> &'static str {
        NAME
    }

    fn prepare(&mut self, records: &[Record]) -> Result<Vec<Published>> {
        records
            .iter()
            .map(|r| self.prepared(r, &self.file_for(r)?))
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
                    // All or nothing: undo the files already written (and say so when that fails,
                    // so the state is kept for cleanup).
                    let undo = self.cleanup(&done);
                    return Err(rolled_back(e, undo, "the files written before"));
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

/// The error of a failed write (or read) of `path` under the web root.
fn cant_write(path: &Path, e: &std::io::Error) -> Error {
    Error::cant_create(format!(
        "webroot: cannot write {}: {e}; check --webroot and its permissions",
        path.display()
    ))
}

#[cfg(test)]
mod tests;
