//! The doctor: every check that predicts a failed domain validation, run before (or after) the CA's
//! own, changing nothing at DigiCert or in DNS.
//!
//! A [`Subject`] is one name being validated and the record the CA will look for (where, not
//! necessarily what: DigiCert's token is not fetched, since fetching one changes the order). Each
//! family of checks lives in its own file or folder (`dns/`: the challenge name's CNAME chain,
//! nameservers, serials, delegation and what the name holds; `dnssec.rs`: DS, DNSKEY and RRSIGs of
//! signed zones; `caa.rs`: CAA per RFC 8659; `http/`: every web address, a throwaway probe file and
//! the CA's redirect rules) and returns [`Finding`]s with a stable code, a severity, what it
//! concerns, what was seen and one line on what to do. [`examine`] runs the families for every
//! subject, several at once (`pool.rs`), each zone and host once, within [`TIME_LIMIT`], and fails
//! only on a signal: a check that cannot run is itself a finding ([`Severity::Unchecked`]). The
//! only change anywhere is the HTTP probe file, recorded in the state and removed again.

pub mod account;
pub mod caa;
pub mod credentials;
pub mod dns;
pub mod http;
pub mod persist;
pub mod pool;
pub mod target;

use crate::context::Context;
use crate::error::{Kind, Result};
use crate::record::Record;
use crate::resolver::Resolver;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Timeout of one DNS question or HTTP connect, as DigiCert's own checker uses (2 s).
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// How much a finding matters to the CA's check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The CA's check will fail (or fail some of the time) until this is fixed.
    Blocks,
    /// The check could not run, so nothing is known (the doctor's own reach, not the setup).
    Unchecked,
    /// Likely trouble, or trouble for some CAs or some of the time.
    Warns,
    /// Checked and fine.
    Ok,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Blocks => "blocks",
            Severity::Unchecked => "unchecked",
            Severity::Warns => "warns",
            Severity::Ok => "ok",
        }
    }
}

/// One thing the doctor found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable code, `family.what[.detail]` (docs/doctor.md lists them).
    pub code: &'static str,
    pub severity: Severity,
    /// The name being validated it concerns.
    pub name: String,
    /// The server, address or record it concerns.
    pub subject: String,
    /// What was seen.
    pub seen: String,
    /// What to do (empty when nothing is to be done).
    pub fix: String,
}

impl Finding {
    pub fn new(
        code: &'static str,
        severity: Severity,
        subject: impl Into<String>,
        seen: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            code,
            severity,
            name: String::new(),
            subject: subject.into(),
            seen: seen.into(),
            fix: fix.into(),
        }
    }

    /// A finding that all is well: nothing to fix.
    pub fn ok(code: &'static str, subject: impl Into<String>, seen: impl Into<String>) -> Finding {
        Finding::new(code, Severity::Ok, subject, seen, "")
    }

    /// A check that could not run because of `error` (the resolver failed, say).
    pub fn unchecked(subject: impl Into<String>, error: &crate::error::Error) -> Finding {
        Finding::new(
            "doctor.unchecked",
            Severity::Unchecked,
            subject,
            error.to_string(),
            "make the resolver (--resolver) and the servers reachable from here, then run doctor again",
        )
    }

    /// The same finding about `name`.
    pub fn about(mut self, name: &str) -> Finding {
        self.name = name.to_string();
        self
    }

    /// One line: `blocks dns.ns.refused ns3.example.test (192.0.2.3): answered REFUSED; fix: ...`.
    pub fn line(&self) -> String {
        let fix = match self.fix.as_str() {
            "" => String::new(),
            fix => format!("; fix: {fix}"),
        };
        let (code, subject, seen) = (self.code, &self.subject, &self.seen);
        format!("{} {code} {subject}: {seen}{fix}", self.severity.as_str())
    }

    /// The finding as the JSON report lists it.
    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// What the CA will check for one name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// Where the CA looks: the DNS record (TXT or CNAME at its name) or the HTTP URL. The value is
    /// the token when known (ACME), else empty. Its `domain` is the name as validated
    /// (`*.example.com` for a wildcard).
    pub record: Record,
    /// An ACME challenge (dns-01, http-01) rather than DigiCert's DCV: CAA is checked for
    /// `--ca-identifier`, and the redirect rules are ACME's.
    pub acme: bool,
    /// The record is published already (diagnosing a failed wait): the HTTP checks fetch it
    /// instead of publishing a probe file.
    pub published: bool,
}

