//! Publishing with the state written around the change: pending entries before, the provider's
//! report after, and what an earlier run recorded for the same change kept.

use crate::context::Context;
use crate::error::Result;
use crate::output::{RecordReport, Report};
use crate::publish::Publisher;
use crate::record::{Published, Record};
use crate::state::{Entry, Source, StateDir, Status, pending_entry};

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
    if p.record.is_dns() || p.preexisting {
        return None;
    }
    existing.iter().find(|x| {
        x.published.provider == p.provider
            && x.published.location == p.location
            && x.published.record.value != p.record.value
            && !x.published.preexisting
    })
}
