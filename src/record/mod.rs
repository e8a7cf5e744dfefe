//! The records dcv-hook publishes, and what a publisher reports back about each one.
//!
//! A [`Record`] is provider-neutral: a DNS record (owner name, type, value) or an HTTP file (URL and
//! body). A [`Published`] adds what cleanup needs to undo exactly that change later; it is what the state
//! directory stores. Nothing here does I/O.

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

mod wire;

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

/// The kind of DNS record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordType {
    Txt,
    Cname,
}

impl RecordType {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Txt => "TXT",
            RecordType::Cname => "CNAME",
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an HTTP file is served: `http://{host}{path}`. The host has no `/` and is not empty; the
/// path starts with `/`. That is what [`HttpUrl::parse`] accepts, so the text form reads back.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HttpUrl {
    pub host: String,
    pub path: String,
}

impl HttpUrl {
    /// `http://HOST/PATH` as host and path (`None` for anything else: another scheme, no path, no
    /// host).
    pub fn parse(text: &str) -> Option<HttpUrl> {
        let rest = text.strip_prefix("http://")?;
        let slash = rest.find('/').filter(|&i| i > 0)?;
        Some(HttpUrl {
            host: rest[..slash].to_string(),
            path: rest[slash..].to_string(),
        })
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.host, self.path)
    }
}

/// Where a record goes: a DNS owner name with its type, or an HTTP file's URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    /// `name`: the owner name actually published (after following CNAMEs), lowercase, no trailing
    /// dot.
    Dns {
        rtype: RecordType,
        name: String,
    },
    Http(HttpUrl),
}

/// One thing to publish.
///
/// Stored in state files as `{"domain", "type", "name", "value"}` with `type` `TXT`, `CNAME` or
/// `HTTP` and an HTTP file's URL as `name`: the shape 0.1.0 wrote, which must still read (see
/// `WireRecord`). `--output json` reports the same fields the same way ([`Record::type_name`],
/// [`Record::name`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "wire::WireRecord", into = "wire::WireRecord")]
pub struct Record {
    /// The domain being validated (A-label, lowercase, no trailing dot).
    pub domain: String,
    pub at: Place,
    /// TXT: the text; CNAME: the target name without trailing dot; HTTP: the file body.
    pub value: String,
}

impl Record {
    /// A DNS record of `rtype` at `name`.
    pub fn new_dns(
        domain: impl Into<String>,
        rtype: RecordType,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Record {
        Record {
            domain: domain.into(),
            at: Place::Dns {
                rtype,
                name: name.into(),
            },
            value: value.into(),
        }
    }

    /// An HTTP file at `url`.
    pub fn new_http(domain: impl Into<String>, url: HttpUrl, value: impl Into<String>) -> Record {
        Record {
            domain: domain.into(),
            at: Place::Http(url),
            value: value.into(),
        }
    }

    /// The DNS type and owner name; `None` for an HTTP file.
    pub fn dns(&self) -> Option<(RecordType, &str)> {
        match &self.at {
            Place::Dns { rtype, name } => Some((*rtype, name)),
            Place::Http(_) => None,
        }
    }

    /// The DNS type; `None` for an HTTP file.
    pub fn dns_type(&self) -> Option<RecordType> {
        self.dns().map(|(rtype, _)| rtype)
    }

    /// The URL of an HTTP file; `None` for a DNS record.
    pub fn http(&self) -> Option<&HttpUrl> {
        match &self.at {
            Place::Http(url) => Some(url),
            Place::Dns { .. } => None,
        }
    }

    pub fn is_dns(&self) -> bool {
        self.dns().is_some()
    }

    /// The DNS type and owner name, for `who` that handles DNS records only (a DNS provider, the
    /// DNS check): routing never gives it an HTTP file, so one reaching it is a bug.
    pub fn dns_for(&self, who: &str) -> Result<(RecordType, &str)> {
        self.dns().ok_or_else(|| {
            Error::software(format!(
                "{who} handles DNS records only, not the HTTP file {self}; http-token goes to --provider webroot or exec"
            ))
        })
    }

    /// The DNS owner name, or an HTTP file's URL: the record's name in messages, reports and state.
    pub fn name(&self) -> Cow<'_, str> {
        match &self.at {
            Place::Dns { name, .. } => Cow::Borrowed(name),
            Place::Http(url) => Cow::Owned(url.to_string()),
        }
    }

    /// `TXT`, `CNAME` or `HTTP`, as reports, state files and exec programs name the kind.
    pub fn type_name(&self) -> &'static str {
        match &self.at {
            Place::Dns { rtype, .. } => rtype.as_str(),
            Place::Http(_) => HTTP_TYPE,
        }
    }
}

