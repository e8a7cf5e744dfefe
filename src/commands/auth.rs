//! `auth`: get the records from the token source, publish them, wait until every server serves them.
//!
//! The source (CertCentral or an ACME client, `source/`) says what to publish; everything after that
//! is shared. State is written before anything is published (status pending) and updated after, so
//! `cleanup` can undo a partial run; a publisher failure removes the pending entries again
//! (publishers are all or nothing). The servers to wait for are found before anything is published,
//! so a name that cannot be resolved leaves nothing behind. On a propagation timeout the records stay
//! published and recorded: `cleanup` removes them, or a new `auth` waits again. In a batched ACME run
//! (certbot) every call but the last publishes and returns; the last waits for the whole run.

use crate::context::Context;
use crate::error::Result;
use crate::output::{RecordReport, Report};
use crate::propagation::{self, Probe, PropagationCheck, wait_until_served};
use crate::publish;
use crate::record::{Record, RecordType};
use crate::source::{self, Batch};
use crate::state::{Source, StateDir, Status, pending_entry};
use crate::ui;
use std::time::Duration;

/// Timeout of one query or request made by a propagation check.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

pub fn auth(ctx: &Context, report: &mut Report) -> Result<()> {
    let outcome = auth_inner(ctx, report);
    match (outcome, &ctx.cfg.target) {
        // ACME clients (certbot above all) only warn when a hook fails and then let the CA fail the
        // validation: the one error line (printed whatever -q says) starts by saying so plainly.
        (Err(e), crate::config::Target::Acme(_)) => Err(e.context(
            "AUTH FAILED, the ACME challenge is not served and the CA's validation will fail",
        )),
        (outcome, _) => outcome,
    }
}

fn auth_inner(ctx: &Context, report: &mut Report) -> Result<()> {
    let cfg = &ctx.cfg;
    // Every provider setting (the command line's and each [[zone]]'s) is checked, and every secret
    // read, before the token source may change anything at the CA (switching an order's method,
    // submitting a domain).
    let mut publishers = publish::Publishers::build(ctx)?;
    let plan = source::for_config(cfg).plan(ctx)?;
    for name in &plan.already_approved {
        report.say(format!("{name} is already validated at DigiCert"));
    }
    if !cfg.dry_run {
        for note in &plan.notes {
            report.say(note.clone());
        }
    }
    if plan.records.is_empty() {
        report.say("nothing to publish: every name is validated already");
        return Ok(());
    }
    let records = follow_cnames(ctx, &plan.records)?;
    let groups = publishers.route(ctx, &records)?;
    if cfg.dry_run {
        for (index, group) in &groups {
            let pname = publishers.get(*index).provider();
            for r in group {
                report.add_record(RecordReport::new(r, pname, "would publish"));
            }
        }
        for note in &plan.notes {
            report.say(note.clone());
        }
        return Ok(());
    }
    let waits_now =
        ctx.cfg.propagation_check && plan.batch.as_ref().is_none_or(|b| b.remaining == 0);
    // Find every server to ask before changing anything: a zone, nameserver or host that cannot be
    // resolved is then an error with nothing published.
    let probes = if waits_now {
        Some(discover_servers(ctx, &records)?)
    } else {
        None
    };
    for (index, group) in &groups {
        let sources = vec![plan.source.clone(); group.len()];
        publish_recorded(ctx, publishers.get(*index), group, &sources, report)?;
    }
    if let Some(batch) = plan.batch.as_ref().filter(|b| b.remaining > 0) {
        report.say(format!(
            "published; {} more challenge(s) of this run to come, the last one waits for all",
            batch.remaining
        ));
        return Ok(());
    }
    let Some(mut probes) = probes else {
        report.say("not waiting for propagation (--no-propagation-check)");
        return Ok(());
    };
    if let Some(batch) = &plan.batch {
        let earlier = batch_records(ctx, batch, &records)?;
        if !earlier.is_empty() {
            probes.extend(discover_servers(ctx, &earlier)?);
        }
    }
    let count = probes
        .iter()
        .map(|p| p.record())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    wait_for_propagation(ctx, &probes, count, report)
}

/// The records published by the earlier calls of `batch` (certbot's run) that `own` does not hold.
fn batch_records(ctx: &Context, batch: &Batch, own: &[Record]) -> Result<Vec<Record>> {
    let state = StateDir::open(&ctx.cfg.state_dir)?;
    let entries = {
        let lock = state.lock()?;
        state.load_all(&lock)?
    };
    let mut records: Vec<Record> = Vec::new();
    for e in entries {
        let in_batch = e
            .source
            .acme
            .as_ref()
            .is_some_and(|a| a.batch.as_deref() == Some(batch.key.as_str()));
        let r = e.published.record;
        if in_batch && !own.contains(&r) && !records.contains(&r) {
            records.push(r);
        }
    }
    if !records.is_empty() {
        ui::progress(&format!(
            "last challenge of the run: waiting for {} earlier record(s) too",
            records.len()
        ));
    }
    Ok(records)
}

