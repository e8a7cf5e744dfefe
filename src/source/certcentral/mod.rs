//! CertCentral as a token source: turns `--order-id` / `--domain-id` / `--domain` into records,
//! asking CertCentral as DESIGN.md's "What is validated" says, and verifies with DigiCert.
//!
//! Orders: the names not approved yet (`dns_name_validations`), DNS methods at each `name_scope`,
//! http-token at each of `dns_names`; the order's one random value, after switching the order's
//! method when it differs. Domains: the id (looked up by name, trying parents), a validation submitted
//! with the validation types, and the token it returned or a fresh one; with http-token-dynamic the
//! record moves to the file the token's `http_token_url` names, once `dcv::at_token_url` accepts it. In `--dry-run` only GETs are
//! made and the token is a placeholder. Verify is DigiCert's check (`check-dcv`,
//! `validate-token`); "not valid yet" is `TempFail` (75) and only that is retried with `--wait`.
//!
//! Jobs: `plan.rs` (what to publish: orders, domains), `check.rs` (what DigiCert's checks say),
//! this file (the token source and verify's wait).

mod check;
mod plan;

pub use check::check_domain;
pub use plan::{DRY_RUN_TOKEN, domain_id, token_record};

use super::{Plan, TokenSource};
use crate::certcentral::CertCentral;
use crate::config::Target;
use crate::context::Context;
use crate::dcv::DomainName;
use crate::error::{Error, Kind, Result};
use crate::output::Report;
use crate::retry::{Policy, Retry};
use crate::state::Entry;
use crate::ui;
use check::check_order;
use std::time::{Duration, Instant};

/// Longest pause between two checks while `verify --wait` waits.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// An order or a domain at CertCentral.
pub struct CertCentralSource {
    pub target: Target,
}

impl TokenSource for CertCentralSource {
    fn plan(&self, ctx: &Context) -> Result<Plan> {
        let method = ctx
            .cfg
            .method
            .ok_or_else(|| Error::usage("auth needs --method"))?;
        plan::plan(&ctx.cfg, &self.target, ctx.api()?, method)
    }

    fn verify(&self, ctx: &Context, report: &mut Report, wait: bool) -> Result<()> {
        let cfg = &ctx.cfg;
        let api = ctx.api()?;
        let (what, check) = self.check_for(api)?;
        if cfg.dry_run {
            report.say(format!("dry run: would ask DigiCert to check {what}"));
            return Ok(());
        }
        let policy = Policy {
            attempts: if wait { None } else { Some(1) },
            first: cfg.polling.interval,
            max: MAX_PAUSE,
            jitter: false,
        };
        let deadline = Instant::now() + cfg.verify_timeout;
        // The API's own retries (5xx, 429 with Retry-After) must not carry a check past --timeout.
        api.set_deadline(Some(deadline));
        let mut retry = Retry::new(policy, Some(deadline));
        loop {
            match check() {
                Ok(validation) => {
                    report.say(format!("DigiCert validated {what}"));
                    report.validation = Some(validation);
                    return Ok(());
                }
                // Only "not valid yet" is worth asking again; everything else is final.
                Err(e) if e.kind() == Kind::TempFail => match retry.pause(None) {
                    Some(pause) => {
                        ui::progress(&format!(
                            "{e}; checking again in {:.1}s",
                            pause.as_secs_f64()
                        ));
                        crate::signals::sleep(pause)?;
                    }
                    None if wait => {
                        return Err(e.context(format!(
                            "still not valid after {:.0}s (--timeout)",
                            cfg.verify_timeout.as_secs_f64()
                        )));
                    }
                    None => return Err(e),
                },
                Err(e) => return Err(e),
            }
        }
    }

    fn selects(&self, entry: &Entry) -> bool {
        let domain = entry.published.record.domain.as_str();
        let base = domain.trim_start_matches("*.");
        let name_matches = |names: &[DomainName]| {
            names.is_empty()
                || names
                    .iter()
                    .any(|n| n.as_str() == domain || n.base() == base)
        };
        match &self.target {
            Target::Order { id, names } => {
                entry.source.order_id == Some(*id) && name_matches(names)
            }
            Target::Domain { id: Some(id), .. } => entry.source.domain_id == Some(*id),
            Target::Domain { id: None, name } => name.as_ref().is_none_or(|n| n.base() == base),
            Target::Unspecified { names } => name_matches(names),
            Target::Acme(_) | Target::Account { .. } => false,
        }
    }
}

impl CertCentralSource {
    /// What `verify` checks, named for messages, and the call that asks DigiCert once.
    fn check_for<'a>(&self, api: &'a CertCentral) -> Result<(String, Check<'a>)> {
        match &self.target {
            Target::Order { id, names } => {
                let id = *id;
                // -d narrows what is checked too, or the names left out would fail the check.
                let names: Vec<String> = names.iter().map(|n| n.base().to_string()).collect();
                let what = if names.is_empty() {
                    format!("order {id}")
                } else {
                    format!("order {id} ({})", names.join(", "))
                };
                Ok((what, Box::new(move || check_order(api, id, &names))))
            }
            Target::Domain { id, name } => {
                let id = domain_id(api, *id, name.as_ref())?;
                Ok((
                    format!("domain {id}"),
                    Box::new(move || check_domain(api, id)),
                ))
            }
            _ => Err(Error::usage(
                "verify needs --order-id, --domain-id or --domain",
            )),
        }
    }
}

/// One call asking DigiCert whether a validation is done: its answer when it is.
type Check<'a> = Box<dyn Fn() -> Result<serde_json::Value> + 'a>;
