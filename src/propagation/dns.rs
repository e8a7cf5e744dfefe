//! DNS propagation check: which authoritative server addresses must serve each record, and how to ask
//! one of them once.
//!
//! Discovery goes through the recursive resolver (zone by SOA walk, the zone's NS names, every A and
//! AAAA address of each NS, including NS names that live in another zone). Each (record, address) pair
//! becomes one [`DnsProbe`] that asks that address directly with recursion off (`dnsquery`), so a
//! lagging secondary is seen as lagging and no cache hides it. Probes hold no runtime and no socket
//! between asks, so thousands are cheap. This module never polls or sleeps (`wait_until_served` does)
//! and never changes records.

use crate::dnsquery::{self, QueryError, matches, txt_text};
use crate::error::{Error, Result};
use crate::propagation::{Observation, Probe, PropagationCheck};
use crate::record::Record;
use crate::resolver::{self, Resolver};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Finds every authoritative address for each record's zone.
pub struct DnsCheck {
    resolver: Arc<Resolver>,
    query_timeout: Duration,
    /// The port authoritative servers are asked on (53; tests may use another).
    pub port: u16,
}

impl DnsCheck {
    /// A check that discovers servers through `resolver` and gives each direct question `query_timeout`.
    pub fn new(resolver: Arc<Resolver>, query_timeout: Duration) -> Self {
        DnsCheck {
            resolver,
            query_timeout,
            port: 53,
        }
    }

    /// The (NS name, address) pairs serving `zone`, each address once.
    fn servers(&self, zone: &str) -> Result<Vec<(String, IpAddr)>> {
        let mut servers: Vec<(String, IpAddr)> = Vec::new();
        for ns in self.resolver.nameservers(zone)? {
            let addrs = self.resolver.addresses(&ns).map_err(|e| {
                Error::new(
                    e.kind(),
                    format!(
                        "nameserver {ns} of zone {zone} has no usable address ({}); fix its A/AAAA records or pass --no-propagation-check",
                        e.message()
                    ),
                )
            })?;
            for addr in super::keep_routable(&format!("nameserver {ns}"), addrs) {
                // Two NS names on one address are one server to ask.
                if !servers.iter().any(|(_, a)| *a == addr) {
                    servers.push((ns.clone(), addr));
                }
            }
        }
        Ok(servers)
    }

    /// What every authoritative server of `name`'s zone holds at `name` as TXT, asked directly:
    /// one entry per server, its values or why it could not be asked. For reading what is there
    /// before changing or judging it (persistent DCV records), never for waiting.
    pub fn txt_everywhere(&self, name: &str) -> Result<Vec<Held>> {
        let zone = self.resolver.find_zone(name)?;
        let qname = resolver::fqdn(name)?;
        let zone_name = resolver::fqdn(&zone)?;
        let held = self
            .servers(&zone)?
            .into_iter()
            .map(|(ns, addr)| {
                let addr = SocketAddr::new(addr, self.port);
                Held {
                    server: shown(&ns, addr),
                    txt: txt_at(addr, &qname, self.query_timeout),
                    serial: serial_at(addr, &zone_name, self.query_timeout),
                }
            })
            .collect();
        Ok(held)
    }
}

/// What one authoritative server holds at a name ([`DnsCheck::txt_everywhere`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    /// As shown to the user, e.g. `ns2.example.com (192.0.2.2)`.
    pub server: String,
    /// Its TXT values (none for NXDOMAIN), or why it gave none.
    pub txt: std::result::Result<Vec<String>, String>,
    /// The zone's SOA serial it serves, asked right after: which copy is the newest.
    pub serial: Option<u32>,
}

/// The SOA serial of `zone` that `server` serves, if it answers with one.
fn serial_at(server: SocketAddr, zone: &Name, timeout: Duration) -> Option<u32> {
    let answer = dnsquery::query(server, zone, hickory_proto::rr::RecordType::SOA, timeout).ok()?;
    answer.answers.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    })
}

/// The TXT values `server` holds at `name`, or why it could not say.
fn txt_at(
    server: SocketAddr,
    name: &Name,
    timeout: Duration,
) -> std::result::Result<Vec<String>, String> {
    let answer = dnsquery::query(server, name, hickory_proto::rr::RecordType::TXT, timeout)
        .map_err(|e| e.to_string())?;
    match answer.response_code {
        ResponseCode::NoError => Ok(answer
            .answers
            .iter()
            .filter(|r| r.name.zone_of(name) && name.zone_of(&r.name))
            .filter_map(|r| match &r.data {
                RData::TXT(t) => Some(txt_text(t)),
                _ => None,
            })
            .collect()),
        ResponseCode::NXDomain => Ok(Vec::new()),
        code => Err(format!(
            "answered {}",
            code.to_string().to_ascii_uppercase()
        )),
    }
}

impl PropagationCheck for DnsCheck {
    fn probes(&self, records: &[Record]) -> Result<Vec<Box<dyn Probe>>> {
        // Records usually share zones; discover each zone's servers once.
        let mut zones: BTreeMap<String, Vec<(String, IpAddr)>> = BTreeMap::new();
        let mut probes: Vec<Box<dyn Probe>> = Vec::new();
        for record in records {
            let (kind, owner) = record.dns_for("the DNS check")?;
            let rtype = dnsquery::hickory_type(kind);
            let name = resolver::fqdn(owner)?;
            let zone = self.resolver.find_zone(owner)?;
            if !zones.contains_key(&zone) {
                zones.insert(zone.clone(), self.servers(&zone)?);
            }
            for (ns, addr) in &zones[&zone] {
                probes.push(Box::new(DnsProbe {
                    record: record.clone(),
                    name: name.clone(),
                    rtype,
                    ns: ns.clone(),
                    addr: SocketAddr::new(*addr, self.port),
                    timeout: self.query_timeout,
                }));
            }
        }
        Ok(probes)
    }
}

