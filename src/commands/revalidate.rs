//! `revalidate` (and `status --expiring-within`): keep every domain of a CertCentral account validated.
//!
//! Lists the account's domains once (paginated), selects the active ones whose OV or EV validation
//! expires within `--expiring-within DAYS` (default 30) or has expired, narrowed by `-d` and
//! `--validation-type`. Then: submit each for validation (its token comes back, or is asked for),
//! publish all records together (one UPDATE per zone, each `[[zone]]` with its own provider), and
//! watch every authoritative server. Each domain is checked at DigiCert (`validate-token`) the moment
//! every server serves its record, in the order they become ready, with up to `--check-concurrency`
//! requests in flight, all paced by the client's one rate limit; a domain whose record is still
//! missing at `--propagation-timeout` fails alone, naming the servers and what they answered. Records
//! are removed as their domains finish (one cleanup at a time, batched per zone), so a run killed late
//! leaves little behind, and what is left is in the state for `cleanup`. SIGINT/SIGTERM stop it at
//! once: no new request, everything published removed, the message says what was done (130/143).
//! At most 3 requests per domain plus retries. Domains on email DCV are not switched unless `--method`
//! says so (switching changes the domain at DigiCert); they are reported as still needing validation.
//! A terminal shows one status line; `--metrics-file` gets a Prometheus textfile after the run.
//!
//! Exit 0 when every selected domain ends validated, 75 when some do not (each named on stderr).

use crate::certcentral::CertCentral;
use crate::certcentral::types::DomainSummary;
use crate::config::Target;
use crate::context::Context;
use crate::dates;
use crate::dcv::{DomainName, Method, placement};
use crate::error::{Error, Kind, Result};
use crate::metrics::{DomainMetric, RunMetric};
use crate::output::Report;
use crate::pipeline::Publishers;
use crate::pipeline::{cleanup_where, discover_servers, follow_cnames, publish_recorded};
use crate::progress::StatusLine;
use crate::propagation::{Observation, Polling, Probe, poll_each, shortfall};
use crate::record::Record;
use crate::source::certcentral::check_domain;
use crate::state::Source;
use crate::ui;
use serde::Serialize;
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

pub use crate::config::DEFAULT_EXPIRING_WITHIN_DAYS;

pub use crate::config::DEFAULT_CHECK_CONCURRENCY;

/// One selected domain and what happened to it.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub domain: String,
    pub domain_id: u64,
    pub method: String,
    pub validation_types: Vec<String>,
    /// The earliest expiry of the selected types before the run (`None`: never validated).
    pub expires_before: Option<String>,
    /// The same after the run (re-read from DigiCert).
    pub expires_after: Option<String>,
    /// `validated`, `skipped`, `failed`, `would validate`, `expiring`, `expired`.
    pub outcome: String,
    /// Why, for skipped and failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A selected domain while the run goes on.
struct Work {
    row: Row,
    method: Option<Method>,
    record: Option<Record>,
}

pub fn revalidate(ctx: &Context, report: &mut Report) -> Result<()> {
    let started = Instant::now();
    let cfg = &ctx.cfg;
    let api = ctx.api()?;
    let domains = api.list_domains()?;
    let mut work = select(ctx, &domains)?;
    report.say(format!(
        "{} of {} domains need validation (expiring within {} days or expired)",
        work.len(),
        domains.len(),
        cfg.expiring_within
    ));
    if cfg.dry_run {
        for w in work.iter_mut().filter(|w| w.row.outcome.is_empty()) {
            w.row.outcome = "would validate".into();
        }
        return finish(report, work, false);
    }
    let outcome = if work.is_empty() {
        Ok(())
    } else {
        // Every provider setting is checked before DigiCert is asked to change anything.
        let mut publishers = Publishers::build(ctx)?;
        validate_all(ctx, &mut publishers, &mut work, report)
    };
    let interrupted = matches!(&outcome, Err(e) if matches!(e.kind(), Kind::Interrupted(_)));

    // The expiry DigiCert reports now (one listing for the whole account), unless told to stop.
    let after = if interrupted || work.is_empty() {
        None
    } else {
        api.list_domains().ok()
    };
    if let Some(after) = &after {
        for w in &mut work {
            if let Some(d) = after.iter().find(|d| d.id == w.row.domain_id) {
                w.row.expires_after = earliest_expiry(d, &w.row.validation_types);
            }
        }
    }
    let metrics = cfg.metrics_file.as_ref().map(|path| {
        (
            path,
            metrics_of(after.as_deref().unwrap_or(&domains), &work),
            counts_of(&work),
        )
    });
    let result = finish(report, work, !interrupted);
    if let Some((path, domains, counts)) = metrics {
        let run = RunMetric {
            ok: outcome.is_ok() && result.is_ok(),
            counts,
            seconds: started.elapsed().as_secs_f64(),
            finished: dates::now(),
        };
        crate::metrics::write(path, &crate::metrics::render(&domains, &run))?;
    }
    outcome.and(result)
}

