//! A [`Record`]'s stored and reported form: the four fields 0.1.0 wrote (`domain`, `type`, `name`,
//! `value`, an HTTP file's URL as `name`), read back as untrusted input.

use super::{HTTP_TYPE, HttpUrl, Place, Record, RecordType};
use serde::{Deserialize, Serialize};

/// A [`Record`] as state files and reports carry it (the fields in this order). Reading one is
/// reading untrusted input: an unknown type or an HTTP name that is not `http://HOST/PATH` is
/// refused, so a damaged state file is named and skipped rather than acted on.
#[derive(Serialize, Deserialize)]
pub(super) struct WireRecord {
    domain: String,
    #[serde(rename = "type")]
    rtype: String,
    name: String,
    value: String,
}

impl From<Record> for WireRecord {
    fn from(record: Record) -> WireRecord {
        let rtype = record.type_name().to_string();
        let name = match record.at {
            Place::Dns { name, .. } => name,
            Place::Http(url) => url.to_string(),
        };
        WireRecord {
            domain: record.domain,
            rtype,
            name,
            value: record.value,
        }
    }
}

impl TryFrom<WireRecord> for Record {
    type Error = String;

    fn try_from(wire: WireRecord) -> std::result::Result<Record, String> {
        let at = match wire.rtype.as_str() {
            "TXT" => Place::Dns {
                rtype: RecordType::Txt,
                name: wire.name,
            },
            "CNAME" => Place::Dns {
                rtype: RecordType::Cname,
                name: wire.name,
            },
            HTTP_TYPE => Place::Http(HttpUrl::parse(&wire.name).ok_or_else(|| {
                format!(
                    "the HTTP record's name {:?} is not an http://HOST/PATH URL",
                    wire.name
                )
            })?),
            other => {
                return Err(format!(
                    "unknown record type {other:?}, expected TXT, CNAME or HTTP"
                ));
            }
        };
        Ok(Record {
            domain: wire.domain,
            at,
            value: wire.value,
        })
    }
}
