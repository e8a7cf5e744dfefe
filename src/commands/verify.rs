//! `verify`: ask the token source's CA to check now; with `--wait`, until it is valid or `--timeout`
//! passes. CertCentral checks with DigiCert; in ACME mode there is nothing to ask (the ACME client
//! asks its CA), so it succeeds at once.

use crate::context::Context;
use crate::error::Result;
use crate::output::Report;
use crate::source;

pub fn verify(ctx: &Context, report: &mut Report) -> Result<()> {
    verify_with(ctx, report, ctx.cfg.verify_wait)
}

pub fn verify_with(ctx: &Context, report: &mut Report, wait: bool) -> Result<()> {
    source::for_config(&ctx.cfg)
        .verify(ctx, report, wait)
        .map_err(|e| {
            // DigiCert says "not validated": the doctor says why, for the records where it looks.
            let records: Vec<crate::record::Record> =
                match crate::doctor::target::subjects_and_findings(ctx) {
                    Ok((subjects, _)) => subjects.into_iter().map(|s| s.record).collect(),
                    Err(_) => Vec::new(),
                };
            crate::doctor::explain(ctx, &records, e, report)
        })
}
