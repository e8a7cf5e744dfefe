//! Credential checks that change nothing: every provider the run would use is built (settings
//! checked, secrets read), an exec program must exist and be executable, and each is asked whether
//! its credentials are accepted ([`crate::publish::Publisher::check_access`]: for rfc2136 an UPDATE
//! that changes nothing, which the primary must still authenticate, so BADKEY, BADSIG, BADTIME,
//! NOTAUTH and REFUSED show; for cloudflare, powerdns and route53 reading the zone and the record
//! set at the name). A provider that cannot tell without changing something (exec) is reported
//! `credentials.unchecked`, never ok.

use super::{Finding, Severity, Subject};
use crate::context::Context;
use crate::error::Kind;
use crate::pipeline::Publishers;
use crate::publish::exec;

/// Findings on the providers that would publish `subjects`' records.
pub fn check(ctx: &Context, subjects: &[Subject]) -> Vec<Finding> {
    let mut findings = exec_programs(ctx);
    findings.extend(access(ctx, subjects));
    findings
}

/// Every exec provider's program (the command line's and each `[[zone]]`'s) must exist and be
/// executable: auth would otherwise fail at the first record.
fn exec_programs(ctx: &Context) -> Vec<Finding> {
    let mut programs: Vec<&std::path::Path> = Vec::new();
    if ctx.cfg.provider.is_some_and(|p| p.name == exec::NAME)
        && let Some(program) = &ctx.cfg.provider_flags.exec.exec
    {
        programs.push(program);
    }
    for z in ctx.cfg.zones.iter().filter(|z| z.provider == exec::NAME) {
        programs.extend(z.flags.exec.exec.as_deref());
    }
    let mut findings = Vec::new();
    for program in programs {
        let Some(problem) = not_runnable(program) else {
            continue;
        };
        findings.push(Finding::new(
            "credentials.exec",
            Severity::Blocks,
            exec::NAME,
            format!("--exec {}: {problem}", program.display()),
            "give --exec the path of an executable program",
        ));
    }
    findings
}

/// Why `program` cannot be run (a bare name is looked up in PATH), or `None`.
fn not_runnable(program: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let candidates: Vec<std::path::PathBuf> = if program.components().count() > 1 {
        vec![program.to_path_buf()]
    } else {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).map(|d| d.join(program)).collect())
            .unwrap_or_default()
    };
    let mut why = "not found".to_string();
    for c in candidates {
        match std::fs::metadata(&c) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => return None,
            Ok(m) if m.is_file() => why = "not executable (no x permission)".into(),
            Ok(_) => why = "not a file".into(),
            Err(_) => {}
        }
    }
    Some(why)
}

/// Whether each provider that would publish `subjects`' DNS records accepts its credentials.
fn access(ctx: &Context, subjects: &[Subject]) -> Vec<Finding> {
    let records: Vec<crate::record::Record> = subjects
        .iter()
        .filter(|s| s.record.is_dns())
        .map(|s| s.record.clone())
        .collect();
    if records.is_empty() || (ctx.cfg.provider.is_none() && ctx.cfg.zones.is_empty()) {
        return Vec::new();
    }
    let subject = ctx.cfg.provider.map_or("[[zone]]", |p| p.name).to_string();
    let routed = Publishers::build(ctx).and_then(|p| Ok((p.route(ctx, &records)?, p)));
    let (groups, mut publishers) = match routed {
        Ok(routed) => routed,
        Err(e) => return vec![judge(&subject, &e)],
    };
    let mut findings = Vec::new();
    for (index, group) in groups {
        let publisher = publishers.get(index);
        let provider = publisher.provider();
        let names: Vec<String> = group.iter().map(|r| r.name().into_owned()).collect();
        let finding = match publisher.check_access(&names) {
            None => unchecked(provider),
            Some(Ok(what)) => Finding::ok("credentials.ok", provider, what),
            Some(Err(e)) => judge(provider, &e),
        };
        findings.push(finding.about(&group[0].domain));
    }
    findings
}

/// The finding for a provider that cannot prove its credentials without changing something (exec
/// runs a program of the user's): not ok, but nothing that blocks either.
fn unchecked(provider: &str) -> Finding {
    Finding::new(
        "credentials.unchecked",
        Severity::Warns,
        provider,
        format!(
            "the {provider} provider cannot prove its credentials without changing DNS: whether it may publish is not known"
        ),
        "check by hand that it may publish (auth fails at the first record if it may not)",
    )
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
