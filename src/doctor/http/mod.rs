//! HTTP checks (http-token, http-01), run for each name: its A and AAAA addresses (`address.rs`),
//! a throwaway probe file published through the configured provider and removed again
//! (`probe.rs`), and what each address serves for it (`fetch.rs`, through [`crate::http_fetch`],
//! which holds the CA's redirect rules) and answers by what the CA accepts (`judge.rs`). This file
//! only runs them.
//!
//! Each address is asked on its own (the `Host` header is the real name), redirects followed one by
//! one and judged by the CA's rules: DigiCert's (301, 302, 307, 308 only, at most 5 hops, absolute
//! ones on the same registered domain and on port 80 or 443, a body of at most 5000 bytes) or, for
//! ACME challenges, Let's Encrypt's (at most 10 hops, ports 80 and 443). Port 443 is tried as well,
//! since DigiCert tries https first: a TLS failure there is a warning. Reserved and private
//! addresses are refused by DigiCert and block; loopback is only warned about, as in a lab it is
//! the one address there is (the propagation check asks it too).
//! Without a provider that serves HTTP (or with --dry-run) no probe is published: a missing file
//! must then answer 404.

mod address;
mod fetch;
mod judge;
mod probe;

use super::{Finding, Severity, Subject};
use crate::context::Context;
use crate::resolver::Resolver;
use fetch::Asked;
pub use probe::Probes;

/// Every HTTP finding for `subject` (the caller says which name they are about); its probe file is
/// published through `probes`, which remove it when the run ends.
pub fn check_one(
    ctx: &Context,
    resolver: &Resolver,
    subject: &Subject,
    probes: &Probes,
) -> Vec<Finding> {
    let Some(url) = subject.record.http() else {
        return Vec::new();
    };
    let (host, path) = (url.host.as_str(), url.path.as_str());
    let addrs = match address::addresses(resolver, host) {
        Ok(a) => a,
        Err(f) => return vec![f],
    };
    let mut findings: Vec<Finding> = addrs
        .iter()
        .filter_map(|a| address::judge_address(*a, subject.acme))
        .collect();
    let probe = probe::probe_record(subject, url);
    // Diagnosing a failed wait: the real file is there already; ask for it as it is. A dry run
    // publishes nothing, not even the probe.
    let published = if subject.published || ctx.cfg.dry_run {
        Ok(false)
    } else {
        probes.publish(ctx, &probe)
    };
    // probe_record makes an HTTP file on the same host: its path is where to ask for it.
    let probe_path = probe.http().map_or(path, |u| u.path.as_str());
    let (url_path, expect) = match &published {
        Ok(true) => (probe_path, Some(probe.value.as_str())),
        Ok(false) if subject.published => (path, Some(subject.record.value.as_str())),
        Ok(false) => {
            findings.push(skipped(ctx, host));
            (probe_path, None)
        }
        Err(e) => {
            findings.push(Finding::new(
                "http.probe.publish",
                Severity::Blocks,
                host,
                format!("the probe file could not be published: {e}"),
                "fix the provider settings (auth would fail the same way)",
            ));
            return findings;
        }
    };
    let asked = Asked {
        host,
        url_path,
        expect,
        acme: subject.acme,
    };
    findings.extend(fetch::fetch_each(ctx, resolver, &asked, &addrs));
    findings
}

/// The warning that no probe file was published, so only a missing file was asked for.
fn skipped(ctx: &Context, host: &str) -> Finding {
    let (seen, fix) = if ctx.cfg.dry_run {
        (
            "--dry-run: no probe file published, only a missing file asked for",
            "run doctor without --dry-run to check that the web server serves what is published",
        )
    } else {
        (
            "no provider that serves HTTP (--provider webroot): no probe file published, only a missing file asked for",
            "give --provider and its settings to check that the web server serves what is published",
        )
    };
    Finding::new("http.probe.skipped", Severity::Warns, host, seen, fix)
}
