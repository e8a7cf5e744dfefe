//! CertCentral as a token source: turns `--order-id` / `--domain-id` / `--domain` into records,
//! asking CertCentral as DESIGN.md's "What is validated" says, and verifies with DigiCert.
//!
//! Orders: the names not approved yet (`dns_name_validations`), DNS methods at each `name_scope`,
//! http-token at each of `dns_names`; the order's one random value, after switching the order's
//! method when it differs. Domains: the id (looked up by name, trying parents), a validation submitted
//! with the validation types, and the token it returned or a fresh one. In `--dry-run` only GETs are
//! made and the token is a placeholder. Verify is DigiCert's check (`check-dcv`,
//! `validate-token`); "not valid yet" is `TempFail` (75) and only that is retried with `--wait`.

use super::{Plan, TokenSource};
use crate::certcentral::CertCentral;
use crate::certcentral::types::DnsNameValidation;
use crate::config::{Config, Target};
use crate::context::Context;
use crate::dcv::{DomainName, Method, placement};
use crate::error::{Error, Kind, Result};
use crate::output::Report;
use crate::retry::{Policy, Retry};
use crate::state::{Entry, Source};
use crate::ui;
use std::time::{Duration, Instant};

/// Shown instead of a token in `--dry-run`, where fetching one would change state at DigiCert.
pub const DRY_RUN_TOKEN: &str = "dry-run-token-not-fetched";

/// Longest pause between two checks while `verify --wait` waits.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// An order or a domain at CertCentral.
pub struct CertCentralSource {
    target: Target,
}

impl CertCentralSource {
    pub fn new(target: Target) -> CertCentralSource {
        CertCentralSource { target }
    }
}

impl TokenSource for CertCentralSource {
    fn plan(&self, ctx: &Context) -> Result<Plan> {
        let cfg = &ctx.cfg;
        let method = cfg
            .method
            .ok_or_else(|| Error::usage("auth needs --method"))?;
        let found = plan(cfg, &self.target, ctx.api()?, method)?;
        let mut notes = found.notes.clone();
        if found.items.iter().any(|(_, t)| t == DRY_RUN_TOKEN) {
            notes.push(
                "dry run: the token is a placeholder; fetching the real one would change state at DigiCert"
                    .to_string(),
            );
        }
        let records = found
            .items
            .iter()
            .map(|(domain, token)| placement(method, cfg.txt_name, domain, token))
            .collect::<Result<Vec<_>>>()?;
        Ok(Plan {
            source: found.source,
            records,
            already_approved: found.already_approved,
            notes,
            batch: None,
        })
    }

