//! The throwaway probe file: a random token of our own beside where the CA looks, published through
//! the provider that would publish the real file, and removed again. The only change the doctor
//! makes anywhere; never fetches it (`fetch.rs` does).

use crate::context::Context;
use crate::doctor::{Finding, Severity, Subject};
use crate::pipeline::Publishers;
use crate::publish::webroot::DOCTOR_PROBE_PREFIX;
use crate::record::{Record, RecordType};

/// The probe: a file of our own beside where the CA looks, so nothing of the user's is touched.
/// Its value is a fresh random token, its name starts with the prefix webroot's cleanup allows.
pub(super) fn probe_record(subject: &Subject, host: &str, path: &str) -> Record {
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let token = format!("{:016x}{:016x}", crate::random::u64(), crate::random::u64());
    Record {
        domain: subject.domain.clone(),
        rtype: RecordType::Http,
        name: format!("http://{host}{dir}{DOCTOR_PROBE_PREFIX}{}", &token[..12]),
        value: token,
    }
}

pub(super) type ProbePublished = (Publishers, usize, Vec<crate::record::Published>);

/// Publishes `probe` with the provider that would publish the real file (the `[[zone]]`'s or the
/// command line's); `None` when there is none that serves HTTP.
pub(super) fn publish_probe(
    ctx: &Context,
    probe: &Record,
) -> crate::error::Result<Option<ProbePublished>> {
    let mut publishers = match Publishers::build(ctx) {
        Ok(p) => p,
        Err(_) if ctx.cfg.provider.is_none() && ctx.cfg.zones.is_empty() => return Ok(None),
        Err(e) => return Err(e),
    };
    let Ok(groups) = publishers.route(ctx, std::slice::from_ref(probe)) else {
        return Ok(None);
    };
    let Some(&(index, _)) = groups.first() else {
        return Ok(None);
    };
    let publisher = publishers.get(index);
    if !crate::publish::spec(publisher.provider())?.serves.http() {
        return Ok(None);
    }
    let done = publisher.present(std::slice::from_ref(probe))?;
    Ok(Some((publishers, index, done)))
}

/// Removes the probe file again; a warning when that fails.
pub(super) fn cleanup_probe(published: ProbePublished, probe: &Record) -> Option<Finding> {
    let (mut publishers, index, done) = published;
    let e = publishers.get(index).cleanup(&done).err()?;
    Some(Finding::new(
        "http.probe.cleanup",
        Severity::Warns,
        &probe.name,
        format!("the probe file could not be removed: {e}"),
        "remove the file by hand",
    ))
}
