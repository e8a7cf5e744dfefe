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

/// What a zone's checks learn that its names' checks reuse: the first server (NS name, address)
/// that answered authoritatively over UDP, if any.
type Answering = Option<(String, IpAddr)>;

/// The zones checked so far in a run, shared by the names checked at once: each zone is checked
/// by the first name that needs it while the others in it wait for its answering server.
#[derive(Default)]
pub struct Zones {
    checked: Mutex<HashMap<String, Arc<OnceLock<Answering>>>>,
}

impl Zones {
    /// The answering server of `zone`, and what checking it found: checked now by `check` when no
    /// name did before (else no findings: they are that name's).
    fn answering(
        &self,
        zone: &str,
        check: impl FnOnce() -> (Answering, Vec<Finding>),
    ) -> (Answering, Vec<Finding>) {
        let cell = self
            .checked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(zone.to_string())
            .or_default()
            .clone();
        let mut findings = Vec::new();
        let answering = cell.get_or_init(|| {
            let (answering, found) = check();
            findings = found;
            answering
        });
        (answering.clone(), findings)
    }
}

/// Every DNS finding for `subject` (a DNS record: TXT or CNAME at its name), and for its zone
/// when no other name checked that zone before.
pub fn check_one(resolver: &Resolver, subject: &Subject, zones: &Zones) -> Vec<Finding> {
    let mut found = Vec::new();
    let located = chain::follow_chain(resolver, subject, &mut found).and_then(|end| {
        let zone = zone_of(resolver, subject, &end).map_err(|f| found.push(f));
        Some((end, zone.ok()?))
    });
    let mut findings = Vec::new();
    if let Some((end, zone)) = located {
        let (answering, zone_findings) = zones.answering(&zone, || check_zone(resolver, &zone));
        if let Some((ns, addr)) = answering {
            found.extend(name::check_name(subject, &end, &ns, addr));
        }
        findings.extend(zone_findings.into_iter().map(|f| f.about(&zone)));
    }
    findings.extend(found.into_iter().map(|f| f.about(&subject.record.domain)));
    findings
}

/// The zone that holds `end`, the end of `subject`'s CNAME chain, or the finding that says why
/// there is none.
fn zone_of(resolver: &Resolver, subject: &Subject, end: &str) -> Result<String, Finding> {
    resolver.find_zone(end).map_err(|e| {
        // The resolver answered for the start of the chain: a failure at its end is the target's
        // fault.
        let followed = end != resolver::normalize(&subject.record.name());
        if followed {
            Finding::new(
                "dns.cname.dangling",
                Severity::Blocks,
                subject.record.name().as_ref(),
                format!("its CNAME chain ends at {end}, which is in no zone ({e})"),
                "point the CNAME at a name in a zone you control, or remove it",
            )
        } else if e.kind() == Kind::Unavailable {
            Finding::unchecked(end, &e)
        } else {
            Finding::new(
                "dns.zone.missing",
                Severity::Blocks,
                end,
                e.to_string(),
                "register or delegate the domain, or check --resolver",
            )
        }
    })
}

/// Delegation, every nameserver address, the serials and DNSSEC of `zone`.
fn check_zone(resolver: &Resolver, zone: &str) -> (Answering, Vec<Finding>) {
    let names = match resolver.nameservers(zone) {
        Ok(n) => n,
        Err(e) if e.kind() == Kind::Unavailable => {
            return (None, vec![Finding::unchecked(zone, &e)]);
        }
        Err(e) => {
            return (
                None,
                vec![Finding::new(
                    "dns.ns.none",
                    Severity::Blocks,
                    zone,
                    e.to_string(),
                    "give the zone NS records",
                )],
            );
        }
    };
    let mut findings = Vec::new();
    let servers = servers::server_addresses(resolver, zone, &names, &mut findings);
    let Ok(zone_name) = resolver::fqdn(zone) else {
        return (None, findings);
    };
    let asked = servers::ask_all(&servers, &zone_name);
    let serials = servers::judge_servers(&asked, &mut findings);
    let answering = serials.first().map(|(a, _)| (a.ns.clone(), a.addr));
    findings.extend(servers::judge_serials(zone, &serials, asked.len()));
    findings.extend(delegation::compare_ns_sets(resolver, zone, &names, &asked));
    if let Some((_, addr)) = &answering {
        findings.extend(dnssec::check_zone(resolver, zone, *addr));
    }
    (answering, findings)
}
