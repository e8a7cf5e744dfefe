//! How the simulator checks DCV: like a CA, from the network, never trusting the client.
//!
//! dns-txt-token and dns-cname-token find the zone of the name by an SOA walk through the
//! configured resolver, resolve every NS name to all its addresses, and ask every address directly
//! (RD off, on `dns_port`); the token must be on every one. http-token resolves the name's A and
//! AAAA records and fetches the validation file (`fileauth.txt`, or the file chosen for
//! http-token-dynamic) from every address with the name as Host, following redirects as DigiCert
//! does (at most 5, on the same registered domain). Each server or address yields one `TargetCheck`, so a failing
//! test can say which one lacked the token. This module holds no simulator state.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::dns::{self, Message, RData, RecordType, ResponseCode};
use crate::http;

use super::TargetCheck;

/// Where a CA fetches the http-token file.
pub(crate) const FILEAUTH_PATH: &str = "/.well-known/pki-validation/fileauth.txt";
/// The URL path of a domain's validation file: `fileauth.txt`, or for http-token-dynamic the
/// `file` chosen with its token.
pub(crate) fn token_path(method: &str, file: &str) -> String {
    match method {
        "http-token-dynamic" => format!("/.well-known/pki-validation/{file}"),
        _ => FILEAUTH_PATH.to_string(),
    }
}

/// The CNAME target domain of dns-cname-token.
pub(crate) const CNAME_SUFFIX: &str = "dcv.digicert.com";
/// How many redirects an http-token check follows (DigiCert's limit).
const MAX_REDIRECTS: usize = 5;
/// How many CNAMEs a check follows before giving up (lego caps at 50; a test needs few).
const MAX_CNAME_DEPTH: usize = 4;

/// The network settings of a check.
#[derive(Clone, Debug)]
pub(crate) struct Checker {
    pub resolver: SocketAddr,
    pub dns_port: u16,
    pub http_port: u16,
    pub timeout: Duration,
}

/// One authoritative server address, with the NS name it was found under.
struct Server {
    ns: String,
    addr: SocketAddr,
}

impl Checker {
    /// Checks one name with `method`; `name` is the name scope for DNS methods and the exact
    /// host name for http-token.
    pub(crate) fn check(&self, method: &str, name: &str, token: &str) -> Vec<TargetCheck> {
        match method {
            "dns-txt-token" => self.dns_txt(name, token),
            "dns-cname-token" => self.dns_cname(name, token),
            "http-token" => self.http(name, token, FILEAUTH_PATH),
            other => vec![TargetCheck::failed(
                name,
                "-",
                false,
                format!("method {other} has no token to check"),
            )],
        }
    }

    fn dns_txt(&self, name: &str, token: &str) -> Vec<TargetCheck> {
        let servers = match self.authoritative_servers(name) {
            Ok(servers) => servers,
            Err(e) => return vec![TargetCheck::failed(name, "-", false, e)],
        };
        let dnsauth = format!("_dnsauth.{name}");
        servers
            .iter()
            .map(|server| {
                let label = format!("{} ({})", server.addr, server.ns);
                let apex = self.txt_at(server.addr, name, 0);
                let under = self.txt_at(server.addr, &dnsauth, 0);
                let reached = apex.is_ok() || under.is_ok();
                let has = |r: &Result<Vec<String>, String>| {
                    r.as_ref().is_ok_and(|v| v.iter().any(|t| t == token))
                };
                let ok = has(&apex) || has(&under);
                let detail = format!(
                    "TXT {name}: {}; TXT {dnsauth}: {}",
                    describe(&apex),
                    describe(&under)
                );
                TargetCheck {
                    name: name.to_string(),
                    server: label,
                    ok,
                    reached,
                    detail,
                }
            })
            .collect()
    }

