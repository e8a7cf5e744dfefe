//! The concurrent part of a run: waiting for every published record, checking each domain at
//! DigiCert as soon as its record is served, and removing records as domains finish. Starts the
//! poller, checker and cleaner threads and hands their reports to [`Run`]; decides no outcome itself.
//! A check in flight when a signal arrives is no longer waited for (a check is an idempotent
//! request, and DigiCert may take many seconds to answer): its thread finishes on its own, unheard.

use super::breaker::Breaker;
use super::run::{Event, Run};
use super::{Work, fail};
use crate::certcentral::CertCentral;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::output::Report;
use crate::pipeline::{cleanup_where, discover_servers};
use crate::progress::StatusLine;
use crate::propagation::{Observation, Polling, Probe, poll_each, shortfall};
use crate::record::Record;
use crate::source::certcentral::check_domain;
use crate::ui;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Waits for every published record, checks each domain at DigiCert the moment its record is
/// served everywhere (up to `--check-concurrency` at once), and removes each domain's record once it
/// is done, a batch at a time. `Err` only for a signal (everything published is cleaned up first),
/// the breaker (DigiCert failing domain after domain) or a cleanup that failed (what is left stays
/// recorded for `cleanup`).
pub(super) fn check_as_served(
    ctx: &Context,
    work: &mut [Work],
    published: &[usize],
    report: &mut Report,
    breaker: &Breaker,
) -> Result<()> {
    let cfg = &ctx.cfg;
    let api = ctx.api_shared()?;
    let (probes, owner) = find_servers(ctx, work, published);
    let ids: Vec<u64> = work.iter().map(|w| w.row.domain_id).collect();
    let records: Vec<Option<Record>> = work.iter().map(|w| w.record.clone()).collect();
    let mut status = StatusLine::new();
    if !probes.is_empty() {
        announce_wait(published.len(), cfg.polling);
    }
    let mut run = Run::new(work, published, !probes.is_empty());
    let (events, inbox) = mpsc::channel::<Event>();
    let (jobs, job_queue) = mpsc::channel::<usize>();
    let job_queue = Mutex::new(job_queue);
    let (cleanups, cleanup_queue) = mpsc::channel::<Vec<usize>>();
    std::thread::scope(|scope| {
        if !probes.is_empty() {
            let events = events.clone();
            let (probes, owner) = (&probes, &owner);
            scope.spawn(move || poller(probes, owner, cfg.polling, &events));
        }
        for _ in 0..cfg.check_concurrency.max(1) {
            let events = events.clone();
            let (job_queue, ids, api) = (&job_queue, &ids, &api);
            scope.spawn(move || checker(api, job_queue, ids, breaker, &events));
        }
        let cleaner_events = events.clone();
        let (ids, records) = (&ids, &records);
        scope.spawn(move || cleaner(ctx, cleanup_queue, ids, records, &cleaner_events));
        drop(events);
        // Without a propagation check every published domain is ready at once.
        if probes.is_empty() {
            for &i in published {
                run.served(work, i, Some(&jobs));
            }
        }
        run.coordinate(
            work,
            report,
            (&inbox, jobs, &cleanups),
            &mut status,
            breaker,
        );
        drop(cleanups);
    });
    status.finish(&run.line(work));
    report.changed = true;
    run.outcome(work, breaker)
}

/// Says what the run waits for, and how long at most.
fn announce_wait(records: usize, polling: Polling) {
    ui::progress(&format!(
        "waiting for {records} record(s) on every authoritative server, up to {}s; each domain is checked as soon as its record is served",
        crate::propagation::seconds(polling.timeout)
    ));
}

/// Polls every probe, telling the coordinating thread each domain served and, when the wait ends,
/// each one a server still lacks (once per such server).
pub(super) fn poller(
    probes: &[Box<dyn Probe>],
    owner: &[usize],
    polling: Polling,
    events: &Sender<Event>,
) {
    let outcomes = poll_each(probes, polling, &|line| ui::verbose(line), &|k| {
        let _ = events.send(Event::Served(owner[k]));
    });
    let lacking = (0..probes.len())
        .filter(|&k| outcomes[k] != Some(Observation::Served))
        .map(|k| (owner[k], missing(probes, owner, &outcomes, k, polling)))
        .collect();
    let _ = events.send(Event::Waited(lacking));
}

