//! DNSSEC: where the parent zone holds a DS for the zone, the zone must validate, or every CA's
//! lookup ends in SERVFAIL (CAs validate DNSSEC for DCV and CAA from 2026-03-15, ballot SC-085).
//!
//! Checked, in the order a validating resolver finds them: a DNSKEY matches a DS at the parent
//! (DS digest), that key signs the DNSKEY set, and the zone's SOA carries an RRSIG by a zone key
//! that verifies and whose validity window holds now. The signatures are verified with
//! hickory-proto's DNSSEC code (ring). A zone without a DS is unsigned as far as CAs care; a zone
//! whose parent cannot be found through the resolver (a lab's top-level zone) is not judged.

use crate::dnsquery;
use crate::doctor::{Finding, QUERY_TIMEOUT, Severity};
use crate::resolver::{self, Resolver};
use hickory_proto::dnssec::Verifier;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, RRSIG};
use hickory_proto::op::Message;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use std::net::{IpAddr, SocketAddr};

/// The DNSSEC finding for `zone`, asked at `server` (an address that answered for the zone); none
/// when the zone is not judged.
pub fn check_zone(resolver: &Resolver, zone: &str, server: IpAddr) -> Option<Finding> {
    let name = resolver::fqdn(zone).ok()?;
    let ds = parent_ds(resolver, zone, &name)?;
    if ds.is_empty() {
        return Some(Finding::ok(
            "dns.dnssec.unsigned",
            zone,
            "no DS at the parent: the zone is not signed, nothing to validate",
        ));
    }
    let at = SocketAddr::new(server, 53);
    let Ok(keys_answer) = dnsquery::query_dnssec(at, &name, RecordType::DNSKEY, QUERY_TIMEOUT)
    else {
        return Some(Finding::new(
            "doctor.unchecked",
            Severity::Unchecked,
            zone,
            format!("{server} did not answer DNSKEY {zone}"),
            "make the nameserver reachable over TCP and run doctor again",
        ));
    };
    let keys = match trusted_keys(zone, &name, &ds, &keys_answer) {
        Ok(keys) => keys,
        Err(f) => return Some(f),
    };
    let soa_answer = dnsquery::query_dnssec(at, &name, RecordType::SOA, QUERY_TIMEOUT).ok()?;
    if let Some(f) = signed(zone, &soa_answer, &name, RecordType::SOA, &keys) {
        return Some(f);
    }
    Some(Finding::ok(
        "dns.dnssec.ok",
        zone,
        format!(
            "signed: DNSKEY matches the parent's DS (key tag {}), signatures valid",
            ds[0].key_tag()
        ),
    ))
}

/// The zone's keys from `keys_answer`, once one matches a DS in `ds` and signs the key set; else
/// the finding that says which link of the chain is broken.
fn trusted_keys<'a>(
    zone: &str,
    name: &'a Name,
    ds: &[DS],
    keys_answer: &'a Message,
) -> Result<Vec<&'a DNSKEY>, Finding> {
    let bogus =
        |code, seen: String, fix: &str| Finding::new(code, Severity::Blocks, zone, seen, fix);
    let keys: Vec<&DNSKEY> = rrset(keys_answer, name, RecordType::DNSKEY)
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k),
            _ => None,
        })
        .collect();
    if keys.is_empty() {
        return Err(bogus(
            "dns.dnssec.dnskey_missing",
            format!("the parent has a DS for {zone} but the zone serves no DNSKEY"),
            "publish the zone's keys (sign it again) or remove the DS at the registrar",
        ));
    }
    let Some(entry) = keys
        .iter()
        .find(|k| ds.iter().any(|d| d.covers(name, k).unwrap_or(false)))
    else {
        let tags: Vec<String> = ds.iter().map(|d| d.key_tag().to_string()).collect();
        return Err(bogus(
            "dns.dnssec.ds_mismatch",
            format!(
                "no DNSKEY matches the parent's DS (key tag {})",
                tags.join(", ")
            ),
            "update the DS at the registrar to the zone's current key (a key rollover left it behind)",
        ));
    };
    signed(zone, keys_answer, name, RecordType::DNSKEY, &[*entry]).map_or(Ok(keys), Err)
}

