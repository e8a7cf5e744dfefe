//! `auth`: get the token, publish it for every domain, wait until every server serves it.
//!
//! State is written before anything is published (status pending) and updated after, so `cleanup`
//! can undo a partial run; a publisher failure removes the pending entries again (publishers are all
//! or nothing). The servers to wait for are found before anything is published, so a name that
//! cannot be resolved leaves nothing behind. On a propagation timeout the records stay published and
//! recorded: `cleanup` removes them, or a new `auth` waits again.

use crate::cli::ProviderName;
use crate::config::provider_name;
use crate::context::Context;
use crate::dcv::{Method, placement};
use crate::error::{Error, Result};
use crate::output::{RecordReport, Report};
use crate::propagation::{self, Probe, PropagationCheck, wait_until_served};
use crate::publish;
use crate::record::Record;
use crate::state::{Source, StateDir, Status, pending_entry};
use crate::{target, ui};
use std::time::Duration;

/// Timeout of one query or request made by a propagation check.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

pub fn auth(ctx: &Context, report: &mut Report) -> Result<()> {
    let cfg = &ctx.cfg;
    let provider = cfg
        .provider
        .ok_or_else(|| Error::usage("auth needs --provider"))?;
    let method = cfg
        .method
        .ok_or_else(|| Error::usage("auth needs --method"))?;
    let plan = target::plan(cfg, ctx.api()?, method)?;
    for name in &plan.already_approved {
        report.say(format!("{name} is already validated at DigiCert"));
    }
    if plan.items.is_empty() {
        report.say("nothing to publish: every name is validated already");
        return Ok(());
    }
    let records = records_for(ctx, method, &plan.items)?;
    let pname = provider_name(provider);
    if cfg.dry_run {
        for r in &records {
            report
                .records
                .push(RecordReport::new(r, pname, "would publish"));
        }
        if plan.items.iter().any(|(_, t)| t == target::DRY_RUN_TOKEN) {
            report.say("dry run: the token is a placeholder; fetching the real one would change state at DigiCert");
        }
        return Ok(());
    }
    // Find every server to ask before changing anything: a zone, nameserver or host that cannot be
    // resolved is then an error with nothing published.
    let probes = if ctx.cfg.propagation_check {
        Some(discover_servers(ctx, method, &records)?)
    } else {
        None
    };
    publish_recorded(ctx, provider, &records, &plan.source, report)?;
    match probes {
        Some(probes) => wait_for_propagation(ctx, &probes, records.len(), report),
        None => {
            report.say("not waiting for propagation (--no-propagation-check)");
            Ok(())
        }
    }
}

/// The records for (domain, token) pairs, TXT names moved to the end of their CNAME chain, deduplicated
/// (a wildcard and its base name share one record).
fn records_for(
    ctx: &Context,
    method: Method,
    items: &[(crate::dcv::DomainName, String)],
) -> Result<Vec<Record>> {
    let mut records: Vec<Record> = Vec::new();
    for (domain, token) in items {
        let mut record = placement(method, ctx.cfg.txt_name, domain, token)?;
        // DigiCert follows a CNAME at the TXT name, so the record must go where the chain ends.
        if method == Method::DnsTxtToken {
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

/// Publishes `records` with state written around it.
fn publish_recorded(
    ctx: &Context,
    provider: ProviderName,
    records: &[Record],
    source: &Source,
    report: &mut Report,
) -> Result<()> {
    let mut publisher = publish::for_config(ctx, provider, &[])?;
    let state = StateDir::open(&ctx.cfg.state_dir)?;
    let pname = publisher.provider();
    let remember = publish::settings_to_remember(ctx, provider);
    let pending: Vec<_> = publisher
        .prepare(records)?
        .into_iter()
        .map(|mut p| {
            p.settings = remember.clone();
            pending_entry(&p, source)
        })
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
        entry.published.settings = remember.clone();
        if let Some(earlier) = existing.iter().find(|x| x.same_change(&entry)) {
            entry.published.preexisting = earlier.published.preexisting;
            entry.published.replaced = earlier.published.replaced.clone();
            entry.published.created_dirs = earlier.published.created_dirs.clone();
        }
        state.save(&entry, &lock)?;
        let action = if p.preexisting {
            "already present"
        } else {
            "published"
        };
        report
            .records
            .push(RecordReport::new(&p.record, pname, action));
        if !p.preexisting {
            report.changed = true;
        }
    }
    Ok(())
}

/// One probe per (record, server) that must serve it: authoritative nameservers, or web addresses.
fn discover_servers(
    ctx: &Context,
    method: Method,
    records: &[Record],
) -> Result<Vec<Box<dyn Probe>>> {
    let resolver = ctx.resolver()?;
    let check: Box<dyn PropagationCheck> = if method.is_dns() {
        Box::new(propagation::dns::DnsCheck::new(resolver, PROBE_TIMEOUT))
    } else {
        Box::new(propagation::http::HttpCheck::new(
            resolver,
            ctx.cfg.http_port,
            PROBE_TIMEOUT,
        ))
    };
    check.probes(records)
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
    let served = wait_until_served(probes, ctx.cfg.polling, &|line| ui::progress(line))?;
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