impl Subject {
    pub fn is_wildcard(&self) -> bool {
        self.record.domain.starts_with("*.")
    }

    /// The name without a wildcard label.
    pub fn base(&self) -> &str {
        self.record.domain.trim_start_matches("*.")
    }
}

/// The default `--ca-identifier` in ACME mode.
pub const DEFAULT_ACME_CA: &str = "letsencrypt.org";

/// The doctor's whole run for the configured target: how many names, and the findings sorted.
pub fn run(ctx: &Context) -> Result<(usize, Vec<Finding>)> {
    let (subjects, mut findings) = target::subjects_and_findings(ctx)?;
    findings.extend(examine(ctx, &subjects, None)?);
    sort(&mut findings);
    Ok((subjects.len(), findings))
}

/// `auth --preflight`: the doctor's run before anything changes. An error (75) when something
/// blocks, its findings in the report; a warning when something could not be checked.
pub fn preflight(ctx: &Context, report: &mut crate::output::Report) -> Result<()> {
    let (_, findings) = run(ctx)?;
    record(report, &findings);
    match verdict(&findings) {
        Some(e) if e.kind() == Kind::TempFail => {
            Err(e.context("preflight (nothing was published or changed at DigiCert)"))
        }
        Some(e) => {
            crate::ui::warn(&format!("preflight: {e}; going on"));
            Ok(())
        }
        None => Ok(()),
    }
}

/// How long a diagnosis after a failed wait or check may start new checks.
pub const DIAGNOSIS_BUDGET: Duration = Duration::from_secs(3);

/// `error` (a failed wait, or DigiCert's "not validated"), explained by the doctor: what it finds
/// wrong with `records`, published already and not (all) served, goes to stderr (also under
/// certbot) and into the JSON report, and the first finding that blocks into the error line. The
/// checks run on the published records themselves (no probe file, no credentials), starting no
/// new name after [`DIAGNOSIS_BUDGET`]; only what is not fine is told, what blocks first. Other
/// errors pass through untouched; a signal stops the diagnosis (that error instead).
pub fn explain(
    ctx: &Context,
    records: &[Record],
    error: crate::error::Error,
    report: &mut crate::output::Report,
) -> crate::error::Error {
    if error.kind() != Kind::TempFail || records.is_empty() {
        return error;
    }
    let acme = matches!(ctx.cfg.target, crate::config::Target::Acme(_));
    let subjects: Vec<Subject> = unique(records)
        .into_iter()
        .map(|r| Subject {
            record: r.clone(),
            acme,
            published: true,
        })
        .collect();
    let mut findings = match examine(ctx, &subjects, Some(Instant::now() + DIAGNOSIS_BUDGET)) {
        Ok(findings) => findings,
        Err(stopped) => return stopped,
    };
    findings.retain(|f| f.severity != Severity::Ok);
    sort(&mut findings);
    for f in &findings {
        crate::ui::warn(&format!("doctor: {}", f.line()));
    }
    report.findings.extend(findings.iter().map(Finding::json));
    match findings.iter().find(|f| f.severity == Severity::Blocks) {
        Some(f) => crate::error::Error::new(
            error.kind(),
            format!(
                "{}; doctor: {} at {}: {}",
                error.message(),
                f.code,
                f.subject,
                f.fix
            ),
        ),
        None => error,
    }
}

