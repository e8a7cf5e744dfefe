//! `cleanup`: remove exactly what `auth` recorded and restore what it replaced.
//!
//! Entries are selected by the token source (`--order-id`, `--domain-id`, `--domain`, an ACME
//! client's challenge; none selects all).
//! A change that another, unselected entry still needs (the same value published for two sources) is
//! only forgotten, not undone. An entry leaves the state only once its provider confirmed the removal.

use crate::context::Context;
use crate::error::Result;
use crate::output::{RecordReport, Report};
use crate::publish;
use crate::source;
use crate::state::{Entry, StateDir};

pub fn cleanup(ctx: &Context, report: &mut Report) -> Result<()> {
    let source = source::for_config(&ctx.cfg);
    cleanup_where(ctx, report, &|e| source.selects(e))
}

/// Cleans up the recorded entries `selects` picks (see the module docs).
pub(crate) fn cleanup_where(
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
    // The lock is held only to read and to forget entries, never across a provider's network I/O,
    // so a slow DNS server or program never blocks other runs.
    let all = state.load_all(&state.lock()?)?;
    let (selected, mut others): (Vec<Entry>, Vec<Entry>) =
        all.into_iter().partition(|e| selects(e));
    // An auth still running owns its entries (it may be between publishing and recording, or
    // waiting for the servers): removing its records under it would make it wait in vain.
    let (busy, selected): (Vec<Entry>, Vec<Entry>) = selected.into_iter().partition(|e| {
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
    others.extend(busy);
    if selected.is_empty() {
        report.say(format!(
            "nothing to clean up (no matching records in {})",
            cfg.state_dir.display()
        ));
        return Ok(());
    }
    // One publisher per provider and place (web root, DNS server): each group is undone as a batch.
    let mut groups: Vec<(String, String)> = selected
        .iter()
        .map(|e| {
            (
                e.published.provider.clone(),
                publish::place_of(&e.published),
            )
        })
        .collect();
    groups.sort();
    groups.dedup();
    let mut first_error = None;
    for (provider, place) in groups {
        let group: Vec<&Entry> = selected
            .iter()
            .filter(|e| {
                e.published.provider == provider && publish::place_of(&e.published) == place
            })
            .collect();
        let (shared, own): (Vec<&Entry>, Vec<&Entry>) = group
            .iter()
            .partition(|e| others.iter().any(|o| o.same_change(e)));
        let to_undo: Vec<_> = own.iter().map(|e| e.published.clone()).collect();
        if cfg.dry_run {
            for e in &group {
                report.add_record(RecordReport::new(
                    &e.published.record,
                    &provider,
                    "would remove",
                ));
            }
            continue;
        }
        // Entries all shared with another run need no provider at all: they are only forgotten. A
        // failing group is reported, and the others are still cleaned up.
        let outcome = if to_undo.is_empty() {
            Ok(())
        } else {
            publish::for_cleanup(ctx, &provider, &to_undo).and_then(|mut p| p.cleanup(&to_undo))
        };
        match outcome {
            Ok(()) => {
                let lock = match state.lock() {
                    Ok(lock) => lock,
                    Err(err) => {
                        first_error.get_or_insert(err);
                        continue;
                    }
                };
                for e in &own {
                    if let Err(err) = state.remove(e, &lock) {
                        first_error.get_or_insert(err);
                        continue;
                    }
                    let action = if e.published.preexisting {
                        "left in place (was there before)"
                    } else {
                        "removed"
                    };
                    report.add_record(RecordReport::new(&e.published.record, &provider, action));
                    report.changed |= !e.published.preexisting;
                }
                for e in &shared {
                    if let Err(err) = state.remove(e, &lock) {
                        first_error.get_or_insert(err);
                        continue;
                    }
                    report.add_record(RecordReport::new(
                        &e.published.record,
                        &provider,
                        "kept (still used by another run)",
                    ));
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}
