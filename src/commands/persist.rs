//! `persist`: a persistent DCV record (`_validation-persist.NAME`, BR 3.2.2.4.22, ACME
//! dns-persist-01) for each `--domain`, published through any DNS provider and `[[zone]]` routing,
//! waited for on every authoritative server, and left in place.
//!
//! Other values at the name stay; an older value of the same issuer and account (another
//! `--until`, `--wildcard` or not) is removed once the new one is published, through the provider,
//! exactly that value. The state keeps one entry per record (marked persistent, so `cleanup`
//! never touches it) with the settings that published it, so `--remove` and a changed value need
//! no provider flags for what this host published. An identical second run changes nothing and
//! says so. `--remove` takes away our values (same issuer and account) and nothing else.

use crate::context::Context;
use crate::error::{Error, Result};
use crate::output::{RecordReport, Report};
use crate::persist::PersistValue;
use crate::pipeline::{self, Publishers, discover_servers, follow_cnames, publish_recorded};
use crate::record::Record;
use crate::state::{Entry, PersistSource, Source, StateDir};

pub fn persist(ctx: &Context, report: &mut Report) -> Result<()> {
    let cfg = &ctx.cfg;
    let (Some(value), crate::config::Target::Unspecified { names }) = (&cfg.persist, &cfg.target)
    else {
        return Err(Error::software("persist without its value or names"));
    };
    let mut publishers = Publishers::build(ctx)?;
    let planned: Vec<Record> = names.iter().map(|n| value.record(n)).collect();
    let records = follow_cnames(ctx, &planned)?;
    let known = recorded(ctx, value)?;
    let (live, stale) = ours_in_dns(ctx, value, &records, &known)?;
    if cfg.persist_remove {
        return remove(ctx, &mut publishers, &stale, &known, report);
    }
    let groups = publishers.route(ctx, &records)?;
    if cfg.dry_run {
        would(report, &mut publishers, &groups, &live, &stale);
        return Ok(());
    }
    // Every server to wait for is found before anything changes.
    let probes = cfg
        .propagation_check
        .then(|| discover_servers(ctx, &records))
        .transpose()?;
    let source = source_of(value);
    for (index, group) in &groups {
        let sources = vec![source.clone(); group.len()];
        publish_recorded(ctx, publishers.get(*index), group, &sources, report)?;
    }
    // Published first, then the older value goes: every copy of the zone holds one or the other.
    pipeline::remove_values(
        ctx,
        &mut publishers,
        &stale,
        &known,
        report,
        "removed (replaced)",
    )?;
    if !report.changed {
        report.say("already in place: nothing changed");
    }
    let Some(probes) = probes else {
        report.say("not waiting for propagation (--no-propagation-check)");
        return Ok(());
    };
    pipeline::wait_for_propagation(ctx, &probes, report)
        .map_err(|e| crate::doctor::explain(ctx, &records, e, report))
}

/// `--dry-run`: what would be published (or is there already), by which provider, and which
/// older values would go.
fn would(
    report: &mut Report,
    publishers: &mut Publishers,
    groups: &[(usize, Vec<Record>)],
    live: &[Record],
    stale: &[Record],
) {
    for (index, group) in groups {
        let provider = publishers.get(*index).provider();
        for r in group {
            let action = match live.contains(r) {
                true => "already present",
                false => "would publish",
            };
            report.add_record(RecordReport::new(r, provider, action));
        }
    }
    for r in stale {
        report.add_record(RecordReport::new(r, "", "would remove"));
    }
}

/// `--remove`: our values (`stale` holds every one) go, and nothing else.
fn remove(
    ctx: &Context,
    publishers: &mut Publishers,
    ours: &[Record],
    known: &[Entry],
    report: &mut Report,
) -> Result<()> {
    if ours.is_empty() {
        report.say("no persistent record of this issuer and account: nothing to remove");
        return Ok(());
    }
    if ctx.cfg.dry_run {
        ours.iter()
            .for_each(|r| report.add_record(RecordReport::new(r, "", "would remove")));
        return Ok(());
    }
    pipeline::remove_values(ctx, publishers, ours, known, report, "removed")
}

/// What the state says is ours: the persistent entries of this issuer and account.
fn recorded(ctx: &Context, value: &PersistValue) -> Result<Vec<Entry>> {
    let Some(state) = StateDir::open_existing(&ctx.cfg.state_dir)? else {
        return Ok(Vec::new());
    };
    let source = source_of(value);
    let entries = state.load_all(&state.lock()?)?;
    Ok(entries
        .into_iter()
        .filter(|e| e.source.persist == source.persist)
        .collect())
}

/// For each record, whether its exact value is served already (`.0`), and every other value of
/// ours at its name, live in DNS or recorded in the state (`.1`; with `--remove`, every value of
/// ours, the wanted one included).
fn ours_in_dns(
    ctx: &Context,
    value: &PersistValue,
    records: &[Record],
    known: &[Entry],
) -> Result<(Vec<Record>, Vec<Record>)> {
    let remove_all = ctx.cfg.persist_remove;
    let (mut live, mut stale) = (Vec::new(), Vec::new());
    for r in records {
        let in_dns = pipeline::txt_values(ctx, &r.name())?;
        if in_dns.contains(&r.value) && !remove_all {
            live.push(r.clone());
        }
        let in_state = known
            .iter()
            .filter(|e| e.published.record.name() == r.name());
        let texts = in_dns
            .iter()
            .chain(in_state.map(|e| &e.published.record.value));
        for text in texts {
            let other = Record {
                value: text.clone(),
                ..r.clone()
            };
            let wanted = other.value == r.value && !remove_all;
            if !wanted && value.owns(&other.value) && !stale.contains(&other) {
                stale.push(other);
            }
        }
    }
    Ok((live, stale))
}

/// The state's source of a record of `value`'s issuer and account.
fn source_of(value: &PersistValue) -> Source {
    Source {
        persist: Some(PersistSource {
            issuer: value.issuer.clone(),
            account_uri: value.account_uri.clone(),
        }),
        ..Source::default()
    }
}
