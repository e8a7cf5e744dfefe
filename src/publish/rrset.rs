//! The flow shared by the providers whose API replaces a record set whole (powerdns, route53, azure,
//! google): read the set, add or remove our value, write the set back, one write per zone; when a
//! later zone's write fails, the zones already written are put back as they were read.
//!
//! A read-modify-write of a whole set loses a value when another writer's change lands between the
//! read and the write, so each zone's changes hold a lock beside the state ([`SetLocks`]: two
//! invocations on this machine sharing a state directory change one zone one after the other), and
//! every write is read back: a value of ours missing after an add (or still there after a removal)
//! is written again, at most [`WRITE_ATTEMPTS`] times, then the run fails naming it. An API with
//! conditional writes refuses a write whose set changed since the read ([`Error::is_conflict`]):
//! the sets are read again and the write made again, within the same attempts.
//!
//! Each provider keeps its own API client and error messages; it only says how to find a zone,
//! read and write a set, and look at a set's values ([`SetApi`]). Implementing [`SetApi`] makes it
//! a [`Publisher`] (the blanket impl here): it writes no `prepare`, `present` or `cleanup`.

use super::txt::{content_matches, normalize, quote_txt};
use super::{Publisher, also_failed};
use crate::error::{Error, Result};
use crate::record::{Published, Record, RecordType};
use std::collections::HashMap;

mod locks;
pub use locks::SetLocks;

/// How many times a change is written before a value still not read back fails the run.
pub const WRITE_ATTEMPTS: usize = 3;

/// One zone's part of a change: each set as it will be written, and as it was read.
struct ZoneChange<Z, S> {
    zone: Z,
    sets: Vec<(S, S)>,
}

/// One zone's part of a change, for the API `A`.
type Change<A> = ZoneChange<<A as SetApi>::Zone, <A as SetApi>::Set>;

/// An API that reads and writes whole record sets, per zone; a [`Publisher`] through the flow here.
pub trait SetApi {
    type Zone: Clone;
    type Set: Clone;
    /// The provider's undo data ([`super::Provider::Undo`]).
    type Undo: serde::Serialize;
    /// What a write returns, for [`SetApi::settle`].
    type Sent;
    /// The provider name, for messages and as [`Publisher::provider`].
    const NAME: &'static str;
    /// What a put-back write is described as.
    const PUTTING_BACK: &'static str;

    fn zone_id(zone: &Self::Zone) -> &str;
    /// The locks that serialize this provider's changes to a zone.
    fn locks(&self) -> &SetLocks;
    fn zone_name(zone: &Self::Zone) -> &str;
    /// The zone that holds `name`.
    fn zone_for(&mut self, name: &str) -> Result<Self::Zone>;
    /// The zone `published` went to.
    fn zone_of(&mut self, published: &Published) -> Result<Self::Zone>;
    /// What the state records as where a record in `zone` went (`Published::location`).
    fn location(zone: &Self::Zone) -> String;
    /// The provider's undo data, recorded with each record.
    fn remembered(&self) -> &Self::Undo;
    /// The set at `name` (normalized) and `rtype` in `zone`, empty when there is none.
    fn read(&self, zone: &Self::Zone, name: &str, rtype: &'static str) -> Result<Self::Set>;
    /// Writes each (after, before) set of one zone at once: `after`, or a delete when it is empty.
    fn write(
        &self,
        zone: &Self::Zone,
        sets: &[(Self::Set, Self::Set)],
        what: &str,
    ) -> Result<Self::Sent>;
    /// Waits, when the API needs it, until the writes `sent` are served.
    fn settle(&self, _sent: &[Self::Sent]) -> Result<()> {
        Ok(())
    }
    /// The set's values in zone-file text.
    fn values(set: &Self::Set) -> Vec<&str>;
    /// Adds `content` to the set (with the run's TTL when the set has none).
    fn add(&self, set: &mut Self::Set, content: String);
    /// Keeps the values (in zone-file text) for which `keep` says so.
    fn retain_values(set: &mut Self::Set, keep: &mut dyn FnMut(&str) -> bool);
    /// The doctor's question ([`Publisher::check_access`]), answered with reads only: by default
    /// the zone of each name and the TXT set at the first name in each ([`read_access`]).
    fn check_access(&mut self, names: &[String]) -> Option<Result<String>>
    where
        Self: Sized,
    {
        Some(read_access(self, names))
    }
}

/// A set-API provider's publishing is this module's flow, whole.
impl<A: SetApi> Publisher for A {
    fn provider(&self) -> &'static str {
        A::NAME
    }

