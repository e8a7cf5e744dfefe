//! Which domains of the account are due: active, with an OV or EV validation that expires within
//! `--expiring-within` days (or has expired), narrowed by `-d` and `--validation-type`, and the DCV
//! method each is validated with. Reads the listing only; never asks DigiCert anything.

use super::outcome::Outcome;
use super::{Row, Work};
use crate::certcentral::types::DomainSummary;
use crate::config::Target;
use crate::context::Context;
use crate::dates;
use crate::dcv::{DomainName, Method};
use crate::error::Result;

/// The active domains whose selected validation types expire within the window (or have expired),
/// narrowed by `-d` and `--validation-type`.
pub(super) fn select(ctx: &Context, domains: &[DomainSummary]) -> Result<Vec<Work>> {
    let cfg = &ctx.cfg;
    let names: &[DomainName] = match &cfg.target {
        Target::Account { names } => names,
        _ => &[],
    };
    let horizon = dates::now() + i64::from(cfg.expiring_within) * 86_400;
    let mut selected = Vec::new();
    for d in domains {
        if d.is_active == Some(false) {
            continue;
        }
        let name = d.name.to_ascii_lowercase();
        if !names.is_empty() && !names.iter().any(|n| n.base() == name) {
            continue;
        }
        let types = types_of(d, &cfg.validation_types);
        if types.is_empty() {
            continue;
        }
        // Due when one of the types expires by the horizon, or was never completed.
        let earliest = earliest_expiry_time(d, &types);
        if earliest.is_some_and(|expiry| expiry > horizon) {
            continue;
        }
        let (method, outcome, reason) = method_for(ctx, d);
        selected.push(Work {
            row: Row {
                domain: name,
                domain_id: d.id,
                method: method
                    .map(|m| m.as_str().to_string())
                    .or_else(|| d.dcv_method.clone())
                    .unwrap_or_default(),
                expires_before: earliest.map(dates::format_date),
                validation_types: types,
                expires_after: None,
                outcome,
                reason,
            },
            method,
            record: None,
        });
    }
    Ok(selected)
}

/// The DCV method to validate `d` with: `--method`, else the one it has, else the provider's; a
/// method dcv-hook cannot publish (email) skips the domain, with the reason.
pub(super) fn method_for(
    ctx: &Context,
    d: &DomainSummary,
) -> (Option<Method>, Option<Outcome>, Option<String>) {
    match (ctx.cfg.method, d.dcv_method.as_deref().map(Method::parse)) {
        (Some(m), _) => (Some(m), None, None),
        (None, Some(Ok(m))) => (Some(m), None, None),
        (None, None) => (Some(default_method(ctx)), None, None),
        (None, Some(Err(_))) => (
            None,
            Some(Outcome::Skipped),
            Some(format!(
                "uses {} DCV, which dcv-hook cannot publish; pass --method to switch it (that changes the domain at DigiCert)",
                d.dcv_method.as_deref().unwrap_or("another")
            )),
        ),
    }
}

/// The method for a domain that has none yet: what the command line's provider publishes.
pub(super) fn default_method(ctx: &Context) -> Method {
    match ctx.cfg.provider {
        Some(spec) if !spec.serves.dns() => Method::HttpToken,
        _ => Method::DnsTxtToken,
    }
}

/// The validation types to renew: `--validation-type` (those the domain has), else every type it has.
pub(super) fn types_of(d: &DomainSummary, wanted: &[String]) -> Vec<String> {
    let has = |t: &str| {
        d.validations
            .iter()
            .any(|v| v.vtype.eq_ignore_ascii_case(t))
            || d.dcv_expiration.as_ref().is_some_and(|x| x.of(t).is_some())
    };
    let wants = |t: &str| wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(t));
    // Sorted, as the table and the JSON have always listed them.
    ["ev", "ov"]
        .into_iter()
        .filter(|t| has(t) && wants(t))
        .map(String::from)
        .collect()
}

/// The earliest expiry among `types`, as a Unix time (`None` when one was never completed).
pub(super) fn earliest_expiry_time(d: &DomainSummary, types: &[String]) -> Option<i64> {
    let times: Option<Vec<i64>> = types
        .iter()
        .map(|t| dates::parse(d.dcv_expiration.as_ref()?.of(t)?))
        .collect();
    times?.into_iter().min()
}
