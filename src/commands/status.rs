//! `status`: DigiCert's view of an order's or a domain's validation, as a table or JSON.

use crate::config::Target;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::output::Report;
use crate::source::certcentral::domain_id;

pub fn status(ctx: &Context, report: &mut Report) -> Result<()> {
    let api = ctx.api()?;
    match &ctx.cfg.target {
        Target::Order { id, .. } => {
            let v = api.order_validation(*id)?;
            report.say(format!(
                "order {id}: {} (method {})",
                v.order_status.as_deref().unwrap_or("unknown"),
                v.order_dcv_method.as_deref().unwrap_or("unknown")
            ));
            report.say(format!("{:<40} {:<10} {}", "NAME SCOPE", "STATUS", "NAMES"));
            for d in &v.dns_name_validations {
                report.say(format!(
                    "{:<40} {:<10} {}",
                    d.name_scope,
                    d.status,
                    d.dns_names.join(", ")
                ));
            }
            report.validation = Some(serde_json::to_value(&v).unwrap_or_default());
        }
        Target::Domain { id, name } => {
            let id = domain_id(api, *id, name.as_ref())?;
            let v = api.domain_validations(id)?;
            report.say(format!("domain {id}"));
            report.say(format!(
                "{:<6} {:<10} {:<12} {}",
                "TYPE", "STATUS", "DCV", "VALID UNTIL"
            ));
            for d in &v.validations {
                report.say(format!(
                    "{:<6} {:<10} {:<12} {}",
                    d.vtype,
                    d.status.as_deref().unwrap_or("-"),
                    d.dcv_status.as_deref().unwrap_or("-"),
                    d.validated_until.as_deref().unwrap_or("-")
                ));
            }
            report.validation = Some(serde_json::to_value(&v).unwrap_or_default());
        }
        Target::Unspecified { .. } => {
            return Err(Error::usage(
                "status needs --order-id, --domain-id or --domain",
            ));
        }
        Target::Account { .. } => {
            return Err(Error::software(
                "the account's status is revalidate's listing (commands::status chooses it)",
            ));
        }
        Target::Acme(_) => {
            return Err(Error::usage(
                "status shows DigiCert's view; ACME challenges have none here (ask the ACME client)",
            ));
        }
    }
    Ok(())
}
