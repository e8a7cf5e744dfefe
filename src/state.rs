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

use crate::error::{Error, Result};
use crate::record::Published;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// What a record was published for; cleanup selects entries by it. A CertCentral entry names its
/// order or domain; an ACME (host-tool) entry carries `acme`. Files written before ACME mode existed
/// have only the ids and still read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme: Option<AcmeSource>,
}

/// An ACME client's challenge (host-tool mode).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcmeSource {
    /// The ACME client run this challenge belongs to (certbot: one certificate request), so the
    /// last hook call of the run can wait for every record of it together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
}

/// Whether the publisher has confirmed the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// About to be published; cleanup removes it as if it had been (removing a missing value is fine).
    Pending,
    Published,
}

/// One state file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub version: u32,
    pub status: Status,
    pub source: Source,
    /// Unix seconds.
    pub created: u64,
    pub published: Published,
    /// The dcv-hook process that wrote it, so a cleanup leaves a running auth's entries alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
}

/// A process, told apart from a later one that reuses its pid by its start time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub pid: u32,
    /// Start time in clock ticks since boot (`/proc/PID/stat` field 22).
    pub start: u64,
}

impl Owner {
    /// This process.
    pub fn current() -> Option<Owner> {
        let pid = std::process::id();
        Some(Owner {
            pid,
            start: crate::process::start_time(pid)?,
        })
    }

    /// Whether this is a process other than ours that is still running.
    pub fn is_another_live_process(&self) -> bool {
        self.pid != std::process::id() && crate::process::start_time(self.pid) == Some(self.start)
    }
}

impl Entry {
    /// A stable file id from what identifies the change: provider, record and source. The location is
    /// left out: it is only known once published, and the pending entry's file must be overwritten.
    pub fn id(&self) -> String {
        let p = &self.published;
        let mut key = format!(
            "{}\0{}\0{}\0{}\0{:?}\0{:?}",
            p.provider,
            p.record.rtype,
            p.record.name,
            p.record.value,
            self.source.order_id,
            self.source.domain_id
        );
        // Appended only for ACME entries, so the ids of CertCentral entries stay what they were.
        if let Some(acme) = &self.source.acme {
            key.push_str(&format!("\0acme\0{}", acme.batch.as_deref().unwrap_or("")));
        }
        // FNV-1a: tiny, stable across Rust versions (unlike DefaultHasher), and collisions only matter
        // within one state directory.
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        format!(
            "{}-{hash:016x}",
            p.record.rtype.as_str().to_ascii_lowercase()
        )
    }

    /// True when both entries describe the same change in the outside world (ignoring the source).
    pub fn same_change(&self, other: &Entry) -> bool {
        let (a, b) = (&self.published, &other.published);
        a.provider == b.provider
            && a.record.rtype == b.record.rtype
            && a.record.name == b.record.name
            && a.record.value == b.record.value
    }
}

/// Longest wait for the state lock.
pub const LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// An open state directory.
pub struct StateDir {
    root: PathBuf,
}

/// Holds the state lock until dropped.
pub struct Lock {
    _file: File,
}

impl StateDir {
    /// Opens `root`, creating it (mode 0700) when missing; refuses one another user could write.
    pub fn open(root: &Path) -> Result<StateDir> {
        let records = root.join("records");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&records)
            .map_err(|e| cant_write(root, &e))?;
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

    /// `root` after checking it and its `records` directory are only ours to write.
    fn trusted(root: &Path) -> Result<StateDir> {
        for dir in [root.to_path_buf(), root.join("records")] {
            let meta = fs::metadata(&dir).map_err(|e| {
                Error::cant_create(format!(
                    "cannot read state directory {}: {e}",
                    dir.display()
                ))
            })?;
            check_trusted(&dir, &meta)?;
        }
        Ok(StateDir {
            root: root.to_path_buf(),
        })
    }

