//! Where records must go and who must serve them: CNAMEs followed to their end, the authoritative
//! servers (or web addresses) found before anything changes, and the wait until all serve them.

use crate::context::Context;
use crate::error::Result;
use crate::output::Report;
use crate::propagation::{self, Probe, PropagationCheck, wait_until_served};
use crate::record::{Place, Record, RecordType};
use crate::ui;
use std::time::Duration;

/// Timeout of one query or request made by a propagation check.
pub(super) const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The records with TXT names moved to the end of their CNAME chain (the CA follows it, so the record
/// must go where it ends), deduplicated.
pub fn follow_cnames(ctx: &Context, planned: &[Record]) -> Result<Vec<Record>> {
    let mut records: Vec<Record> = Vec::new();
    for record in planned {
        let mut record = record.clone();
        if let Place::Dns {
            rtype: RecordType::Txt,
            name,
        } = &mut record.at
        {
            let target = ctx.resolver()?.follow_cname(name)?;
            if target != *name {
                ui::progress(&format!(
                    "{name} is an alias (CNAME) of {target}: publishing there"
                ));
                *name = target;
            }
        }
        if !records
            .iter()
            .any(|r| r.at == record.at && r.value == record.value)
        {
            records.push(record);
        }
    }
    Ok(records)
}

/// One probe per (record, server) that must serve it: authoritative nameservers for DNS records,
/// web addresses for HTTP files.
pub fn discover_servers(ctx: &Context, records: &[Record]) -> Result<Vec<Box<dyn Probe>>> {
    let resolver = ctx.resolver()?;
    let (dns, http): (Vec<Record>, Vec<Record>) = records.iter().cloned().partition(Record::is_dns);
    let mut probes = Vec::new();
    if !dns.is_empty() {
        let check = propagation::dns::DnsCheck::new(resolver.clone(), PROBE_TIMEOUT);
        probes.extend(check.probes(&dns)?);
    }
    if !http.is_empty() {
        let check = propagation::http::HttpCheck::new(resolver, ctx.cfg.http_port, PROBE_TIMEOUT);
        probes.extend(check.probes(&http)?);
    }
    Ok(probes)
}

/// Waits until every probe's server serves its record, and notes the servers in the report.
pub fn wait_for_propagation(
    ctx: &Context,
    probes: &[Box<dyn Probe>],
    report: &mut Report,
) -> Result<()> {
    let record_count = probes
        .iter()
        .map(|p| p.record())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let mut servers: Vec<String> = probes.iter().map(|p| p.server()).collect();
    servers.sort();
    servers.dedup();
    ui::progress(&format!(
        "waiting for {record_count} record(s) on {} server(s), up to {}s",
        servers.len(),
        propagation::seconds(ctx.cfg.polling.timeout)
    ));
    let started = std::time::Instant::now();
    let served = wait_until_served(probes, ctx.cfg.polling, &|line| ui::progress(line))?;
    report.say(format!(
        "all {record_count} record(s) served by every server ({} in all) after {:.1}s",
        servers.len(),
        started.elapsed().as_secs_f64()
    ));
    for s in served {
        for r in report
            .records
            .iter_mut()
            .filter(|r| r.name == s.record.name() && r.value == s.record.value)
        {
            r.servers = s.servers.clone();
        }
    }
    Ok(())
}
