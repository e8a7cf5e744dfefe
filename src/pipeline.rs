//! The steps `auth`, `run`, `revalidate` and `cleanup` share, in the order a run takes them: follow
//! CNAMEs to where a record must go, find every server that must serve it, publish with the state
//! written around the change, wait until every server serves it, and clean up what the state
//! recorded. Commands are thin users of these steps; nothing here prints a final outcome.
//!
//! State is written before anything is published (status pending) and updated after, so `cleanup`
//! can undo a partial run; a publisher failure removes the pending entries again (publishers are all
//! or nothing) unless the error says something may be live.

use crate::context::Context;
use crate::env::ProcessEnv;
use crate::error::{Error, Result};
use crate::output::{RecordReport, Report};
use crate::propagation::{self, Probe, PropagationCheck, wait_until_served};
use crate::publish::{self, Publisher, Setup};
use crate::record::{Published, Record, RecordType};
use crate::state::{Entry, Lock, Source, StateDir, Status, pending_entry};
use crate::ui;
use crate::zones::{self, ZoneRule};
use std::time::Duration;

/// The publishers a run needs: the command line's provider and one per `[[zone]]` of the config
/// file, all built (so every setting checked, every secret read) before anything changes anywhere.
pub struct Publishers {
    /// `None` zone: the command line's provider.
    all: Vec<(Option<String>, Box<dyn Publisher>)>,
}

impl Publishers {
    pub fn build(ctx: &Context) -> Result<Publishers> {
        let mut all = Vec::new();
        if let Some(name) = ctx.cfg.provider.as_deref() {
            all.push((None, build(ctx, name, None, &[])?));
        }
        for zone in &ctx.cfg.zones {
            let publisher = build(ctx, &zone.provider, Some(zone), &[])
                .map_err(|e| e.context(format!("[[zone]] {}", zone.name)))?;
            all.push((Some(zone.name.clone()), publisher));
        }
        Ok(Publishers { all })
    }

    /// `records` grouped by the publisher that takes them (index into [`Publishers::get`]): the
    /// most specific `[[zone]]` holding the record's name, else the command line's provider.
    pub fn route(&self, ctx: &Context, records: &[Record]) -> Result<Vec<(usize, Vec<Record>)>> {
        let mut groups: Vec<(usize, Vec<Record>)> = Vec::new();
        for record in records {
            let zone = zones::zone_for(&ctx.cfg.zones, publish::route_name(record))
                .map(|z| z.name.clone());
            let index = self
                .all
                .iter()
                .position(|(z, _)| *z == zone)
                .ok_or_else(|| {
                    Error::usage(format!(
                        "{} is in no [[zone]] of the config file and no --provider was given",
                        record.name
                    ))
                })?;
            match groups.iter_mut().find(|(i, _)| *i == index) {
                Some((_, group)) => group.push(record.clone()),
                None => groups.push((index, vec![record.clone()])),
            }
        }
        Ok(groups)
    }

    pub fn get(&mut self, index: usize) -> &mut dyn Publisher {
        self.all[index].1.as_mut()
    }
}

/// Provider `name` built with `zone`'s settings (else the command line's flags) and, for cleanup,
/// the records it is to undo.
fn build(
    ctx: &Context,
    name: &str,
    zone: Option<&ZoneRule>,
    remembered: &[Published],
) -> Result<Box<dyn Publisher>> {
    let empty = clap::ArgMatches::default();
    let matches = match zone {
        Some(z) => &z.matches,
        None => ctx.cfg.provider_matches.as_ref().unwrap_or(&empty),
    };
    (publish::spec(name)?.build)(&Setup {
        matches,
        env: &ProcessEnv,
        remembered,
        ttl: ctx.cfg.ttl,
        resolver: &|| ctx.resolver(),
    })
}

/// The publisher that undoes `published` (all from provider `name`, published alike), with the
/// settings of the `[[zone]]` the records are in when that zone uses this provider.
fn for_cleanup(ctx: &Context, name: &str, published: &[Published]) -> Result<Box<dyn Publisher>> {
    let zone = published
        .first()
        .and_then(|p| zones::zone_for(&ctx.cfg.zones, publish::route_name(&p.record)))
        .filter(|z| z.provider == name);
    build(ctx, name, zone, published)
}