    fn prepare(&mut self, records: &[Record]) -> Result<Vec<Published>> {
        prepare(self, records)
    }

    fn present(&mut self, records: &[Record]) -> Result<Vec<Published>> {
        present(self, records)
    }

    fn cleanup(&mut self, published: &[Published]) -> Result<()> {
        cleanup(self, published)
    }

    fn check_access(&mut self, names: &[String]) -> Option<Result<String>> {
        SetApi::check_access(self, names)
    }
}

/// The doctor's question, answered by reading only, as `auth` reads before it writes: the zone of
/// each name and the TXT set at the first name in each zone. A wrong key fails here as it would in
/// `auth` (77), a missing zone too (78); write access shows only when `auth` writes. What was
/// read for `names`, or the first failure.
fn read_access<A: SetApi>(api: &mut A, names: &[String]) -> Result<String> {
    let mut zones: Vec<(String, String)> = Vec::new();
    for name in names {
        let zone = api.zone_for(name)?;
        if zones.iter().any(|(id, _)| id == A::zone_id(&zone)) {
            continue;
        }
        api.read(&zone, &normalize(name), "TXT")?;
        let zone_name = A::zone_name(&zone).trim_end_matches('.').to_string();
        zones.push((A::zone_id(&zone).to_string(), zone_name));
    }
    let read: Vec<&str> = zones.iter().map(|(_, name)| name.as_str()).collect();
    Ok(format!(
        "the credentials read zone {} and the record sets at the names (write access shows only when auth writes)",
        read.join(", ")
    ))
}

fn holds<A: SetApi>(set: &A::Set, record: &Record) -> bool {
    A::values(set).iter().any(|v| content_matches(record, v))
}

/// Removes the values that are `record`'s; whether any was.
fn remove<A: SetApi>(set: &mut A::Set, record: &Record) -> bool {
    let before = A::values(set).len();
    A::retain_values(set, &mut |v| !content_matches(record, v));
    A::values(set).len() != before
}

/// The state entry for `record` published in `zone`, with the provider's undo data.
fn entry<A: SetApi>(
    api: &A,
    record: &Record,
    zone: &A::Zone,
    preexisting: bool,
) -> Result<Published> {
    let mut p = Published::new(record, A::NAME);
    p.location = A::location(zone);
    p.preexisting = preexisting;
    p.set_undo(api.remembered())?;
    Ok(p)
}

/// Looks before adding: the zone, the provider's undo data (see [`entry`]) and
/// whether the value is there already, recorded before the write that may publish.
fn prepare<A: SetApi>(api: &mut A, records: &[Record]) -> Result<Vec<Published>> {
    records
        .iter()
        .map(|record| {
            let (rtype, owner) = record.dns_for(A::NAME)?;
            let zone = api.zone_for(owner)?;
            let set = api.read(&zone, &normalize(owner), rtype.as_str())?;
            let there = holds::<A>(&set, record);
            entry(api, record, &zone, there)
        })
        .collect()
}