/// How long the doctor waits for its checks (names checked [`pool::WIDTH`] at a time): what has
/// not finished by then is reported unchecked, so a run ends within this whatever the servers do.
pub const TIME_LIMIT: Duration = Duration::from_secs(30);

/// The findings of one job: DNS, HTTP, CAA, credentials, persistent records (kept apart so the
/// report lists them by family, as the checks ran before they ran at once).
type Families = [Vec<Finding>; 5];

/// `findings` as family `family` of a job's, the others empty.
fn only(family: usize, findings: Vec<Finding>) -> Families {
    let mut found = Families::default();
    found[family] = findings;
    found
}

/// Runs every check that applies to `subjects`, several names at once and each zone and host
/// once, within [`TIME_LIMIT`]; with `start_by`, no new name is started after it and the
/// credentials are not checked (a diagnosis after the fact). Stops at once on a signal (the
/// error), removing its probe files.
pub fn examine(
    ctx: &Context,
    subjects: &[Subject],
    start_by: Option<Instant>,
) -> Result<Vec<Finding>> {
    let resolver = match crate::resolver::Resolver::new(&ctx.cfg.resolvers) {
        Ok(r) => Arc::new(r.remembering_silence()),
        Err(e) => return Ok(vec![Finding::unchecked("resolver", &e)]),
    };
    let shared = Arc::new(Context::with_resolver(ctx.cfg.clone(), resolver.clone()));
    let probes = Arc::new(http::Probes::default());
    let (names, jobs): (Vec<_>, Vec<_>) = jobs(&shared, &resolver, subjects, &probes, start_by)
        .into_iter()
        .unzip();
    let limits = pool::Limits {
        start_by,
        give_up: Instant::now() + TIME_LIMIT,
    };
    let outcomes = pool::run(jobs, limits);
    let leftovers = probes.stop(ctx);
    let outcomes = outcomes.inspect_err(|_| {
        for f in &leftovers {
            crate::ui::warn(&format!("doctor: {}", f.line()));
        }
    })?;
    let mut families = only(1, leftovers);
    for (name, outcome) in names.iter().zip(outcomes) {
        match outcome {
            pool::Outcome::Done(found) => {
                for (family, f) in families.iter_mut().zip(found) {
                    family.extend(f);
                }
            }
            pool::Outcome::NotStarted => {}
            pool::Outcome::Unfinished => families[0].push(too_slow(name.as_deref())),
        }
    }
    Ok(families.into_iter().flatten().collect())
}

/// One job per subject (its DNS or HTTP checks, and CAA for the first subject of each name); for a
/// whole run (no `start_by`: not a diagnosis), one for the credentials and one per name (a
/// wildcard's base) for its persistent record. Each with the name it is about (`None`: the
/// credentials).
fn jobs(
    ctx: &Arc<Context>,
    resolver: &Arc<Resolver>,
    subjects: &[Subject],
    probes: &Arc<http::Probes>,
    start_by: Option<Instant>,
) -> Vec<(Option<String>, pool::Job<Families>)> {
    let zones = Arc::new(dns::Zones::default());
    let mut jobs: Vec<(Option<String>, pool::Job<Families>)> = Vec::new();
    for (i, subject) in subjects.iter().enumerate() {
        let caa = !subjects[..i]
            .iter()
            .any(|s| s.record.domain == subject.record.domain);
        let (ctx, resolver, zones, probes, subject) = (
            ctx.clone(),
            resolver.clone(),
            zones.clone(),
            probes.clone(),
            subject.clone(),
        );
        jobs.push((
            Some(subject.record.domain.clone()),
            Box::new(move || check_subject(&ctx, &resolver, &subject, &zones, &probes, caa)),
        ));
    }
    if start_by.is_some() {
        return jobs;
    }
    let (shared, all) = (ctx.clone(), subjects.to_vec());
    jobs.push((
        None,
        Box::new(move || only(3, credentials::check(&shared, &all))),
    ));
    for base in unique(subjects.iter().map(|s| s.base().to_string())) {
        let (ctx, resolver) = (ctx.clone(), resolver.clone());
        jobs.push((
            Some(base.clone()),
            Box::new(move || only(4, persist::check(&ctx, &resolver, &base))),
        ));
    }
    jobs
}

