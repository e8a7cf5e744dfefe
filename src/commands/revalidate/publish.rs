//! Publishing every submitted domain's record: one batch per provider and zone, recorded in the
//! state first; a batch that fails is tried again a record at a time, so a bad zone fails only its
//! own domains. Never waits.

use super::{Work, fail};
use crate::context::Context;
use crate::error::Result;
use crate::output::Report;
use crate::pipeline::{Publishers, publish_recorded};
use crate::record::Record;
use crate::state::Source;

/// Publishes every domain's record (one batch per provider and zone); returns the domains published.
pub(super) fn publish_all(
    ctx: &Context,
    publishers: &mut Publishers,
    work: &mut [Work],
    report: &mut Report,
) -> Result<Vec<usize>> {
    let mut published: Vec<usize> = Vec::new();
    let ready: Vec<usize> = (0..work.len())
        .filter(|&i| work[i].record.is_some())
        .collect();
    let records: Vec<Record> = ready
        .iter()
        .map(|&i| work[i].record.clone().expect("ready"))
        .collect();
    let groups = publishers.route(ctx, &records)?;
    for (index, group) in groups {
        let members: Vec<usize> = ready
            .iter()
            .copied()
            .filter(|&i| group.contains(work[i].record.as_ref().expect("ready")))
            .collect();
        let sources: Vec<Source> = members.iter().map(|&i| source_of(&work[i])).collect();
        let batch: Vec<Record> = members
            .iter()
            .map(|&i| work[i].record.clone().expect("ready"))
            .collect();
        match publish_recorded(ctx, publishers.get(index), &batch, &sources, report) {
            Ok(()) => published.extend(&members),
            Err(_) if members.len() > 1 => {
                for (&i, source) in members.iter().zip(&sources) {
                    let one = [work[i].record.clone().expect("ready")];
                    match publish_recorded(
                        ctx,
                        publishers.get(index),
                        &one,
                        std::slice::from_ref(source),
                        report,
                    ) {
                        Ok(()) => published.push(i),
                        Err(e) => fail(&mut work[i], &e),
                    }
                }
            }
            Err(e) => fail(&mut work[members[0]], &e),
        }
    }
    Ok(published)
}

/// What the state records of `w`'s record: the domain it is for.
pub(super) fn source_of(w: &Work) -> Source {
    Source {
        domain_id: Some(w.row.domain_id),
        ..Source::default()
    }
}
