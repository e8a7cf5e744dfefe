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
//! once: no new request, the checks in flight no longer waited for (they are idempotent), everything
//! published removed, the message says what was done (130/143). At most 3 requests per domain plus
//! retries; when DigiCert fails a run of domains in a row, no new domain starts (`breaker`) and the
//! run ends 69. Every selected domain ends with an outcome: `validated`, `failed`, `skipped`, or
//! `not checked` / `not submitted` for one the run stopped short of. Domains on email DCV are not
//! switched unless `--method` says so (switching changes the domain at DigiCert); they are reported
//! as still needing validation.
//! A terminal shows one status line; `--metrics-file` gets a Prometheus textfile after the run (or,
//! over several accounts, the caller writes one file for all).
//!
//! Exit 0 when every selected domain ends validated, 75 when some do not (each named on stderr).
//!
//! This file holds the command's steps; each step's work is in its own file: `select` (which domains
//! are due), `submit` (their tokens), `publish` (their records), `check` (the concurrent wait, check
//! and cleanup), `run` (its bookkeeping), `breaker` (when DigiCert is down) and `report` (the table,
//! JSON and metrics).

mod breaker;
mod check;
mod outcome;
mod publish;
mod report;
mod run;
mod select;
mod submit;

use crate::certcentral::CertCentral;
use crate::certcentral::types::DomainSummary;
use crate::context::Context;
use crate::dates;
use crate::dcv::Method;
use crate::error::{Error, Kind, Result};
use crate::output::Report;
use crate::pipeline::Publishers;
use crate::record::Record;
use breaker::Breaker;
use check::check_as_served;
use outcome::Outcome;
use publish::publish_all;
use report::{finish, run_metrics};
use run::{settle, stopped};
use select::{earliest_expiry_time, select};
use serde::Serialize;
use std::time::Instant;
use submit::{side_by_side, submit};

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
    /// What became of it (`None` only while the run is at it).
    pub outcome: Option<Outcome>,
    /// Why, for every outcome but validated.
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
        for w in work.iter_mut().filter(|w| w.row.outcome.is_none()) {
            w.row.outcome = Some(Outcome::WouldValidate);
        }
        return finish(report, work, false);
    }
    // Every provider setting is checked before DigiCert is asked to change anything; when that
    // fails, nothing is attempted: each domain says so, and the error says why, once.
    let breaker = Breaker::default();
    let (outcome, attempted) = if work.is_empty() {
        (Ok(()), false)
    } else {
        match Publishers::build(ctx) {
            Ok(mut publishers) => (
                validate_all(ctx, &mut publishers, &mut work, report, &breaker),
                true,
            ),
            Err(e) => (Err(e), false),
        }
    };
    // Stopped by a signal, or DigiCert is down: no more requests, and no list of every domain.
    let cut_short = breaker.tripped().is_some()
        || matches!(&outcome, Err(e) if matches!(e.kind(), Kind::Interrupted(_)));
    if let Err(e) = &outcome {
        settle(&mut work, e);
    }
    // The expiry DigiCert reports now, unless told to stop or nothing was attempted.
    let after = if attempted && !cut_short {
        expiry_after(api, &mut work)
    } else {
        None
    };
    let metrics = cfg.metrics_file.as_ref().map(|path| {
        let listing = after.as_deref().unwrap_or(&domains);
        (path, run_metrics(cfg.account.clone(), listing, &work))
    });
    let result = finish(report, work, attempted && !cut_short);
    if let Some((path, mut run)) = metrics {
        run.run.ok = outcome.is_ok() && result.is_ok();
        run.run.seconds = started.elapsed().as_secs_f64();
        crate::metrics::deliver(path, cfg.metrics_sink.as_ref(), run)?;
    }
    outcome.and(result)
}

/// The expiry DigiCert reports now for each domain of `work` (one listing for the whole account);
/// the listing, for the metrics.
fn expiry_after(api: &CertCentral, work: &mut [Work]) -> Option<Vec<DomainSummary>> {
    let after = api.list_domains().ok()?;
    for w in work {
        if let Some(d) = after.iter().find(|d| d.id == w.row.domain_id) {
            w.row.expires_after =
                earliest_expiry_time(d, &w.row.validation_types).map(dates::format_date);
        }
    }
    Some(after)
}

/// Submits, publishes, waits, checks and cleans up (see the module docs); `Err` only when a signal
/// or `breaker` stopped the run (after cleaning up), a cleanup failed, or nothing could start.
fn validate_all(
    ctx: &Context,
    publishers: &mut Publishers,
    work: &mut [Work],
    report: &mut Report,
    breaker: &Breaker,
) -> Result<()> {
    // 1. Submit each domain and get its token (1-2 requests each), side by side, until DigiCert
    //    fails a run of them.
    let todo: Vec<usize> = (0..work.len())
        .filter(|&i| work[i].row.outcome.is_none())
        .collect();
    let snapshot: &[Work] = work;
    let submitted = side_by_side(
        ctx.cfg.check_concurrency,
        &todo,
        || breaker.tripped().is_some(),
        |i| {
            let w = &snapshot[i];
            let token = submit(ctx, w, w.method.expect("selected with a method"));
            breaker.record(&token);
            token
        },
    );
    for (i, result) in submitted {
        match result {
            Ok(record) => work[i].record = Some(record),
            // Cut short: the others left unsubmitted say so (`settle`).
            Err(e) if matches!(e.kind(), Kind::Interrupted(_)) => {}
            Err(e) => fail(&mut work[i], &e),
        }
    }
    if let Some(signal) = crate::signals::pending() {
        return Err(stopped(signal, work, "nothing was published"));
    }
    if let Some(down) = breaker.tripped() {
        // Publishing what was submitted would only wait for checks that cannot start.
        return Err(down);
    }

    // 2. Publish all records together, each group with its provider; a group that fails is tried
    //    again one record at a time, so one bad zone fails only its own domains.
    let published = publish_all(ctx, publishers, work, report)?;

    // 3. Check each domain as soon as it is served; clean up as domains finish.
    check_as_served(ctx, work, &published, report, breaker)
}

/// `status --expiring-within DAYS`: the same selection, read-only.
pub fn status(ctx: &Context, report: &mut Report) -> Result<()> {
    let domains = ctx.api()?.list_domains()?;
    let mut work = select(ctx, &domains)?;
    let now = dates::now();
    for w in work.iter_mut().filter(|w| w.row.outcome.is_none()) {
        let expired = w
            .row
            .expires_before
            .as_deref()
            .and_then(dates::parse)
            .is_none_or(|t| t <= now);
        w.row.outcome = Some(if expired {
            Outcome::Expired
        } else {
            Outcome::Expiring
        });
    }
    report.say(format!(
        "{} of {} domains expire within {} days or have expired",
        work.len(),
        domains.len(),
        ctx.cfg.expiring_within
    ));
    finish(report, work, false)
}

/// Marks `w` failed, with `e` as the reason.
fn fail(w: &mut Work, e: &Error) {
    give_up(w, Outcome::Failed, e);
}

/// Gives `w` its `outcome` (not validated), with `why` as the reason.
fn give_up(w: &mut Work, outcome: Outcome, why: &Error) {
    w.row.outcome = Some(outcome);
    w.row.reason = Some(why.to_string());
}