/// The `type` of an HTTP file in the stored and reported form.
pub(crate) const HTTP_TYPE: &str = "HTTP";

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} \"{}\"", self.name(), self.type_name(), self.value)
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
                self.record.name(), self.provider
            ))
        })
    }

    /// Stores `data` as the provider's undo data, replacing the fields it names (a field it leaves
    /// unset removes the old one); data that is not a set of fields is a bug (70), never dropped.
    pub fn set_undo<T: Serialize>(&mut self, data: &T) -> Result<()> {
        let value = serde_json::to_value(data).map_err(|e| {
            Error::software(format!("cannot record {} undo data: {e}", self.provider))
        })?;
        let fields = match value {
            serde_json::Value::Object(fields) => fields,
            serde_json::Value::Null => return Ok(()), // `()`: nothing to record
            other => {
                return Err(Error::software(format!(
                    "{} undo data is not a set of fields: {other}",
                    self.provider
                )));
            }
        };
        for (k, v) in fields {
            match without_nulls(v) {
                serde_json::Value::Null => self.undo.remove(&k),
                v => self.undo.insert(k, v),
            };
        }
        Ok(())
    }
}

/// `value` with the unset (null) fields of its objects left out, at any depth: the state records
/// what is set.
fn without_nulls(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(fields) => fields
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k, without_nulls(v)))
            .collect(),
        other => other,
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
    #[test]
    fn each_kind_keeps_the_stored_shape_and_a_bad_http_name_is_refused() {
        let url = HttpUrl {
            host: "www.example.com".into(),
            path: "/.well-known/pki-validation/fileauth.txt".into(),
        };
        let table = [
            (
                Record::new_dns(
                    "example.com",
                    RecordType::Txt,
                    "_dnsauth.example.com",
                    "tok",
                ),
                r#"{"domain":"example.com","type":"TXT","name":"_dnsauth.example.com","value":"tok"}"#,
            ),
            (
                Record::new_dns(
                    "www.example.com",
                    RecordType::Cname,
                    "_dnsauth.www.example.com",
                    "tok.dcv.digicert.com",
                ),
                r#"{"domain":"www.example.com","type":"CNAME","name":"_dnsauth.www.example.com","value":"tok.dcv.digicert.com"}"#,
            ),
            (
                Record::new_http("www.example.com", url.clone(), "tok"),
                r#"{"domain":"www.example.com","type":"HTTP","name":"http://www.example.com/.well-known/pki-validation/fileauth.txt","value":"tok"}"#,
            ),
        ];
        for (record, text) in &table {
            assert_eq!(serde_json::to_string(record).unwrap(), *text);
            assert_eq!(serde_json::from_str::<Record>(text).unwrap(), *record);
        }
        let http: Record = serde_json::from_str(table[2].1).unwrap();
        assert_eq!(http.http(), Some(&url));
        assert_eq!(http.dns(), None);
        assert_eq!(http.name(), url.to_string());

        // Read from a state file, so untrusted: an error, never a panic or a guess.
        for name in [
            "_dnsauth.example.com",
            "https://www.example.com/a.txt",
            "http://www.example.com",
            "http:///a.txt",
            "",
        ] {
            let text = format!(
                r#"{{"domain":"example.com","type":"HTTP","name":{name:?},"value":"tok"}}"#
            );
            let err = serde_json::from_str::<Record>(&text).unwrap_err();
            assert!(
                err.to_string().contains("http://HOST/PATH"),
                "{name}: {err}"
            );
        }
        let unknown =
            r#"{"domain":"example.com","type":"A","name":"example.com","value":"192.0.2.1"}"#;
        assert!(serde_json::from_str::<Record>(unknown).is_err());
    }

    #[test]
    fn undo_data_records_what_is_set_and_refuses_what_is_not_fields() {
        let record = Record::new_dns("example.com", RecordType::Txt, "example.com", "v");
        let mut p = Published::new(&record, "x");
        let data = serde_json::json!({"a": "1", "b": null, "c": {"d": null, "e": 2}});
        p.set_undo(&data).unwrap();
        assert_eq!(
            serde_json::Value::Object(p.undo.clone()),
            serde_json::json!({"a": "1", "c": {"e": 2}})
        );
        p.set_undo(&serde_json::json!({"a": null})).unwrap();
        assert!(
            !p.undo.contains_key("a"),
            "an unset field removes the old one"
        );
        let err = p.set_undo(&7).unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::Software);
        assert_eq!(p.undo.len(), 1, "nothing half-recorded");
    }
}