/// The DS set for `zone` at its parent (`None` when the parent is not found: not judged).
fn parent_ds(resolver: &Resolver, zone: &str, name: &Name) -> Option<Vec<DS>> {
    let (_, parent) = zone.split_once('.')?;
    let parent_zone = resolver.find_zone(parent).ok()?;
    let m = super::first_addresses(resolver, &parent_zone)
        .into_iter()
        .find_map(|(_, addr)| {
            let at = SocketAddr::new(addr, 53);
            dnsquery::query_dnssec(at, name, RecordType::DS, QUERY_TIMEOUT).ok()
        })?;
    let ds = rrset(&m, name, RecordType::DS).filter_map(|r| match &r.data {
        RData::DNSSEC(DNSSECRData::DS(d)) => Some(d.clone()),
        _ => None,
    });
    Some(ds.collect())
}

/// The records of `rtype` at `name` in the answer section.
fn rrset<'a>(
    m: &'a Message,
    name: &'a Name,
    rtype: RecordType,
) -> impl Iterator<Item = &'a Record> {
    m.answers
        .iter()
        .filter(move |r| r.record_type() == rtype && r.name == *name)
}

/// `None` when the `rtype` set is signed by one of `keys` with a signature valid now; else the
/// finding that says what is wrong.
fn signed(
    zone: &str,
    m: &Message,
    name: &Name,
    rtype: RecordType,
    keys: &[&DNSKEY],
) -> Option<Finding> {
    let records: Vec<Record> = rrset(m, name, rtype).cloned().collect();
    let sigs: Vec<&RRSIG> = m
        .answers
        .iter()
        .filter(|r| r.name == *name)
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(s)) if s.input().type_covered == rtype => Some(s),
            _ => None,
        })
        .collect();
    if sigs.is_empty() {
        return Some(Finding::new(
            "dns.dnssec.rrsig_missing",
            Severity::Blocks,
            zone,
            format!("{rtype} {zone} carries no RRSIG while the parent has a DS"),
            "sign the zone (every record set) or remove the DS at the registrar",
        ));
    }
    let now = crate::dates::now();
    // One signature that holds is enough (a `None` fault ends the collect); otherwise the last
    // one's fault is told.
    let faults: Option<Vec<_>> = sigs
        .iter()
        .map(|sig| sig_fault(zone, name, rtype, sig, keys, &records, now))
        .collect();
    let (code, seen, fix) = faults?.pop()?;
    Some(Finding::new(code, Severity::Blocks, zone, seen, fix))
}

/// What is wrong with `sig` over the `rtype` set `records` at `now`: its code, what was seen and
/// the fix; `None` when it is valid now and verifies with one of `keys`.
fn sig_fault(
    zone: &str,
    name: &Name,
    rtype: RecordType,
    sig: &RRSIG,
    keys: &[&DNSKEY],
    records: &[Record],
    now: i64,
) -> Option<(&'static str, String, &'static str)> {
    let input = sig.input();
    let (inception, expiration) = (
        i64::from(input.sig_inception.get()),
        i64::from(input.sig_expiration.get()),
    );
    if expiration < now {
        return Some((
            "dns.dnssec.expired",
            format!(
                "the RRSIG over {rtype} {zone} expired on {}: validating resolvers answer SERVFAIL",
                crate::dates::format_date(expiration)
            ),
            "sign the zone again (and make re-signing automatic: dnssec-policy)",
        ));
    }
    if inception > now {
        return Some((
            "dns.dnssec.not_yet_valid",
            format!(
                "the RRSIG over {rtype} {zone} is valid only from {}: check the signer's clock",
                crate::dates::format_date(inception)
            ),
            "fix the signing host's clock and sign the zone again",
        ));
    }
    let verified = keys.iter().any(|k| {
        k.calculate_key_tag().ok() == Some(input.key_tag)
            && k.verify_rrsig(name, DNSClass::IN, sig, records.iter())
                .is_ok()
    });
    (!verified).then(|| {
        (
            "dns.dnssec.bogus",
            format!(
                "the RRSIG over {rtype} {zone} (key tag {}) does not verify",
                input.key_tag
            ),
            "sign the zone again with the keys it publishes",
        )
    })
}
