//! The coordinating thread's bookkeeping of a run ([`Run`]): which domain is served, checked, failed,
//! left unchecked or cleaned up, fed by the [`Event`]s the threads send, and the errors a run ends
//! with. Starts no thread and sends no request.

use super::breaker::Breaker;
use super::outcome::Outcome;
use super::report::tally;
use super::{Work, fail, give_up};
use crate::error::{Error, Kind, Result};
use crate::output::Report;
use crate::progress::StatusLine;
use signal_hook::consts::SIGTERM;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

/// What the threads of [`check_as_served`](super::check::check_as_served) tell the coordinating one.
pub(super) enum Event {
    /// Every server serves this domain's record.
    Served(usize),
    /// The wait ended (all served, the deadline, or a signal): each domain a server lacked, and why.
    Waited(Vec<(usize, Error)>),
    /// DigiCert's check of this domain returned.
    Checked(usize, Result<()>),
    /// This domain's check was not started, or no longer waited for (a signal, the breaker): why.
    NotChecked(usize, Error),
    /// A cleanup of these domains' records finished.
    Cleaned(Vec<usize>, Result<()>, Box<Report>),
}

/// The coordinating thread's view of a run, by index into the work. How many domains are served,
/// validated, failed or not checked is read from the work's outcomes.
pub(super) struct Run {
    published: Vec<usize>,
    started: Instant,
    /// Served everywhere (or no wait asked for).
    ready: Vec<bool>,
    in_flight: usize,
    /// The propagation wait is still going on.
    waiting: bool,
    /// Finished domains whose records are still to be removed.
    to_clean: Vec<usize>,
    cleaning: bool,
    cleaned: usize,
    cleanup_error: Option<Error>,
    signal: Option<i32>,
    /// Why no new check starts (a signal, the breaker), once that is so.
    stop: Option<Error>,
}

impl Run {
    pub(super) fn new(work: &[Work], published: &[usize], waiting: bool) -> Run {
        Run {
            published: published.to_vec(),
            started: Instant::now(),
            ready: vec![false; work.len()],
            in_flight: 0,
            waiting,
            // A domain that failed before the wait (no server found) is only cleaned up.
            to_clean: published
                .iter()
                .copied()
                .filter(|&i| work[i].row.outcome.is_some())
                .collect(),
            cleaning: false,
            cleaned: 0,
            cleanup_error: None,
            signal: None,
            stop: None,
        }
    }

    /// Domain `i` is served everywhere: check it (or, after a signal or the breaker, give up on it).
    pub(super) fn served(&mut self, work: &mut [Work], i: usize, jobs: Option<&Sender<usize>>) {
        if self.ready[i] || work[i].row.outcome.is_some() {
            return;
        }
        self.ready[i] = true;
        match jobs {
            Some(queue) if queue.send(i).is_ok() => self.in_flight += 1,
            _ => {
                let why = self
                    .stop
                    .clone()
                    .unwrap_or_else(|| Error::interrupted(SIGTERM));
                self.not_checked(work, i, &why);
            }
        }
    }

    /// Domain `i` has its outcome; its record is to be removed.
    fn done(&mut self, work: &mut [Work], i: usize, result: Result<()>) {
        match result {
            Ok(()) => {
                work[i].row.outcome = Some(Outcome::Validated);
                self.to_clean.push(i);
            }
            // Stopped while DigiCert checked it: the check may or may not have happened.
            Err(e) if matches!(e.kind(), Kind::Interrupted(_)) => self.not_checked(work, i, &e),
            Err(e) => {
                fail(&mut work[i], &e);
                self.to_clean.push(i);
            }
        }
    }

    /// Domain `i` was not checked, because of `why`; its record is to be removed.
    fn not_checked(&mut self, work: &mut [Work], i: usize, why: &Error) {
        give_up(&mut work[i], Outcome::NotChecked, why);
        self.to_clean.push(i);
    }

