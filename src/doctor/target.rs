//! What the CA will check for the run's target, found without changing it: an order's or a
//! domain's names and method by GET only (DigiCert's token is not fetched, since fetching one
//! changes the order), an ACME client's challenges, or `-d` names as given. DigiCert's answers
//! (the key rejected, the order not found, names already validated) are findings too.

use super::{Finding, Severity, Subject, unique};
use crate::certcentral::types::DnsNameValidation;
use crate::config::{Config, Target};
use crate::context::Context;
use crate::dcv::{DomainName, Method, placement};
use crate::error::{Kind, Result};
use crate::source::certcentral::domain_id;

/// Stands in for DigiCert's token where only the record's place matters.
const PLACEHOLDER: &str = "doctor";

/// The subjects of the configured target and what DigiCert said; a usage or configuration error
/// (no API key) is an error, anything DigiCert answered a finding.
pub fn subjects_and_findings(ctx: &Context) -> Result<(Vec<Subject>, Vec<Finding>)> {
    let e = match subjects(ctx) {
        Err(e) => e,
        found => return found,
    };
    let api = "CertCentral API";
    let (code, fix) = match e.kind() {
        Kind::NoPerm => (
            "digicert.key_rejected",
            "give a valid CertCentral API key (DIGICERT_API_KEY or --api-key-file)",
        ),
        Kind::DataErr => (
            "digicert.not_found",
            "check --order-id / --domain-id / --domain against CertCentral",
        ),
        Kind::Unavailable => {
            return Ok((Vec::new(), vec![Finding::unchecked(api, &e)]));
        }
        _ => return Err(e),
    };
    let finding = Finding::new(code, Severity::Blocks, api, e.to_string(), fix);
    Ok((Vec::new(), vec![finding]))
}

/// What the CA will check, and what DigiCert already said (names validated, the order's method).
fn subjects(ctx: &Context) -> Result<(Vec<Subject>, Vec<Finding>)> {
    let cfg = &ctx.cfg;
    let mut findings = Vec::new();
    let subjects = match &cfg.target {
        Target::Acme(t) => t
            .challenges
            .iter()
            .map(|c| Subject {
                record: c.record(),
                acme: true,
                published: false,
            })
            .collect(),
        Target::Unspecified { names } | Target::Account { names } => {
            let method = chosen(cfg, None);
            names
                .iter()
                .map(|n| place(cfg, method, n))
                .collect::<Result<_>>()?
        }
        Target::Domain { id, name } => {
            vec![domain_subject(ctx, *id, name.as_ref(), &mut findings)?]
        }
        Target::Order { id, names } => order_subjects(ctx, *id, names, &mut findings)?,
    };
    Ok((subjects, findings))
}

/// The method the CA will check: the configured one, else the one set at DigiCert, else TXT.
fn chosen(cfg: &Config, at_digicert: Option<&str>) -> Method {
    cfg.method
        .or_else(|| at_digicert.and_then(|m| Method::parse(m).ok()))
        .unwrap_or(Method::DnsTxtToken)
}

/// A DigiCert subject: where `method` puts the record for `name`, its value unknown.
fn place(cfg: &Config, method: Method, name: &DomainName) -> Result<Subject> {
    let mut record = placement(method, cfg.txt_name, name, PLACEHOLDER)?;
    record.value.clear();
    Ok(Subject {
        record,
        acme: false,
        published: false,
    })
}

/// The subject of a domain prevalidation; what DigiCert says of the domain goes to `findings`.
fn domain_subject(
    ctx: &Context,
    id: Option<u64>,
    name: Option<&DomainName>,
    findings: &mut Vec<Finding>,
) -> Result<Subject> {
    let api = ctx.api()?;
    let id = domain_id(api, id, name)?;
    let info = api.domain(id)?;
    let method = chosen(&ctx.cfg, info.dcv_method.as_deref());
    findings.push(
        Finding::ok(
            "digicert.domain",
            format!("domain {id}"),
            format!(
                "{} found, DCV method {}",
                info.name,
                info.dcv_method.as_deref().unwrap_or("not set")
            ),
        )
        .about(&info.name),
    );
    place(&ctx.cfg, method, &DomainName::parse(&info.name)?)
}

/// The subjects of order `id` (narrowed to `names` if any) not validated yet; what DigiCert says
/// of the order and of names validated already goes to `findings`.
fn order_subjects(
    ctx: &Context,
    id: u64,
    names: &[DomainName],
    findings: &mut Vec<Finding>,
) -> Result<Vec<Subject>> {
    let v = ctx.api()?.order_validation(id)?;
    let method = chosen(&ctx.cfg, v.order_dcv_method.as_deref());
    findings.push(Finding::ok(
        "digicert.order",
        format!("order {id}"),
        format!(
            "status {}, DCV method at DigiCert {}",
            v.order_status.as_deref().unwrap_or("unknown"),
            v.order_dcv_method.as_deref().unwrap_or("not set")
        ),
    ));
    let mut subjects = Vec::new();
    for d in v.dns_name_validations.iter().filter(|d| wanted(names, d)) {
        if d.is_approved() {
            findings.push(validated(id, d));
            continue;
        }
        for n in checked_names(method, d) {
            subjects.push(place(&ctx.cfg, method, &DomainName::parse(n)?)?);
        }
    }
    Ok(unique(subjects))
}

/// Whether the order's validation `d` is one of `names` (all are when none are given).
fn wanted(names: &[DomainName], d: &DnsNameValidation) -> bool {
    names.is_empty()
        || names.iter().any(|n| {
            d.name_scope.eq_ignore_ascii_case(n.base())
                || d.dns_names
                    .iter()
                    .any(|x| x.eq_ignore_ascii_case(n.as_str()))
        })
}

/// The names the CA checks for `d`: its scope for a DNS method, else each name but wildcards.
fn checked_names(method: Method, d: &DnsNameValidation) -> Vec<&str> {
    if method.is_dns() {
        vec![d.name_scope.as_str()]
    } else {
        d.dns_names
            .iter()
            .map(String::as_str)
            .filter(|n| !n.starts_with("*."))
            .collect()
    }
}

/// The finding for a name of order `id` that DigiCert validated already.
fn validated(id: u64, d: &DnsNameValidation) -> Finding {
    Finding::ok(
        "digicert.validated",
        format!("order {id}"),
        format!(
            "{} is validated already (until {}): nothing to do",
            d.name_scope,
            d.approval_expiration_date.as_deref().unwrap_or("unknown")
        ),
    )
    .about(&d.name_scope)
}
