//! What a run reports: the table (text) and rows (JSON), the exit decision when some domain is not
//! validated, and the per-domain metrics and counts for `--metrics-file`. Never talks to DigiCert.

use super::Work;
use super::outcome::Outcome;
use super::select::{earliest_expiry_time, types_of};
use crate::certcentral::types::DomainSummary;
use crate::error::{Error, Result};
use crate::metrics::{AccountRun, DomainMetric, RunMetric};
use crate::output::Report;
use crate::ui;

/// Renders the table (text) and the rows (JSON); 75 when `strict` and some domain did not end
/// validated, naming each on stderr.
pub(super) fn finish(report: &mut Report, work: Vec<Work>, strict: bool) -> Result<()> {
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
        let shown = r.outcome.map_or("", Outcome::as_str);
        let outcome = match &r.reason {
            Some(why) => format!("{shown}: {why}"),
            None => shown.to_string(),
        };
        report.say(format!(
            "{:<32} {:<16} {:<6} {:<25} {}",
            r.domain,
            r.method,
            r.validation_types.join(","),
            expiry,
            outcome
        ));
        if strict && r.outcome != Some(Outcome::Validated) {
            ui::warn(&format!(
                "{} ({}) is not validated: {outcome}",
                r.domain, r.domain_id
            ));
            not_done.push(r.domain.clone());
        }
    }
    if strict {
        report.say(tally(&work));
    }
    let mut counts = serde_json::Map::new();
    counts.insert("selected".into(), work.len().into());
    for (outcome, n) in counts_of(&work) {
        counts.insert(outcome.as_str().into(), n.into());
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

/// The run for the metrics file, as account `account`: each active domain of `listing` with its
/// DCV expiry and what this run did to it, and the counts of `work`; `ok` and `seconds` are the
/// caller's to fill in.
pub(super) fn run_metrics(
    account: Option<String>,
    listing: &[DomainSummary],
    work: &[Work],
) -> AccountRun {
    let domains = listing
        .iter()
        .filter(|d| d.is_active != Some(false))
        .map(|d| DomainMetric {
            domain: d.name.to_ascii_lowercase(),
            domain_id: d.id,
            expiry: earliest_expiry_time(d, &types_of(d, &[])),
            outcome: work
                .iter()
                .find(|w| w.row.domain_id == d.id)
                .and_then(|w| w.row.outcome)
                .map(|o| o.as_str().to_string()),
        });
    let counts = counts_of(work).into_iter();
    AccountRun {
        account,
        domains: domains.collect(),
        run: RunMetric {
            counts: counts.map(|(o, n)| (o.as_str().to_string(), n)).collect(),
            seconds: 0.0,
            finished: crate::dates::now(),
            ok: false,
        },
    }
}

/// How many domains ended in each outcome (validated always named, the others when any did), of the
/// number selected: they add up.
pub(super) fn tally(work: &[Work]) -> String {
    let counts: Vec<String> = counts_of(work)
        .into_iter()
        .filter(|(o, n)| *n > 0 || *o == Outcome::Validated)
        .enumerate()
        .map(|(k, (o, n))| match k {
            0 => format!("{n} domain(s) {}", o.as_str()),
            _ => format!("{n} {}", o.as_str()),
        })
        .collect();
    format!(
        "{} (of {} domain(s) selected)",
        counts.join(", "),
        work.len()
    )
}

/// The selected domains by outcome, for the metrics file and the JSON report.
pub(super) fn counts_of(work: &[Work]) -> Vec<(Outcome, usize)> {
    // Always these, so each has a series to alert on; they and any others add up to the selection
    // (every way a run ends gives each domain an outcome).
    let mut counts: Vec<(Outcome, usize)> = Outcome::COUNTED.iter().map(|&o| (o, 0)).collect();
    for outcome in work.iter().filter_map(|w| w.row.outcome) {
        match counts.iter_mut().find(|(o, _)| *o == outcome) {
            Some((_, n)) => *n += 1,
            None => counts.push((outcome, 1)),
        }
    }
    counts
}
