//! The one HTTP fetch of a validation file, as a CA makes it: one GET of a URL from one given
//! address with the `Host` header of the real name, redirects followed one by one by the CA's rule
//! ([`RedirectRule`]: DigiCert's for http-token, Let's Encrypt's for ACME http-01), at most N bytes
//! of the body read. The propagation check (auth's wait) and the doctor both fetch through here, so
//! what the wait accepts and what the doctor judges are the same answer. Never publishes, never
//! prints; judging the answer is the caller's.
//!
//! A redirect to another name goes to that name's first address (found by the caller's resolver);
//! the name asked for stays at its given address. Certificates are not judged on a redirect to
//! https, as the CAs do not judge them there either.

use crate::error::{Error, Result, one_line};
use reqwest::Url;
use reqwest::blocking::Client;
use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Whose redirect rules a fetch follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectRule {
    /// DigiCert's (http-token): 301, 302, 307, 308 only, at most 5 hops, on the same registered
    /// domain (by the Public Suffix List), ports 80 and 443.
    DigiCert,
    /// Let's Encrypt's (ACME http-01): at most 10 hops, ports 80 and 443, any name.
    LetsEncrypt,
}

/// A redirect rule a hop broke: the finding code, what was seen, and the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    pub code: &'static str,
    pub seen: String,
    pub fix: &'static str,
}

/// One redirect followed: its status and where it led.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hop {
    pub status: u16,
    pub to: Url,
}

/// How a fetch ended.
#[derive(Debug)]
pub enum Outcome {
    /// A final answer (not a redirect): its status and the start of its body (at most the bytes
    /// asked for; `more` when the body went on).
    Answered {
        status: u16,
        body: Vec<u8>,
        more: bool,
    },
    /// A redirect the CA would not follow.
    Refused(Broken),
    /// No answer in time.
    TimedOut,
    /// Nothing accepted the connection (refused, no route): no TLS was even tried.
    NoConnection(String),
    /// The connection or the answer failed otherwise, TLS included (the text says why).
    Unreachable(String),
}

/// What a fetch saw: the outcome, the hops taken, and the URL asked last.
#[derive(Debug)]
pub struct Fetched {
    pub outcome: Outcome,
    pub hops: Vec<Hop>,
    pub last: String,
}

/// What to fetch.
pub struct Request<'a> {
    pub url: &'a str,
    /// The name asked for, reached at `addr`.
    pub host: &'a str,
    pub addr: IpAddr,
    pub rule: RedirectRule,
    /// The most of the final body read.
    pub max_body: u64,
    /// The whole chain's time.
    pub within: Duration,
}

/// Fetches with one client per (name, address), reused across fetches.
pub struct Fetcher {
    purpose: &'static str,
    connect_timeout: Duration,
    timeout: Duration,
    clients: Mutex<HashMap<(String, IpAddr), Client>>,
}

impl RedirectRule {
    /// The rule for a URL path: Let's Encrypt's for an ACME challenge, DigiCert's otherwise.
    pub fn for_path(path: &str) -> RedirectRule {
        if path.starts_with("/.well-known/acme-challenge/") {
            RedirectRule::LetsEncrypt
        } else {
            RedirectRule::DigiCert
        }
    }

    pub fn max_hops(self) -> usize {
        match self {
            RedirectRule::DigiCert => 5,
            RedirectRule::LetsEncrypt => 10,
        }
    }

    /// The rule the hop from a URL on `host` to `next` (HTTP `status`, `hops` so far, this one
    /// included) breaks, if any.
    pub fn broken(self, host: &str, status: u16, next: &Url, hops: &[Hop]) -> Option<Broken> {
        let broken = |code, seen: String, fix| Some(Broken { code, seen, fix });
        if !matches!(status, 301 | 302 | 307 | 308) {
            return broken(
                "http.redirect.status",
                format!("redirects with HTTP {status}: only 301, 302, 307 and 308 are followed"),
                "redirect with 301 or 302, or serve the file directly",
            );
        }
        if !matches!(next.scheme(), "http" | "https") {
            return broken(
                "http.redirect.scheme",
                format!("redirects to {next}: only http and https are followed"),
                "redirect to an http(s) URL",
            );
        }
        let port = next.port_or_known_default().unwrap_or(0);
        if port != 80 && port != 443 {
            return broken(
                "http.redirect.port",
                format!("redirects to {next}, port {port}: only ports 80 and 443 are followed"),
                "redirect to port 80 or 443 (no port in the URL), or serve the file directly",
            );
        }
        let (home, next_host) = (registered(host), next.host_str().unwrap_or(""));
        if self == RedirectRule::DigiCert && registered(next_host) != home {
            return broken(
                "http.redirect.domain",
                format!(
                    "redirects to {next_host}, outside {home}: DigiCert follows only redirects on the same registered domain"
                ),
                "serve /.well-known/pki-validation/ on this name, or redirect only within its registered domain",
            );
        }
        let max = self.max_hops();
        (hops.len() > max).then(|| {
            let chain: Vec<String> = hops
                .iter()
                .map(|h| format!("{} {}", h.status, h.to))
                .collect();
            Broken {
                code: "http.redirect.too_many",
                seen: format!("more than {max} redirects: {}", chain.join(" -> ")),
                fix: "shorten the redirect chain (one redirect at most is safest)",
            }
        })
    }
}