/// Why domain `owner[k]`'s record was not seen: each server that lacked it and what it answered.
fn missing(
    probes: &[Box<dyn Probe>],
    owner: &[usize],
    outcomes: &[Option<Observation>],
    k: usize,
    polling: Polling,
) -> Error {
    let lacking: Vec<String> = (0..probes.len())
        .filter(|&j| owner[j] == owner[k] && outcomes[j] != Some(Observation::Served))
        .map(|j| shortfall(probes[j].as_ref(), outcomes[j].as_ref()))
        .collect();
    Error::temp_fail(format!(
        "{} not served within --propagation-timeout ({}s): {}",
        probes[k].record().name(),
        crate::propagation::seconds(polling.timeout),
        lacking.join(", ")
    ))
}

/// Checks the domains queued (by index) at DigiCert until the queue closes.
pub(super) fn checker(
    api: &Arc<CertCentral>,
    queue: &Mutex<Receiver<usize>>,
    ids: &[u64],
    breaker: &Breaker,
    events: &Sender<Event>,
) {
    loop {
        let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(i) = job else { return };
        // Queued before a signal or the breaker, but no request starts after either.
        let stop = crate::signals::pending()
            .map(Error::interrupted)
            .or_else(|| breaker.tripped());
        let event = match stop {
            Some(why) => Event::NotChecked(i, why),
            None => match check_until_signal(api, ids[i]) {
                Err(e) if matches!(e.kind(), crate::error::Kind::Interrupted(_)) => {
                    Event::NotChecked(i, e)
                }
                result => {
                    breaker.record(&result);
                    Event::Checked(i, result)
                }
            },
        };
        let _ = events.send(event);
    }
}

/// DigiCert's check of domain `id`, or `Err(interrupted)` as soon as a signal arrives: the request
/// runs on a thread of its own, left to finish unheard.
fn check_until_signal(api: &Arc<CertCentral>, id: u64) -> Result<()> {
    let (answer, answered) = mpsc::channel();
    let api = Arc::clone(api);
    std::thread::spawn(move || {
        let _ = answer.send(check_domain(&api, id).map(|_| ()));
    });
    loop {
        match answered.recv_timeout(Duration::from_millis(50)) {
            Ok(result) => return result,
            Err(mpsc::RecvTimeoutError::Timeout) => crate::signals::check()?,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Error::software(format!(
                    "the check of domain {id} ended without an answer"
                )));
            }
        }
    }
}

/// Removes the records of each batch of finished domains, one batch at a time.
pub(super) fn cleaner(
    ctx: &Context,
    queue: Receiver<Vec<usize>>,
    ids: &[u64],
    records: &[Option<Record>],
    events: &Sender<Event>,
) {
    for batch in queue {
        let mut cleaned = Report::new("revalidate", false);
        let result = cleanup_where(ctx, &mut cleaned, &|e| {
            batch.iter().any(|&i| {
                e.source.domain_id == Some(ids[i])
                    && records[i].as_ref().is_some_and(|r| {
                        *r == e.published.record || r.domain == e.published.record.domain
                    })
            })
        });
        let _ = events.send(Event::Cleaned(batch, result, Box::new(cleaned)));
    }
}

/// One probe per (published record, server) and the domain each is for. A domain whose servers
/// cannot be found fails alone.
pub(super) fn find_servers(
    ctx: &Context,
    work: &mut [Work],
    published: &[usize],
) -> (Vec<Box<dyn Probe>>, Vec<usize>) {
    let mut probes: Vec<Box<dyn Probe>> = Vec::new();
    let mut owner: Vec<usize> = Vec::new();
    if !ctx.cfg.propagation_check {
        return (probes, owner);
    }
    let records: Vec<Record> = published
        .iter()
        .map(|&i| work[i].record.clone().expect("published"))
        .collect();
    // All at once (each zone's servers looked up once); one at a time only when that fails.
    let found = match discover_servers(ctx, &records) {
        Ok(all) => vec![Ok(all)],
        Err(_) => published
            .iter()
            .zip(&records)
            .map(|(&i, r)| discover_servers(ctx, std::slice::from_ref(r)).map_err(|e| (i, e)))
            .collect(),
    };
    for found in found {
        match found {
            Ok(found) => {
                for probe in found {
                    let record = Some(probe.record());
                    let of = published
                        .iter()
                        .find(|&&i| work[i].record.as_ref() == record);
                    owner.push(*of.expect("a probe of a published record"));
                    probes.push(probe);
                }
            }
            Err((i, e)) => fail(&mut work[i], &e),
        }
    }
    (probes, owner)
}
