//! DNS checks, run for each challenge name: its CNAME chain (`chain.rs`), and for the zone that
//! holds the end of it every nameserver address over UDP and over TCP with the SOA serials
//! (`servers.rs`), the NS sets at the servers and at the parent (`delegation.rs`), and what the
//! name holds now (`name.rs`). This file only finds the zone and runs them, each zone once.
//!
//! Zones, nameservers and addresses are found through the resolver (`--resolver`); each nameserver
//! address is then asked directly with recursion off (`dnsquery`), every address of a zone at once,
//! so a zone costs one query timeout (2 s, DigiCert's) however many servers are silent. Asks only:
//! never an UPDATE.

mod chain;
mod delegation;
mod name;
mod servers;

pub(in crate::doctor) use delegation::first_addresses;

use super::{Finding, Severity, Subject};
use crate::error::Kind;
use crate::resolver::{self, Resolver};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Instant;

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
        let Some(end) = chain::follow_chain(resolver, subject, &mut found) else {
            findings.extend(found.into_iter().map(|f| f.about(name)));
            continue;
        };
        let zone = match zone_of(resolver, subject, &end) {
            Ok(zone) => zone,
            Err(f) => {
                found.push(f);
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
        found.extend(name::check_name(subject, &end, &zones[&zone]));
        findings.extend(found.into_iter().map(|f| f.about(name)));
    }
    findings
}

/// The zone that holds `end`, the end of `subject`'s CNAME chain, or the finding that says why
/// there is none.
fn zone_of(resolver: &Resolver, subject: &Subject, end: &str) -> Result<String, Finding> {
    let e = match resolver.find_zone(end) {
        Ok(zone) => return Ok(zone),
        Err(e) => e,
    };
    // The resolver answered for the start of the chain: a failure at its end is the target's
    // fault.
    let followed = end != resolver::normalize(&subject.record.name);
    if !followed && e.kind() == Kind::Unavailable {
        return Err(Finding::unchecked(end, &e));
    }
    Err(if followed {
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
            end,
            e.to_string(),
            "register or delegate the domain, or check --resolver",
        )
    })
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
    let servers = servers::server_addresses(resolver, zone, &names, &mut findings);
    let Ok(zone_name) = resolver::fqdn(zone) else {
        return (facts, findings);
    };
    let asked = servers::ask_all(&servers, &zone_name);
    let serials = servers::judge_servers(&zone_name, &asked, &mut facts, &mut findings);
    findings.extend(servers::judge_serials(zone, &serials, asked.len()));
    findings.extend(delegation::compare_ns_sets(resolver, zone, &names, &asked));
    (facts, findings)
}
