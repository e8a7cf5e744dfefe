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
    // What the state records of each: the domain it is for.
    let ready: Vec<(usize, Record, Source)> = work
        .iter()
        .enumerate()
        .filter_map(|(i, w)| {
            let source = Source {
                domain_id: Some(w.row.domain_id),
                ..Source::default()
            };
            Some((i, w.record.clone()?, source))
        })
        .collect();
    let records: Vec<Record> = ready.iter().map(|(_, r, _)| r.clone()).collect();
    let mut published: Vec<usize> = Vec::new();
    for (index, group) in publishers.route(ctx, &records)? {
        let members: Vec<_> = ready.iter().filter(|(_, r, _)| group.contains(r)).collect();
        let mut publish = |part: &[&(usize, Record, Source)]| {
            let (batch, sources): (Vec<Record>, Vec<Source>) =
                part.iter().map(|(_, r, s)| (r.clone(), s.clone())).unzip();
            publish_recorded(ctx, publishers.get(index), &batch, &sources, report)
        };
        // A failed batch is tried again one record at a time: one bad zone fails only its own.
        let tried = match publish(&members) {
            Err(_) if members.len() > 1 => {
                members.chunks(1).map(|one| (one, publish(one))).collect()
            }
            whole => vec![(&members[..], whole)],
        };
        for (part, result) in tried {
            for &&(i, _, _) in part {
                match &result {
                    Ok(()) => published.push(i),
                    Err(e) => fail(&mut work[i], e),
                }
            }
        }
    }
    Ok(published)
}
