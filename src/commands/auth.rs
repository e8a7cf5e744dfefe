//! `auth`: get the records from the token source, publish them, wait until every server serves them.
//!
//! The source (CertCentral or an ACME client, `source/`) says what to publish; everything after that
//! is shared. State is written before anything is published (status pending) and updated after, so
//! `cleanup` can undo a partial run (the pipeline's job, `pipeline/`). The servers to wait for are
//! found before anything is published, so a name that cannot be resolved leaves nothing behind. On
//! a propagation timeout the records stay published and recorded: `cleanup` removes them, or a new
//! `auth` waits again. In a batched ACME run (certbot) every call but the last publishes and
//! returns; the last waits for the whole run.

use crate::context::Context;
use crate::error::Result;
use crate::output::{RecordReport, Report};
use crate::pipeline::Publishers;
use crate::pipeline::{discover_servers, follow_cnames, publish_recorded, wait_for_propagation};
use crate::record::Record;
use crate::source::{self, Batch, Plan};
use crate::state::StateDir;
use crate::ui;

/// The `auth` command: [`publish_and_check`], and a stop by a signal says the records stay.
pub fn auth(ctx: &Context, report: &mut Report) -> Result<()> {
    publish_and_check(ctx, report).map_err(|e| match e.kind() {
        crate::error::Kind::Interrupted(_) if !report.records.is_empty() => {
            e.note("the records stay published and recorded for cleanup")
        }
        _ => e,
    })
}

/// auth's work, for `auth` and `run` (which cleans up after it, so says what became of the records
/// itself).
pub fn publish_and_check(ctx: &Context, report: &mut Report) -> Result<()> {
    let outcome = auth_inner(ctx, report);
    match (outcome, &ctx.cfg.target) {
        // ACME clients (certbot above all) only warn when a hook fails and then let the CA fail the
        // validation: the one error line (printed whatever -q says) starts by saying so plainly.
        (Err(e), crate::config::Target::Acme(_)) => Err(e.context(
            "AUTH FAILED, the ACME challenge is not served and the CA's validation will fail",
        )),
        (outcome, _) => outcome,
    }
}

fn auth_inner(ctx: &Context, report: &mut Report) -> Result<()> {
    let cfg = &ctx.cfg;
    // Every provider setting (the command line's and each [[zone]]'s) is checked, and every secret
    // read, before the token source may change anything at the CA (switching an order's method,
    // submitting a domain).
    let mut publishers = Publishers::build(ctx)?;
    if cfg.preflight {
        crate::doctor::preflight(ctx, report)?;
    }
    let plan = source::for_config(cfg).plan(ctx)?;
    for name in &plan.already_approved {
        report.say(format!("{name} is already validated at DigiCert"));
    }
    if !cfg.dry_run {
        for note in &plan.notes {
            report.say(note.clone());
        }
    }
    if plan.records.is_empty() {
        report.say("nothing to publish: every name is validated already");
        return Ok(());
    }
    let records = follow_cnames(ctx, &plan.records)?;
    let groups = publishers.route(ctx, &records)?;
    if cfg.dry_run {
        for (index, group) in &groups {
            let pname = publishers.get(*index).provider();
            for r in group {
                report.add_record(RecordReport::new(r, pname, "would publish"));
            }
        }
        for note in &plan.notes {
            report.say(note.clone());
        }
        return Ok(());
    }
    publish_and_wait(ctx, &mut publishers, &groups, &plan, &records, report)
}

/// Publishes every group and waits until every server serves the records (in a batched ACME run,
/// only the last call waits, and for the whole batch).
fn publish_and_wait(
    ctx: &Context,
    publishers: &mut Publishers,
    groups: &[(usize, Vec<Record>)],
    plan: &Plan,
    records: &[Record],
    report: &mut Report,
) -> Result<()> {
    let waits_now =
        ctx.cfg.propagation_check && plan.batch.as_ref().is_none_or(|b| b.remaining == 0);
    // Find every server to ask before changing anything: a zone, nameserver or host that cannot be
    // resolved is then an error with nothing published.
    let probes = waits_now
        .then(|| discover_servers(ctx, records))
        .transpose()?;
    for (index, group) in groups {
        let sources = vec![plan.source.clone(); group.len()];
        publish_recorded(ctx, publishers.get(*index), group, &sources, report)?;
    }
    if let Some(batch) = plan.batch.as_ref().filter(|b| b.remaining > 0) {
        report.say(format!(
            "published; {} more challenge(s) of this run to come, the last one waits for all",
            batch.remaining
        ));
        return Ok(());
    }
    let Some(mut probes) = probes else {
        report.say("not waiting for propagation (--no-propagation-check)");
        return Ok(());
    };
    if let Some(batch) = &plan.batch {
        let earlier = batch_records(ctx, batch, records)?;
        if !earlier.is_empty() {
            probes.extend(discover_servers(ctx, &earlier)?);
        }
    }
    wait_for_propagation(ctx, &probes, report).map_err(|e| {
        let waited: Vec<Record> = probes.iter().map(|p| p.record().clone()).collect();
        crate::doctor::explain(ctx, &waited, e, report)
    })
}

/// The records published by the earlier calls of `batch` (certbot's run) that `own` does not hold.
fn batch_records(ctx: &Context, batch: &Batch, own: &[Record]) -> Result<Vec<Record>> {
    let state = StateDir::open(&ctx.cfg.state_dir)?;
    let entries = state.load_all(&state.lock()?)?;
    let mut records: Vec<Record> = Vec::new();
    for e in entries {
        let in_batch = e
            .source
            .acme
            .as_ref()
            .is_some_and(|a| a.batch.as_deref() == Some(batch.key.as_str()));
        let r = e.published.record;
        if in_batch && !own.contains(&r) && !records.contains(&r) {
            records.push(r);
        }
    }
    if !records.is_empty() {
        ui::progress(&format!(
            "last challenge of the run: waiting for {} earlier record(s) too",
            records.len()
        ));
    }
    Ok(records)
}
