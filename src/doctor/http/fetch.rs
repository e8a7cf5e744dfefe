//! Fetching what every address of a name serves: all addresses at once, each through
//! [`crate::http_fetch`] (the `Host` header of the real name, redirects followed by the CA's rule),
//! the end judged by `judge.rs`, and port 443 tried as DigiCert does. Reads only; never publishes.

use super::judge;
use crate::context::Context;
use crate::doctor::{Finding, QUERY_TIMEOUT, Severity};
use crate::http_fetch::{Fetcher, Outcome, RedirectRule, Request};
use crate::resolver::Resolver;
use std::net::IpAddr;
use std::time::Duration;

/// How long one response may take to arrive (DigiCert's read timeout).
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// What is asked of every address of one name.
pub(super) struct Asked<'a> {
    pub(super) host: &'a str,
    pub(super) url_path: &'a str,
    /// The content that must be served; `None` when the file must be missing (answer 404).
    pub(super) expect: Option<&'a str>,
    pub(super) acme: bool,
}

/// Asks every address in `addrs` (and its port 443) at the same time, then warns when they answer
/// differently.
pub(super) fn fetch_each(
    ctx: &Context,
    resolver: &Resolver,
    asked: &Asked,
    addrs: &[IpAddr],
) -> Vec<Finding> {
    let (host, url_path) = (asked.host, asked.url_path);
    let port = ctx.cfg.http_port;
    let url = if port == 80 {
        format!("http://{host}{url_path}")
    } else {
        format!("http://{host}:{port}{url_path}")
    };
    let fetcher = &Fetcher::new("doctor", QUERY_TIMEOUT, READ_TIMEOUT);
    let url = url.as_str();
    // Every address at once, so silent ones cost one timeout in all.
    let answers: Vec<(Finding, Option<Finding>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = addrs
            .iter()
            .map(|&addr| {
                scope.spawn(move || {
                    let f = fetch(fetcher, resolver, url, asked, addr);
                    let tls = (port == 80).then(|| try_https(fetcher, host, url_path, addr));
                    (f, tls.flatten())
                })
            })
            .collect();
        // A worker that panicked is a bug: raise it here rather than drop its answer, which
        // would pair the next address with this one's.
        (handles.into_iter())
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let codes: Vec<(IpAddr, &'static str)> = addrs
        .iter()
        .zip(&answers)
        .map(|(a, (f, _))| (*a, f.code))
        .collect();
    let disagreement = judge::disagreement(host, &codes);
    let findings = answers
        .into_iter()
        .flat_map(|(f, tls)| std::iter::once(f).chain(tls));
    findings.chain(disagreement).collect()
}

/// GETs `url` from `addr` through the one fetcher, following redirects the CA's way, and judges
/// the end.
fn fetch(
    fetcher: &Fetcher,
    resolver: &Resolver,
    url: &str,
    asked: &Asked,
    addr: IpAddr,
) -> Finding {
    let rule = if asked.acme {
        RedirectRule::LetsEncrypt
    } else {
        RedirectRule::DigiCert
    };
    let request = Request {
        url,
        host: asked.host,
        addr,
        rule,
        max_body: judge::MAX_BODY as u64,
        // Each request is bounded by READ_TIMEOUT; the chain by that many of them.
        within: READ_TIMEOUT * (rule.max_hops() as u32 + 1),
    };
    let resolve = |name: &str| resolver.addresses(name).ok()?.first().copied();
    let fetched = fetcher.fetch(&request, &resolve);
    let subject = format!("{} via {addr}", fetched.last);
    let blocks = |code, seen: String, fix: &str| {
        Finding::new(code, Severity::Blocks, subject.as_str(), seen, fix)
    };
    match fetched.outcome {
        Outcome::Answered { status, body, more } => {
            let answer = judge::Answer {
                status,
                body: &body,
                more,
                hops: fetched.hops.len(),
            };
            judge::judge_response(&answer, asked.expect, asked.acme, subject)
        }
        Outcome::Refused(b) => blocks(b.code, b.seen, b.fix),
        Outcome::TimedOut => blocks(
            "http.timeout",
            "no answer in time (DigiCert waits 2 s to connect, 5 s to read)".into(),
            "make the web server reachable on port 80 from the internet (firewall, geo-blocking)",
        ),
        Outcome::NoConnection(why) | Outcome::Unreachable(why) => blocks(
            "http.connect",
            format!("could not connect or read: {why}"),
            "run a web server on port 80 at this address, reachable from the internet",
        ),
    }
}

/// Port 443, which DigiCert tries first: a TLS failure there is worth knowing; nothing listening is
/// fine (it falls back to http).
fn try_https(fetcher: &Fetcher, host: &str, path: &str, addr: IpAddr) -> Option<Finding> {
    let url = format!("https://{host}{path}");
    let request = Request {
        url: &url,
        host,
        addr,
        // Only whether TLS works is asked: no redirect is followed to another name.
        rule: RedirectRule::DigiCert,
        max_body: 0,
        within: READ_TIMEOUT,
    };
    match fetcher.fetch(&request, &|_| None).outcome {
        Outcome::Unreachable(why) => Some(Finding::new(
            "http.tls",
            Severity::Warns,
            format!("{url} via {addr}:443"),
            format!("port 443 answers but https fails: {why}"),
            "fix TLS on port 443 or close it: DigiCert tries https first",
        )),
        _ => None,
    }
}
