//! One function per command. Each fills the [`Report`] and returns the error that decides the exit
//! code; none prints the final outcome (that is `app.rs`'s job).

mod auth;
mod cleanup;
mod doctor;
mod generate;
mod persist;
pub mod revalidate;
mod status;
mod verify;

pub use auth::auth;
pub use cleanup::cleanup;
pub use doctor::doctor;
pub use generate::{completions, generate, man_page, man_pages};
pub use persist::persist;
pub use revalidate::revalidate;
pub use verify::verify;

use crate::context::Context;
use crate::error::Result;
use crate::output::Report;

/// `run`: auth, then verify --wait, then cleanup whatever verify said; the first failure decides.
/// A first SIGINT/SIGTERM stops auth or verify at their next wait, and cleanup still runs (a second
/// signal exits at once); the exit code is then the signal's.
/// `status`: an order's or a domain's validation (`status.rs`), or with `--expiring-within` the
/// account's due domains, which is revalidate's selection, read-only (`revalidate::status`). The
/// choice is made here so that neither command imports the other.
pub fn status(ctx: &Context, report: &mut Report) -> Result<()> {
    match ctx.cfg.target {
        crate::config::Target::Account { .. } => revalidate::status(ctx, report),
        _ => status::status(ctx, report),
    }
}

pub fn run(ctx: &Context, report: &mut Report) -> Result<()> {
    let auth_outcome = auth(ctx, report);
    let verify_outcome = match &auth_outcome {
        Ok(()) => crate::signals::check().and_then(|()| verify::verify_with(ctx, report, true)),
        Err(_) => Ok(()),
    };
    if crate::signals::pending().is_some() {
        crate::ui::progress(
            "interrupted: cleaning up before exiting (a second signal exits at once)",
        );
    }
    let cleanup_outcome = cleanup(ctx, report);
    auth_outcome
        .and(verify_outcome)
        .and(cleanup_outcome)
        .and(crate::signals::check())
}
