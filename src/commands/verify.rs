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
    source::for_config(&ctx.cfg).verify(ctx, report, wait)
}
