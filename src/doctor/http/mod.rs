//! HTTP checks (http-token, http-01): every A and AAAA address of the name, and what each serves for
//! a throwaway probe file published through the configured provider, then removed.
//!
//! Each address is asked on its own (the `Host` header is the real name), redirects followed one by
//! one and judged by the CA's rules: DigiCert's (301, 302, 307, 308 only, at most 5 hops, absolute
//! ones on the same registered domain and on port 80 or 443, a body of at most 5000 bytes) or, for
//! ACME challenges, Let's Encrypt's (at most 10 hops, ports 80 and 443). Port 443 is tried as well,
//! since DigiCert tries https first: a TLS failure there is a warning. Reserved and private
//! addresses are refused by DigiCert and block; loopback is only warned about, as in a lab it is
//! the one address there is (the propagation check asks it too).
//! Without a provider that serves HTTP no probe is published: a missing file must then answer 404.

use super::{Finding, QUERY_TIMEOUT, Severity, Subject};
use crate::context::Context;
use crate::error::Kind;
use crate::pipeline::Publishers;
use crate::propagation::http::advice;
use crate::publish::webroot::DOCTOR_PROBE_PREFIX;
use crate::record::{Record, RecordType};
use crate::resolver::Resolver;
use reqwest::Url;
use reqwest::blocking::Client;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use std::time::Instant;

/// DigiCert reads at most this much of the body.
const MAX_BODY: usize = 5000;
/// How long one response may take to arrive (DigiCert's read timeout).
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Every HTTP finding for `subjects`.
/// No new subject is started after `deadline`.
pub fn check(
    ctx: &Context,
    resolver: &Resolver,
    subjects: &[&Subject],
    deadline: Option<Instant>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for subject in subjects.iter().take_while(|_| super::in_time(deadline)) {
        let name = subject.domain.as_str();
        findings.extend(
            check_one(ctx, resolver, subject)
                .into_iter()
                .map(|f| f.about(name)),
        );
    }
    findings
}

