//! HTTP propagation check: every A/AAAA address of a host must serve the token.
//!
//! For each HTTP record the host's addresses come from the resolver (`--resolver`); one probe per
//! address fetches the URL from exactly that address through [`crate::http_fetch`] (the `Host`
//! header is the real name), following redirects by the CA's rule (DigiCert's for http-token: 301,
//! 302, 307, 308, at most 5 hops, same registered domain, ports 80 and 443; Let's Encrypt's for
//! ACME http-01), and compares the body, trimmed, with the token. Connects to port 80 unless
//! `--http-port` says otherwise.

use super::{Observation, Probe, PropagationCheck};
use crate::error::{Error, Result};
use crate::http_fetch::{Broken, Fetcher, Outcome, RedirectRule, Request};
use crate::record::Record;
use crate::resolver::Resolver;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Finds every web address of each record's host.
pub struct HttpCheck {
    resolver: Arc<Resolver>,
    port: u16,
    fetcher: Arc<Fetcher>,
}

impl HttpCheck {
    pub fn new(resolver: Arc<Resolver>, port: u16, request_timeout: Duration) -> HttpCheck {
        HttpCheck {
            resolver,
            port,
            // One client (and its runtime thread) per (host, address), shared by the probes.
            fetcher: Arc::new(Fetcher::new(
                "propagation check",
                request_timeout,
                request_timeout,
            )),
        }
    }
}

impl PropagationCheck for HttpCheck {
    fn probes(&self, records: &[Record]) -> Result<Vec<Box<dyn Probe>>> {
        let mut probes: Vec<Box<dyn Probe>> = Vec::new();
        for record in records {
            let (host, path) = record
                .http()
                .map(|url| (url.host.as_str(), url.path.as_str()))
                .ok_or_else(|| Error::software(format!("the HTTP check cannot check {record}")))?;
            let addresses = super::keep_routable(host, self.resolver.addresses(host)?);
            for address in addresses {
                let url = if self.port == 80 {
                    format!("http://{host}{path}")
                } else {
                    format!("http://{host}:{}{path}", self.port)
                };
                probes.push(Box::new(HttpProbe {
                    record: record.clone(),
                    host: host.to_string(),
                    rule: RedirectRule::for_path(path),
                    url,
                    address: SocketAddr::new(address, self.port),
                    fetcher: self.fetcher.clone(),
                    resolver: self.resolver.clone(),
                    seen: std::sync::Mutex::new(None),
                }));
            }
        }
        Ok(probes)
    }
}

/// GETs one URL from one address.
struct HttpProbe {
    record: Record,
    host: String,
    rule: RedirectRule,
    url: String,
    address: SocketAddr,
    fetcher: Arc<Fetcher>,
    /// Finds the address of a name a redirect leads to.
    resolver: Arc<Resolver>,
    /// An answer waiting will not fix, and since when it has been given (see [`GIVE_UP_AFTER`]).
    seen: std::sync::Mutex<Option<(Unserved, std::time::Instant)>>,
}

impl Probe for HttpProbe {
    fn record(&self) -> &Record {
        &self.record
    }

    fn server(&self) -> String {
        self.address.to_string()
    }

    fn observe(&self, within: Duration) -> Observation {
        self.persisting(self.ask(within))
    }
}

/// The most of a body the check reads (see `ask`).
const MAX_BODY: u64 = 64 * 1024;

/// How long the same answer that waiting will not fix (see [`advice`]) may last before the wait gives
/// up on it.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(30);

/// What a web address answered instead of the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unserved {
    /// A status other than 2xx.
    Status(u16),
    /// A 2xx with a body that is not the token (its first characters).
    OtherContent(u16, String),
    /// A redirect the CA does not follow.
    Redirect(Broken),
}

impl std::fmt::Display for Unserved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unserved::Status(status) => write!(f, "HTTP {status}"),
            Unserved::OtherContent(status, start) => {
                write!(f, "HTTP {status} with other content {start:?}")
            }
            Unserved::Redirect(broken) => f.write_str(&broken.seen),
        }
    }
}

/// The doctor's code and fix for an answer that means the web server will not serve the file however
/// long one waits (401, 403, 5xx, a redirect the CA does not follow); `None` for answers that may still change
/// (404: the file is not there yet).
pub fn advice(answer: &Unserved) -> Option<(&'static str, &'static str)> {
    match answer {
        Unserved::Status(403) => Some((
            "http.status.403",
            "let the web server's user read the file and its directories (mode, owner, SELinux) and drop deny rules for /.well-known/",
        )),
        Unserved::Status(401) => Some((
            "http.status.401",
            "exempt /.well-known/ from authentication",
        )),
        Unserved::Status(500..=599) => Some((
            "http.status.5xx",
            "fix the web server (its error log says why) so it serves static files under /.well-known/",
        )),
        Unserved::Redirect(broken) => Some((broken.code, broken.fix)),
        _ => None,
    }
}

impl HttpProbe {
    /// Reports an answer waiting will not fix at once (on stderr, also under certbot) and turns it
    /// into [`Observation::Failed`] once it has lasted [`GIVE_UP_AFTER`].
    fn persisting(&self, answer: std::result::Result<Observation, Unserved>) -> Observation {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let answer = match answer {
            Ok(observation) => {
                *seen = None;
                return observation;
            }
            Err(answer) => answer,
        };
        let observation = Observation::Missing(answer.to_string());
        let Some((code, fix)) = advice(&answer) else {
            *seen = None;
            return observation;
        };
        match seen.as_ref() {
            Some((same, since)) if *same == answer => {
                if since.elapsed() >= GIVE_UP_AFTER {
                    return Observation::Failed(format!(
                        "{answer} for {}s ({code}): {fix}",
                        GIVE_UP_AFTER.as_secs()
                    ));
                }
            }
            _ => {
                crate::ui::warn(&format!(
                    "{} answers {answer} for {} ({code}): {fix}; giving up if it lasts {}s",
                    self.server(),
                    self.url,
                    GIVE_UP_AFTER.as_secs()
                ));
                *seen = Some((answer, std::time::Instant::now()));
            }
        }
        observation
    }

    /// Served or unreachable, or what the address served instead.
    fn ask(&self, within: Duration) -> std::result::Result<Observation, Unserved> {
        let request = Request {
            url: &self.url,
            host: &self.host,
            addr: self.address.ip(),
            rule: self.rule,
            max_body: MAX_BODY,
            within,
        };
        let resolve = |name: &str| {
            let found = self.resolver.addresses(name).ok()?;
            found.first().copied()
        };
        let (status, body) = match self.fetcher.fetch(&request, &resolve).outcome {
            Outcome::Answered { status, body, .. } => (status, body),
            Outcome::Refused(broken) => return Err(Unserved::Redirect(broken)),
            Outcome::TimedOut => return Ok(Observation::Unreachable("timed out".into())),
            Outcome::NoConnection(why) | Outcome::Unreachable(why) => {
                return Ok(Observation::Unreachable(why));
            }
        };
        if !(200..300).contains(&status) {
            return Err(Unserved::Status(status));
        }
        let body = String::from_utf8_lossy(&body);
        if body.trim() == self.record.value.trim() {
            return Ok(Observation::Served);
        }
        Err(Unserved::OtherContent(
            status,
            body.trim().chars().take(40).collect(),
        ))
    }
}
