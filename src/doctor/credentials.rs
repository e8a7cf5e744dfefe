//! Credential checks that change nothing: every provider the run would use is built (settings
//! checked, secrets read, an exec program found) and asked whether its credentials are accepted
//! ([`crate::publish::Publisher::check_access`]: for rfc2136 an UPDATE that changes nothing, which
//! the primary must still authenticate, so BADKEY, BADSIG, BADTIME, NOTAUTH and REFUSED show).

use super::{Finding, Severity, Subject};
use crate::context::Context;
use crate::error::Kind;
use crate::pipeline::Publishers;

/// Findings on the providers that would publish `subjects`' DNS records.
pub fn check(ctx: &Context, subjects: &[Subject]) -> Vec<Finding> {
    let records: Vec<crate::record::Record> = subjects
        .iter()
        .filter(|s| s.record.rtype.is_dns())
        .map(|s| s.record.clone())
        .collect();
    if records.is_empty() || (ctx.cfg.provider.is_none() && ctx.cfg.zones.is_empty()) {
        return Vec::new();
    }
    let subject = ctx
        .cfg
        .provider
        .clone()
        .unwrap_or_else(|| "[[zone]]".into());
    let mut publishers = match Publishers::build(ctx) {
        Ok(p) => p,
        Err(e) => return vec![judge(&subject, &e)],
    };
    let groups = match publishers.route(ctx, &records) {
        Ok(g) => g,
        Err(e) => return vec![judge(&subject, &e)],
    };
    let mut findings = Vec::new();
    for (index, group) in groups {
        let publisher = publishers.get(index);
        let provider = publisher.provider();
        let names: Vec<String> = group.iter().map(|r| r.name.clone()).collect();
        match publisher.check_access(&names) {
            None => {}
            Some(Ok(what)) => findings.push(
                Finding::new("credentials.ok", Severity::Ok, provider, what, "")
                    .about(&group[0].domain),
            ),
            Some(Err(e)) => findings.push(judge(provider, &e).about(&group[0].domain)),
        }
    }
    findings
}

/// The finding for a provider that failed to build or to be accepted.
fn judge(provider: &str, e: &crate::error::Error) -> Finding {
    match e.kind() {
        Kind::NoPerm => Finding::new(
            "credentials.rejected",
            Severity::Blocks,
            provider,
            e.to_string(),
            "fix the credentials named: auth would be refused the same way",
        ),
        Kind::Unavailable => Finding::unchecked(provider, e),
        _ => Finding::new(
            "credentials.config",
            Severity::Blocks,
            provider,
            e.to_string(),
            "fix the provider settings named: auth would stop the same way",
        ),
    }
}