/// Every check of one subject.
fn check_subject(
    ctx: &Context,
    resolver: &Arc<Resolver>,
    subject: &Subject,
    zones: &dns::Zones,
    probes: &http::Probes,
    caa: bool,
) -> Families {
    let name = subject.record.domain.as_str();
    let mut found = if subject.record.is_dns() {
        only(0, dns::check_one(resolver, subject, zones))
    } else {
        let http = http::check_one(ctx, resolver, subject, probes);
        only(1, http.into_iter().map(|f| f.about(name)).collect())
    };
    if caa {
        let ca = ctx.cfg.ca_identifier.as_deref();
        found[2].push(caa::check_one(resolver, subject, ca));
    }
    found
}

/// The finding for a job not finished within [`TIME_LIMIT`]: about a name, or (`None`) the
/// credentials.
fn too_slow(name: Option<&str>) -> Finding {
    Finding::new(
        "doctor.unchecked",
        Severity::Unchecked,
        name.unwrap_or("credentials"),
        format!(
            "not checked within {}s: a server answers too slowly or not at all",
            TIME_LIMIT.as_secs()
        ),
        "make the resolver (--resolver) and the servers answer in time, then run doctor again",
    )
    .about(name.unwrap_or(""))
}

/// `items` without repeats, each where it first came.
fn unique<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut kept = Vec::new();
    for item in items {
        if !kept.contains(&item) {
            kept.push(item);
        }
    }
    kept
}

/// Puts `findings` into the report: table lines for text, objects for JSON.
pub fn record(report: &mut crate::output::Report, findings: &[Finding]) {
    for line in table(findings) {
        report.say(line);
    }
    report.findings.extend(findings.iter().map(Finding::json));
}

/// What blocks first, then what could not be checked, warnings, and what is fine; stable within.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by_key(|f| f.severity);
}

/// The error a run with `findings` ends with: `TempFail` (75) when something blocks (fix it, then
/// try again), `Unavailable` (69) when something could not be checked, `None` when all is clear.
pub fn verdict(findings: &[Finding]) -> Option<crate::error::Error> {
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let first = |s: Severity| findings.iter().find(|f| f.severity == s);
    if let Some(f) = first(Severity::Blocks) {
        return Some(crate::error::Error::temp_fail(format!(
            "{} finding(s) will make the CA's check fail, first {} at {}: {}",
            count(Severity::Blocks),
            f.code,
            f.subject,
            if f.fix.is_empty() { &f.seen } else { &f.fix }
        )));
    }
    if let Some(f) = first(Severity::Unchecked) {
        return Some(crate::error::Error::unavailable(format!(
            "{} check(s) could not run, first at {}: {}; make them reachable and run doctor again",
            count(Severity::Unchecked),
            f.subject,
            f.seen
        )));
    }
    None
}

/// The findings as an aligned text table, one finding per line and its fix below it.
pub fn table(findings: &[Finding]) -> Vec<String> {
    let code_width = findings.iter().map(|f| f.code.len()).max().unwrap_or(4);
    let mut lines = Vec::new();
    for f in findings {
        lines.push(format!(
            "{:<9} {:<code_width$} {} {}: {}",
            f.severity.as_str(),
            f.code,
            f.name,
            f.subject,
            f.seen
        ));
        if !f.fix.is_empty() {
            lines.push(format!("{:<9} {:<code_width$} fix: {}", "", "", f.fix));
        }
    }
    lines
}

#[cfg(test)]
mod tests;
