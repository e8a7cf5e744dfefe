//! DNS checks, run for each challenge name: its CNAME chain (`chain.rs`), and for the zone that
//! holds the end of it every nameserver address over UDP and over TCP with the SOA serials
//! (`servers.rs`), the NS sets at the servers and at the parent (`delegation.rs`), and what the
//! name holds now (`name.rs`). This file only finds the zone and runs them, each zone once
//! however many names are checked at the same time ([`Zones`]).
//!
//! Zones, nameservers and addresses are found through the resolver (`--resolver`); each nameserver
//! address is then asked directly with recursion off (`dnsquery`), every address of a zone at once,
//! so a zone costs one query timeout (2 s, DigiCert's) however many servers are silent. Asks only:
//! never an UPDATE.

mod chain;
mod delegation;
mod dnssec;
mod name;
mod servers;

pub(in crate::doctor) use delegation::first_addresses;

use super::{Finding, Severity, Subject};
use crate::error::Kind;
use crate::resolver::{self, Resolver};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};

/// What the zone checks learned that the name checks reuse: the addresses that answered.
#[derive(Clone, Debug, Default)]
struct ZoneFacts {
    /// (NS name, address) of every server that answered authoritatively over UDP.
    answering: Vec<(String, IpAddr)>,
}

/// The zones checked so far in a run, shared by the names checked at once: each zone is checked
/// by the first name that needs it while the others in it wait for its facts.
#[derive(Default)]
pub struct Zones {
    checked: Mutex<HashMap<String, Arc<OnceLock<ZoneFacts>>>>,
}

impl Zones {
    /// The facts of `zone`, and what checking it found: checked now by `check` when no name did
    /// before (else no findings: they are that name's).
    fn facts(
        &self,
        zone: &str,
        check: impl FnOnce() -> (ZoneFacts, Vec<Finding>),
    ) -> (ZoneFacts, Vec<Finding>) {
        let cell = self
            .checked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(zone.to_string())
            .or_default()
            .clone();
        let mut findings = Vec::new();
        let facts = cell.get_or_init(|| {
            let (facts, found) = check();
            findings = found;
            facts
        });
        (facts.clone(), findings)
    }
}

/// Every DNS finding for `subject` (a DNS record: TXT or CNAME at its name), and for its zone
/// when no other name checked that zone before.
pub fn check_one(resolver: &Resolver, subject: &Subject, zones: &Zones) -> Vec<Finding> {
    let name = subject.record.domain.as_str();
    let mut found = Vec::new();
    let Some(end) = chain::follow_chain(resolver, subject, &mut found) else {
        return found.into_iter().map(|f| f.about(name)).collect();
    };
    let zone = match zone_of(resolver, subject, &end) {
        Ok(zone) => zone,
        Err(f) => {
            found.push(f);
            return found.into_iter().map(|f| f.about(name)).collect();
        }
    };
    let (facts, zone_findings) = zones.facts(&zone, || {
        let (facts, mut zone_findings) = check_zone(resolver, &zone);
        if let Some((_, addr)) = facts.answering.first() {
            zone_findings.extend(dnssec::check_zone(resolver, &zone, *addr));
        }
        (facts, zone_findings)
    });
    found.extend(name::check_name(subject, &end, &facts));
    let mut findings: Vec<Finding> = zone_findings.into_iter().map(|f| f.about(&zone)).collect();
    findings.extend(found.into_iter().map(|f| f.about(name)));
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
    let followed = end != resolver::normalize(&subject.record.name());
    if !followed && e.kind() == Kind::Unavailable {
        return Err(Finding::unchecked(end, &e));
    }
    Err(if followed {
        Finding::new(
            "dns.cname.dangling",
            Severity::Blocks,
            subject.record.name().as_ref(),
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