/// The records with TXT names moved to the end of their CNAME chain (the CA follows it, so the record
/// must go where it ends), deduplicated.
pub(crate) fn follow_cnames(ctx: &Context, planned: &[Record]) -> Result<Vec<Record>> {
    let mut records: Vec<Record> = Vec::new();
    for record in planned {
        let mut record = record.clone();
        if record.rtype == RecordType::Txt {
            let target = ctx.resolver()?.follow_cname(&record.name)?;
            if target != record.name {
                ui::progress(&format!(
                    "{} is an alias (CNAME) of {target}: publishing there",
                    record.name
                ));
                record.name = target;
            }
        }
        if !records
            .iter()
            .any(|r| r.rtype == record.rtype && r.name == record.name && r.value == record.value)
        {
            records.push(record);
        }
    }
    Ok(records)
}

/// Publishes `records` (each for the source in the same position) with state written around it.
pub(crate) fn publish_recorded(
    ctx: &Context,
    publisher: &mut dyn publish::Publisher,
    records: &[Record],
    sources: &[Source],
    report: &mut Report,
) -> Result<()> {
    let state = StateDir::open(&ctx.cfg.state_dir)?;
    let pname = publisher.provider();
    let pending: Vec<_> = publisher
        .prepare(records)?
        .into_iter()
        .zip(sources)
        .map(|(p, source)| pending_entry(&p, source))
        .collect();
    // A change dcv-hook already recorded (an earlier auth of the same or another order) is ours, not
    // the world's: its undo information must survive this run, which will find the value "already
    // there". Only entries this run adds are written as pending and removed again on failure.
    let existing = {
        let lock = state.lock()?;
        let existing = state.load_all(&lock)?;
        for entry in pending
            .iter()
            .filter(|e| !existing.iter().any(|x| x.id() == e.id()))
        {
            state.save(entry, &lock)?;
        }
        existing
    };
    let published = match publisher.present(records) {
        Ok(p) => p,
        // Something may be live (a lost reply, a failed rollback): the pending entries are what
        // lets cleanup remove it, so they stay.
        Err(e) if e.may_have_left_records() => {
            return Err(e.context("kept its state for cleanup"));
        }
        Err(e) => {
            let lock = state.lock()?;
            for entry in pending
                .iter()
                .filter(|e| !existing.iter().any(|x| x.id() == e.id()))
            {
                state.remove(entry, &lock)?;
            }
            return Err(e);
        }
    };
    let lock = state.lock()?;
    for (entry, p) in pending.iter().zip(&published) {
        let mut entry = entry.clone();
        entry.status = Status::Published;
        entry.published = p.clone();
        if let Some(earlier) = existing.iter().find(|x| x.same_change(&entry)) {
            // The first auth saw the world before dcv-hook touched it: keep what it recorded
            // (whether the value was there before, the replaced file with its mode, owner, mtime).
            entry.published.preexisting = earlier.published.preexisting;
            entry.published.undo = earlier.published.undo.clone();
        } else if let Some(earlier) = replaced_our_own_file(&existing, &entry) {
            // This file held another run's token (two orders on one host): what that run replaced
            // is the original, not its token, which must not come back after both cleanups.
            entry.published.undo = earlier.published.undo.clone();
        }
        state.save(&entry, &lock)?;
        let action = if p.preexisting {
            "already present"
        } else {
            "published"
        };
        report.add_record(RecordReport::new(&p.record, pname, action));
        if !p.preexisting {
            report.changed = true;
        }
    }
    Ok(())
}

/// The live entry of another run whose file `entry` replaced: files (unlike DNS values) are replaced,
/// not added beside each other. `None` when that run's token had been there before dcv-hook (then
/// this entry's own record of the replaced content is the right one).
fn replaced_our_own_file<'a>(
    existing: &'a [crate::state::Entry],
    entry: &crate::state::Entry,
) -> Option<&'a crate::state::Entry> {
    let p = &entry.published;
    if p.record.rtype != RecordType::Http || p.preexisting {
        return None;
    }
    existing.iter().find(|x| {
        x.published.provider == p.provider
            && x.published.location == p.location
            && x.published.record.value != p.record.value
            && !x.published.preexisting
    })
}

/// One probe per (record, server) that must serve it: authoritative nameservers for DNS records,
/// web addresses for HTTP files.
pub(crate) fn discover_servers(ctx: &Context, records: &[Record]) -> Result<Vec<Box<dyn Probe>>> {
    let resolver = ctx.resolver()?;
    let (dns, http): (Vec<Record>, Vec<Record>) =
        records.iter().cloned().partition(|r| r.rtype.is_dns());
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
fn wait_for_propagation(
    ctx: &Context,
    probes: &[Box<dyn Probe>],
    record_count: usize,
    report: &mut Report,
) -> Result<()> {
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
            .filter(|r| r.name == s.record.name && r.value == s.record.value)
        {
            r.servers = s.servers.clone();
        }
    }
    Ok(())
}
