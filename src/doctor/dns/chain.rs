//! The CNAME chain from a challenge name: followed hop by hop through the resolver to the name the
//! record is published at, a loop or an over-long chain being a finding. Asks the resolver only;
//! never judges what the end holds (`name.rs` does).

use crate::doctor::{Finding, Severity, Subject};
use crate::resolver::{self, Resolver};
use hickory_proto::rr::{RData, RecordType};

/// Most CNAME hops followed before calling it a loop (the resolver's own cap).
const MAX_HOPS: usize = 16;

/// Follows the CNAME chain from the challenge name and returns where it ends (the name the record
/// is published at), or `None` when it loops. For dns-cname-token the name itself will hold
/// DigiCert's CNAME: what is there now is judged instead of followed.
pub(super) fn follow_chain(
    resolver: &Resolver,
    subject: &Subject,
    found: &mut Vec<Finding>,
) -> Option<String> {
    let start = resolver::normalize(&subject.record.name());
    if subject.record.dns_type() == Some(crate::record::RecordType::Cname) {
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
    Finding::ok(
        "dns.cname.followed",
        start,
        format!(
            "CNAME chain {}: the record goes at its end",
            chain.join(" -> ")
        ),
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
