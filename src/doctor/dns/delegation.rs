//! The NS sets of a zone compared: what each of its nameservers gives against what the resolver
//! found, and the parent's delegation against both; also where the doctor asks a parent zone about
//! a child. Asks only.

use super::servers::{Asked, ns_names};
use crate::dnsquery;
use crate::doctor::{Finding, QUERY_TIMEOUT, Severity};
use crate::resolver::{self, Resolver};
use hickory_proto::rr::RecordType;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

/// The NS set each server gives, and the parent's delegation, against the resolver's.
pub(super) fn compare_ns_sets(
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
pub(in crate::doctor) fn first_addresses(resolver: &Resolver, zone: &str) -> Vec<(String, IpAddr)> {
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
    // The first server of the parent that delegates the zone.
    let (ns, addr, delegated) = first_addresses(resolver, &parent_zone)
        .into_iter()
        .find_map(|(ns, addr)| {
            let at = SocketAddr::new(addr, 53);
            let m = dnsquery::query_over(at, &zone_name, RecordType::NS, QUERY_TIMEOUT, false);
            let delegated = ns_names(&m.ok()?, &zone_name);
            (!delegated.is_empty()).then_some((ns, addr, delegated))
        })?;
    (delegated != *expected).then(|| {
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
    })
}