/// Adds the records, one write per zone, under the zones' locks; then lets the API settle.
fn present<A: SetApi>(api: &mut A, records: &[Record]) -> Result<Vec<Published>> {
    let mut zones = Vec::with_capacity(records.len());
    for record in records {
        zones.push(api.zone_for(record.dns_for(A::NAME)?.1)?);
    }
    let items: Vec<(A::Zone, &Record)> = zones.iter().cloned().zip(records).collect();
    // Whether a value was there before is what the first read saw, not a later attempt's.
    let mut preexisting = vec![false; records.len()];
    let sent = write_confirmed(
        api,
        &items,
        true,
        "adding records",
        |api, set, i, record, attempt| {
            if holds::<A>(set, record) {
                preexisting[i] |= attempt == 1;
                return Ok(false);
            }
            let (rtype, owner) = record.dns_for(A::NAME)?;
            if rtype == RecordType::Cname
                && let Some(other) = A::values(set).first()
            {
                return Err(Error::data(format!(
                    "{}: {} already is a CNAME to {}; dns-cname-token would replace it: remove it first or use --method dns-txt-token",
                    A::NAME,
                    normalize(owner),
                    normalize(other)
                )));
            }
            api.add(set, content(rtype, &record.value));
            Ok(true)
        },
    )?;
    // Published but maybe not everywhere yet: the state must be kept for cleanup.
    api.settle(&sent).map_err(Error::with_leftovers)?;
    records
        .iter()
        .zip(zones)
        .zip(preexisting)
        .map(|((record, zone), preexisting)| entry(api, record, &zone, preexisting))
        .collect::<Result<_>>()
        .map_err(Error::with_leftovers)
}