/// Submits, publishes, waits, checks and cleans up (see the module docs); `Err` only when a signal
/// stopped the run (after cleaning up) or nothing could start.
fn validate_all(
    ctx: &Context,
    publishers: &mut Publishers,
    work: &mut [Work],
    report: &mut Report,
) -> Result<()> {
    // 1. Submit each domain and get its token (1-2 requests each), side by side.
    let todo: Vec<usize> = (0..work.len())
        .filter(|&i| work[i].row.outcome.is_empty())
        .collect();
    let snapshot: &[Work] = work;
    let submitted = side_by_side(ctx.cfg.check_concurrency, &todo, |i| {
        let w = &snapshot[i];
        submit(ctx, w, w.method.expect("selected with a method"))
    });
    for (i, result) in submitted {
        match result {
            Ok(record) => work[i].record = Some(record),
            Err(e) => fail(&mut work[i], &e),
        }
    }
    if let Some(signal) = crate::signals::pending() {
        return Err(stopped(signal, work, "nothing was published"));
    }

    // 2. Publish all records together, each group with its provider; a group that fails is tried
    //    again one record at a time, so one bad zone fails only its own domains.
    let published = publish_all(ctx, publishers, work, report)?;

    // 3. Check each domain as soon as it is served; clean up as domains finish.
    check_as_served(ctx, work, &published, report)
}

/// Runs `job` for each of `items` on up to `threads` threads; returns (item, result) for every item
/// started (none is started once a signal arrived).
fn side_by_side<T: Send>(
    threads: usize,
    items: &[usize],
    job: impl Fn(usize) -> T + Sync,
) -> Vec<(usize, T)> {
    let next = Mutex::new(items.iter().copied());
    let results = Mutex::new(Vec::with_capacity(items.len()));
    let mut status = Mutex::new(StatusLine::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                loop {
                    if crate::signals::pending().is_some() {
                        return;
                    }
                    let Some(i) = next.lock().unwrap_or_else(|e| e.into_inner()).next() else {
                        return;
                    };
                    let result = job(i);
                    let mut results = results.lock().unwrap_or_else(|e| e.into_inner());
                    results.push((i, result));
                    status
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .update(&format!(
                            "submitted {}/{}, {:.0}s",
                            results.len(),
                            items.len(),
                            started.elapsed().as_secs_f64()
                        ));
                }
            });
        }
    });
    let status = status.get_mut().unwrap_or_else(|e| e.into_inner());
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    status.finish(&format!(
        "submitted {}/{} domain(s) for validation in {:.1}s",
        results.len(),
        items.len(),
        started.elapsed().as_secs_f64()
    ));
    results
}

