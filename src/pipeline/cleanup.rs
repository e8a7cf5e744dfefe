//! Cleanup: remove exactly what the state recorded, with the settings that published each record,
//! and forget an entry only once its provider confirmed the removal.

use super::publishers::for_cleanup;
use crate::context::Context;
use crate::error::Result;
use crate::output::{RecordReport, Report};
use crate::publish;
use crate::state::{Entry, Lock, StateDir, Status};

/// Cleans up the recorded entries `selects` picks: removes exactly what `auth` recorded and restores
/// what it replaced. A change that another, unselected entry still needs (the same value published
/// for two sources) is only forgotten, not undone. An entry leaves the state only once its provider
/// confirmed the removal. One group failing (a missing key file) never stops the others.
pub fn cleanup_where(
    ctx: &Context,
    report: &mut Report,
    selects: &dyn Fn(&Entry) -> bool,
) -> Result<()> {
    // Cleanup is what a signal asks for: it is not interrupted by one (a second exits at once).
    crate::signals::cleaning_up(|| cleanup_selected(ctx, report, selects))
}

fn cleanup_selected(
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
pub(super) fn cleanup_groups(entries: &[Entry]) -> Vec<Vec<&Entry>> {
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
    let others: Vec<Entry> = state
        .load_all(&state.lock()?)?
        .into_iter()
        .filter(|e| !selected.iter().any(|s| s.id() == e.id()))
        .collect();
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