    /// Takes the exclusive lock, waiting for other invocations to finish their state changes (held
    /// for milliseconds, never across network I/O) up to [`LOCK_TIMEOUT`], then 75.
    pub fn lock(&self) -> Result<Lock> {
        let path = self.root.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| cant_write(&path, &e))?;
        let deadline = std::time::Instant::now() + LOCK_TIMEOUT;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Lock { _file: file }),
                Err(fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    crate::signals::sleep(std::time::Duration::from_millis(20))?;
                }
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(Error::temp_fail(format!(
                        "the state lock {} has been held by another process for {}s; is a dcv-hook stuck? try again",
                        path.display(),
                        LOCK_TIMEOUT.as_secs()
                    )));
                }
                Err(fs::TryLockError::Error(e)) => return Err(cant_write(&path, &e)),
            }
        }
    }

    /// Writes `entry` atomically (mode 0600). Call with the lock held.
    pub fn save(&self, entry: &Entry, _lock: &Lock) -> Result<()> {
        let target = self
            .root
            .join("records")
            .join(format!("{}.json", entry.id()));
        let json = serde_json::to_vec_pretty(entry)
            .map_err(|e| Error::software(format!("cannot encode state: {e}")))?;
        crate::fsutil::write_atomically(&target, &json, 0o600).map_err(|e| cant_write(&target, &e))
    }

    /// Every entry, oldest first. A file that cannot be read or parsed is skipped with a warning
    /// naming it.
    pub fn load_all(&self, _lock: &Lock) -> Result<Vec<Entry>> {
        let dir = self.root.join("records");
        let mut entries = Vec::new();
        let listing = fs::read_dir(&dir).map_err(|e| {
            Error::cant_create(format!(
                "cannot read state directory {}: {e}",
                dir.display()
            ))
        })?;
        for item in listing {
            let path = item
                .map_err(|e| {
                    Error::cant_create(format!(
                        "cannot read state directory {}: {e}",
                        dir.display()
                    ))
                })?
                .path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            // One bad file must not block every cleanup and auth: it is named and skipped.
            let entry = match read_trusted(&path)? {
                Ok(text) => serde_json::from_str::<Entry>(&text).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            let entry = match entry {
                Ok(entry) => entry,
                Err(why) => {
                    crate::ui::warn(&format!(
                        "skipping state file {} ({why}); if it was dcv-hook's, remove its record by hand and then the file",
                        path.display()
                    ));
                    continue;
                }
            };
            entries.push(entry);
        }
        entries.sort_by_key(|e| (e.created, e.id()));
        Ok(entries)
    }

    /// Removes `entry`'s file; a missing file is fine. Call with the lock held.
    pub fn remove(&self, entry: &Entry, _lock: &Lock) -> Result<()> {
        let path = self
            .root
            .join("records")
            .join(format!("{}.json", entry.id()));
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(cant_write(&path, &e)),
            _ => Ok(()),
        }
    }
}

/// A pending entry for `published` (as a publisher's `prepare` saw it) from `source`.
pub fn pending_entry(published: &Published, source: &Source) -> Entry {
    Entry {
        version: 1,
        status: Status::Pending,
        source: source.clone(),
        created: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        published: published.clone(),
        owner: Owner::current(),
    }
}

/// A state file's text (`Ok(Err)` when it cannot be read), or `Err` when another user could have
/// written it. Checked on the open file, so what is checked is what is read.
fn read_trusted(path: &Path) -> Result<std::io::Result<String>> {
    use std::io::Read;
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) => return Ok(Err(e)),
    };
    match file.metadata() {
        Ok(meta) => check_trusted(path, &meta)?,
        Err(e) => return Ok(Err(e)),
    }
    let mut text = String::new();
    Ok(file.read_to_string(&mut text).map(|_| text))
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