/// Publishes every domain's record (one batch per provider and zone); returns the domains published.
fn publish_all(
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

/// Waits for every published record, checks each domain at DigiCert the moment its record is
/// served everywhere (up to `--check-concurrency` at once), and removes each domain's record once it
/// is done, a batch at a time. `Err` only for a signal (everything published is cleaned up first)
/// or a cleanup that failed (what is left stays recorded for `cleanup`).
fn check_as_served(
    ctx: &Context,
    work: &mut [Work],
    published: &[usize],
    report: &mut Report,
) -> Result<()> {
    let cfg = &ctx.cfg;
    let api = ctx.api()?;
    let (probes, owner) = find_servers(ctx, work, published);
    let ids: Vec<u64> = work.iter().map(|w| w.row.domain_id).collect();
    let records: Vec<Option<Record>> = work.iter().map(|w| w.record.clone()).collect();
    let started = Instant::now();
    let mut status = StatusLine::new();
    if !probes.is_empty() {
        ui::progress(&format!(
            "waiting for {} record(s) on every authoritative server, up to {}s; each domain is checked as soon as its record is served",
            published.len(),
            crate::propagation::seconds(cfg.polling.timeout)
        ));
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
            let (job_queue, ids) = (&job_queue, &ids);
            scope.spawn(move || checker(api, job_queue, ids, &events));
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
        let watched = (&probes[..], &owner[..], cfg.polling);
        let channels = (&inbox, jobs, &cleanups);
        run.coordinate(work, report, watched, channels, &mut status, started);
        drop(cleanups);
    });
    status.finish(&run.line(started));
    report.changed = true;
    run.outcome(work)
}

/// Polls every probe, telling the coordinating thread each domain served and when the wait ends.
fn poller(probes: &[Box<dyn Probe>], owner: &[usize], polling: Polling, events: &Sender<Event>) {
    let outcomes = poll_each(probes, polling, &|line| ui::verbose(line), &|k| {
        let _ = events.send(Event::Served(owner[k]));
    });
    let _ = events.send(Event::Waited(outcomes));
}

/// Checks the domains queued (by index) at DigiCert until the queue closes.
fn checker(api: &CertCentral, queue: &Mutex<Receiver<usize>>, ids: &[u64], events: &Sender<Event>) {
    loop {
        let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(i) = job else { return };
        // Queued before a signal, but no request starts after one.
        let result = crate::signals::check().and_then(|()| check_domain(api, ids[i]).map(|_| ()));
        let _ = events.send(Event::Checked(i, result));
    }
}

