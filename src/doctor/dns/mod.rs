//! DNS checks: the challenge name's CNAME chain, and for the zone that holds the end of it the
//! delegation (NS set at the parent and at the zone), every nameserver address over UDP and over TCP
//! (lame, REFUSED, timeout named per address), SOA serials, and what the challenge name holds now
//! (stale DCV values, a CNAME beside a TXT, an answer too big for UDP).
//!
//! Zones, nameservers and addresses are found through the resolver (`--resolver`); each nameserver
//! address is then asked directly with recursion off (`dnsquery`), every address of a zone at once,
//! so a zone costs one query timeout (2 s, DigiCert's) however many servers are silent. Asks only:
//! never an UPDATE.

use super::{Finding, QUERY_TIMEOUT, Severity, Subject};
use crate::dnsquery::{self, QueryError, txt_text};
use crate::error::Kind;
use crate::record::RecordType as Kind2;
use crate::resolver::{self, Resolver};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Most CNAME hops followed before calling it a loop (the resolver's own cap).
const MAX_HOPS: usize = 16;

/// What the zone checks learned that the name checks reuse: the addresses that answered.
#[derive(Clone, Debug, Default)]
struct ZoneFacts {
    /// (NS name, address) of every server that answered authoritatively over UDP.
    answering: Vec<(String, IpAddr)>,
}

/// Every DNS finding for `subjects` (DNS records: TXT or CNAME at their names).
/// No new subject is started after `deadline`.
pub fn check(
    resolver: &Resolver,
    subjects: &[&Subject],
    deadline: Option<Instant>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut zones: BTreeMap<String, ZoneFacts> = BTreeMap::new();
    for subject in subjects.iter().take_while(|_| super::in_time(deadline)) {
        let name = subject.domain.as_str();
        let mut found = Vec::new();
        let Some(end) = follow_chain(resolver, subject, &mut found) else {
            findings.extend(found.into_iter().map(|f| f.about(name)));
            continue;
        };
        let zone = match resolver.find_zone(&end) {
            Ok(zone) => zone,
            Err(e) => {
                // The resolver answered for the start of the chain: a failure at its end is the
                // target's fault.
                let followed = end != resolver::normalize(&subject.record.name);
                if !followed && e.kind() == Kind::Unavailable {
                    found.push(Finding::unchecked(&end, &e));
                    findings.extend(found.into_iter().map(|f| f.about(name)));
                    continue;
                }
                found.push(if followed {
                    Finding::new(
                        "dns.cname.dangling",
                        Severity::Blocks,
                        &subject.record.name,
                        format!("its CNAME chain ends at {end}, which is in no zone ({e})"),
                        "point the CNAME at a name in a zone you control, or remove it",
                    )
                } else {
                    Finding::new(
                        "dns.zone.missing",
                        Severity::Blocks,
                        &end,
                        e.to_string(),
                        "register or delegate the domain, or check --resolver",
                    )
                });
                findings.extend(found.into_iter().map(|f| f.about(name)));
                continue;
            }
        };
        if !zones.contains_key(&zone) {
            let (facts, mut zone_findings) = check_zone(resolver, &zone);
            if let Some((_, addr)) = facts.answering.first() {
                zone_findings.extend(super::dnssec::check_zone(resolver, &zone, *addr));
            }
            findings.extend(zone_findings.into_iter().map(|f| f.about(&zone)));
            zones.insert(zone.clone(), facts);
        }
        found.extend(check_name(subject, &end, &zones[&zone]));
        findings.extend(found.into_iter().map(|f| f.about(name)));
    }
    findings
}

/// Follows the CNAME chain from the challenge name and returns where it ends (the name the record
/// is published at), or `None` when it loops. For dns-cname-token the name itself will hold
/// DigiCert's CNAME: what is there now is judged instead of followed.
fn follow_chain(
    resolver: &Resolver,
    subject: &Subject,
    found: &mut Vec<Finding>,
) -> Option<String> {
    let start = resolver::normalize(&subject.record.name);
    if subject.record.rtype == Kind2::Cname {
        return Some(start);
    }
    let mut chain = vec![start.clone()];
    let mut current = start.clone();
    for _ in 0..MAX_HOPS {
        let target = match cname_of(resolver, &current) {
            Ok(target) => target,
            // Past the first hop the resolver's failure is the target's: judged as the end.
            Err(_) if chain.len() > 1 => return Some(current),
            Err(e) => {
                found.push(Finding::unchecked(&current, &e));
                return None;
            }
        };
        let Some(next) = target else {
            if chain.len() > 1 {
                found.push(followed(&start, &chain));
            }
            return Some(current);
        };
        if chain.contains(&next) {
            chain.push(next);
            found.push(Finding::new(
                "dns.cname.loop",
                Severity::Blocks,
                &start,
                format!("CNAME loop {}", chain.join(" -> ")),
                "break the loop: point the last CNAME at a name that holds records, or remove it",
            ));
            return None;
        }
        chain.push(next.clone());
        current = next;
    }
    found.push(Finding::new(
        "dns.cname.loop",
        Severity::Blocks,
        &start,
        format!(
            "CNAME chain longer than {MAX_HOPS} hops: {}",
            chain.join(" -> ")
        ),
        "shorten the CNAME chain",
    ));
    None
}

/// The note that the CNAME chain from `start` was followed.
fn followed(start: &str, chain: &[String]) -> Finding {
    Finding::new(
        "dns.cname.followed",
        Severity::Ok,
        start,
        format!(
            "CNAME chain {}: the record goes at its end",
            chain.join(" -> ")
        ),
        "",
    )
}

/// Where the CNAME at `name` points, if there is one.
fn cname_of(resolver: &Resolver, name: &str) -> crate::error::Result<Option<String>> {
    let answer = resolver.lookup(name, RecordType::CNAME)?;
    Ok(answer.into_iter().find_map(|r| match r.data {
        RData::CNAME(c) if resolver::normalize(&r.name.to_ascii()) == name => {
            Some(resolver::normalize(&c.0.to_ascii()))
        }
        _ => None,
    }))
}

/// One server's answers to `SOA zone?` over UDP and over TCP.
struct Asked {
    ns: String,
    addr: IpAddr,
    udp: Result<Message, QueryError>,
    tcp: Result<Message, QueryError>,
    /// The NS names it gives for the zone (asked over UDP when SOA came back fine).
    ns_set: Option<BTreeSet<String>>,
}

impl Asked {
    fn label(&self) -> String {
        format!("{} ({})", self.ns, self.addr)
    }
}

/// Delegation, every nameserver address and the serials of `zone`.
fn check_zone(resolver: &Resolver, zone: &str) -> (ZoneFacts, Vec<Finding>) {
    let mut findings = Vec::new();
    let mut facts = ZoneFacts::default();
    let names = match resolver.nameservers(zone) {
        Ok(n) => n,
        Err(e) if e.kind() == Kind::Unavailable => {
            return (facts, vec![Finding::unchecked(zone, &e)]);
        }
        Err(e) => {
            findings.push(Finding::new(
                "dns.ns.none",
                Severity::Blocks,
                zone,
                e.to_string(),
                "give the zone NS records",
            ));
            return (facts, findings);
        }
    };
    let servers = server_addresses(resolver, zone, &names, &mut findings);
    let Ok(zone_name) = resolver::fqdn(zone) else {
        return (facts, findings);
    };
    let asked = ask_all(&servers, &zone_name);
    let serials = judge_servers(&zone_name, &asked, &mut facts, &mut findings);
    findings.extend(judge_serials(zone, &serials, asked.len()));
    findings.extend(compare_ns_sets(resolver, zone, &names, &asked));
    (facts, findings)
}

/// (NS name, address) of every address of the nameservers `names` of `zone`; a name without
/// one is a finding.
fn server_addresses(
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
fn ask_all(servers: &[(String, IpAddr)], zone_name: &Name) -> Vec<Asked> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = servers
            .iter()
            .map(|(ns, addr)| scope.spawn(move || ask_server(ns, *addr, zone_name)))
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}

/// Each server's SOA answer judged: (label, serial) of those that answer authoritatively, which
/// also go to `facts`; the others, and those that fail over TCP, are findings.
fn judge_servers(
    zone_name: &Name,
    asked: &[Asked],
    facts: &mut ZoneFacts,
    findings: &mut Vec<Finding>,
) -> Vec<(String, u32)> {
    let mut serials = Vec::new();
    for a in asked {
        match judge_soa(zone_name, &a.udp) {
            Ok(serial) => {
                serials.push((a.label(), serial));
                facts.answering.push((a.ns.clone(), a.addr));
                if let Err(e) = &a.tcp {
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
                match code {
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
fn judge_serials(zone: &str, serials: &[(String, u32)], asked: usize) -> Vec<Finding> {
    let mut findings = Vec::new();
    let Some(newest) = serials.iter().map(|(_, s)| *s).max() else {
        return findings;
    };
    let leader = serials
        .iter()
        .find(|(_, s)| *s == newest)
        .map(|(l, _)| l.clone())
        .unwrap_or_default();
    for (label, serial) in serials.iter().filter(|(_, s)| *s != newest) {
        findings.push(Finding::new(
            "dns.soa.lagging",
            Severity::Warns,
            label,
            format!("serves serial {serial} of {zone} while {leader} has {newest}"),
            "make the secondary transfer from the primary (NOTIFY, allow-transfer); auth waits for every server",
        ));
    }
    if serials.len() == asked && serials.iter().all(|(_, s)| *s == newest) {
        findings.push(Finding::new(
            "dns.ns.ok",
            Severity::Ok,
            zone,
            format!(
                "{} nameserver address(es) answer authoritatively, serial {newest}",
                serials.len()
            ),
            "",
        ));
    }
    findings
}

fn ask_server(ns: &str, addr: IpAddr, zone: &Name) -> Asked {
    let server = SocketAddr::new(addr, 53);
    let udp = dnsquery::query_over(server, zone, RecordType::SOA, QUERY_TIMEOUT, false);
    let tcp = dnsquery::query_over(server, zone, RecordType::SOA, QUERY_TIMEOUT, true);
    let ns_set = if judge_soa(zone, &udp).is_ok() {
        dnsquery::query_over(server, zone, RecordType::NS, QUERY_TIMEOUT, false)
            .ok()
            .map(|m| ns_names(&m, zone))
    } else {
        None
    };
    Asked {
        ns: ns.to_string(),
        addr,
        udp,
        tcp,
        ns_set,
    }
}

/// The serial, or the finding code and what was seen.
fn judge_soa(
    zone: &Name,
    answer: &Result<Message, QueryError>,
) -> Result<u32, (&'static str, String)> {
    let zone_text = resolver::normalize(&zone.to_ascii());
    let m = match answer {
        Ok(m) => m,
        Err(QueryError::Timeout) => {
            return Err((
                "dns.ns.timeout",
                format!("no answer over UDP within {}s", QUERY_TIMEOUT.as_secs()),
            ));
        }
        Err(QueryError::Refused) => {
            return Err((
                "dns.ns.unreachable",
                "connection refused: nothing listens on port 53".into(),
            ));
        }
        Err(e) => return Err(("dns.ns.unreachable", e.to_string())),
    };
    match m.response_code {
        ResponseCode::NoError => {}
        ResponseCode::Refused => {
            return Err((
                "dns.ns.refused",
                format!("answered REFUSED for {zone_text}: not authoritative for it"),
            ));
        }
        code => {
            return Err((
                "dns.ns.lame",
                format!(
                    "answered {} for SOA {zone}",
                    code.to_string().to_uppercase()
                ),
            ));
        }
    }
    let soa = m.answers.iter().find_map(|r| match &r.data {
        RData::SOA(soa) if r.name == *zone => Some(soa.serial),
        _ => None,
    });
    match (m.metadata.authoritative, soa) {
        (true, Some(serial)) => Ok(serial),
        (false, _) => Err((
            "dns.ns.lame",
            format!("answered for {zone_text} without authority (AA not set): lame delegation"),
        )),
        (true, None) => Err((
            "dns.ns.lame",
            format!("gave no SOA for {zone_text} (a referral elsewhere?)"),
        )),
    }
}

/// The NS names at `zone` in an answer (answer or authority section).
fn ns_names(m: &Message, zone: &Name) -> BTreeSet<String> {
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

/// The NS set each server gives, and the parent's delegation, against the resolver's.
fn compare_ns_sets(
    resolver: &Resolver,
    zone: &str,
    names: &[String],
    asked: &[Asked],
) -> Vec<Finding> {
    let expected: BTreeSet<String> = names.iter().cloned().collect();
    let mut findings: Vec<Finding> = asked
        .iter()
        .filter_map(|a| {
            let set = a.ns_set.as_ref().filter(|set| **set != expected)?;
            Some(Finding::new(
                "dns.ns.inconsistent",
                Severity::Warns,
                a.label(),
                format!("gives NS {} for {zone}, the resolver {}", list(set), list(&expected)),
                "make every nameserver serve the same NS set (a secondary behind, or an old zone copy)",
            ))
        })
        .collect();
    findings.extend(compare_delegation(resolver, zone, &expected));
    findings
}

/// The names of `set`, comma-separated.
fn list(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// Each nameserver of `zone` with its first address (none when the NS set cannot be read; a
/// server without an address is left out): where the doctor asks what a parent says of a child.
pub(super) fn first_addresses(resolver: &Resolver, zone: &str) -> Vec<(String, IpAddr)> {
    let servers = resolver.nameservers(zone).unwrap_or_default();
    servers
        .into_iter()
        .filter_map(|ns| {
            let addr = resolver.addresses(&ns).ok()?.first().copied()?;
            Some((ns, addr))
        })
        .collect()
}

/// The parent's delegation of `zone` against `expected`: asked at the parent zone's first
/// answering server. A zone whose parent this resolver cannot find (a lab's top-level zone) is
/// not compared.
fn compare_delegation(
    resolver: &Resolver,
    zone: &str,
    expected: &BTreeSet<String>,
) -> Option<Finding> {
    let (_, parent) = zone.split_once('.')?;
    let Ok(parent_zone) = resolver.find_zone(parent) else {
        crate::ui::verbose(&format!(
            "doctor: no parent zone found for {zone}; delegation not compared"
        ));
        return None;
    };
    let zone_name = resolver::fqdn(zone).ok()?;
    for (ns, addr) in first_addresses(resolver, &parent_zone) {
        let Ok(m) = dnsquery::query_over(
            SocketAddr::new(addr, 53),
            &zone_name,
            RecordType::NS,
            QUERY_TIMEOUT,
            false,
        ) else {
            continue;
        };
        let delegated = ns_names(&m, &zone_name);
        if delegated.is_empty() {
            continue;
        }
        return (delegated != *expected).then(|| {
            Finding::new(
                "dns.ns.delegation",
                Severity::Warns,
                format!("{ns} ({addr}), parent {parent_zone}"),
                format!(
                    "delegates {zone} to {}, the zone itself lists {}",
                    list(&delegated),
                    list(expected)
                ),
                "make the NS set at the registrar (parent) and in the zone the same",
            )
        });
    }
    None
}

/// What the challenge name holds now on an authoritative server of its zone.
fn check_name(subject: &Subject, end: &str, facts: &ZoneFacts) -> Vec<Finding> {
    let mut findings = Vec::new();
    let Some((ns, addr)) = facts.answering.first() else {
        return findings;
    };
    let Ok(name) = resolver::fqdn(end) else {
        return findings;
    };
    let label = format!("{ns} ({addr})");
    let Some((held, truncated)) = Held::ask(SocketAddr::new(*addr, 53), &name) else {
        return findings;
    };
    if truncated {
        findings.push(Finding::new(
            "dns.answer.too_big",
            Severity::Warns,
            format!("{end} TXT at {label}"),
            "the answer does not fit a 1232-byte UDP message (TC set): CAs must retry over TCP",
            "remove old TXT values at the name so the answer fits UDP",
        ));
    }
    // Diagnosing DigiCert's "not validated" the token is not known, and the one published is
    // among what is there: nothing can be called stale then.
    let token_unknown = subject.published && subject.record.value.is_empty();
    if subject.record.rtype == Kind2::Cname {
        findings.extend(held.judge_cname_place(subject, end, token_unknown));
    } else {
        findings.extend(held.judge_txt_place(subject, end, &label, token_unknown));
    }
    findings
}

/// What a challenge name holds: its CNAME target and TXT values.
struct Held {
    cname: Option<String>,
    txts: Vec<String>,
}

impl Held {
    /// Asks `server` for the TXT at `name` (over TCP again when UDP is truncated); also says
    /// whether UDP was truncated. `None` when the server does not answer.
    fn ask(server: SocketAddr, name: &Name) -> Option<(Held, bool)> {
        let answer =
            dnsquery::query_over(server, name, RecordType::TXT, QUERY_TIMEOUT, false).ok()?;
        let truncated = answer.metadata.truncation;
        let full = if truncated {
            dnsquery::query_over(server, name, RecordType::TXT, QUERY_TIMEOUT, true)
                .unwrap_or(answer)
        } else {
            answer
        };
        let at_name = || full.answers.iter().filter(|r| r.name == *name);
        let held = Held {
            cname: at_name().find_map(|r| match &r.data {
                RData::CNAME(c) => Some(resolver::normalize(&c.0.to_ascii())),
                _ => None,
            }),
            txts: at_name()
                .filter_map(|r| match &r.data {
                    RData::TXT(t) => Some(txt_text(t)),
                    _ => None,
                })
                .collect(),
        };
        Some((held, truncated))
    }

    /// dns-cname-token: DigiCert's CNAME goes at this name, where no TXT may stay.
    fn judge_cname_place(&self, subject: &Subject, end: &str, token_unknown: bool) -> Vec<Finding> {
        let mut findings = Vec::new();
        if !self.txts.is_empty() {
            findings.push(Finding::new(
                "dns.cname.txt_conflict",
                Severity::Blocks,
                end,
                format!(
                    "holds TXT {:?}: a CNAME cannot be added beside it",
                    self.txts
                ),
                "remove the TXT record(s) at the name, or use --method dns-txt-token",
            ));
        }
        if let Some(target) = &self.cname
            && *target != resolver::normalize(&subject.record.value)
            && !token_unknown
        {
            let (code, fix) = if target.ends_with(crate::dcv::CNAME_TARGET_SUFFIX) {
                (
                    "dns.cname.stale",
                    "auth replaces it; cleanup removes what it published",
                )
            } else {
                (
                    "dns.cname.replaces",
                    "the name is in use: auth would replace this CNAME; check it is not needed",
                )
            };
            findings.push(Finding::new(
                code,
                Severity::Warns,
                end,
                format!("CNAME to {target} there already"),
                fix,
            ));
        }
        findings
    }

    /// A TXT record goes at this name: a CNAME beside TXT, or old validation values, are warned of.
    fn judge_txt_place(
        &self,
        subject: &Subject,
        end: &str,
        label: &str,
        token_unknown: bool,
    ) -> Vec<Finding> {
        let mut findings = Vec::new();
        if self.cname.is_some() && !self.txts.is_empty() {
            findings.push(Finding::new(
                "dns.cname.with_txt",
                Severity::Warns,
                format!("{end} at {label}"),
                "a CNAME and TXT records at one name: resolvers disagree on which they see",
                "keep either the CNAME or the TXT records",
            ));
        }
        let stale: Vec<&String> = self
            .txts
            .iter()
            .filter(|t| **t != subject.record.value && looks_like_token(t, subject.acme))
            .collect();
        if !stale.is_empty() && !token_unknown {
            findings.push(Finding::new(
                "dns.txt.stale",
                Severity::Warns,
                format!("{end} at {label}"),
                format!(
                    "{} old validation value(s) at the name: {}",
                    stale.len(),
                    stale
                        .iter()
                        .take(3)
                        .map(|s| format!("{s:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "remove values from earlier validations (dcv-hook cleanup removes its own)",
            ));
        }
        findings
    }
}

/// Whether a TXT value looks like a validation token: DigiCert's random values (32 lowercase
/// alphanumerics) or an ACME dns-01 value (43 base64url characters).
fn looks_like_token(text: &str, acme: bool) -> bool {
    let t = text.trim();
    if acme {
        t.len() == 43
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    } else {
        t.len() == 32
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
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

    #[test]
    fn recognises_validation_tokens() {
        assert!(looks_like_token("0123456789abcdefghijklmnopqrstuv", false));
        assert!(!looks_like_token("v=spf1 -all", false));
        assert!(looks_like_token(
            &"a-_B".repeat(10)[..40].to_string().repeat(2)[..43],
            true
        ));
        assert!(!looks_like_token("short", true));
    }
}