/// Timeout of one query or request made by a propagation check.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The records with TXT names moved to the end of their CNAME chain (the CA follows it, so the record
/// must go where it ends), deduplicated.
pub fn follow_cnames(ctx: &Context, planned: &[Record]) -> Result<Vec<Record>> {
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
pub fn publish_recorded(
    ctx: &Context,
    publisher: &mut dyn Publisher,
    records: &[Record],
    sources: &[Source],
    report: &mut Report,
) -> Result<()> {
    let state = StateDir::open(&ctx.cfg.state_dir)?;
    let pending: Vec<Entry> = publisher
        .prepare(records)?
        .into_iter()
        .zip(sources)
        .map(|(p, source)| pending_entry(&p, source))
        .collect();
    let existing = save_pending(&state, &pending)?;
    let published = match publisher.present(records) {
        Ok(p) => p,
        // Something may be live (a lost reply, a failed rollback): the pending entries are what
        // lets cleanup remove it, so they stay.
        Err(e) if e.may_have_left_records() => {
            return Err(e.context("kept its state for cleanup"));
        }
        Err(e) => {
            let lock = state.lock()?;
            for entry in ours(&pending, &existing) {
                state.remove(entry, &lock)?;
            }
            return Err(e);
        }
    };
    let lock = state.lock()?;
    for (entry, p) in pending.iter().zip(&published) {
        state.save(&published_entry(entry, p, &existing), &lock)?;
        let action = if p.preexisting {
            "already present"
        } else {
            "published"
        };
        report.add_record(RecordReport::new(&p.record, publisher.provider(), action));
        report.changed |= !p.preexisting;
    }
    Ok(())
}

/// The entries of `pending` that no earlier run recorded.
fn ours<'a>(pending: &'a [Entry], existing: &'a [Entry]) -> impl Iterator<Item = &'a Entry> {
    pending
        .iter()
        .filter(|e| !existing.iter().any(|x| x.id() == e.id()))
}

/// Saves the pending entries this run adds and returns what was recorded before. A change dcv-hook
/// already recorded (an earlier auth of the same or another order) is ours, not the world's: its
/// undo information must survive this run, which will find the value "already there".
fn save_pending(state: &StateDir, pending: &[Entry]) -> Result<Vec<Entry>> {
    let lock = state.lock()?;
    let existing = state.load_all(&lock)?;
    for entry in ours(pending, &existing) {
        state.save(entry, &lock)?;
    }
    Ok(existing)
}

/// `pending` once `p` is live, keeping the undo data of whichever earlier entry saw the world first.
fn published_entry(pending: &Entry, p: &Published, existing: &[Entry]) -> Entry {
    let mut entry = pending.clone();
    entry.status = Status::Published;
    entry.published = p.clone();
    if let Some(earlier) = existing.iter().find(|x| x.same_change(&entry)) {
        // The first auth saw the world before dcv-hook touched it: keep what it recorded
        // (whether the value was there before, the replaced file with its mode, owner, mtime, and
        // the server and key it went through).
        entry.published.preexisting = earlier.published.preexisting;
        entry.published.undo = earlier.published.undo.clone();
    } else if let Some(earlier) = replaced_our_own_file(existing, &entry) {
        // This file held another run's token (two orders on one host): what that run replaced
        // is the original, not its token, which must not come back after both cleanups.
        entry.published.undo = earlier.published.undo.clone();
    }
    entry
}

/// The live entry of another run whose file `entry` replaced: files (unlike DNS values) are replaced,
/// not added beside each other. `None` when that run's token had been there before dcv-hook (then
/// this entry's own record of the replaced content is the right one).
fn replaced_our_own_file<'a>(existing: &'a [Entry], entry: &Entry) -> Option<&'a Entry> {
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
pub fn discover_servers(ctx: &Context, records: &[Record]) -> Result<Vec<Box<dyn Probe>>> {
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
            .filter(|r| r.name == s.record.name && r.value == s.record.value)
        {
            r.servers = s.servers.clone();
        }
    }
    Ok(())
}