/// The registered domain by the Public Suffix List (a name that is itself a public suffix, or an
/// address, stands for itself).
pub fn registered(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return host;
    }
    psl::domain_str(&host).unwrap_or(&host).to_string()
}

impl Fetcher {
    /// A fetcher whose requests connect within `connect_timeout` and take at most `timeout` each.
    pub fn new(purpose: &'static str, connect_timeout: Duration, timeout: Duration) -> Fetcher {
        Fetcher {
            purpose,
            connect_timeout,
            timeout,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client that sends every request for `host` to `addr`, following no redirect.
    fn client(&self, host: &str, addr: IpAddr) -> Result<Client> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(&(host.to_string(), addr)) {
            return Ok(c.clone());
        }
        // Port 0 lets reqwest use the URL's port, so a redirect to https goes to 443.
        let client = crate::http_client::builder(self.purpose)
            .resolve(host, SocketAddr::new(addr, 0))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .danger_accept_invalid_certs(true)
            .build()
            .map_err(|e| Error::software(format!("cannot build the HTTP client: {e}")))?;
        clients.insert((host.to_string(), addr), client.clone());
        Ok(client)
    }

    /// GETs `request.url` from `request.addr`, following redirects by `request.rule`; a redirect
    /// to another name goes to the first address `resolve` gives for it.
    pub fn fetch(&self, request: &Request, resolve: &dyn Fn(&str) -> Option<IpAddr>) -> Fetched {
        let deadline = Instant::now() + request.within;
        let mut fetched = Fetched {
            outcome: Outcome::Unreachable(format!("not a URL: {}", request.url)),
            hops: Vec::new(),
            last: request.url.to_string(),
        };
        let Ok(mut url) = Url::parse(request.url) else {
            return fetched;
        };
        loop {
            fetched.last = url.to_string();
            let response = match self.get(request, &url, deadline, resolve) {
                Ok(r) => r,
                Err(outcome) => break Fetched { outcome, ..fetched },
            };
            let status = response.status().as_u16();
            if !(300..400).contains(&status) {
                let outcome = read_body(response, request.max_body, status);
                break Fetched { outcome, ..fetched };
            }
            match next_hop(request, &response, &url, status, &mut fetched.hops) {
                Ok(next) => url = next,
                Err(broken) => {
                    let outcome = Outcome::Refused(broken);
                    break Fetched { outcome, ..fetched };
                }
            }
        }
    }

    /// One GET of `url` (no redirect followed): at `request.addr` for the name asked for, at the
    /// first address of any other name.
    fn get(
        &self,
        request: &Request,
        url: &Url,
        deadline: Instant,
        resolve: &dyn Fn(&str) -> Option<IpAddr>,
    ) -> std::result::Result<reqwest::blocking::Response, Outcome> {
        let here = url.host_str().unwrap_or(request.host).to_string();
        let target = if here.eq_ignore_ascii_case(request.host) {
            Some(request.addr)
        } else {
            resolve(&here)
        };
        let Some(target) = target else {
            return Err(Outcome::Refused(Broken {
                code: "http.redirect.no_address",
                seen: format!("redirected to {here}, which has no address"),
                fix: "redirect to a name that resolves, or serve the file directly",
            }));
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Outcome::TimedOut);
        }
        let client = self
            .client(&here, target)
            .map_err(|e| Outcome::Unreachable(e.to_string()))?;
        crate::stats::count_http_request();
        client
            .get(url.clone())
            .timeout(left.min(self.timeout))
            .send()
            .map_err(|e| failure(&e))
    }
}

