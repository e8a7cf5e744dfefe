//! `cleanup`: remove exactly what `auth` recorded and restore what it replaced.
//!
//! Entries are selected by the token source (`--order-id`, `--domain-id`, `--domain`, an ACME
//! client's challenge; none selects all); the rest is the pipeline's ([`pipeline::cleanup_where`]).
//! A persistent DCV record is never cleanup's, whatever selects it: it is meant to stay, and only
//! `persist --remove` (or a `persist` that replaces it) takes it away.

use crate::context::Context;
use crate::error::Result;
use crate::output::Report;
use crate::pipeline;
use crate::source;

pub fn cleanup(ctx: &Context, report: &mut Report) -> Result<()> {
    let source = source::for_config(&ctx.cfg);
    pipeline::cleanup_where(ctx, report, &|e| !e.is_persistent() && source.selects(e))
}