    /// The TXT values `server` gives for `name`. A CNAME answer without TXT is followed to its
    /// target's own authoritative servers, and a value counts only if all of them have it.
    fn txt_at(&self, server: SocketAddr, name: &str, depth: usize) -> Result<Vec<String>, String> {
        let answer = self.ask(server, name, RecordType::TXT)?;
        let values = dns::txt_values(&answer);
        if !values.is_empty() {
            return Ok(values);
        }
        let Some(target) = dns::cname_target(&answer, name) else {
            return Ok(Vec::new());
        };
        if depth >= MAX_CNAME_DEPTH {
            return Err(format!("CNAME chain longer than {MAX_CNAME_DEPTH}"));
        }
        let servers = self
            .authoritative_servers(&target)
            .map_err(|e| format!("CNAME to {target}: {e}"))?;
        let mut common: Option<BTreeSet<String>> = None;
        for s in &servers {
            let here: BTreeSet<String> = self
                .txt_at(s.addr, &target, depth + 1)
                .map_err(|e| format!("CNAME to {target}, {}: {e}", s.addr))?
                .into_iter()
                .collect();
            common = Some(match common {
                None => here,
                Some(c) => c.intersection(&here).cloned().collect(),
            });
        }
        Ok(common.unwrap_or_default().into_iter().collect())
    }

    fn dns_cname(&self, name: &str, token: &str) -> Vec<TargetCheck> {
        let servers = match self.authoritative_servers(name) {
            Ok(servers) => servers,
            Err(e) => return vec![TargetCheck::failed(name, "-", false, e)],
        };
        let owner = format!("_dnsauth.{name}");
        let want = format!("{}.{CNAME_SUFFIX}", token.to_ascii_lowercase());
        servers
            .iter()
            .map(|server| {
                let label = format!("{} ({})", server.addr, server.ns);
                match self.ask(server.addr, &owner, RecordType::CNAME) {
                    Ok(answer) => {
                        let got = dns::cname_target(&answer, &owner);
                        TargetCheck {
                            name: name.to_string(),
                            server: label,
                            ok: got.as_deref() == Some(want.as_str()),
                            reached: true,
                            detail: format!(
                                "CNAME {owner}: {}",
                                got.as_deref().unwrap_or("(none)")
                            ),
                        }
                    }
                    Err(e) => TargetCheck::failed(name, &label, false, e),
                }
            })
            .collect()
    }

    /// Fetches `path` of `name` from every address, as for http-token (and its dynamic file).
    pub(crate) fn http(&self, name: &str, token: &str, path: &str) -> Vec<TargetCheck> {
        if name.starts_with("*.") {
            return vec![TargetCheck::failed(
                name,
                "-",
                false,
                "wildcard names cannot be validated with http-token".to_string(),
            )];
        }
        let addresses = match self.resolve(name) {
            Ok(a) if !a.is_empty() => a,
            Ok(_) => {
                return vec![TargetCheck::failed(
                    name,
                    "-",
                    false,
                    "no A or AAAA records".to_string(),
                )];
            }
            Err(e) => return vec![TargetCheck::failed(name, "-", false, e)],
        };
        addresses
            .into_iter()
            .map(|ip| {
                let addr = SocketAddr::new(ip, self.http_port);
                match self.fetch(addr, name, path) {
                    Ok((status, body, via)) => {
                        let ok = status == 200 && body.trim().contains(token);
                        let via = via.map(|v| format!(" via {v}")).unwrap_or_default();
                        let shown: String = body.trim().chars().take(80).collect();
                        TargetCheck {
                            name: name.to_string(),
                            server: addr.to_string(),
                            ok,
                            reached: true,
                            detail: format!("GET http://{name}{path}{via}: {status} {shown:?}"),
                        }
                    }
                    Err(e) => TargetCheck::failed(name, &addr.to_string(), false, e),
                }
            })
            .collect()
    }