    fn verify(&self, ctx: &Context, report: &mut Report, wait: bool) -> Result<()> {
        let cfg = &ctx.cfg;
        let api = ctx.api()?;
        let (what, check): (String, Box<dyn Fn() -> Result<serde_json::Value>>) = match &self.target
        {
            Target::Order { id, names } => {
                let id = *id;
                // -d narrows what is checked too, or the names left out would fail the check.
                let names: Vec<String> = names.iter().map(|n| n.base().to_string()).collect();
                let what = if names.is_empty() {
                    format!("order {id}")
                } else {
                    format!("order {id} ({})", names.join(", "))
                };
                (what, Box::new(move || check_order(api, id, &names)))
            }
            Target::Domain { id, name } => {
                let id = domain_id(api, *id, name.as_ref())?;
                (
                    format!("domain {id}"),
                    Box::new(move || check_domain(api, id)),
                )
            }
            _ => {
                return Err(Error::usage(
                    "verify needs --order-id, --domain-id or --domain",
                ));
            }
        };
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

/// The domains to publish for, the token for each, and what they belong to.
#[derive(Debug, Default)]
struct Found {
    /// Lines for the report (a DCV method switched at DigiCert, say).
    pub notes: Vec<String>,
    pub source: Source,
    pub items: Vec<(DomainName, String)>,
    /// Names skipped because DigiCert already approved them.
    pub already_approved: Vec<String>,
}

/// What `target` needs published with `method`.
fn plan(cfg: &Config, target: &Target, api: &CertCentral, method: Method) -> Result<Found> {
    match target {
        Target::Order { id, names } => order_plan(api, *id, names, method, cfg.dry_run),
        Target::Domain { id, name } => {
            let id = domain_id(api, *id, name.as_ref())?;
            domain_plan(api, id, cfg, method)
        }
        Target::Unspecified { .. } | Target::Acme(_) | Target::Account { .. } => Err(Error::usage(
            "say what to validate: --order-id ID, --domain-id ID or --domain NAME",
        )),
    }
}

/// The domain id from `--domain-id`, or looked up from `--domain`.
pub fn domain_id(api: &CertCentral, id: Option<u64>, name: Option<&DomainName>) -> Result<u64> {
    match (id, name) {
        (Some(id), _) => Ok(id),
        (None, Some(name)) => {
            let found = api.find_domain(name.base())?;
            ui::progress(&format!(
                "{name} is CertCentral domain {} ({})",
                found.id, found.name
            ));
            Ok(found.id)
        }
        (None, None) => Err(Error::usage("give --domain-id ID or --domain NAME")),
    }
}

fn order_plan(
    api: &CertCentral,
    order_id: u64,
    wanted: &[DomainName],
    method: Method,
    dry_run: bool,
) -> Result<Found> {
    let validation = api.order_validation(order_id)?;
    let mut plan = Found {
        source: Source {
            order_id: Some(order_id),
            ..Source::default()
        },
        ..Found::default()
    };
    // With a DNS method a --domain may name a validation's scope or any name it covers (a subdomain,
    // a wildcard); with http-token it must be one of the exact names. An unknown one is an error,
    // not silently nothing to do.
    let names_of = |v: &DnsNameValidation| -> Vec<String> {
        let mut names: Vec<String> = v.dns_names.iter().map(|n| n.to_ascii_lowercase()).collect();
        names.push(v.name_scope.to_ascii_lowercase());
        names
    };
    let mentions = |v: &DnsNameValidation, w: &DomainName| {
        if method.is_dns() {
            names_of(v).iter().any(|n| n == w.as_str() || n == w.base())
        } else {
            v.dns_names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(w.as_str()))
        }
    };
    for w in wanted {
        if !validation
            .dns_name_validations
            .iter()
            .any(|v| mentions(v, w))
        {
            let mut all: Vec<String> = validation
                .dns_name_validations
                .iter()
                .flat_map(names_of)
                .collect();
            all.sort();
            all.dedup();
            return Err(Error::data(format!(
                "{w} is not a name of order {order_id} (its names: {}); check --domain",
                all.join(", ")
            )));
        }
    }
    let mut candidates: Vec<DomainName> = Vec::new();
    for v in &validation.dns_name_validations {
        if !wanted.is_empty() && !wanted.iter().any(|w| mentions(v, w)) {
            continue;
        }
        // DNS methods validate the scope, which covers its subdomains; http-token each exact name
        // (only the wanted ones, when --domain narrows).
        let names: Vec<&str> = if method.is_dns() {
            vec![v.name_scope.as_str()]
        } else {
            v.dns_names
                .iter()
                .map(String::as_str)
                .filter(|n| {
                    wanted.is_empty() || wanted.iter().any(|w| n.eq_ignore_ascii_case(w.as_str()))
                })
                .collect()
        };
        for name in names {
            let domain = DomainName::parse(name).map_err(|e| {
                e.context(format!("order {order_id} lists a name dcv-hook cannot use"))
            })?;
            if v.is_approved() {
                plan.already_approved.push(domain.to_string());
            } else if !candidates.contains(&domain) {
                candidates.push(domain);
            }
        }
    }
    if candidates.is_empty() {
        return Ok(plan);
    }
    let current = validation.order_dcv_method.clone().or_else(|| {
        validation
            .dns_name_validations
            .iter()
            .find(|v| !v.is_approved())
            .and_then(|v| v.method.clone())
    });
    let switch = match current.as_deref().map(|m| (m, Method::parse(m))) {
        Some((_, Ok(m))) if m == method => None,
        Some((text, _)) => Some(format!(
            "order {order_id}'s DCV method at DigiCert from {text} to {method}"
        )),
        // DigiCert does not always say which method an order uses: set ours, which also returns
        // the random value, rather than publish a token the order will not look for.
        None => Some(format!(
            "order {order_id}'s DCV method at DigiCert to {method}"
        )),
    };
    let token = match (&switch, dry_run) {
        (Some(what), true) => {
            plan.notes.push(format!("dry run: would switch {what}"));
            DRY_RUN_TOKEN.to_string()
        }
        (None, true) => DRY_RUN_TOKEN.to_string(),
        (Some(what), false) => {
            ui::progress(&format!("switching {what}"));
            plan.notes.push(format!("switched {what}"));
            api.set_order_method(order_id, method.as_str())?
        }
        (None, false) => api.order_random_value(order_id)?,
    };
    plan.items = candidates.into_iter().map(|d| (d, token.clone())).collect();
    Ok(plan)
}

fn domain_plan(api: &CertCentral, domain_id: u64, cfg: &Config, method: Method) -> Result<Found> {
    let info = api.domain(domain_id)?;
    let name = DomainName::parse(&info.name)
        .map_err(|e| e.context(format!("domain {domain_id} has a name dcv-hook cannot use")))?;
    // Submitting the validation with our method switches the domain's method at DigiCert.
    let switch = info
        .dcv_method
        .as_deref()
        .filter(|m| Method::parse(m).ok() != Some(method))
        .map(|m| format!("domain {domain_id}'s DCV method at DigiCert from {m} to {method}"));
    let plan = |token: String, note: Option<String>| Found {
        notes: note.into_iter().collect(),
        source: Source {
            domain_id: Some(domain_id),
            ..Source::default()
        },
        items: vec![(name.clone(), token)],
        already_approved: Vec::new(),
    };
    if cfg.dry_run {
        return Ok(plan(
            DRY_RUN_TOKEN.to_string(),
            switch.map(|w| format!("dry run: would switch {w}")),
        ));
    }
    if let Some(what) = &switch {
        ui::progress(&format!("switching {what}"));
    }
    let types: Vec<String> = if !cfg.validation_types.is_empty() {
        cfg.validation_types.clone()
    } else {
        let mut existing: Vec<String> = info
            .validations
            .iter()
            .map(|v| v.vtype.clone())
            .filter(|t| !t.is_empty())
            .collect();
        existing.dedup();
        if existing.is_empty() {
            vec!["ov".to_string()]
        } else {
            existing
        }
    };
    let token = match api.submit_domain_validation(domain_id, &types, method.as_str())? {
        Some(t) => t.token.unwrap_or_default(),
        None => api.new_domain_token(domain_id)?,
    };
    Ok(plan(token, switch.map(|w| format!("switched {w}"))))
}

fn check_order(
    api: &crate::certcentral::CertCentral,
    id: u64,
    names: &[String],
) -> Result<serde_json::Value> {
    let r = match api.check_dcv(id, names) {
        Ok(r) => r,
        // DigiCert's "not found" does not say which names failed: name them from the order.
        Err(e) if e.kind() == Kind::TempFail => {
            let mut still: Vec<String> = api
                .order_validation(id)
                .map(|v| {
                    v.dns_name_validations
                        .iter()
                        .filter(|v| !v.is_approved())
                        .flat_map(|v| {
                            let mut all = v.dns_names.clone();
                            all.push(v.name_scope.clone());
                            all
                        })
                        .filter(|n| {
                            names.is_empty()
                                || names
                                    .iter()
                                    .any(|w| n.trim_start_matches("*.").eq_ignore_ascii_case(w))
                        })
                        .collect()
                })
                .unwrap_or_default();
            still.sort();
            still.dedup();
            return Err(if still.is_empty() {
                e
            } else {
                e.context(format!(
                    "not validated yet: {} (if auth ran long ago, its token may have expired: run auth again)",
                    still.join(", ")
                ))
            });
        }
        Err(e) => return Err(e),
    };
    let all_approved = !r.dns_name_validations.is_empty()
        && r.dns_name_validations.iter().all(|v| v.is_approved());
    let valid = r.dcv_status.as_deref() == Some("valid")
        || (names.is_empty() && r.order_status.as_deref() == Some("issued"))
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
        Some("active") | Some("valid") | Some("approved") | Some("complete") => Ok(json),
        // An empty answer proves nothing: success needs DigiCert to say so.
        None => Err(Error::temp_fail(format!(
            "DigiCert's answer for domain {id} has no status, so it is not known to be validated; check `dcv-hook status --domain-id {id}` or verify again"
        ))),
        Some(other) => Err(Error::temp_fail(format!(
            "DigiCert has not validated domain {id} yet (status {other}); verify again later"
        ))),
    }
}
