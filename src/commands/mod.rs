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
    let outcome = auth::publish_and_check(ctx, report)
        .and_then(|()| crate::signals::check())
        .and_then(|()| verify::verify_with(ctx, report, true));
    if crate::signals::pending().is_some() {
        crate::ui::progress(
            "interrupted: cleaning up before exiting (a second signal exits at once)",
        );
    }
    let before = removed(report);
    let cleanup_outcome = cleanup(ctx, report);
    match outcome {
        Ok(()) => cleanup_outcome.and(crate::signals::check()),
        Err(e) => Err(e.note(after_cleanup(cleanup_outcome, removed(report) - before))),
    }
}

/// How many records the report says were removed.
fn removed(report: &Report) -> usize {
    report
        .records
        .iter()
        .filter(|r| r.action == "removed")
        .count()
}

/// What run's cleanup did after auth or verify failed, for the end of that failure's line: the
/// failure no longer tells the whole story (auth's "the records stay published" is no longer true
/// once cleanup removed them).
fn after_cleanup(cleanup: Result<()>, removed: usize) -> String {
    match (cleanup, removed) {
        (Ok(()), 0) => "cleanup then found nothing to remove".to_string(),
        (Ok(()), n) => format!("cleanup then removed the {n} record(s) it had published"),
        (Err(e), _) => format!(
            "cleanup failed too ({}); what it could not remove stays recorded: run `dcv-hook cleanup`",
            e.message()
        ),
    }
}
