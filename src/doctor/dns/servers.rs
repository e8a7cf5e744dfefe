//! Every nameserver address of a zone, asked directly (recursion off) over UDP and over TCP, all at
//! once: lame, REFUSED, silent or unreachable servers, TCP failures and SOA serials behind the
//! newest are findings. Asks only; the NS sets they give are compared in `delegation.rs`.

use crate::dnsquery::{self, QueryError};
use crate::doctor::{Finding, QUERY_TIMEOUT, Severity};
use crate::error::Kind;
use crate::resolver::{self, Resolver};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

/// The NS names at `zone` in an answer (answer or authority section).
pub(super) fn ns_names(m: &Message, zone: &Name) -> BTreeSet<String> {
    m.answers
        .iter()
        .chain(m.authorities.iter())
        .filter(|r| r.name == *zone)
        .filter_map(|r| match &r.data {
            RData::NS(ns) => Some(resolver::normalize(&ns.0.to_ascii())),
            _ => None,
        })
        .collect()
}

/// One server's answers to `SOA zone?` over UDP (judged) and over TCP (its failure, if any).
pub(super) struct Asked {
    pub(super) ns: String,
    pub(super) addr: IpAddr,
    soa: Result<u32, (&'static str, String)>,
    tcp: Option<QueryError>,
    /// The NS names it gives for the zone (asked over UDP when SOA came back fine).
    pub(super) ns_set: Option<BTreeSet<String>>,
}

impl Asked {
    pub(super) fn label(&self) -> String {
        format!("{} ({})", self.ns, self.addr)
    }
}

/// (NS name, address) of every address of the nameservers `names` of `zone`; a name without
/// one is a finding.
pub(super) fn server_addresses(
    resolver: &Resolver,
    zone: &str,
    names: &[String],
    findings: &mut Vec<Finding>,
) -> Vec<(String, IpAddr)> {
    let mut servers = Vec::new();
    for ns in names {
        match resolver.addresses(ns) {
            Ok(addrs) => servers.extend(addrs.into_iter().map(|addr| (ns.clone(), addr))),
            Err(e) if e.kind() == Kind::Unavailable => findings.push(Finding::unchecked(ns, &e)),
            Err(_) => findings.push(Finding::new(
                "dns.ns.no_address",
                Severity::Blocks,
                ns,
                format!("nameserver of {zone} has no A or AAAA address"),
                "give the nameserver an address (and glue at the parent), or drop it from the NS set",
            )),
        }
    }
    servers
}

/// Asks every server at once, so silent ones cost one timeout in all.
pub(super) fn ask_all(servers: &[(String, IpAddr)], zone_name: &Name) -> Vec<Asked> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = servers
            .iter()
            .map(|(ns, addr)| scope.spawn(move || ask_server(ns, *addr, zone_name)))
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}

/// Each server's SOA answer judged: those that answer authoritatively with their serial, first
/// the first of them; the others, and those that fail over TCP, are findings.
pub(super) fn judge_servers<'a>(
    asked: &'a [Asked],
    findings: &mut Vec<Finding>,
) -> Vec<(&'a Asked, u32)> {
    let mut serials = Vec::new();
    for a in asked {
        match &a.soa {
            Ok(serial) => {
                serials.push((a, *serial));
                if let Some(e) = &a.tcp {
                    findings.push(Finding::new(
                        "dns.ns.tcp",
                        Severity::Warns,
                        a.label(),
                        format!("answers over UDP but not over TCP ({e})"),
                        "open TCP port 53 to the nameserver: large answers and some CAs need it",
                    ));
                }
            }
            Err((code, seen)) => findings.push(Finding::new(
                code,
                Severity::Blocks,
                a.label(),
                seen,
                match *code {
                    "dns.ns.timeout" => "make the server answer on port 53 (UDP and TCP), or remove it from the NS set: the CA asks any of them",
                    "dns.ns.refused" => "make the server authoritative for the zone (load the zone there), or remove it from the NS set",
                    _ => "make the server serve the zone authoritatively, or remove it from the NS set",
                },
            )),
        }
    }
    serials
}

/// Servers behind the newest serial of `zone`, or all is well when all `asked` servers answered
/// with it.
pub(super) fn judge_serials(zone: &str, serials: &[(&Asked, u32)], asked: usize) -> Vec<Finding> {
    let mut findings = Vec::new();
    // The first server with the newest serial.
    let Some(&(leader, newest)) = serials.iter().min_by_key(|(_, s)| Reverse(*s)) else {
        return findings;
    };
    for (a, serial) in serials.iter().filter(|(_, s)| *s != newest) {
        findings.push(Finding::new(
            "dns.soa.lagging",
            Severity::Warns,
            a.label(),
            format!(
                "serves serial {serial} of {zone} while {} has {newest}",
                leader.label()
            ),
            "make the secondary transfer from the primary (NOTIFY, allow-transfer); auth waits for every server",
        ));
    }
    if serials.len() == asked && findings.is_empty() {
        findings.push(Finding::ok(
            "dns.ns.ok",
            zone,
            format!(
                "{} nameserver address(es) answer authoritatively, serial {newest}",
                serials.len()
            ),
        ));
    }
    findings
}

