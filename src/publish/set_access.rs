//! The doctor's question to a provider whose API replaces record sets whole (powerdns, route53),
//! answered by reading only, as `auth` reads before it writes: the zone of each name (PowerDNS:
//! GET the zone; Route 53: GetHostedZone for `--route53-zone-id`, else ListHostedZonesByName) and
//! the TXT set at the first name in each zone (PowerDNS: GET the zone's RRset; Route 53:
//! ListResourceRecordSets). A wrong key fails here as it would in `auth` (77); a missing zone
//! too (78). Write access shows only when `auth` writes. Never writes.

use super::rrset::SetApi;
use super::txt::normalize;
use crate::error::Result;

/// What was read for `names`, or the first failure.
pub(super) fn check<A: SetApi>(api: &mut A, names: &[String]) -> Result<String> {
    let mut zones: Vec<(String, String)> = Vec::new();
    for name in names {
        let zone = api.zone_for(name)?;
        if zones.iter().any(|(id, _)| id == A::zone_id(&zone)) {
            continue;
        }
        api.read(&zone, &normalize(name), "TXT")?;
        let zone_name = A::zone_name(&zone).trim_end_matches('.').to_string();
        zones.push((A::zone_id(&zone).to_string(), zone_name));
    }
    let read: Vec<&str> = zones.iter().map(|(_, name)| name.as_str()).collect();
    Ok(format!(
        "the credentials read zone {} and the record sets at the names (write access shows only when auth writes)",
        read.join(", ")
    ))
}