fn check_one(ctx: &Context, resolver: &Resolver, subject: &Subject) -> Vec<Finding> {
    let Some((host, path)) = subject.record.http_host_and_path() else {
        return Vec::new();
    };
    let addrs = match addresses(resolver, host) {
        Ok(a) => a,
        Err(f) => return vec![f],
    };
    let mut findings: Vec<Finding> = addrs
        .iter()
        .filter_map(|a| judge_address(*a, subject.acme))
        .collect();
    let probe = probe_record(subject, host, path);
    // Diagnosing a failed wait: the real file is there already; ask for it as it is.
    let published = if subject.published {
        Ok(None)
    } else {
        publish_probe(ctx, &probe)
    };
    let probe_path = &probe.name["http://".len() + host.len()..];
    let (url_path, expect) = match &published {
        Ok(Some(_)) => (probe_path, Some(probe.value.as_str())),
        Ok(None) if subject.published => (path, Some(subject.record.value.as_str())),
        Ok(None) => {
            findings.push(Finding::new(
                "http.probe.skipped",
                Severity::Warns,
                host,
                "no provider that serves HTTP (--provider webroot): no probe file published, only a missing file asked for",
                "give --provider and its settings to check that the web server serves what is published",
            ));
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
    findings.extend(fetch_each(ctx, resolver, &asked, &addrs));
    if let Ok(Some(published)) = published {
        findings.extend(cleanup_probe(published, &probe));
    }
    findings
}

/// The name's addresses, or the finding that says why there are none.
fn addresses(resolver: &Resolver, host: &str) -> Result<Vec<IpAddr>, Finding> {
    match resolver.addresses(host) {
        Ok(a) => Ok(a),
        Err(e) if e.kind() == Kind::Unavailable => Err(Finding::unchecked(host, &e)),
        Err(e) => Err(Finding::new(
            "http.no_address",
            Severity::Blocks,
            host,
            e.to_string(),
            "give the name an A or AAAA record pointing at the web server",
        )),
    }
}

/// The probe: a file of our own beside where the CA looks, so nothing of the user's is touched.
/// Its value is a fresh random token, its name starts with the prefix webroot's cleanup allows.
fn probe_record(subject: &Subject, host: &str, path: &str) -> Record {
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let token = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    Record {
        domain: subject.domain.clone(),
        rtype: RecordType::Http,
        name: format!("http://{host}{dir}{DOCTOR_PROBE_PREFIX}{}", &token[..12]),
        value: token,
    }
}

/// What is asked of every address of one name.
struct Asked<'a> {
    host: &'a str,
    url_path: &'a str,
    /// The content that must be served; `None` when the file must be missing (answer 404).
    expect: Option<&'a str>,
    acme: bool,
}

/// Asks every address in `addrs` (and its port 443), then warns when they answer differently.
fn fetch_each(ctx: &Context, resolver: &Resolver, asked: &Asked, addrs: &[IpAddr]) -> Vec<Finding> {
    let (host, url_path) = (asked.host, asked.url_path);
    let port = ctx.cfg.http_port;
    let url = if port == 80 {
        format!("http://{host}{url_path}")
    } else {
        format!("http://{host}:{port}{url_path}")
    };
    let mut findings = Vec::new();
    let mut outcomes: Vec<(IpAddr, &'static str)> = Vec::new();
    for addr in addrs {
        let f = fetch(resolver, &url, host, *addr, asked.expect, asked.acme);
        outcomes.push((*addr, f.code));
        findings.push(f);
        if port == 80
            && let Some(f) = try_https(host, url_path, *addr)
        {
            findings.push(f);
        }
    }
    findings.extend(disagreement(host, &outcomes));
    findings
}

/// A warning when the addresses of `host` did not all end with the same finding.
fn disagreement(host: &str, outcomes: &[(IpAddr, &'static str)]) -> Option<Finding> {
    let mut codes: Vec<&str> = outcomes.iter().map(|(_, c)| *c).collect();
    codes.sort();
    codes.dedup();
    (codes.len() > 1).then(|| {
        let each: Vec<String> = outcomes.iter().map(|(a, c)| format!("{a}: {c}")).collect();
        Finding::new(
            "http.addresses.disagree",
            Severity::Warns,
            host,
            format!("the addresses answer differently ({})", each.join(", ")),
            "serve the same content from every address: the CA may pick any of them",
        )
    })
}

/// Removes the probe file again; a warning when that fails.
fn cleanup_probe(published: ProbePublished, probe: &Record) -> Option<Finding> {
    let (mut publishers, index, done) = published;
    let e = publishers.get(index).cleanup(&done).err()?;
    Some(Finding::new(
        "http.probe.cleanup",
        Severity::Warns,
        &probe.name,
        format!("the probe file could not be removed: {e}"),
        "remove the file by hand",
    ))
}

type ProbePublished = (Publishers, usize, Vec<crate::record::Published>);

/// Publishes `probe` with the provider that would publish the real file (the `[[zone]]`'s or the
/// command line's); `None` when there is none that serves HTTP.
fn publish_probe(ctx: &Context, probe: &Record) -> crate::error::Result<Option<ProbePublished>> {
    let mut publishers = match Publishers::build(ctx) {
        Ok(p) => p,
        Err(_) if ctx.cfg.provider.is_none() && ctx.cfg.zones.is_empty() => return Ok(None),
        Err(e) => return Err(e),
    };
    let Ok(groups) = publishers.route(ctx, std::slice::from_ref(probe)) else {
        return Ok(None);
    };
    let Some(&(index, _)) = groups.first() else {
        return Ok(None);
    };
    let publisher = publishers.get(index);
    if !crate::publish::spec(publisher.provider())?.serves.http() {
        return Ok(None);
    }
    let done = publisher.present(std::slice::from_ref(probe))?;
    Ok(Some((publishers, index, done)))
}

/// A finding for an address the CA will not (or cannot) connect to.
fn judge_address(addr: IpAddr, acme: bool) -> Option<Finding> {
    if addr.is_loopback() {
        return Some(Finding::new(
            "http.address.loopback",
            Severity::Warns,
            addr.to_string(),
            "a loopback address: only this machine reaches it (fine in a lab, no CA can)",
            "publish the web server's public address",
        ));
    }
    let reserved = match addr {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_private()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || a.is_multicast()
                || a.is_documentation()
                || o[0] == 0
                || o[0] >= 240
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            a.is_unspecified()
                || a.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
        }
    };
    reserved.then(|| {
        Finding::new(
            "http.address.reserved",
            Severity::Blocks,
            addr.to_string(),
            format!(
                "a private or reserved address: {} refuses to connect to it",
                if acme { "the CA" } else { "DigiCert" }
            ),
            "publish only the web server's public addresses for the name",
        )
    })
}

/// The registered domain, approximated as the last two labels (no public suffix list here).
fn registered(host: &str) -> String {
    let labels: Vec<&str> = host.trim_end_matches('.').rsplitn(3, '.').collect();
    match labels.as_slice() {
        [tld, second, ..] => format!("{second}.{tld}").to_ascii_lowercase(),
        _ => host.to_ascii_lowercase(),
    }
}

fn client(host: &str, addr: IpAddr) -> reqwest::Result<Client> {
    Client::builder()
        .resolve(host, SocketAddr::new(addr, 0))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(QUERY_TIMEOUT)
        .timeout(READ_TIMEOUT)
        .danger_accept_invalid_certs(true)
        .user_agent(concat!("dcv-hook/", env!("CARGO_PKG_VERSION"), " (doctor)"))
        .build()
}

/// GETs `url` from `addr`, following redirects the CA's way, and judges the end.
fn fetch(
    resolver: &Resolver,
    url: &str,
    host: &str,
    addr: IpAddr,
    expect: Option<&str>,
    acme: bool,
) -> Finding {
    let chain = Chain {
        resolver,
        host,
        addr,
        acme,
    };
    let Ok(mut url) = Url::parse(url) else {
        return Finding::new("http.url", Severity::Blocks, url, "not a URL", "");
    };
    let mut hops: Vec<String> = Vec::new();
    loop {
        let response = match chain.get(&url) {
            Ok(r) => r,
            Err(f) => return f,
        };
        let status = response.status().as_u16();
        if !(300..400).contains(&status) {
            let body = response.bytes().map(|b| b.to_vec()).unwrap_or_default();
            let via = if hops.is_empty() {
                String::new()
            } else {
                format!(" after {} redirect(s)", hops.len())
            };
            let subject = chain.subject(&url);
            return judge_response(status, &body, expect, acme, subject, &via, hops.len());
        }
        url = match chain.follow(&response, &url, status, &mut hops) {
            Ok(next) => next,
            Err(f) => return f,
        };
    }
}

/// What stays the same along the redirect chain from one address.
struct Chain<'a> {
    resolver: &'a Resolver,
    /// The name asked for: it is reached at `addr`, other names at their first address.
    host: &'a str,
    addr: IpAddr,
    acme: bool,
}

impl Chain<'_> {
    /// How a finding names the request.
    fn subject(&self, url: &Url) -> String {
        format!("{url} via {}", self.addr)
    }

    /// One GET of `url`, without following its redirect.
    fn get(&self, url: &Url) -> Result<reqwest::blocking::Response, Finding> {
        let here = url.host_str().unwrap_or(self.host).to_string();
        let target = if here.eq_ignore_ascii_case(self.host) {
            Some(self.addr)
        } else {
            self.resolver
                .addresses(&here)
                .ok()
                .and_then(|a| a.first().copied())
        };
        let Some(target) = target else {
            return Err(Finding::new(
                "http.redirect.no_address",
                Severity::Blocks,
                self.subject(url),
                format!("redirected to {here}, which has no address"),
                "redirect to a name that resolves, or serve the file directly",
            ));
        };
        crate::stats::count_http_request();
        client(&here, target)
            .and_then(|c| c.get(url.clone()).send())
            .map_err(|e| self.unreachable(url, &e))
    }

    /// The finding for a request to `url` that got no answer.
    fn unreachable(&self, url: &Url, e: &reqwest::Error) -> Finding {
        if e.is_timeout() {
            return Finding::new(
                "http.timeout",
                Severity::Blocks,
                self.subject(url),
                "no answer in time (DigiCert waits 2 s to connect, 5 s to read)",
                "make the web server reachable on port 80 from the internet (firewall, geo-blocking)",
            );
        }
        Finding::new(
            "http.connect",
            Severity::Blocks,
            self.subject(url),
            format!("could not connect or read: {}", one_line(e)),
            "run a web server on port 80 at this address, reachable from the internet",
        )
    }

    /// Where the redirect `response` (HTTP `status`) to `url` leads, if the CA follows it; the hop
    /// is added to `hops`.
    fn follow(
        &self,
        response: &reqwest::blocking::Response,
        url: &Url,
        status: u16,
        hops: &mut Vec<String>,
    ) -> Result<Url, Finding> {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let next = match url.join(&location) {
            Ok(next) if !location.is_empty() => next,
            _ => {
                return Err(Finding::new(
                    "http.redirect.location",
                    Severity::Blocks,
                    self.subject(url),
                    format!("HTTP {status} without a usable Location ({location:?})"),
                    "fix the redirect, or serve the file directly",
                ));
            }
        };
        hops.push(format!("{status} {next}"));
        match self.broken_rule(status, &next, hops) {
            Some((code, seen, fix)) => Err(Finding::new(
                code,
                Severity::Blocks,
                self.subject(url),
                seen,
                fix,
            )),
            None => Ok(next),
        }
    }

    /// The CA's redirect rule that the hop to `next` (with HTTP `status`, `hops` so far) breaks:
    /// its code, what was seen and the fix.
    fn broken_rule(
        &self,
        status: u16,
        next: &Url,
        hops: &[String],
    ) -> Option<(&'static str, String, &'static str)> {
        let max_hops = if self.acme { 10 } else { 5 };
        let home = registered(self.host);
        if !matches!(status, 301 | 302 | 307 | 308) {
            return Some((
                "http.redirect.status",
                format!("redirects with HTTP {status}: only 301, 302, 307 and 308 are followed"),
                "redirect with 301 or 302, or serve the file directly",
            ));
        }
        if !matches!(next.scheme(), "http" | "https") {
            return Some((
                "http.redirect.scheme",
                format!("redirects to {next}: only http and https are followed"),
                "redirect to an http(s) URL",
            ));
        }
        let port = next.port_or_known_default().unwrap_or(0);
        if port != 80 && port != 443 {
            return Some((
                "http.redirect.port",
                format!("redirects to {next}, port {port}: only ports 80 and 443 are followed"),
                "redirect to port 80 or 443 (no port in the URL), or serve the file directly",
            ));
        }
        let next_host = next.host_str().unwrap_or("");
        if !self.acme && registered(next_host) != home {
            return Some((
                "http.redirect.domain",
                format!(
                    "redirects to {next_host}, outside {home}: DigiCert follows only redirects on the same registered domain"
                ),
                "serve /.well-known/pki-validation/ on this name without redirecting elsewhere",
            ));
        }
        (hops.len() > max_hops).then(|| {
            (
                "http.redirect.too_many",
                format!("more than {max_hops} redirects: {}", hops.join(" -> ")),
                "shorten the redirect chain (one redirect at most is safest)",
            )
        })
    }
}

/// The finding for the final answer `status` with `body`.
fn judge_response(
    status: u16,
    body: &[u8],
    expect: Option<&str>,
    acme: bool,
    subject: String,
    via: &str,
    hops: usize,
) -> Finding {
    if let Some(f) = judge_status(status, expect, &subject, via) {
        return f;
    }
    if !acme && body.len() > MAX_BODY {
        return Finding::new(
            "http.body.too_big",
            Severity::Blocks,
            &subject,
            format!(
                "HTTP {status}{via} with a {}-byte body: DigiCert reads at most {MAX_BODY}",
                body.len()
            ),
            "serve the file itself, not a page",
        );
    }
    let Some(value) = expect else {
        return Finding::new(
            "http.catch_all",
            Severity::Warns,
            &subject,
            format!("HTTP {status}{via} for a file that does not exist (a catch-all page?)"),
            "make missing files under /.well-known/ answer 404, and check the real file is served",
        );
    };
    // An empty value: the token is not known (diagnosing DigiCert's "not validated"), so any
    // content is taken as served.
    if value.is_empty() || String::from_utf8_lossy(body).trim() == value {
        return judge_served(acme, &subject, via, hops);
    }
    Finding::new(
        "http.probe.content",
        Severity::Blocks,
        &subject,
        format!(
            "HTTP {status}{via} with other content: {:?}",
            String::from_utf8_lossy(&body[..body.len().min(40)])
        ),
        "the server serves something else for the path (a rewrite, another web root): serve /.well-known/ from the web root",
    )
}

/// The finding for an answer that is not 2xx (`None` for 2xx): a 404 is right only for a file
/// that must be missing (`expect` is `None`).
fn judge_status(status: u16, expect: Option<&str>, subject: &str, via: &str) -> Option<Finding> {
    let blocks =
        |code, seen: String, fix: &str| Finding::new(code, Severity::Blocks, subject, seen, fix);
    match status {
        200..=299 => None,
        404 if expect.is_none() => Some(Finding::new(
            "http.ok",
            Severity::Ok,
            subject,
            format!("a missing file answers 404{via}, as it should"),
            "",
        )),
        404 => Some(blocks(
            "http.status.404",
            format!("HTTP 404{via} for the probe file just published"),
            "the web root given is not the one the server serves for this name: point --webroot at the server's root for it",
        )),
        401 | 403 | 500..=599 => {
            // The same words as auth's wait uses when it gives up on this answer.
            let (code, fix) =
                advice(&format!("HTTP {status}")).unwrap_or(("http.status.other", ""));
            let why = match status {
                403 => ": the web server refuses the file",
                401 => ": the file is behind authentication",
                _ => ": the web server fails",
            };
            Some(blocks(code, format!("HTTP {status}{via}{why}"), fix))
        }
        _ => Some(blocks(
            "http.status.other",
            format!("HTTP {status}{via}"),
            "serve the file with HTTP 200",
        )),
    }
}

/// The finding for the expected content served after `hops` redirects.
fn judge_served(acme: bool, subject: &str, via: &str, hops: usize) -> Finding {
    if hops > 1 && !acme {
        return Finding::new(
            "http.redirect.hops",
            Severity::Warns,
            subject,
            format!("served{via}: an older DigiCert rule follows one redirect only"),
            "serve the file with at most one redirect",
        );
    }
    Finding::new(
        "http.ok",
        Severity::Ok,
        subject,
        format!("serves the probe file{via}"),
        "",
    )
}

/// Port 443, which DigiCert tries first: a TLS failure there is worth knowing; nothing listening is
/// fine (it falls back to http).
fn try_https(host: &str, path: &str, addr: IpAddr) -> Option<Finding> {
    let url = format!("https://{host}{path}");
    crate::stats::count_http_request();
    match client(host, addr).and_then(|c| c.get(&url).send()) {
        Ok(_) => None,
        Err(e) if e.is_connect() && !format!("{e:?}").to_ascii_lowercase().contains("tls") => None,
        Err(e) => Some(Finding::new(
            "http.tls",
            Severity::Warns,
            format!("{url} via {addr}:443"),
            format!("port 443 answers but https fails: {}", one_line(&e)),
            "fix TLS on port 443 or close it: DigiCert tries https first",
        )),
    }
}

/// An error and its causes on one line.
fn one_line(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_addresses_digicert_refuses() {
        let code = |a: &str| judge_address(a.parse().unwrap(), false).map(|f| f.code);
        assert_eq!(code("10.1.2.3"), Some("http.address.reserved"));
        assert_eq!(code("192.168.0.1"), Some("http.address.reserved"));
        assert_eq!(code("100.64.0.1"), Some("http.address.reserved"));
        assert_eq!(code("fd00::1"), Some("http.address.reserved"));
        assert_eq!(code("127.0.0.1"), Some("http.address.loopback"));
        assert_eq!(code("93.184.216.34"), None);
        assert_eq!(code("2606:4700::1"), None);
    }

    #[test]
    fn judges_answers() {
        let j = |status, body: &[u8], expect| {
            judge_response(status, body, expect, false, "s".into(), "", 0).code
        };
        assert_eq!(j(200, b"tok\n", Some("tok")), "http.ok");
        assert_eq!(j(200, b"other", Some("tok")), "http.probe.content");
        assert_eq!(j(200, &[b'x'; 5001], Some("tok")), "http.body.too_big");
        assert_eq!(j(404, b"", Some("tok")), "http.status.404");
        assert_eq!(j(404, b"", None), "http.ok");
        assert_eq!(j(200, b"page", None), "http.catch_all");
        assert_eq!(j(403, b"", Some("tok")), "http.status.403");
        assert_eq!(j(503, b"", Some("tok")), "http.status.5xx");
        assert_eq!(registered("a.b.example.com"), "example.com");
    }
}