fn cant_write(path: &Path, e: &std::io::Error) -> Error {
    Error::cant_create(format!(
        "cannot write state at {}: {e}; pass a writable --state-dir",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Published, Record, RecordType};
    use std::os::unix::fs::PermissionsExt;

    fn entry(value: &str, order: u64) -> Entry {
        let record = Record {
            domain: "example.com".into(),
            rtype: RecordType::Txt,
            name: "example.com".into(),
            value: value.into(),
        };
        pending_entry(
            &Published::new(&record, "rfc2136"),
            &Source {
                order_id: Some(order),
                ..Source::default()
            },
        )
    }

    #[test]
    fn save_load_remove_round_trip_with_private_files() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(&dir.path().join("s")).unwrap();
        let lock = state.lock().unwrap();
        let (a, b) = (entry("a", 1), entry("b", 1));
        state.save(&a, &lock).unwrap();
        state.save(&b, &lock).unwrap();
        state.save(&a, &lock).unwrap(); // same change, same file
        let loaded = state.load_all(&lock).unwrap();
        assert_eq!(loaded.len(), 2);
        let file = dir
            .path()
            .join("s/records")
            .join(format!("{}.json", a.id()));
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        state.remove(&a, &lock).unwrap();
        state.remove(&a, &lock).unwrap();
        assert_eq!(state.load_all(&lock).unwrap(), vec![b]);
    }

    #[test]
    fn a_damaged_state_file_is_skipped_and_the_rest_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let lock = state.lock().unwrap();
        state.save(&entry("a", 1), &lock).unwrap();
        fs::write(dir.path().join("records/x.json"), "{").unwrap();
        fs::write(dir.path().join("records/y.json"), [0xff, 0xfe]).unwrap();
        let loaded = state.load_all(&lock).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].id(), entry("a", 1).id());
    }

    #[test]
    fn state_files_from_before_acme_mode_still_read_with_their_ids() {
        // Written by the version before host-tool mode (no "acme" in the source).
        let old = r#"{"version":1,"status":"published","source":{"order_id":7},"created":1,
            "published":{"record":{"domain":"example.com","type":"TXT","name":"example.com",
            "value":"tok"},"provider":"rfc2136","location":"example.com","server":"192.0.2.1:53"}}"#;
        let entry: Entry = serde_json::from_str(old).unwrap();
        assert_eq!(entry.source.acme, None);
        assert_eq!(entry.id(), "txt-bb5e37af8965d1d5");
        let mut acme = entry.clone();
        acme.source = Source {
            acme: Some(AcmeSource::default()),
            ..Source::default()
        };
        assert_ne!(acme.id(), entry.id());
        assert!(acme.same_change(&entry));
    }

    #[test]
    fn state_another_user_could_write_is_refused_as_config() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s");
        let state = StateDir::open(&root).unwrap();
        assert_eq!(
            fs::metadata(&root).unwrap().permissions().mode() & 0o777,
            0o700,
            "a new state dir is private"
        );
        state.save(&entry("a", 1), &state.lock().unwrap()).unwrap();
        let file = root
            .join("records")
            .join(format!("{}.json", entry("a", 1).id()));
        fs::set_permissions(&file, fs::Permissions::from_mode(0o666)).unwrap();
        let err = state.load_all(&state.lock().unwrap()).unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::Config, "{err}");
        assert!(err.message().contains("chmod 600"), "{err}");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        for dir in [root.clone(), root.join("records")] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
            for open in [
                StateDir::open(&root).err(),
                StateDir::open_existing(&root).err(),
            ] {
                let err = open.expect("refused");
                assert_eq!(err.kind(), crate::error::Kind::Config, "{err}");
                assert!(
                    err.message()
                        .contains(&format!("chmod 700 {}", dir.display())),
                    "{err}"
                );
            }
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        }
        assert_eq!(
            StateDir::open(&root)
                .unwrap()
                .load_all(&state.lock().unwrap())
                .unwrap()
                .len(),
            1
        );
        if rustix::process::geteuid().is_root() {
            // Another user's directory, private as it may be, is theirs to fill.
            std::os::unix::fs::chown(&root, Some(65534), None).unwrap();
            let err = StateDir::open_existing(&root).err().expect("refused");
            assert!(err.message().contains("belongs to uid 65534"), "{err}");
        }
    }

    #[test]
    fn ids_differ_by_source_and_value() {
        assert_ne!(entry("a", 1).id(), entry("a", 2).id());
        assert_ne!(entry("a", 1).id(), entry("b", 1).id());
        assert!(entry("a", 1).same_change(&entry("a", 2)));
    }
}
