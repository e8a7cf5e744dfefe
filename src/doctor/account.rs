//! The doctor's look at one CertCentral account (run once per configured `[[account]]`, see
//! `each_account.rs`): is its key accepted on its platform, and does it hold each name's domain
//! (the name itself or a parent)? A name no domain of the account matches is a warning (another
//! account may hold it); a refused key (77) or an unavailable DigiCert (69) fails this account.

use super::{Finding, Severity};
use crate::config::Target;
use crate::context::Context;
use crate::error::{Kind, Result};
use crate::output::Report;

/// Checks the account `ctx` is set up for against the target's names; findings go to `report`.
pub fn check(ctx: &Context, report: &mut Report) -> Result<()> {
    let api = ctx.api()?;
    let account = ctx.cfg.account.as_deref().unwrap_or("default");
    let names = match &ctx.cfg.target {
        Target::Unspecified { names } | Target::Account { names } => names.as_slice(),
        _ => &[],
    };
    let mut findings = Vec::new();
    for name in names {
        let finding = match api.find_domain(name.base()) {
            Ok(found) => Finding::ok(
                "digicert.account.domain",
                format!("account {account}"),
                format!(
                    "holds {} (domain {}, DCV method {})",
                    found.name,
                    found.id,
                    found.dcv_method.as_deref().unwrap_or("not set")
                ),
            ),
            Err(e) if e.kind() == Kind::DataErr => Finding::new(
                "digicert.account.absent",
                Severity::Warns,
                format!("account {account}"),
                format!("no domain of this account matches {name} or a parent"),
                "validate it with --account naming the account that holds it, or add the domain there",
            ),
            Err(e) => return Err(e.context(format!("account {account}"))),
        };
        findings.push(finding.about(name.as_str()));
    }
    super::record(report, &findings);
    Ok(())
}
