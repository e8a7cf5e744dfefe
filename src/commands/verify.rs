//! `verify`: ask DigiCert to check DCV now; with `--wait`, until it is valid or `--timeout` passes.
//!
//! "Not valid yet" (DigiCert's invalid_dns_txt / file_random_value_not_found, or a pending status) is
//! `TempFail` (75); only that is retried, with a growing pause starting at --poll-interval, so the
//! rate limit is never approached.

use crate::config::Target;
use crate::context::Context;
use crate::error::{Error, Kind, Result};
use crate::output::Report;
use crate::{target, ui};
use std::time::{Duration, Instant};

/// Longest pause between two checks while waiting.
const MAX_PAUSE: Duration = Duration::from_secs(30);

pub fn verify(ctx: &Context, report: &mut Report) -> Result<()> {
    verify_with(ctx, report, ctx.cfg.verify_wait)
}

pub fn verify_with(ctx: &Context, report: &mut Report, wait: bool) -> Result<()> {
    let cfg = &ctx.cfg;
    let api = ctx.api()?;
    let (what, check): (String, Box<dyn Fn() -> Result<serde_json::Value>>) = match &cfg.target {
        Target::Order { id, .. } => {
            let id = *id;
            (
                format!("order {id}"),
                Box::new(move || check_order(api, id)),
            )
        }
        Target::Domain { id, name } => {
            let id = target::domain_id(api, *id, name.as_ref())?;
            (
                format!("domain {id}"),
                Box::new(move || check_domain(api, id)),
            )
        }
        Target::Unspecified { .. } => {
            return Err(Error::usage(
                "verify needs --order-id, --domain-id or --domain",
            ));
        }
    };
    if cfg.dry_run {
        report.say(format!("dry run: would ask DigiCert to check {what}"));
        return Ok(());
    }
    let deadline = Instant::now() + cfg.verify_timeout;
    let mut pause = cfg.polling.interval;
    loop {
        match check() {
            Ok(validation) => {
                report.say(format!("DigiCert validated {what}"));
                report.validation = Some(validation);
                return Ok(());
            }
            Err(e) if wait && e.kind() == Kind::TempFail && Instant::now() + pause < deadline => {
                ui::progress(&format!(
                    "{e}; checking again in {:.1}s",
                    pause.as_secs_f64()
                ));
                std::thread::sleep(pause);
                pause = (pause * 2).min(MAX_PAUSE);
            }
            Err(e) if wait && e.kind() == Kind::TempFail => {
                return Err(e.context(format!(
                    "still not valid after {:.0}s (--timeout)",
                    cfg.verify_timeout.as_secs_f64()
                )));
            }
            Err(e) => return Err(e),
        }
    }
}

fn check_order(api: &crate::certcentral::CertCentral, id: u64) -> Result<serde_json::Value> {
    let r = api.check_dcv(id)?;
    let all_approved = !r.dns_name_validations.is_empty()
        && r.dns_name_validations.iter().all(|v| v.is_approved());
    let valid = r.dcv_status.as_deref() == Some("valid")
        || r.order_status.as_deref() == Some("issued")
        || all_approved;
    let json = serde_json::to_value(&r).unwrap_or_default();
    if valid {
        return Ok(json);
    }
    let pending: Vec<&str> = r
        .dns_name_validations
        .iter()
        .filter(|v| !v.is_approved())
        .map(|v| v.name_scope.as_str())
        .collect();
    Err(Error::temp_fail(format!(
        "DigiCert has not validated order {id} yet (pending: {}); verify again later",
        if pending.is_empty() {
            "unknown".to_string()
        } else {
            pending.join(", ")
        }
    )))
}

fn check_domain(api: &crate::certcentral::CertCentral, id: u64) -> Result<serde_json::Value> {
    let r = api.validate_domain_token(id)?;
    let json = serde_json::to_value(&r).unwrap_or_default();
    match r.status.as_deref() {
        Some("active") | Some("valid") | Some("approved") | Some("complete") | None => Ok(json),
        Some(other) => Err(Error::temp_fail(format!(
            "DigiCert has not validated domain {id} yet (status {other}); verify again later"
        ))),
    }
}
