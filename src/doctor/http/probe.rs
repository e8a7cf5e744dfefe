//! The throwaway probe file: a random token of our own beside where the CA looks, published through
//! the provider that would publish the real file like any record (its state entry written first,
//! so after a crash or kill -9 `dcv-hook cleanup` removes it), and removed again through that entry
//! as cleanup removes a record. The only change the doctor makes anywhere; never fetches it
//! (`fetch.rs` does).

use crate::config::{Config, Target};
use crate::context::Context;
use crate::doctor::{Finding, Severity, Subject};
use crate::error::{Error, Result};
use crate::output::Report;
use crate::pipeline::{Publishers, cleanup_where, publish_recorded};
use crate::publish::webroot::DOCTOR_PROBE_PREFIX;
use crate::record::{HttpUrl, Record};
use crate::state::Source;
use std::sync::Mutex;

/// The probe: a file of our own beside where the CA looks, so nothing of the user's is touched.
/// Its value is a fresh random token, its name starts with the prefix webroot's cleanup allows.
pub(super) fn probe_record(subject: &Subject, real: &HttpUrl) -> Record {
    let dir = &real.path[..real.path.rfind('/').map_or(0, |i| i + 1)];
    let token = format!("{:016x}{:016x}", crate::random::u64(), crate::random::u64());
    let url = HttpUrl {
        host: real.host.clone(),
        path: format!("{dir}{DOCTOR_PROBE_PREFIX}{}", &token[..12]),
    };
    Record::new_http(subject.record.domain.clone(), url, token)
}

/// The probe files of one run, live until it ends (files in one directory are best removed
/// together), and the gate that keeps publishing them and stopping apart: once the run stops (at
/// its end, on a signal, at its time limit) no probe is published any more, and the stopping
/// thread removes them.
#[derive(Default)]
pub struct Probes {
    gate: Mutex<Gate>,
}

#[derive(Default)]
struct Gate {
    stopped: bool,
    /// Published (or maybe published) and not removed yet.
    live: Vec<Record>,
}

impl Probes {
    fn gate(&self) -> std::sync::MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes `probe` with the provider that would publish the real file (the `[[zone]]`'s or
    /// the command line's), its state entry written first; `false` when no provider serves HTTP.
    pub(super) fn publish(&self, ctx: &Context, probe: &Record) -> Result<bool> {
        let mut publishers = match Publishers::build(ctx) {
            Ok(p) => p,
            Err(_) if ctx.cfg.provider.is_none() && ctx.cfg.zones.is_empty() => return Ok(false),
            Err(e) => return Err(e),
        };
        let routed = publishers.route(ctx, std::slice::from_ref(probe));
        let Some(index) = routed.ok().and_then(|groups| Some(groups.first()?.0)) else {
            return Ok(false);
        };
        let publisher = publishers.get(index);
        if !crate::publish::spec(publisher.provider())?.serves.http() {
            return Ok(false);
        }
        let mut gate = self.gate();
        if gate.stopped {
            return Err(Error::temp_fail(
                "the doctor stopped before publishing its probe",
            ));
        }
        gate.live.push(probe.clone());
        let mut scratch = Report::new("doctor", false);
        let sources = [source(&ctx.cfg)];
        let published = publish_recorded(
            ctx,
            publisher,
            std::slice::from_ref(probe),
            &sources,
            &mut scratch,
        );
        if published
            .as_ref()
            .is_err_and(|e| !e.may_have_left_records())
        {
            gate.live.pop();
        }
        published.map(|()| true)
    }

    /// Stops the run's probing: none is published after this, and those live are removed, the
    /// last published first (so the first, which created the directories, takes them along).
    /// A warning for each that could not be removed: its state entry stays for `dcv-hook cleanup`.
    pub fn stop(&self, ctx: &Context) -> Vec<Finding> {
        let mut gate = self.gate();
        gate.stopped = true;
        let mut findings = Vec::new();
        let mut scratch = Report::new("doctor", false);
        for probe in std::mem::take(&mut gate.live).iter().rev() {
            // Removed the way `cleanup` removes a record: through its state entry.
            let removed = cleanup_where(ctx, &mut scratch, &|e| e.published.record == *probe);
            if let Err(e) = removed {
                findings.push(
                    Finding::new(
                        "http.probe.cleanup",
                        Severity::Warns,
                        probe.name().as_ref(),
                        format!("the probe file could not be removed: {e}"),
                        "run `dcv-hook cleanup` (the state keeps the probe), or remove the file by hand",
                    )
                    .about(&probe.domain),
                );
            }
        }
        findings
    }
}

/// The source the probe is recorded for: the run's order or domain, so `cleanup` with the same
/// selection (or none) removes it.
fn source(cfg: &Config) -> Source {
    let (order_id, domain_id) = match cfg.target {
        Target::Order { id, .. } => (Some(id), None),
        Target::Domain { id, .. } => (None, id),
        _ => (None, None),
    };
    Source {
        order_id,
        domain_id,
        ..Source::default()
    }
}
