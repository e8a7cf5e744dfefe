//! Fetching what every address of a name serves: all addresses at once, each one GET at a time
//! with the `Host` header of the real name, redirects followed one by one (each judged by `redirect.rs`), the end judged by
//! `judge.rs`, and port 443 tried as DigiCert does. Reads only; never publishes.

use super::{judge, redirect};
use crate::context::Context;
use crate::doctor::{Finding, QUERY_TIMEOUT, Severity};
use crate::resolver::Resolver;
use reqwest::Url;
use reqwest::blocking::Client;
use std::net::{IpAddr, SocketAddr};
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
    // Every address at once, so silent ones cost one timeout in all.
    let answers: Vec<(Finding, Option<Finding>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = addrs
            .iter()
            .map(|addr| {
                let url = url.as_str();
                scope.spawn(move || {
                    let f = fetch(resolver, url, host, *addr, asked.expect, asked.acme);
                    let tls = (port == 80).then(|| try_https(host, url_path, *addr));
                    (f, tls.flatten())
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let outcomes: Vec<(IpAddr, &'static str)> = addrs
        .iter()
        .zip(&answers)
        .map(|(addr, (f, _))| (*addr, f.code))
        .collect();
    let mut findings = Vec::new();
    for (f, tls) in answers {
        findings.push(f);
        findings.extend(tls);
    }
    findings.extend(judge::disagreement(host, &outcomes));
    findings
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
            return judge::judge_response(status, &body, expect, acme, subject, &via, hops.len());
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
        match redirect::broken_rule(self.host, self.acme, status, &next, hops) {
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
