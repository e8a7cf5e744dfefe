//! What a CertCentral order or domain needs published: the names not approved yet and their token
//! (see the parent module's docs). In `--dry-run` only GETs are made.

use crate::certcentral::CertCentral;
use crate::certcentral::types::DnsNameValidation;
use crate::config::{Config, Target};
use crate::dcv::{DomainName, Method, TxtName, at_token_url, placement};
use crate::error::{Error, Result};
use crate::record::Record;
use crate::source::Plan;
use crate::state::Source;
use crate::ui;

/// Shown instead of a token in `--dry-run`, where fetching one would change state at DigiCert.
pub const DRY_RUN_TOKEN: &str = "dry-run-token-not-fetched";

/// The note of a dry run, whose token is [`DRY_RUN_TOKEN`].
const PLACEHOLDER: &str =
    "dry run: the token is a placeholder; fetching the real one would change state at DigiCert";

/// What `target` needs published with `method`.
pub(super) fn plan(
    cfg: &Config,
    target: &Target,
    api: &CertCentral,
    method: Method,
) -> Result<Plan> {
    match target {
        Target::Order { id, names } => order_plan(api, *id, names, method, cfg),
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
    cfg: &Config,
) -> Result<Plan> {
    let validation = api.order_validation(order_id)?;
    // No names at all is not "every name validated": it says nothing, and success needs DigiCert
    // to say so.
    if validation.dns_name_validations.is_empty() {
        return Err(Error::data(format!(
            "DigiCert's validation answer for order {order_id} lists no names, so none is known to be validated; check the order with `dcv-hook status --order-id {order_id}`"
        )));
    }
    let names = OrderNames { method, wanted };
    names.check_wanted(order_id, &validation.dns_name_validations)?;
    let mut plan = Plan {
        source: Source {
            order_id: Some(order_id),
            ..Source::default()
        },
        ..Plan::default()
    };
    let mut candidates: Vec<DomainName> = Vec::new();
    for v in &validation.dns_name_validations {
        for domain in names.to_validate(order_id, v)? {
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
    let token = order_token(api, order_id, &validation, method, cfg, &mut plan.notes)?;
    plan.records = candidates
        .iter()
        .map(|d| token_record(cfg.txt_name, method, d, &token, None))
        .collect::<Result<_>>()?;
    Ok(plan)
}

/// Which names of an order a run is about: with a DNS method a `--domain` may name a validation's
/// scope or any name it covers (a subdomain, a wildcard); with http-token it must be one of the
/// exact names.
struct OrderNames<'a> {
    method: Method,
    wanted: &'a [DomainName],
}

impl OrderNames<'_> {
    fn names_of(v: &DnsNameValidation) -> Vec<String> {
        let mut names: Vec<String> = v.dns_names.iter().map(|n| n.to_ascii_lowercase()).collect();
        names.push(v.name_scope.to_ascii_lowercase());
        names
    }

    fn mentions(&self, v: &DnsNameValidation, w: &DomainName) -> bool {
        if self.method.is_dns() {
            Self::names_of(v)
                .iter()
                .any(|n| n == w.as_str() || n == w.base())
        } else {
            v.dns_names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(w.as_str()))
        }
    }

    /// Every `--domain` is a name of the order: an unknown one is an error, not silently nothing
    /// to do.
    fn check_wanted(&self, order_id: u64, validations: &[DnsNameValidation]) -> Result<()> {
        for w in self.wanted {
            if !validations.iter().any(|v| self.mentions(v, w)) {
                let mut all: Vec<String> = validations.iter().flat_map(Self::names_of).collect();
                all.sort();
                all.dedup();
                return Err(Error::data(format!(
                    "{w} is not a name of order {order_id} (its names: {}); check --domain",
                    all.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// The names of validation `v` this run validates: DNS methods validate the scope, which
    /// covers its subdomains; http-token each exact name (only the wanted ones, when --domain
    /// narrows).
    fn to_validate(&self, order_id: u64, v: &DnsNameValidation) -> Result<Vec<DomainName>> {
        let wanted = self.wanted;
        if !wanted.is_empty() && !wanted.iter().any(|w| self.mentions(v, w)) {
            return Ok(Vec::new());
        }
        let names: Vec<&str> = if self.method.is_dns() {
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
        names
            .into_iter()
            .map(|name| {
                DomainName::parse(name).map_err(|e| {
                    e.context(format!("order {order_id} lists a name dcv-hook cannot use"))
                })
            })
            .collect()
    }
}

/// The order's random value, switching its DCV method at DigiCert first when it is not `method`
/// (in a dry run, only said).
fn order_token(
    api: &CertCentral,
    order_id: u64,
    validation: &crate::certcentral::types::OrderValidation,
    method: Method,
    cfg: &Config,
    notes: &mut Vec<String>,
) -> Result<String> {
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
    if cfg.dry_run {
        notes.extend(switch.map(|what| format!("dry run: would switch {what}")));
        notes.push(PLACEHOLDER.to_string());
        return Ok(DRY_RUN_TOKEN.to_string());
    }
    match switch {
        Some(what) => {
            ui::progress(&format!("switching {what}"));
            notes.push(format!("switched {what}"));
            api.set_order_method(order_id, method.as_str())
        }
        None => api.order_random_value(order_id),
    }
}

fn domain_plan(api: &CertCentral, domain_id: u64, cfg: &Config, method: Method) -> Result<Plan> {
    let info = api.domain(domain_id)?;
    let name = DomainName::parse(&info.name)
        .map_err(|e| e.context(format!("domain {domain_id} has a name dcv-hook cannot use")))?;
    // Submitting the validation with our method switches the domain's method at DigiCert.
    let switch = info
        .dcv_method
        .as_deref()
        .filter(|m| Method::parse(m).ok() != Some(method))
        .map(|m| format!("domain {domain_id}'s DCV method at DigiCert from {m} to {method}"));
    let plan = |token: &str, url: Option<&str>, notes: Vec<String>| {
        Ok(Plan {
            notes,
            source: Source {
                domain_id: Some(domain_id),
                ..Source::default()
            },
            records: vec![token_record(cfg.txt_name, method, &name, token, url)?],
            ..Plan::default()
        })
    };
    if cfg.dry_run {
        let would = switch.map(|w| format!("dry run: would switch {w}"));
        let notes = would.into_iter().chain([PLACEHOLDER.to_string()]);
        return plan(DRY_RUN_TOKEN, None, notes.collect());
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
    check_types(method, &types)?;
    let token = api.submit_for_domain_token(domain_id, &types, method.as_str())?;
    let switched = switch.map(|w| format!("switched {w}"));
    plan(
        &token.token,
        token.http_token_url.as_deref(),
        switched.into_iter().collect(),
    )
}

/// http-token-dynamic is for OV and EV validation only (DigiCert's rule): any other type is 64
/// before anything is submitted.
fn check_types(method: Method, types: &[String]) -> Result<()> {
    match types.iter().find(|t| !matches!(t.as_str(), "ov" | "ev")) {
        Some(t) if method == Method::HttpTokenDynamic => Err(Error::usage(format!(
            "{method} is for OV and EV validation only, not {t}; use --method http-token"
        ))),
        _ => Ok(()),
    }
}

/// The record that places `token` for `domain` with `method`; with http-token-dynamic in the file
/// DigiCert named (`url`), and in a dry run (no token, so no file name, was fetched) at its
/// stand-in name.
pub fn token_record(
    txt_name: TxtName,
    method: Method,
    domain: &DomainName,
    token: &str,
    url: Option<&str>,
) -> Result<Record> {
    let record = placement(method, txt_name, domain, token)?;
    match url {
        _ if method != Method::HttpTokenDynamic => Ok(record),
        Some(url) => at_token_url(record, url),
        None if record.value == DRY_RUN_TOKEN => Ok(record),
        None => Err(Error::data(format!(
            "DigiCert's token for {} names no file (http_token_url is missing), so http-token-dynamic has nowhere to put it; use --method http-token",
            record.domain
        ))),
    }
}