    /// Takes in what a thread reported.
    fn on_event(
        &mut self,
        event: Event,
        work: &mut [Work],
        report: &mut Report,
        jobs: Option<&Sender<usize>>,
    ) {
        match event {
            Event::Served(i) => self.served(work, i, jobs),
            Event::Waited(missing) => {
                self.waiting = false;
                for (i, why) in missing {
                    if !self.ready[i] && work[i].row.outcome.is_none() {
                        let why = match self.signal.or_else(crate::signals::pending) {
                            Some(signal) => Error::interrupted(signal),
                            None => why,
                        };
                        self.done(work, i, Err(why));
                    }
                }
            }
            Event::Checked(i, result) => {
                self.in_flight -= 1;
                self.done(work, i, result);
            }
            Event::NotChecked(i, why) => {
                self.in_flight -= 1;
                self.not_checked(work, i, &why);
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
    /// The run's result once everything is done (see [`check_as_served`](super::check::check_as_served)).
    pub(super) fn outcome(&mut self, work: &mut [Work], breaker: &Breaker) -> Result<()> {
        let cleanup = self.cleanup_error.take();
        let removed = match &cleanup {
            None => "every record this run published was removed".to_string(),
            Some(e) => format!("some records stay recorded for `dcv-hook cleanup` ({e})"),
        };
        if let Some(signal) = self.signal {
            return Err(stopped(signal, work, &removed));
        }
        if let Some(down) = breaker.tripped() {
            return Err(down.context(format!(
                "revalidate stopped checking with {}; {removed}",
                tally(work)
            )));
        }
        cleanup.map_or(Ok(()), |e| {
            Err(e.context(
                "some records could not be removed and stay recorded; run `dcv-hook cleanup`",
            ))
        })
    }

    /// Hands out checks and cleanups and takes in what the poller, the checkers and the cleaner
    /// report, until every domain is done or they all stopped. At the first signal, or once the
    /// breaker trips, no new check starts (`jobs` is dropped): the queued ones come back at once as
    /// not checked, and so do those in flight at a signal.
    pub(super) fn coordinate(
        &mut self,
        work: &mut [Work],
        report: &mut Report,
        (inbox, jobs, cleanups): (&Receiver<Event>, Sender<usize>, &Sender<Vec<usize>>),
        status: &mut StatusLine,
        breaker: &Breaker,
    ) {
        let mut jobs = Some(jobs);
        loop {
            if self.signal.is_none() {
                self.signal = crate::signals::pending();
            }
            if self.stop.is_none() {
                self.stop = self
                    .signal
                    .map(Error::interrupted)
                    .or_else(|| breaker.tripped());
                if self.stop.is_some() {
                    jobs = None;
                }
            }
            if !self.cleaning && !self.to_clean.is_empty() {
                self.cleaning = true;
                let _ = cleanups.send(std::mem::take(&mut self.to_clean));
            }
            // Not cleaning means nothing is left to clean: it was just handed out.
            let open = self
                .published
                .iter()
                .any(|&i| work[i].row.outcome.is_none());
            if !open && self.in_flight == 0 && !self.waiting && !self.cleaning {
                break;
            }
            status.update(&self.line(work));
            match inbox.recv_timeout(Duration::from_millis(100)) {
                Ok(event) => self.on_event(event, work, report, jobs.as_ref()),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    }

    pub(super) fn line(&self, work: &[Work]) -> String {
        let count = |o| {
            self.published
                .iter()
                .filter(|&&i| work[i].row.outcome == Some(o))
                .count()
        };
        format!(
            "served {}/{}, validated {}, failed {}, not checked {}, checking {}, cleaned up {}, {:.0}s",
            self.ready.iter().filter(|&&r| r).count(),
            self.published.len(),
            count(Outcome::Validated),
            count(Outcome::Failed),
            count(Outcome::NotChecked),
            self.in_flight,
            self.cleaned,
            self.started.elapsed().as_secs_f64()
        )
    }
}

/// Every domain of `work` the run ended without getting to, after `e` ended it: not checked when
/// it was submitted, else not submitted, with `e` as the reason.
pub(super) fn settle(work: &mut [Work], e: &Error) {
    for w in work.iter_mut().filter(|w| w.row.outcome.is_none()) {
        let outcome = if w.record.is_some() {
            Outcome::NotChecked
        } else {
            Outcome::NotSubmitted
        };
        give_up(w, outcome, e);
    }
}

/// The error of a run stopped by `signal` (every domain settled first), saying what was done and
/// `removed`.
pub(super) fn stopped(signal: i32, work: &mut [Work], removed: &str) -> Error {
    let interrupted = Error::interrupted(signal);
    settle(work, &interrupted);
    Error::new(
        Kind::Interrupted(signal),
        format!(
            "{}: revalidate stopped with {}; {removed}; run revalidate again for the rest",
            interrupted.message(),
            tally(work)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::super::Row;
    use super::*;

    fn work(outcome: Option<Outcome>) -> Work {
        Work {
            row: Row {
                domain: "a.example.test".into(),
                domain_id: 1,
                method: "dns-txt-token".into(),
                validation_types: vec!["ov".into()],
                expires_before: None,
                expires_after: None,
                outcome,
                reason: None,
            },
            method: None,
            record: None,
        }
    }

    #[test]
    fn settle_gives_every_domain_the_run_never_got_to_an_outcome_and_a_reason() {
        let sigterm = signal_hook::consts::SIGTERM;
        let submitted = || {
            let mut w = work(None);
            w.record = Some(crate::record::Record::new_dns(
                "a.example.test",
                crate::record::RecordType::Txt,
                "a.example.test",
                "token",
            ));
            w
        };
        for (error, reason) in [
            (Error::interrupted(sigterm), "interrupted by SIGTERM"),
            (Error::config("cannot read x"), "cannot read x"),
        ] {
            let mut all = vec![
                work(Some(Outcome::Validated)),
                work(None),
                submitted(),
                work(Some(Outcome::Skipped)),
            ];
            settle(&mut all, &error);
            let rows: Vec<(&str, Option<&str>)> = all
                .iter()
                .map(|w| {
                    (
                        w.row.outcome.map_or("", Outcome::as_str),
                        w.row.reason.as_deref(),
                    )
                })
                .collect();
            assert_eq!(
                rows,
                [
                    ("validated", None),
                    ("not submitted", Some(reason)),
                    ("not checked", Some(reason)),
                    ("skipped", None)
                ]
            );
        }
        // The message counts every domain, and the counts add up to the selection.
        let mut all = vec![
            work(Some(Outcome::Validated)),
            work(Some(Outcome::Failed)),
            work(None),
            submitted(),
        ];
        let message = stopped(sigterm, &mut all, "removed").to_string();
        assert!(
            message.contains(
                "1 domain(s) validated, 1 failed, 1 not checked, 1 not submitted (of 4 domain(s) selected)"
            ),
            "{message}"
        );
    }
}
