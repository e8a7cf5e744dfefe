//! Removing values that are ours by what they say, not by a run's record: a persistent DCV record
//! replaced by a newer value of the same issuer and account, or taken away (`persist --remove`).
//!
//! Exactly the (name, value)s given go, whatever the state recorded as there before (such a value
//! is ours by content). A value the state has an entry for is removed with the settings that entry
//! remembers, so no provider flags are needed, and the entry is forgotten once the provider
//! confirmed; a value found only in DNS goes through the run's publishers (`[[zone]]` routing).

use super::cleanup::cleanup_groups;
use super::publishers::{Publishers, for_cleanup};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::output::{RecordReport, Report};
use crate::propagation::dns::DnsCheck;
use crate::record::{Published, Record};
use crate::state::{Entry, StateDir};

/// The TXT values at `name` on the authoritative servers that serve the newest copy of its zone
/// (a lagging secondary may still hold a value already replaced, or not yet hold a new one). An
/// error only when no server could be asked.
pub fn txt_values(ctx: &Context, name: &str) -> Result<Vec<String>> {
    let check = DnsCheck::new(ctx.resolver()?, super::wait::PROBE_TIMEOUT);
    let held = check.txt_everywhere(name)?;
    let newest = held
        .iter()
        .filter(|h| h.txt.is_ok())
        .filter_map(|h| h.serial)
        .max();
    let mut values: Vec<String> = Vec::new();
    for h in held.iter().filter(|h| h.serial == newest) {
        for v in h.txt.iter().flatten() {
            if !values.contains(v) {
                values.push(v.clone());
            }
        }
    }
    if held.iter().all(|h| h.txt.is_err()) {
        let why: Vec<String> = held
            .iter()
            .filter_map(|h| h.txt.as_ref().err().map(|e| format!("{}: {e}", h.server)))
            .collect();
        return Err(Error::unavailable(format!(
            "cannot read what {name} holds: {}; make the nameservers reachable and try again",
            why.join(", ")
        )));
    }
    Ok(values)
}

/// Removes each of `records` and reports it with `action`: through the entry of `known` that
/// recorded it when there is one (then forgotten), else through `publishers`.
pub fn remove_values(
    ctx: &Context,
    publishers: &mut Publishers,
    records: &[Record],
    known: &[Entry],
    report: &mut Report,
    action: &str,
) -> Result<()> {
    let (recorded, rest): (Vec<&Record>, Vec<&Record>) = records
        .iter()
        .partition(|r| known.iter().any(|e| e.published.record == **r));
    let entries: Vec<Entry> = known
        .iter()
        .filter(|e| recorded.contains(&&e.published.record))
        .cloned()
        .collect();
    for group in cleanup_groups(&entries) {
        let undo: Vec<Published> = group.iter().map(|e| as_ours(&e.published)).collect();
        for_cleanup(ctx, &undo[0].provider, &undo)?.cleanup(&undo)?;
        let state = StateDir::open(&ctx.cfg.state_dir)?;
        let lock = state.lock()?;
        for e in &group {
            state.remove(e, &lock)?;
            removed(report, &e.published.record, &e.published.provider, action);
        }
    }
    let rest: Vec<Record> = rest.into_iter().cloned().collect();
    let routed = publishers.route(ctx, &rest).map_err(|e| {
        e.context("a value of ours the state does not know (another tool published it) needs the provider's flags")
    })?;
    for (index, group) in routed {
        let publisher = publishers.get(index);
        let undo: Vec<Published> = publisher.prepare(&group)?.iter().map(as_ours).collect();
        publisher.cleanup(&undo)?;
        for r in &group {
            removed(report, r, publisher.provider(), action);
        }
    }
    Ok(())
}

/// `p` as a change of ours, which cleanup removes even if the value was there before.
fn as_ours(p: &Published) -> Published {
    Published {
        preexisting: false,
        ..p.clone()
    }
}

fn removed(report: &mut Report, record: &Record, provider: &str, action: &str) {
    report.add_record(RecordReport::new(record, provider, action));
    report.changed = true;
}