/// Where the redirect `response` (HTTP `status`) from `url` leads, if the rule follows it; the
/// hop is added to `hops`.
fn next_hop(
    request: &Request,
    response: &reqwest::blocking::Response,
    url: &Url,
    status: u16,
    hops: &mut Vec<Hop>,
) -> std::result::Result<Url, Broken> {
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let next = match url.join(&location) {
        Ok(next) if !location.is_empty() => next,
        _ => {
            return Err(Broken {
                code: "http.redirect.location",
                seen: format!("HTTP {status} without a usable Location ({location:?})"),
                fix: "fix the redirect, or serve the file directly",
            });
        }
    };
    hops.push(Hop {
        status,
        to: next.clone(),
    });
    match request.rule.broken(request.host, status, &next, hops) {
        Some(broken) => Err(broken),
        None => Ok(next),
    }
}

/// The final answer, at most `max` bytes of its body read (a token file is a few dozen bytes: a
/// huge page is cut at once, not read against the deadline).
fn read_body(response: reqwest::blocking::Response, max: u64, status: u16) -> Outcome {
    let mut body = Vec::new();
    match response.take(max + 1).read_to_end(&mut body) {
        Ok(_) => {
            let more = body.len() as u64 > max;
            body.truncate(max as usize);
            Outcome::Answered { status, body, more }
        }
        Err(e) => Outcome::Unreachable(format!("body could not be read: {e}")),
    }
}

/// The outcome of a request that got no answer.
fn failure(e: &reqwest::Error) -> Outcome {
    if e.is_timeout() {
        Outcome::TimedOut
    } else if e.is_connect() && !format!("{e:?}").to_ascii_lowercase().contains("tls") {
        Outcome::NoConnection(one_line(e))
    } else {
        Outcome::Unreachable(one_line(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registered_domain_follows_the_public_suffix_list() {
        assert_eq!(registered("a.b.example.com"), "example.com");
        assert_eq!(registered("www.Example.co.uk."), "example.co.uk");
        assert_ne!(registered("a.co.uk"), registered("b.co.uk"));
        assert_eq!(registered("shop.example.test"), "example.test");
        assert_eq!(registered("co.uk"), "co.uk");
        assert_eq!(registered("192.0.2.1"), "192.0.2.1");
        assert_ne!(registered("192.0.2.1"), registered("198.51.2.1"));
        assert_eq!(registered("[2001:db8::1]"), "[2001:db8::1]");
    }

    #[test]
    fn each_cas_rule_in_one_place() {
        let hop = |to: &str| Hop {
            status: 302,
            to: Url::parse(to).unwrap(),
        };
        let code = |rule: RedirectRule, status, to: &str, n: usize| {
            let hops = vec![hop(to); n];
            rule.broken("www.example.com", status, &Url::parse(to).unwrap(), &hops)
                .map(|b| b.code)
        };
        let (dc, le) = (RedirectRule::DigiCert, RedirectRule::LetsEncrypt);
        assert_eq!(code(dc, 302, "http://dcv.example.com/x", 5), None);
        assert_eq!(code(dc, 302, "https://example.com/x", 1), None);
        assert_eq!(
            code(dc, 302, "http://dcv.example.com/x", 6),
            Some("http.redirect.too_many")
        );
        assert_eq!(code(le, 302, "http://dcv.example.com/x", 10), None);
        assert_eq!(
            code(le, 302, "http://dcv.example.com/x", 11),
            Some("http.redirect.too_many")
        );
        assert_eq!(
            code(dc, 302, "http://other.net/x", 1),
            Some("http.redirect.domain")
        );
        assert_eq!(code(le, 302, "http://other.net/x", 1), None);
        assert_eq!(
            code(dc, 303, "http://example.com/x", 1),
            Some("http.redirect.status")
        );
        assert_eq!(
            code(le, 302, "http://example.com:8080/x", 1),
            Some("http.redirect.port")
        );
        assert_eq!(
            code(dc, 302, "ftp://example.com/x", 1),
            Some("http.redirect.scheme")
        );
        assert_eq!(
            RedirectRule::for_path("/.well-known/acme-challenge/t"),
            RedirectRule::LetsEncrypt
        );
        assert_eq!(
            RedirectRule::for_path("/.well-known/pki-validation/fileauth.txt"),
            RedirectRule::DigiCert
        );
    }
}
