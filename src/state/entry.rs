//! The state file's format: what one entry records (the change, its source, its owner) and the
//! stable id that names its file. Knows nothing about directories, locks or permissions.

use crate::record::Published;
use serde::{Deserialize, Serialize};

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
    /// A persistent DCV record (`persist`): never `cleanup`'s to remove, only `persist --remove`'s
    /// or a later `persist` that replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persist: Option<PersistSource>,
}

/// Whose persistent DCV record an entry is: the issuer and account its value names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistSource {
    pub issuer: String,
    pub account_uri: String,
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
            p.record.type_name(),
            p.record.name(),
            p.record.value,
            self.source.order_id,
            self.source.domain_id
        );
        // Appended only for ACME entries, so the ids of CertCentral entries stay what they were.
        if let Some(acme) = &self.source.acme {
            key.push_str(&format!("\0acme\0{}", acme.batch.as_deref().unwrap_or("")));
        }
        if let Some(p) = &self.source.persist {
            key.push_str(&format!("\0persist\0{}\0{}", p.issuer, p.account_uri));
        }
        // FNV-1a: tiny, stable across Rust versions (unlike DefaultHasher), and collisions only matter
        // within one state directory.
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        format!("{}-{hash:016x}", p.record.type_name().to_ascii_lowercase())
    }

    /// A persistent DCV record, which only `persist` removes.
    pub fn is_persistent(&self) -> bool {
        self.source.persist.is_some()
    }

    /// True when both entries describe the same change in the outside world (ignoring the source).
    pub fn same_change(&self, other: &Entry) -> bool {
        let (a, b) = (&self.published, &other.published);
        a.provider == b.provider && a.record.at == b.record.at && a.record.value == b.record.value
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