/// Removes this provider's records that were not there before; each zone on its own, so one that
/// fails leaves the others cleaned.
fn cleanup<A: SetApi>(api: &mut A, published: &[Published]) -> Result<()> {
    let mut first_error: Option<Error> = None;
    let mut by_zone: Vec<(A::Zone, Vec<&Record>)> = Vec::new();
    for p in published
        .iter()
        .filter(|p| p.provider == A::NAME && !p.preexisting)
    {
        match api.zone_of(p) {
            Ok(zone) => match by_zone
                .iter_mut()
                .find(|(z, _)| A::zone_id(z) == A::zone_id(&zone))
            {
                Some((_, records)) => records.push(&p.record),
                None => by_zone.push((zone, vec![&p.record])),
            },
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    for (zone, records) in by_zone {
        let items: Vec<(A::Zone, &Record)> = records.iter().map(|r| (zone.clone(), *r)).collect();
        let outcome = write_confirmed(api, &items, false, "removing records", |_, set, _, r, _| {
            Ok(remove::<A>(set, r))
        })
        .and_then(|sent| api.settle(&sent));
        if let Err(e) = outcome {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// With the zones' locks held: edits the sets (`edit(api, set, item index, record, attempt)`),
/// writes them, and reads them back until each record is in its set (`wanted`) or not, writing
/// again what another writer undid, at most [`WRITE_ATTEMPTS`] times. What the writes sent.
fn write_confirmed<A: SetApi>(
    api: &A,
    items: &[(A::Zone, &Record)],
    wanted: bool,
    what: &str,
    mut edit: impl FnMut(&A, &mut A::Set, usize, &Record, usize) -> Result<bool>,
) -> Result<Vec<A::Sent>> {
    let _held = api
        .locks()
        .hold(A::NAME, items.iter().map(|(z, _)| A::zone_id(z)))?;
    let mut sent = Vec::new();
    for attempt in 1..=WRITE_ATTEMPTS {
        let written = edit_sets(api, items.iter().cloned(), |api, set, i, record| {
            edit(api, set, i, record, attempt)
        })
        .and_then(|changes| apply(api, &changes, what));
        match written {
            Ok(done) => sent.extend(done),
            // A conditional write refused, changing nothing: the set changed since it was read.
            Err(e) if e.is_conflict() && attempt < WRITE_ATTEMPTS => {
                crate::ui::warn(&format!(
                    "{}: {what}: {}; reading the set again",
                    A::NAME,
                    e.message()
                ));
                continue;
            }
            // An earlier attempt's write is live: the state must stay for cleanup.
            Err(e) if !sent.is_empty() => return Err(e.with_leftovers()),
            Err(e) => return Err(e),
        }
        let off = read_back(api, items, wanted)?;
        if off.is_empty() {
            return Ok(sent);
        }
        if attempt < WRITE_ATTEMPTS {
            crate::ui::warn(&format!(
                "{}: {what}: read back, {} {}; another program changed the set at the same time: writing again",
                A::NAME,
                off.join(", "),
                if wanted {
                    "is missing"
                } else {
                    "is still there"
                },
            ));
            continue;
        }
        return Err(Error::unavailable(format!(
            "{}: {what}: after {WRITE_ATTEMPTS} writes, {} {} when read back; another program keeps changing the set: stop it and run again (the state is kept for cleanup)",
            A::NAME,
            off.join(", "),
            if wanted { "is still missing" } else { "is still there" },
        ))
        .with_leftovers());
    }
    Ok(sent)
}

/// Reads the sets back: the records (`name value`) that are not in their set (`wanted`) or are.
fn read_back<A: SetApi>(
    api: &A,
    items: &[(A::Zone, &Record)],
    wanted: bool,
) -> Result<Vec<String>> {
    let mut off: Vec<String> = Vec::new();
    edit_sets(api, items.iter().cloned(), |_, set, _, record| {
        if holds::<A>(set, record) != wanted {
            off.push(format!("{} {}", normalize(&record.name()), record.value));
        }
        Ok(false)
    })
    .map_err(Error::with_leftovers)?;
    Ok(off)
}

/// Reads the set at each (zone, name, type) once and lets `edit` change it (given each item's
/// index); returns the sets `edit` changed, per zone, in first-seen order.
fn edit_sets<'a, A: SetApi>(
    api: &A,
    items: impl Iterator<Item = (A::Zone, &'a Record)>,
    mut edit: impl FnMut(&A, &mut A::Set, usize, &Record) -> Result<bool>,
) -> Result<Vec<Change<A>>> {
    let mut changes: Vec<(Change<A>, Vec<bool>)> = Vec::new();
    let mut read: HashMap<(String, String, &'static str), (usize, usize)> = HashMap::new();
    for (item, (zone, record)) in items.enumerate() {
        let (rtype, owner) = record.dns_for(A::NAME)?;
        let rtype = rtype.as_str();
        let name = normalize(owner);
        let key = (A::zone_id(&zone).to_string(), name.clone(), rtype);
        let (zi, si) = match read.get(&key) {
            Some(at) => *at,
            None => {
                let set = api.read(&zone, &name, rtype)?;
                let zi = match changes
                    .iter()
                    .position(|(c, _)| A::zone_id(&c.zone) == A::zone_id(&zone))
                {
                    Some(zi) => zi,
                    None => {
                        let sets = Vec::new();
                        changes.push((ZoneChange { zone, sets }, Vec::new()));
                        changes.len() - 1
                    }
                };
                let (change, changed) = &mut changes[zi];
                change.sets.push((set.clone(), set));
                changed.push(false);
                let at = (zi, change.sets.len() - 1);
                read.insert(key, at);
                at
            }
        };
        let (change, changed) = &mut changes[zi];
        if edit(api, &mut change.sets[si].0, item, record)? {
            changed[si] = true;
        }
    }
    Ok(changes
        .into_iter()
        .filter_map(|(mut change, changed)| {
            let mut keep = changed.into_iter();
            change.sets.retain(|_| keep.next().unwrap_or(false));
            (!change.sets.is_empty()).then_some(change)
        })
        .collect())
}

/// Writes each zone's change; when one fails, puts the zones already changed back and returns the
/// error.
fn apply<A: SetApi>(api: &A, changes: &[Change<A>], what: &str) -> Result<Vec<A::Sent>> {
    let mut sent = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        let error = match api.write(&change.zone, &change.sets, what) {
            Ok(done) => {
                sent.push(done);
                continue;
            }
            Err(error) => error,
        };
        let mut left = Vec::new();
        for done in &changes[..i] {
            // Each set written back as it was read (and the one it now is, to delete it).
            let back: Vec<(A::Set, A::Set)> = done
                .sets
                .iter()
                .map(|(after, before)| (before.clone(), after.clone()))
                .collect();
            if api.write(&done.zone, &back, A::PUTTING_BACK).is_err() {
                left.push(A::zone_name(&done.zone).to_string());
            }
        }
        if left.is_empty() {
            return Err(error);
        }
        let also = format!("could not put back zone {}", left.join(", "));
        return Err(also_failed(error, &also));
    }
    Ok(sent)
}

/// A record's `value` in zone-file text: TXT quoted, a CNAME target with its trailing dot.
fn content(rtype: RecordType, value: &str) -> String {
    match rtype {
        RecordType::Txt => quote_txt(value),
        RecordType::Cname => format!("{}.", normalize(value)),
    }
}

#[cfg(test)]
mod tests;