fn ask_server(ns: &str, addr: IpAddr, zone: &Name) -> Asked {
    let server = SocketAddr::new(addr, 53);
    let udp = dnsquery::query_over(server, zone, RecordType::SOA, QUERY_TIMEOUT, false);
    let tcp = dnsquery::query_over(server, zone, RecordType::SOA, QUERY_TIMEOUT, true);
    let soa = judge_soa(zone, &udp);
    let ns_set = if soa.is_ok() {
        dnsquery::query_over(server, zone, RecordType::NS, QUERY_TIMEOUT, false)
            .ok()
            .map(|m| ns_names(&m, zone))
    } else {
        None
    };
    Asked {
        ns: ns.to_string(),
        addr,
        soa,
        tcp: tcp.err(),
        ns_set,
    }
}

/// The serial, or the finding code and what was seen.
fn judge_soa(
    zone: &Name,
    answer: &Result<Message, QueryError>,
) -> Result<u32, (&'static str, String)> {
    let m = answer.as_ref().map_err(|e| match e {
        QueryError::Timeout => (
            "dns.ns.timeout",
            format!("no answer over UDP within {}s", QUERY_TIMEOUT.as_secs()),
        ),
        QueryError::Refused => (
            "dns.ns.unreachable",
            "connection refused: nothing listens on port 53".into(),
        ),
        e => ("dns.ns.unreachable", e.to_string()),
    })?;
    let zone_text = resolver::normalize(&zone.to_ascii());
    let soa = m.answers.iter().find_map(|r| match &r.data {
        RData::SOA(soa) if r.name == *zone => Some(soa.serial),
        _ => None,
    });
    let lame = |seen| Err(("dns.ns.lame", seen));
    match (m.response_code, m.metadata.authoritative, soa) {
        (ResponseCode::NoError, true, Some(serial)) => Ok(serial),
        (ResponseCode::NoError, false, _) => lame(format!(
            "answered for {zone_text} without authority (AA not set): lame delegation"
        )),
        (ResponseCode::NoError, true, None) => lame(format!(
            "gave no SOA for {zone_text} (a referral elsewhere?)"
        )),
        (ResponseCode::Refused, ..) => Err((
            "dns.ns.refused",
            format!("answered REFUSED for {zone_text}: not authoritative for it"),
        )),
        (code, ..) => lame(format!(
            "answered {} for SOA {zone}",
            code.to_string().to_uppercase()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{MessageType, OpCode};
    use hickory_proto::rr::rdata::SOA;
    use std::str::FromStr;

    fn soa_answer(code: ResponseCode, aa: bool, zone: &str) -> Message {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        m.metadata.authoritative = aa;
        m.metadata.response_code = code;
        let name = Name::from_str(zone).unwrap();
        let soa = SOA::new(name.clone(), name.clone(), 7, 1, 1, 1, 1);
        m.add_answer(hickory_proto::rr::Record::from_rdata(
            name,
            60,
            RData::SOA(soa),
        ));
        m
    }

    #[test]
    fn judges_each_way_a_nameserver_fails() {
        let zone = Name::from_str("example.test.").unwrap();
        let other = "other.test.";
        type Case = (Result<Message, QueryError>, Result<u32, &'static str>);
        let table: Vec<Case> = vec![
            (
                Ok(soa_answer(ResponseCode::NoError, true, "example.test.")),
                Ok(7),
            ),
            (
                Ok(soa_answer(ResponseCode::NoError, false, "example.test.")),
                Err("dns.ns.lame"),
            ),
            (
                Ok(soa_answer(ResponseCode::NoError, true, other)),
                Err("dns.ns.lame"),
            ),
            (
                Ok(soa_answer(ResponseCode::Refused, false, other)),
                Err("dns.ns.refused"),
            ),
            (
                Ok(soa_answer(ResponseCode::ServFail, false, other)),
                Err("dns.ns.lame"),
            ),
            (Err(QueryError::Timeout), Err("dns.ns.timeout")),
            (Err(QueryError::Refused), Err("dns.ns.unreachable")),
        ];
        for (answer, want) in table {
            assert_eq!(judge_soa(&zone, &answer).map_err(|(c, _)| c), want);
        }
    }
}