/// Cleans up the recorded entries `selects` picks: removes exactly what `auth` recorded and restores
/// what it replaced. A change that another, unselected entry still needs (the same value published
/// for two sources) is only forgotten, not undone. An entry leaves the state only once its provider
/// confirmed the removal. One group failing (a missing key file) never stops the others.
pub fn cleanup_where(
    ctx: &Context,
    report: &mut Report,
    selects: &dyn Fn(&Entry) -> bool,
) -> Result<()> {
    let cfg = &ctx.cfg;
    let Some(state) = StateDir::open_existing(&cfg.state_dir)? else {
        report.say(format!(
            "nothing to clean up (no state in {})",
            cfg.state_dir.display()
        ));
        return Ok(());
    };
    let selected = select_entries(&state, report, selects)?;
    if selected.is_empty() {
        report.say(format!(
            "nothing to clean up (no matching records in {})",
            cfg.state_dir.display()
        ));
        return Ok(());
    }
    let mut first_error = None;
    for group in cleanup_groups(&selected) {
        let outcome = if cfg.dry_run {
            for e in &group {
                let p = &e.published;
                report.add_record(RecordReport::new(&p.record, &p.provider, "would remove"));
            }
            Ok(())
        } else {
            cleanup_group(ctx, &state, &group, &selected, report)
        };
        if let Err(e) = outcome {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// `entries` grouped by what undoes them: the provider and everything it recorded about how it
/// published (server, key, credentials file, API, program), so what published a record removes it.
fn cleanup_groups(entries: &[Entry]) -> Vec<Vec<&Entry>> {
    let mut groups: Vec<(String, Vec<&Entry>)> = Vec::new();
    for e in entries {
        let key = publish::group_key(&e.published);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, group)) => group.push(e),
            None => groups.push((key, vec![e])),
        }
    }
    groups.into_iter().map(|(_, group)| group).collect()
}

/// The entries `selects` picks, less those a still running auth owns (it may be between publishing
/// and recording, or waiting for the servers: removing its records under it would make it wait in
/// vain). The lock is held only to read and to forget entries, never across a provider's network
/// I/O, so a slow DNS server or program never blocks other runs.
fn select_entries(
    state: &StateDir,
    report: &mut Report,
    selects: &dyn Fn(&Entry) -> bool,
) -> Result<Vec<Entry>> {
    let all = state.load_all(&state.lock()?)?;
    let (busy, selected): (Vec<Entry>, Vec<Entry>) =
        all.into_iter().filter(|e| selects(e)).partition(|e| {
            e.owner
                .as_ref()
                .is_some_and(|o| o.is_another_live_process())
        });
    for e in &busy {
        report.say(format!(
            "left {} to the dcv-hook still running as pid {} (stop it first to clean up now)",
            e.published.record,
            e.owner.as_ref().map_or(0, |o| o.pid)
        ));
    }
    Ok(selected)
}

/// Undoes one group (one provider with the same recorded settings) as a batch and forgets its
/// entries. Which entries another run still needs is read under the lock right before, so an auth
/// of the same value that ran meanwhile keeps its record.
fn cleanup_group(
    ctx: &Context,
    state: &StateDir,
    group: &[&Entry],
    selected: &[Entry],
    report: &mut Report,
) -> Result<()> {
    let others: Vec<Entry> = {
        let lock = state.lock()?;
        state
            .load_all(&lock)?
            .into_iter()
            .filter(|e| !selected.iter().any(|s| s.id() == e.id()))
            .collect()
    };
    let (shared, own): (Vec<&Entry>, Vec<&Entry>) = group
        .iter()
        .partition(|e| others.iter().any(|o| o.same_change(e)));
    let to_undo: Vec<_> = own.iter().map(|e| e.published.clone()).collect();
    // Entries all shared with another run need no provider at all: they are only forgotten.
    if let Some(first) = to_undo.first() {
        for_cleanup(ctx, &first.provider, &to_undo)?.cleanup(&to_undo)?;
    }
    let lock = state.lock()?;
    forget(state, &lock, &own, report, undone_action)?;
    forget(
        state,
        &lock,
        &shared,
        report,
        |_| "kept (still used by another run)",
    )
}

/// What cleanup did to an entry it undid: a value that was there before stays, and a record whose
/// publishing never completed (the run failed or was killed) was removed only if it had gone live.
fn undone_action(e: &Entry) -> &'static str {
    match (e.published.preexisting, &e.status) {
        (true, _) => "left in place (was there before)",
        (false, Status::Pending) => "removed if it was there (its publishing had not completed)",
        (false, Status::Published) => "removed",
    }
}

/// Forgets `entries` and reports each with the action `what` names.
fn forget(
    state: &StateDir,
    lock: &Lock,
    entries: &[&Entry],
    report: &mut Report,
    what: impl Fn(&Entry) -> &'static str,
) -> Result<()> {
    let mut first_error = None;
    for e in entries {
        if let Err(err) = state.remove(e, lock) {
            first_error.get_or_insert(err);
            continue;
        }
        let action = what(e);
        report.add_record(RecordReport::new(
            &e.published.record,
            &e.published.provider,
            action,
        ));
        report.changed |= action.starts_with("removed");
    }
    first_error.map_or(Ok(()), Err)
}