/// Removes the records of each batch of finished domains, one batch at a time.
fn cleaner(
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

/// What the threads of [`check_as_served`] tell the coordinating one.
enum Event {
    /// Every server serves this domain's record.
    Served(usize),
    /// The wait ended (all served, the deadline, or a signal): what each probe last saw.
    Waited(Vec<Option<Observation>>),
    /// DigiCert's check of this domain returned.
    Checked(usize, Result<()>),
    /// A cleanup of these domains' records finished.
    Cleaned(Vec<usize>, Result<()>, Box<Report>),
}

/// The coordinating thread's view of a run, by index into the work.
struct Run {
    /// Published domains without an outcome yet.
    open: usize,
    total: usize,
    /// Served everywhere (or no wait asked for).
    ready: Vec<bool>,
    served: usize,
    validated: usize,
    failed: usize,
    in_flight: usize,
    /// The propagation wait is still going on.
    waiting: bool,
    /// Finished domains whose records are still to be removed.
    to_clean: Vec<usize>,
    cleaning: bool,
    cleaned: usize,
    cleanup_error: Option<Error>,
    signal: Option<i32>,
}

impl Run {
    fn new(work: &[Work], published: &[usize], waiting: bool) -> Run {
        // A domain that failed before the wait (no server found) is only cleaned up.
        let (open, finished): (Vec<usize>, Vec<usize>) = published
            .iter()
            .partition(|&&i| work[i].row.outcome.is_empty());
        Run {
            open: open.len(),
            total: published.len(),
            ready: vec![false; work.len()],
            served: 0,
            validated: 0,
            failed: finished.len(),
            in_flight: 0,
            waiting,
            to_clean: finished,
            cleaning: false,
            cleaned: 0,
            cleanup_error: None,
            signal: None,
        }
    }

    /// Domain `i` is served everywhere: check it (or, after a signal, give up on it).
    fn served(&mut self, work: &mut [Work], i: usize, jobs: Option<&mpsc::Sender<usize>>) {
        if self.ready[i] || !work[i].row.outcome.is_empty() {
            return;
        }
        self.ready[i] = true;
        self.served += 1;
        match (jobs, self.signal) {
            (Some(queue), _) if queue.send(i).is_ok() => self.in_flight += 1,
            (_, signal) => self.done(
                work,
                i,
                Err(not_checked(signal.unwrap_or(signal_hook::consts::SIGTERM))),
            ),
        }
    }

    /// Domain `i` has its outcome; its record is to be removed.
    fn done(&mut self, work: &mut [Work], i: usize, result: Result<()>) {
        match result {
            Ok(()) => {
                work[i].row.outcome = "validated".into();
                self.validated += 1;
            }
            Err(e) => {
                fail(&mut work[i], &e);
                self.failed += 1;
            }
        }
        self.open -= 1;
        self.to_clean.push(i);
    }

    /// Takes in what a thread reported. `watched`: the probes, the domain of each, the polling.
    fn on_event(
        &mut self,
        event: Event,
        work: &mut [Work],
        report: &mut Report,
        (probes, owner, polling): (&[Box<dyn Probe>], &[usize], Polling),
        jobs: Option<&Sender<usize>>,
    ) {
        match event {
            Event::Served(i) => self.served(work, i, jobs),
            Event::Waited(outcomes) => {
                self.waiting = false;
                for (k, &i) in owner.iter().enumerate() {
                    if !self.ready[i] && work[i].row.outcome.is_empty() {
                        let why = match self.signal.or_else(crate::signals::pending) {
                            Some(signal) => not_checked(signal),
                            None => missing(probes, owner, &outcomes, k, polling),
                        };
                        self.done(work, i, Err(why));
                    }
                }
            }
            Event::Checked(i, result) => {
                self.in_flight -= 1;
                let result = result.map_err(|e| match e.kind() {
                    Kind::Interrupted(signal) => not_checked(signal),
                    _ => e,
                });
                self.done(work, i, result);
            }
            Event::Cleaned(batch, result, cleaned) => {
                self.cleaning = false;
                self.cleaned += batch.len();
                for r in cleaned.records {
                    report.add_record(r);
                }
                report.changed |= cleaned.changed;
                if let Err(e) = result {
                    self.cleanup_error.get_or_insert(e);
                }
            }
        }
    }

    /// The run's result once everything is done (see [`check_as_served`]).
    fn outcome(&mut self, work: &[Work]) -> Result<()> {
        let cleanup = self.cleanup_error.take();
        if let Some(signal) = self.signal {
            let removed = match &cleanup {
                None => "every record this run published was removed".to_string(),
                Some(e) => format!("some records stay recorded for `dcv-hook cleanup` ({e})"),
            };
            return Err(stopped(signal, work, &removed));
        }
        cleanup.map_or(Ok(()), |e| {
            Err(e.context(
                "some records could not be removed and stay recorded; run `dcv-hook cleanup`",
            ))
        })
    }

    /// Hands out checks and cleanups and takes in what the poller, the checkers and the cleaner
    /// report, until every domain is done or they all stopped. At the first signal no new check
    /// starts (`jobs` is dropped): the queued ones come back at once as not checked.
    fn coordinate(
        &mut self,
        work: &mut [Work],
        report: &mut Report,
        watched: (&[Box<dyn Probe>], &[usize], Polling),
        (inbox, jobs, cleanups): (&Receiver<Event>, Sender<usize>, &Sender<Vec<usize>>),
        status: &mut StatusLine,
        started: Instant,
    ) {
        let mut jobs = Some(jobs);
        loop {
            if self.signal.is_none() {
                self.signal = crate::signals::pending();
                if self.signal.is_some() {
                    jobs = None;
                }
            }
            if !self.cleaning && !self.to_clean.is_empty() {
                self.cleaning = true;
                let _ = cleanups.send(std::mem::take(&mut self.to_clean));
            }
            if self.finished() {
                break;
            }
            status.update(&self.line(started));
            match inbox.recv_timeout(Duration::from_millis(100)) {
                Ok(event) => self.on_event(event, work, report, watched, jobs.as_ref()),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    }

    fn finished(&self) -> bool {
        self.open == 0
            && self.in_flight == 0
            && !self.waiting
            && !self.cleaning
            && self.to_clean.is_empty()
    }

    fn line(&self, started: Instant) -> String {
        format!(
            "served {}/{}, validated {}, failed {}, checking {}, cleaned up {}, {:.0}s",
            self.served,
            self.total,
            self.validated,
            self.failed,
            self.in_flight,
            self.cleaned,
            started.elapsed().as_secs_f64()
        )
    }
}

/// One probe per (published record, server) and the domain each is for. A domain whose servers
/// cannot be found fails alone.
fn find_servers(
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
    let add = |found: Vec<Box<dyn Probe>>, probes: &mut Vec<_>, owner: &mut Vec<usize>| {
        for probe in found {
            let i = published
                .iter()
                .copied()
                .find(|&i| work[i].record.as_ref() == Some(probe.record()))
                .expect("a probe of a published record");
            owner.push(i);
            probes.push(probe);
        }
    };
    // All at once (each zone's servers looked up once); one at a time only when that fails.
    match discover_servers(ctx, &records) {
        Ok(found) => add(found, &mut probes, &mut owner),
        Err(_) => {
            let mut failed = Vec::new();
            for (&i, record) in published.iter().zip(&records) {
                match discover_servers(ctx, std::slice::from_ref(record)) {
                    Ok(found) => add(found, &mut probes, &mut owner),
                    Err(e) => failed.push((i, e)),
                }
            }
            for (i, e) in failed {
                fail(&mut work[i], &e);
            }
        }
    }
    (probes, owner)
}

/// Why domain `owner[k]`'s record was not seen: each server that lacked it and what it answered.
fn missing(
    probes: &[Box<dyn Probe>],
    owner: &[usize],
    outcomes: &[Option<Observation>],
    k: usize,
    polling: crate::propagation::Polling,
) -> Error {
    let lacking: Vec<String> = (0..probes.len())
        .filter(|&j| owner[j] == owner[k] && outcomes[j] != Some(Observation::Served))
        .map(|j| shortfall(probes[j].as_ref(), outcomes[j].as_ref()))
        .collect();
    Error::temp_fail(format!(
        "{} not served within --propagation-timeout ({}s): {}",
        probes[k].record().name,
        crate::propagation::seconds(polling.timeout),
        lacking.join(", ")
    ))
}

/// The reason of a domain left unchecked because of `signal`.
fn not_checked(signal: i32) -> Error {
    Error::temp_fail(format!(
        "not checked: {}",
        Error::interrupted(signal).message()
    ))
}

/// The error of a run stopped by `signal`, saying what was done and `removed`.
fn stopped(signal: i32, work: &[Work], removed: &str) -> Error {
    let validated = work.iter().filter(|w| w.row.outcome == "validated").count();
    let unchecked = work
        .iter()
        .filter(|w| {
            w.row.outcome.is_empty()
                || w.row
                    .reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("not checked"))
        })
        .count();
    Error::new(
        Kind::Interrupted(signal),
        format!(
            "{}: revalidate stopped; {validated} domain(s) validated, {unchecked} not checked; {removed}; run revalidate again for the rest",
            Error::interrupted(signal).message()
        ),
    )
}

/// Each active domain of `listing` with its DCV expiry, and what this run did to the selected ones.
fn metrics_of(listing: &[DomainSummary], work: &[Work]) -> Vec<DomainMetric> {
    listing
        .iter()
        .filter(|d| d.is_active != Some(false))
        .map(|d| DomainMetric {
            domain: d.name.to_ascii_lowercase(),
            domain_id: d.id,
            expiry: earliest_expiry_time(d, &types_of(d, &[])),
            outcome: work
                .iter()
                .find(|w| w.row.domain_id == d.id)
                .map(|w| w.row.outcome.clone())
                .filter(|o| !o.is_empty()),
        })
        .collect()
}

/// The selected domains by outcome, for the metrics file and the JSON report.
fn counts_of(work: &[Work]) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = ["validated", "failed", "skipped"]
        .iter()
        .map(|o| (o.to_string(), 0))
        .collect();
    for w in work {
        match counts.iter_mut().find(|(o, _)| *o == w.row.outcome) {
            Some((_, n)) => *n += 1,
            None => counts.push((w.row.outcome.clone(), 1)),
        }
    }
    counts
}

/// `status --expiring-within DAYS`: the same selection, read-only.
pub fn status(ctx: &Context, report: &mut Report) -> Result<()> {
    let domains = ctx.api()?.list_domains()?;
    let mut work = select(ctx, &domains)?;
    let now = dates::now();
    for w in work.iter_mut().filter(|w| w.row.outcome.is_empty()) {
        let expired = w
            .row
            .expires_before
            .as_deref()
            .and_then(dates::parse)
            .is_none_or(|t| t <= now);
        w.row.outcome = if expired { "expired" } else { "expiring" }.into();
    }
    report.say(format!(
        "{} of {} domains expire within {} days or have expired",
        work.len(),
        domains.len(),
        ctx.cfg.expiring_within
    ));
    finish(report, work, false)
}

/// The active domains whose selected validation types expire within the window (or have expired),
/// narrowed by `-d` and `--validation-type`.
fn select(ctx: &Context, domains: &[DomainSummary]) -> Result<Vec<Work>> {
    let cfg = &ctx.cfg;
    let names: &[DomainName] = match &cfg.target {
        Target::Account { names } => names,
        _ => &[],
    };
    let horizon = dates::now() + i64::from(cfg.expiring_within) * 86_400;
    let mut selected = Vec::new();
    for d in domains {
        if d.is_active == Some(false) {
            continue;
        }
        let name = d.name.to_ascii_lowercase();
        if !names.is_empty() && !names.iter().any(|n| n.base() == name) {
            continue;
        }
        let types = types_of(d, &cfg.validation_types);
        if types.is_empty() {
            continue;
        }
        let due = types.iter().any(|t| {
            d.dcv_expiration
                .as_ref()
                .and_then(|x| x.of(t))
                .and_then(dates::parse)
                .is_none_or(|expiry| expiry <= horizon)
        });
        if !due {
            continue;
        }
        let (method, outcome, reason) = method_for(ctx, d);
        selected.push(Work {
            row: Row {
                domain: name,
                domain_id: d.id,
                method: method
                    .map(|m| m.as_str().to_string())
                    .or_else(|| d.dcv_method.clone())
                    .unwrap_or_default(),
                expires_before: earliest_expiry(d, &types),
                validation_types: types,
                expires_after: None,
                outcome,
                reason,
            },
            method,
            record: None,
        });
    }
    Ok(selected)
}

/// The DCV method to validate `d` with: `--method`, else the one it has, else the provider's; a
/// method dcv-hook cannot publish (email) skips the domain, with the reason.
fn method_for(ctx: &Context, d: &DomainSummary) -> (Option<Method>, String, Option<String>) {
    match (ctx.cfg.method, d.dcv_method.as_deref().map(Method::parse)) {
        (Some(m), _) => (Some(m), String::new(), None),
        (None, Some(Ok(m))) => (Some(m), String::new(), None),
        (None, None) => (Some(default_method(ctx)), String::new(), None),
        (None, Some(Err(_))) => (
            None,
            "skipped".to_string(),
            Some(format!(
                "uses {} DCV, which dcv-hook cannot publish; pass --method to switch it (that changes the domain at DigiCert)",
                d.dcv_method.as_deref().unwrap_or("another")
            )),
        ),
    }
}

/// The method for a domain that has none yet: what the command line's provider publishes.
fn default_method(ctx: &Context) -> Method {
    match ctx.cfg.provider.as_deref().map(crate::publish::spec) {
        Some(Ok(spec)) if !spec.serves.dns() => Method::HttpToken,
        _ => Method::DnsTxtToken,
    }
}

/// The validation types to renew: `--validation-type` (those the domain has), else every type it has.
fn types_of(d: &DomainSummary, wanted: &[String]) -> Vec<String> {
    let mut has: Vec<String> = d
        .validations
        .iter()
        .map(|v| v.vtype.to_ascii_lowercase())
        .filter(|t| t == "ov" || t == "ev")
        .collect();
    if let Some(x) = &d.dcv_expiration {
        if x.ov.is_some() {
            has.push("ov".into());
        }
        if x.ev.is_some() {
            has.push("ev".into());
        }
    }
    has.sort();
    has.dedup();
    if wanted.is_empty() {
        has
    } else {
        has.into_iter()
            .filter(|t| wanted.iter().any(|w| w.eq_ignore_ascii_case(t)))
            .collect()
    }
}

/// The earliest expiry among `types`, as a date (`None` when one was never completed).
fn earliest_expiry(d: &DomainSummary, types: &[String]) -> Option<String> {
    earliest_expiry_time(d, types).map(dates::format_date)
}

/// The earliest expiry among `types`, as a Unix time (`None` when one was never completed).
fn earliest_expiry_time(d: &DomainSummary, types: &[String]) -> Option<i64> {
    let times: Vec<Option<i64>> = types
        .iter()
        .map(|t| {
            d.dcv_expiration
                .as_ref()
                .and_then(|x| x.of(t))
                .and_then(dates::parse)
        })
        .collect();
    if times.iter().any(Option::is_none) {
        return None;
    }
    times.into_iter().flatten().min()
}

/// Submits `w`'s domain for validation with `method` and returns the record to publish.
fn submit(ctx: &Context, w: &Work, method: Method) -> Result<Record> {
    let api = ctx.api()?;
    let id = w.row.domain_id;
    let token = api.submit_for_token(id, &w.row.validation_types, method.as_str())?;
    let domain = DomainName::parse(&w.row.domain)?;
    let record = placement(method, ctx.cfg.txt_name, &domain, &token)?;
    Ok(follow_cnames(ctx, &[record])?.remove(0))
}

fn source_of(w: &Work) -> Source {
    Source {
        domain_id: Some(w.row.domain_id),
        ..Source::default()
    }
}

fn fail(w: &mut Work, e: &Error) {
    w.row.outcome = "failed".into();
    w.row.reason = Some(e.to_string());
}

/// Renders the table (text) and the rows (JSON); 75 when `strict` and some domain did not end
/// validated, naming each on stderr.
fn finish(report: &mut Report, work: Vec<Work>, strict: bool) -> Result<()> {
    report.say(format!(
        "{:<32} {:<16} {:<6} {:<25} {}",
        "DOMAIN", "METHOD", "TYPES", "EXPIRY BEFORE -> AFTER", "OUTCOME"
    ));
    let mut not_done = Vec::new();
    for w in &work {
        let r = &w.row;
        let expiry = format!(
            "{} -> {}",
            r.expires_before.as_deref().unwrap_or("none"),
            r.expires_after.as_deref().unwrap_or("-")
        );
        let outcome = match &r.reason {
            Some(why) => format!("{}: {why}", r.outcome),
            None => r.outcome.clone(),
        };
        report.say(format!(
            "{:<32} {:<16} {:<6} {:<25} {}",
            r.domain,
            r.method,
            r.validation_types.join(","),
            expiry,
            outcome
        ));
        if strict && r.outcome != "validated" {
            ui::warn(&format!(
                "{} ({}) is not validated: {outcome}",
                r.domain, r.domain_id
            ));
            not_done.push(r.domain.clone());
        }
    }
    let mut counts = serde_json::Map::new();
    counts.insert("selected".into(), work.len().into());
    for (outcome, n) in counts_of(&work) {
        counts.insert(outcome, n.into());
    }
    report.counts = Some(counts.into());
    report.domains = work
        .into_iter()
        .map(|w| serde_json::to_value(w.row).unwrap_or_default())
        .collect();
    if not_done.is_empty() {
        Ok(())
    } else {
        Err(Error::temp_fail(format!(
            "{} domain(s) still need validation: {}; see the table, fix what it says, and run revalidate again",
            not_done.len(),
            not_done.join(", ")
        )))
    }
}
