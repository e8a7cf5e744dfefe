//! `revalidate` (and `status --expiring-within`): keep every domain of a CertCentral account validated.
//!
//! Lists the account's domains once (paginated), selects the active ones whose OV or EV validation
//! expires within `--expiring-within DAYS` (default 30) or has expired, narrowed by `-d` and
//! `--validation-type`. Then, for the whole selection at once: submit each for validation (its token
//! comes back, or is asked for), publish **all** records together (one UPDATE per zone, each
//! `[[zone]]` with its own provider), wait once for every authoritative server, ask DigiCert to check
//! each token, and clean up everything whatever happened. One domain's failure (a zone down, a token
//! DigiCert cannot see) never stops the others. At most 3 requests per domain plus retries, and the
//! client keeps DigiCert's rate limit. Domains on email DCV are not switched unless `--method` says
//! so (switching changes the domain at DigiCert); they are reported as still needing validation.
//!
//! Exit 0 when every selected domain ends validated, 75 when some do not (each named on stderr).

use crate::certcentral::types::DomainSummary;
use crate::config::Target;
use crate::context::Context;
use crate::dates;
use crate::dcv::{DomainName, Method, placement};
use crate::error::{Error, Result};
use crate::output::Report;
use crate::pipeline::Publishers;
use crate::pipeline::{cleanup_where, discover_servers, follow_cnames, publish_recorded};
use crate::propagation::{Observation, poll_all};
use crate::record::Record;
use crate::source::certcentral::check_domain;
use crate::state::Source;
use crate::ui;
use serde::Serialize;

pub use crate::config::DEFAULT_EXPIRING_WITHIN_DAYS;

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
    if work.is_empty() {
        return Ok(());
    }
    if cfg.dry_run {
        for w in work.iter_mut().filter(|w| w.row.outcome.is_empty()) {
            w.row.outcome = "would validate".into();
        }
        return finish(report, work, false);
    }
    // Every provider setting is checked before DigiCert is asked to change anything.
    let mut publishers = Publishers::build(ctx)?;

    // 1. Submit each domain and get its token (1-2 requests each).
    for w in work.iter_mut().filter(|w| w.row.outcome.is_empty()) {
        let method = w.method.expect("selected with a method");
        match submit(ctx, w, method) {
            Ok(record) => w.record = Some(record),
            Err(e) => fail(w, &e),
        }
    }

    // 2. Publish all records together, each group with its provider; a group that fails is tried
    //    again one record at a time, so one bad zone fails only its own domains.
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

    // 3. Wait once for every authoritative server of every published record.
    let outcome = wait_and_check(ctx, &mut work, &published, report);

    // 4. Clean up everything this run published, whatever happened.
    let ids: Vec<u64> = published.iter().map(|&i| work[i].row.domain_id).collect();
    let cleaned = cleanup_where(ctx, report, &|e| {
        e.source.domain_id.is_some_and(|id| ids.contains(&id))
            && published.iter().any(|&i| {
                work[i].record.as_ref() == Some(&e.published.record)
                    || work[i].row.domain == e.published.record.domain
            })
    });
    outcome?;

    // 5. The expiry DigiCert reports now (one listing for the whole account).
    if let Ok(after) = api.list_domains() {
        for w in &mut work {
            if let Some(d) = after.iter().find(|d| d.id == w.row.domain_id) {
                w.row.expires_after = earliest_expiry(d, &w.row.validation_types);
            }
        }
    }
    let result = finish(report, work, true);
    cleaned.and(result)
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
        let current = d.dcv_method.as_deref().map(Method::parse);
        let (method, outcome, reason) = match (cfg.method, current) {
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
        };
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
    times.into_iter().flatten().min().map(dates::format_date)
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

/// Waits once for every published record (each server independently), then asks DigiCert to check
/// each domain whose record every server serves.
fn wait_and_check(
    ctx: &Context,
    work: &mut [Work],
    published: &[usize],
    report: &mut Report,
) -> Result<()> {
    let mut probes = Vec::new();
    let mut owner: Vec<usize> = Vec::new();
    for &i in published {
        let record = work[i].record.clone().expect("published");
        if !ctx.cfg.propagation_check {
            continue;
        }
        match discover_servers(ctx, std::slice::from_ref(&record)) {
            Ok(found) => {
                owner.extend(std::iter::repeat_n(i, found.len()));
                probes.extend(found);
            }
            Err(e) => fail(&mut work[i], &e),
        }
    }
    if !probes.is_empty() {
        ui::progress(&format!(
            "waiting for {} record(s) on every authoritative server, up to {}s",
            published.len(),
            crate::propagation::seconds(ctx.cfg.polling.timeout)
        ));
        let outcomes = poll_all(&probes, ctx.cfg.polling, &|line| ui::progress(line))?;
        for ((probe, outcome), &i) in probes.iter().zip(&outcomes).zip(&owner) {
            if work[i].row.outcome.is_empty() && outcome.as_ref() != Some(&Observation::Served) {
                let what = match outcome {
                    Some(Observation::Missing(m)) => format!("answered {m}"),
                    Some(Observation::Unreachable(why)) => format!("unreachable: {why}"),
                    _ => "not asked".to_string(),
                };
                fail(
                    &mut work[i],
                    &Error::temp_fail(format!(
                        "{} did not serve {} within --propagation-timeout ({what})",
                        probe.server(),
                        probe.record().name
                    )),
                );
            }
        }
    }
    let api = ctx.api()?;
    for &i in published {
        if !work[i].row.outcome.is_empty() {
            continue;
        }
        let id = work[i].row.domain_id;
        match check_domain(api, id) {
            Ok(_) => work[i].row.outcome = "validated".into(),
            Err(e) => fail(&mut work[i], &e),
        }
    }
    report.changed = true;
    Ok(())
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