/// Asks one authoritative address for one record.
pub struct DnsProbe {
    record: Record,
    name: Name,
    rtype: hickory_proto::rr::RecordType,
    ns: String,
    addr: SocketAddr,
    timeout: Duration,
}

impl Probe for DnsProbe {
    fn record(&self) -> &Record {
        &self.record
    }

    fn server(&self) -> String {
        shown(&self.ns, self.addr)
    }

    fn observe(&self, within: Duration) -> Observation {
        match dnsquery::query(self.addr, &self.name, self.rtype, self.timeout.min(within)) {
            Err(QueryError::Timeout) => Observation::Unreachable("timeout".into()),
            Err(QueryError::Refused) => Observation::Unreachable("refused".into()),
            Err(e) => Observation::Unreachable(e.to_string()),
            Ok(answer) => match answer.response_code {
                ResponseCode::NoError => judge(&self.record, &self.name, &answer.answers),
                ResponseCode::NXDomain => Observation::Missing("NXDOMAIN".into()),
                ResponseCode::Refused => {
                    Observation::Missing("REFUSED (is it authoritative for the zone?)".into())
                }
                code => Observation::Missing(code.to_string().to_ascii_uppercase()),
            },
        }
    }
}

/// A server as shown to the user: `ns2.example.com (192.0.2.2)`, the port only when not 53.
fn shown(ns: &str, addr: SocketAddr) -> String {
    if addr.port() == 53 {
        format!("{ns} ({})", addr.ip())
    } else {
        format!("{ns} ({addr})")
    }
}

/// Served when the answer holds the record's value at its name; otherwise what the answer held.
fn judge(record: &Record, name: &Name, answers: &[hickory_proto::rr::Record]) -> Observation {
    let at_name: Vec<&RData> = answers
        .iter()
        .filter(|r| r.name.zone_of(name) && name.zone_of(&r.name))
        .map(|r| &r.data)
        .collect();
    if at_name.iter().any(|d| matches(record, d)) {
        return Observation::Served;
    }
    let values: Vec<String> = at_name
        .iter()
        .filter_map(|d| match d {
            RData::TXT(t) => Some(format!("TXT {:?}", txt_text(t))),
            RData::CNAME(c) => Some(format!("CNAME {}", resolver::normalize(&c.0.to_ascii()))),
            _ => None,
        })
        .collect();
    if values.is_empty() {
        return Observation::Missing(format!("no {}", record.type_name()));
    }
    // `TXT "a", "b"`: the type once, then each value.
    let kind = format!("{} ", record.type_name());
    let rest = values[1..]
        .iter()
        .map(|v| v.strip_prefix(&kind).unwrap_or(v));
    let all: Vec<&str> = std::iter::once(values[0].as_str()).chain(rest).collect();
    Observation::Missing(all.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnsquery::txt;
    use crate::record::RecordType;
    use hickory_proto::rr::rdata::CNAME;

    fn rec(rtype: RecordType, value: &str) -> Record {
        Record::new_dns("example.test", rtype, "_dnsauth.example.test", value)
    }

    fn answer(name: &str, data: RData) -> hickory_proto::rr::Record {
        hickory_proto::rr::Record::from_rdata(resolver::fqdn(name).unwrap(), 60, data)
    }

    #[test]
    fn judges_answers() {
        let name = resolver::fqdn("_dnsauth.example.test").unwrap();
        let txt_a = answer("_dnsauth.example.test", RData::TXT(txt("a")));
        let txt_b = answer("_DNSAUTH.example.test", RData::TXT(txt("b")));
        let elsewhere = answer("other.example.test", RData::TXT(txt("tok")));
        let cname = answer(
            "_dnsauth.example.test",
            RData::CNAME(CNAME(resolver::fqdn("Tok.DCV.digicert.com.").unwrap())),
        );
        let table: Vec<(Record, Vec<hickory_proto::rr::Record>, Observation)> = vec![
            (
                rec(RecordType::Txt, "tok"),
                vec![],
                Observation::Missing("no TXT".into()),
            ),
            (
                rec(RecordType::Txt, "tok"),
                vec![txt_a.clone(), txt_b.clone()],
                Observation::Missing("TXT \"a\", \"b\"".into()),
            ),
            (
                rec(RecordType::Txt, "b"),
                vec![txt_a.clone(), txt_b],
                Observation::Served,
            ),
            (
                rec(RecordType::Txt, "tok"),
                vec![elsewhere],
                Observation::Missing("no TXT".into()),
            ),
            (
                rec(RecordType::Cname, "tok.dcv.digicert.com."),
                vec![cname.clone()],
                Observation::Served,
            ),
            (
                rec(RecordType::Cname, "other.dcv.digicert.com"),
                vec![cname],
                Observation::Missing("CNAME tok.dcv.digicert.com".into()),
            ),
        ];
        for (record, answers, want) in table {
            assert_eq!(judge(&record, &name, &answers), want, "{record}");
        }
    }
}
