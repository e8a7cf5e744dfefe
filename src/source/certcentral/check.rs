//! What DigiCert's checks say: `check-dcv` for an order (only the names asked about), and
//! `validate-token` for a domain. "Not valid yet" is `TempFail` (75), naming what is still missing.

use crate::certcentral::CertCentral;
use crate::error::{Error, Kind, Result};

/// `check-dcv` for order `id` (only `names` when given): DigiCert's answer when valid.
pub(super) fn check_order(
    api: &CertCentral,
    id: u64,
    names: &[String],
) -> Result<serde_json::Value> {
    let r = match api.check_dcv(id, names) {
        Ok(r) => r,
        Err(e) if e.kind() == Kind::TempFail => return Err(name_the_missing(api, id, names, e)),
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

/// `e`, DigiCert's "not valid yet" for order `id`, naming the names (of `names`, when given) the
/// order still lists as not validated: DigiCert's "not found" does not say which names failed.
fn name_the_missing(api: &CertCentral, id: u64, names: &[String], e: Error) -> Error {
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
    if still.is_empty() {
        e
    } else {
        e.context(format!(
            "not validated yet: {} (if auth ran long ago, its token may have expired: run auth again)",
            still.join(", ")
        ))
    }
}

/// `validate-token` for domain `id`: DigiCert's answer when it says the domain is validated.
pub fn check_domain(api: &CertCentral, id: u64) -> Result<serde_json::Value> {
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
