//! The records dcv-hook publishes, and what a publisher reports back about each one.
//!
//! A [`Record`] is provider-neutral: a DNS record (owner name, type, value) or an HTTP file (URL and
//! body). A [`Published`] adds what cleanup needs to undo exactly that change later; it is what the state
//! directory stores. Nothing here does I/O.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The kind of record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RecordType {
    #[serde(rename = "TXT")]
    Txt,
    #[serde(rename = "CNAME")]
    Cname,
    /// A file served over HTTP; `name` is its URL.
    #[serde(rename = "HTTP")]
    Http,
}

impl RecordType {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Txt => "TXT",
            RecordType::Cname => "CNAME",
            RecordType::Http => "HTTP",
        }
    }

    pub fn is_dns(self) -> bool {
        !matches!(self, RecordType::Http)
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing to publish.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Record {
    /// The domain being validated (A-label, lowercase, no trailing dot).
    pub domain: String,
    #[serde(rename = "type")]
    pub rtype: RecordType,
    /// DNS: the owner name actually published (after following CNAMEs), lowercase, no trailing dot.
    /// HTTP: the full URL, e.g. `http://example.com/.well-known/pki-validation/fileauth.txt`.
    pub name: String,
    /// TXT: the text; CNAME: the target name without trailing dot; HTTP: the file body.
    pub value: String,
}

impl Record {
    /// Host and path of an HTTP record's URL (`None` for DNS records or a malformed URL).
    pub fn http_host_and_path(&self) -> Option<(&str, &str)> {
        let rest = self.name.strip_prefix("http://")?;
        let slash = rest.find('/')?;
        Some((&rest[..slash], &rest[slash..]))
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} \"{}\"", self.name, self.rtype, self.value)
    }
}

/// A record as a publisher left it: everything cleanup needs to undo exactly this change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub record: Record,
    /// The provider that published it (`rfc2136`, `webroot`, ...).
    pub provider: String,
    /// Where it went: the DNS zone apex, or the absolute file path for a web root.
    pub location: String,
    /// The server the change was sent to, where there is one (rfc2136 primary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The exact value was already there before dcv-hook published it: cleanup must leave it alone.
    #[serde(default)]
    pub preexisting: bool,
    /// A file's previous content (base64) that publishing replaced; cleanup writes it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<String>,
    /// Mode, owner and modification time of the replaced file, restored along with its content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_meta: Option<FileMeta>,
    /// Directories publishing created (deepest last); cleanup removes them again when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_dirs: Vec<String>,
    /// Non-secret provider settings cleanup reuses when no flag gives them (a TSIG key name, the
    /// path of the file holding the secret), so `cleanup` needs no more flags than `auth` had.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, String>,
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

impl Published {
    /// `record` as `provider` is about to publish it, before anything is known about the place.
    pub fn new(record: &Record, provider: &str) -> Published {
        Published {
            record: record.clone(),
            provider: provider.to_string(),
            location: String::new(),
            server: None,
            preexisting: false,
            replaced: None,
            replaced_meta: None,
            created_dirs: Vec::new(),
            settings: BTreeMap::new(),
        }
    }
}