    /// Fetches the validation file from one address, following redirects as DigiCert does (at
    /// most [`MAX_REDIRECTS`], on the same registered domain). Returns status, body and the last
    /// redirect target when one was followed.
    fn fetch(
        &self,
        addr: SocketAddr,
        host: &str,
        path: &str,
    ) -> Result<(u16, String, Option<String>), String> {
        let (mut at, mut here, mut path) = (addr, host.to_string(), path.to_string());
        let mut via = None;
        for _ in 0..=MAX_REDIRECTS {
            let answer = http::get(at, &here, &path, self.timeout).map_err(|e| e.to_string())?;
            let Some(location) = redirect_of(&answer) else {
                return Ok((answer.status, answer.body, via));
            };
            let (next_host, port, next_path) = parse_location(&location, &here, at.port())?;
            if registered(&next_host) != registered(host) {
                return Err(format!(
                    "redirected to {location}, outside {}: DigiCert follows redirects on the same registered domain only",
                    registered(host)
                ));
            }
            let ip = if next_host.eq_ignore_ascii_case(host) {
                addr.ip()
            } else {
                *self
                    .resolve(&next_host)?
                    .first()
                    .ok_or_else(|| format!("redirect host {next_host} has no address"))?
            };
            (at, here, path) = (SocketAddr::new(ip, port), next_host, next_path);
            via = Some(location);
        }
        Err(format!(
            "more than {MAX_REDIRECTS} redirects (last to {}); DigiCert gives up",
            via.unwrap_or_default()
        ))
    }

    /// A and AAAA addresses of `name` through the resolver (CNAMEs chased by the resolver).
    fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        let mut out = Vec::new();
        for rtype in [RecordType::A, RecordType::AAAA] {
            let answer = dns::query(self.resolver, name, rtype, true, self.timeout)
                .map_err(|e| format!("resolver {}: {rtype} {name}: {e}", self.resolver))?;
            match answer.metadata.response_code {
                ResponseCode::NoError | ResponseCode::NXDomain => {}
                code => {
                    return Err(format!(
                        "resolver {}: {rtype} {name}: {code}",
                        self.resolver
                    ));
                }
            }
            out.extend(dns::addresses(&answer));
        }
        out.dedup();
        Ok(out)
    }

    /// Every address of every NS of the zone `name` is in, found through the resolver.
    fn authoritative_servers(&self, name: &str) -> Result<Vec<Server>, String> {
        let zone = self.zone_of(name)?;
        let answer = dns::query(self.resolver, &zone, RecordType::NS, true, self.timeout)
            .map_err(|e| format!("resolver {}: NS {zone}: {e}", self.resolver))?;
        let ns_names: Vec<String> = answer
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::NS(ns) => Some(dns::plain(&ns.0)),
                _ => None,
            })
            .collect();
        if ns_names.is_empty() {
            return Err(format!("zone {zone} has no NS records"));
        }
        let mut servers = Vec::new();
        for ns in ns_names {
            let ips = self.resolve(&ns)?;
            if ips.is_empty() {
                return Err(format!("name server {ns} of {zone} has no address"));
            }
            servers.extend(ips.into_iter().map(|ip| Server {
                ns: ns.clone(),
                addr: SocketAddr::new(ip, self.dns_port),
            }));
        }
        Ok(servers)
    }

    /// The zone apex of `name`: the SOA walk up from the name itself.
    fn zone_of(&self, name: &str) -> Result<String, String> {
        let mut candidate = name.trim_end_matches('.').to_ascii_lowercase();
        loop {
            let answer = dns::query(
                self.resolver,
                &candidate,
                RecordType::SOA,
                true,
                self.timeout,
            )
            .map_err(|e| format!("resolver {}: SOA {candidate}: {e}", self.resolver))?;
            if let Some(zone) = soa_owner(&answer, &candidate) {
                return Ok(zone);
            }
            match candidate.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => candidate = parent.to_string(),
                _ => return Err(format!("no zone (SOA) found for {name}")),
            }
        }
    }

    /// One non-recursive question to an authoritative server; only authoritative answers count.
    fn ask(&self, server: SocketAddr, name: &str, rtype: RecordType) -> Result<Message, String> {
        let answer = dns::query(server, name, rtype, false, self.timeout)
            .map_err(|e| format!("{rtype} {name}: {e}"))?;
        match answer.metadata.response_code {
            ResponseCode::NoError | ResponseCode::NXDomain if answer.metadata.authoritative => {
                Ok(answer)
            }
            ResponseCode::NoError | ResponseCode::NXDomain => {
                Err(format!("{rtype} {name}: answer not authoritative"))
            }
            code => Err(format!("{rtype} {name}: {code}")),
        }
    }
}

