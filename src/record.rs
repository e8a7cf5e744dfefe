//! The records dcv-hook publishes, and what a publisher reports back about each one.
//!
//! A [`Record`] is provider-neutral: a DNS record (owner name, type, value) or an HTTP file (URL and
//! body). A [`Published`] adds what cleanup needs to undo exactly that change later; it is what the state
//! directory stores. Nothing here does I/O.

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The largest TTL DNS allows (RFC 2181 section 8: at most 2^31 - 1).
pub const MAX_TTL: u32 = 2_147_483_647;

/// `--ttl`: a TTL DNS allows, for clap (an error names the limits).
pub fn ttl_arg(text: &str) -> std::result::Result<u32, String> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|t| (1..=MAX_TTL).contains(t))
        .ok_or_else(|| format!("--ttl must be between 1 and {MAX_TTL} seconds, not {text}"))
}

/// A DNS name in the one form dcv-hook keeps names in: no surrounding space, no trailing dot,
/// lowercase.
pub fn normalize_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// `name` and each of its parents, longest first (`a.b.example` → `a.b.example`, `b.example`,
/// `example`): the one walk up the tree for finding a zone, a CertCentral domain or a zone rule.
pub fn name_and_parents(name: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(name), |n| {
        n.split_once('.')
            .map(|(_, parent)| parent)
            .filter(|p| !p.is_empty())
    })
}

/// A TXT value as the character-strings DNS carries (RFC 1035 3.3.14: at most 255 bytes each,
/// cut at character boundaries; readers concatenate them). The one TXT encoder: UPDATEs send these
/// strings, Cloudflare gets them quoted.
pub fn txt_strings(value: &str) -> Vec<&str> {
    let mut strings = Vec::new();
    let mut rest = value;
    while rest.len() > 255 {
        let mut cut = 255;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        strings.push(head);
        rest = tail;
    }
    strings.push(rest);
    strings
}

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
///
/// The provider's own undo data (a replaced file, the DNS server, the non-secret settings cleanup
/// reuses) is opaque here: each provider reads and writes its own fields with [`Published::undo`] and
/// [`Published::set_undo`]. They are stored flattened beside the common fields, so the state files
/// written before providers owned their data keep their shape and still read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub record: Record,
    /// The provider that published it (`rfc2136`, `webroot`, ...).
    pub provider: String,
    /// Where it went: the DNS zone apex, or the absolute file path for a web root.
    pub location: String,
    /// The exact value was already there before dcv-hook published it: cleanup must leave it alone.
    #[serde(default)]
    pub preexisting: bool,
    /// The provider's undo data; see the type's docs.
    #[serde(flatten)]
    pub undo: serde_json::Map<String, serde_json::Value>,
}

impl Published {
    /// `record` as `provider` is about to publish it, before anything is known about the place.
    pub fn new(record: &Record, provider: &str) -> Published {
        Published {
            record: record.clone(),
            provider: provider.to_string(),
            location: String::new(),
            preexisting: false,
            undo: serde_json::Map::new(),
        }
    }

    /// The provider's undo data as `T` (missing fields take their defaults).
    pub fn undo<T: DeserializeOwned + Default>(&self) -> Result<T> {
        if self.undo.is_empty() {
            return Ok(T::default());
        }
        serde_json::from_value(serde_json::Value::Object(self.undo.clone())).map_err(|e| {
            Error::data(format!(
                "state for {} has damaged {} data ({e}); remove that state file and the record by hand",
                self.record.name, self.provider
            ))
        })
    }

    /// Stores `data` as the provider's undo data, replacing the fields it names.
    pub fn set_undo<T: Serialize>(&mut self, data: &T) {
        if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(data) {
            for (k, v) in fields {
                if v.is_null() {
                    self.undo.remove(&k);
                } else {
                    self.undo.insert(k, v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalize_walk_up_and_txt_values_split() {
        assert_eq!(normalize_name(" WWW.Example.COM. "), "www.example.com");
        let walk: Vec<&str> = name_and_parents("a.b.example").collect();
        assert_eq!(walk, ["a.b.example", "b.example", "example"]);
        assert_eq!(txt_strings(""), [""]);
        let long = "x".repeat(300);
        assert_eq!(
            txt_strings(&long)
                .iter()
                .map(|s| s.len())
                .collect::<Vec<_>>(),
            [255, 45]
        );
        let wide = "é".repeat(200); // 400 bytes, 2 each: never cut inside a character
        let parts = txt_strings(&wide);
        assert_eq!(
            parts.iter().map(|s| s.len()).collect::<Vec<_>>(),
            [254, 146]
        );
        assert_eq!(parts.concat(), wide);
    }
}
