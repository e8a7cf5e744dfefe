//! `doctor`: what the CA will check for each name of the target, run as checks that change nothing,
//! reported as findings (a text table, or `findings[]` in JSON). Exit 0 when all is clear, 75 when
//! something blocks (fix it, then run auth), 69 when something could not be checked. The checks
//! are `crate::doctor`'s.

use crate::context::Context;
use crate::doctor::{self, Severity};
use crate::error::Result;
use crate::output::Report;

pub fn doctor(ctx: &Context, report: &mut Report) -> Result<()> {
    let (count, findings) = doctor::run(ctx)?;
    doctor::record(report, &findings);
    match doctor::verdict(&findings) {
        Some(e) => Err(e),
        None => {
            let warns = findings
                .iter()
                .filter(|f| f.severity == Severity::Warns)
                .count();
            report.say(format!(
                "all clear for {count} name(s): nothing blocks the CA's check ({warns} warning(s))"
            ));
            Ok(())
        }
    }
}