/// The zone an SOA answer reveals for `name`: an SOA owned by the name itself in the answer, or a
/// negative answer's SOA whose owner encloses the name.
fn soa_owner(answer: &Message, name: &str) -> Option<String> {
    let owned_by = |r: &hickory_proto::rr::Record| {
        matches!(r.data, RData::SOA(_)).then(|| dns::plain(&r.name))
    };
    if let Some(owner) = answer
        .answers
        .iter()
        .filter_map(owned_by)
        .find(|o| o == name)
    {
        return Some(owner);
    }
    answer
        .authorities
        .iter()
        .filter_map(owned_by)
        .find(|o| name == o || name.ends_with(&format!(".{o}")))
}

/// The registered domain of `host`, approximated as its last two labels (the simulator serves test
/// names such as `example.test`, where that is what the Public Suffix List gives); an address stands
/// for itself.
fn registered(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.parse::<IpAddr>().is_ok() {
        return host;
    }
    let labels: Vec<&str> = host.rsplitn(3, '.').collect();
    match labels.as_slice() {
        [tld, name, ..] => format!("{name}.{tld}"),
        _ => host,
    }
}

fn redirect_of(response: &http::HttpResponse) -> Option<String> {
    matches!(response.status, 301 | 302 | 303 | 307 | 308)
        .then(|| response.location.clone())
        .flatten()
}

/// Splits a Location into host, port and path. A relative Location stays on the same host.
fn parse_location(location: &str, host: &str, port: u16) -> Result<(String, u16, String), String> {
    if location.starts_with('/') {
        return Ok((host.to_string(), port, location.to_string()));
    }
    let rest = location
        .strip_prefix("http://")
        .ok_or_else(|| format!("redirect to {location}: only http:// is followed here"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    // Without a port the redirect means "port 80", which in tests is the configured http_port.
    let (name, port_text) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("redirect to {location}: bad IPv6 host"))?;
            (h, after.strip_prefix(':'))
        }
        None => match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    let port = match port_text {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("redirect to {location}: bad port"))?,
        None => port,
    };
    let host = name.to_string();
    Ok((host, port, path))
}

fn describe(result: &Result<Vec<String>, String>) -> String {
    match result {
        Ok(values) if values.is_empty() => "(none)".to_string(),
        Ok(values) => format!("{values:?}"),
        Err(e) => format!("error: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_domains_of_test_names() {
        assert_eq!(registered("shop.example.test"), "example.test");
        assert_eq!(registered("central.Example.test."), "example.test");
        assert_ne!(
            registered("central.example.net"),
            registered("shop.example.test")
        );
        assert_eq!(registered("127.0.0.1"), "127.0.0.1");
    }

    #[test]
    fn locations() {
        assert_eq!(
            parse_location("/x", "a.test", 8080).unwrap(),
            ("a.test".into(), 8080, "/x".into())
        );
        assert_eq!(
            parse_location("http://b.test/y/z", "a.test", 80).unwrap(),
            ("b.test".into(), 80, "/y/z".into())
        );
        assert_eq!(
            parse_location("http://127.0.0.9:81", "a.test", 80).unwrap(),
            ("127.0.0.9".into(), 81, "/".into())
        );
        assert!(parse_location("https://b.test/", "a.test", 80).is_err());
    }
}
