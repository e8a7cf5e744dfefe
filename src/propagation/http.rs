//! HTTP propagation check: every A/AAAA address of a host must serve the token.
//!
//! For each HTTP record the host's addresses come from the resolver (`--resolver`); one probe per
//! address GETs the URL from exactly that address (DNS overridden for the host, so the `Host` header
//! is the real name), follows at most one redirect (as DigiCert does), and compares the body, trimmed,
//! with the token. Connects to port 80 unless `--http-port` says otherwise.

use super::{Observation, Probe, PropagationCheck};
use crate::error::{Error, Result};
use crate::record::{Record, RecordType};
use crate::resolver::Resolver;
use crate::stats;
use reqwest::blocking::Client;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Finds every web address of each record's host.
pub struct HttpCheck {
    resolver: Arc<Resolver>,
    port: u16,
    request_timeout: Duration,
}

impl HttpCheck {
    pub fn new(resolver: Arc<Resolver>, port: u16, request_timeout: Duration) -> HttpCheck {
        HttpCheck {
            resolver,
            port,
            request_timeout,
        }
    }
}

impl PropagationCheck for HttpCheck {
    fn probes(&self, records: &[Record]) -> Result<Vec<Box<dyn Probe>>> {
        let mut probes: Vec<Box<dyn Probe>> = Vec::new();
        // One client (and its runtime thread) per (host, address), shared by that host's records.
        let mut clients: std::collections::HashMap<(String, IpAddr), Client> =
            std::collections::HashMap::new();
        for record in records {
            let (host, path) = record
                .http_host_and_path()
                .filter(|_| record.rtype == RecordType::Http)
                .ok_or_else(|| Error::software(format!("the HTTP check cannot check {record}")))?;
            let addresses = super::keep_routable(host, self.resolver.addresses(host)?);
            for address in addresses {
                let client = match clients.get(&(host.to_string(), address)) {
                    Some(c) => c.clone(),
                    None => {
                        let c = client_for(host, address, self.request_timeout)?;
                        clients.insert((host.to_string(), address), c.clone());
                        c
                    }
                };
                probes.push(Box::new(HttpProbe::new(
                    record, host, path, address, self.port, client,
                )));
            }
        }
        Ok(probes)
    }
}

/// GETs one URL from one address.
struct HttpProbe {
    record: Record,
    url: String,
    address: IpAddr,
    port: u16,
    client: Client,
    /// An answer waiting will not fix, and since when it has been given (see [`GIVE_UP_AFTER`]).
    seen: std::sync::Mutex<Option<(Unserved, std::time::Instant)>>,
}

/// A client that sends every request for `host` to `address`, following at most one redirect.
fn client_for(host: &str, address: IpAddr, timeout: Duration) -> Result<Client> {
    // Port 0 lets reqwest use each scheme's own port, so a redirect to https goes to 443 of the same
    // address; a non-default --http-port is put into the URL instead.
    crate::http_client::builder("propagation check")
        .resolve(host, SocketAddr::new(address, 0))
        .redirect(reqwest::redirect::Policy::limited(1))
        .timeout(timeout)
        .build()
        .map_err(|e| Error::software(format!("cannot build the HTTP client: {e}")))
}

impl HttpProbe {
    fn new(
        record: &Record,
        host: &str,
        path: &str,
        address: IpAddr,
        port: u16,
        client: Client,
    ) -> HttpProbe {
        let url = if port == 80 {
            format!("http://{host}{path}")
        } else {
            format!("http://{host}:{port}{path}")
        };
        HttpProbe {
            record: record.clone(),
            url,
            address,
            port,
            client,
            seen: std::sync::Mutex::new(None),
        }
    }
}

impl Probe for HttpProbe {
    fn record(&self) -> &Record {
        &self.record
    }

    fn server(&self) -> String {
        SocketAddr::new(self.address, self.port).to_string()
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
    /// A redirect beyond the one followed.
    TooManyRedirects,
}

impl std::fmt::Display for Unserved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unserved::Status(status) => write!(f, "HTTP {status}"),
            Unserved::OtherContent(status, start) => {
                write!(f, "HTTP {status} with other content {start:?}")
            }
            Unserved::TooManyRedirects => f.write_str("more than one redirect"),
        }
    }
}

/// The doctor's code and fix for an answer that means the web server will not serve the file however
/// long one waits (401, 403, 5xx, a redirect not followed); `None` for answers that may still change
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
        Unserved::TooManyRedirects => Some((
            "http.redirect.too_many",
            "serve the file with at most one redirect, on the same name, to port 80 or 443",
        )),
        _ => None,
    }
}

/// One answer of a web address.
enum Answer {
    Served,
    Unserved(Unserved),
    Unreachable(String),
}

impl HttpProbe {
    /// Reports an answer waiting will not fix at once (on stderr, also under certbot) and turns it
    /// into [`Observation::Failed`] once it has lasted [`GIVE_UP_AFTER`].
    fn persisting(&self, answer: Answer) -> Observation {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let answer = match answer {
            Answer::Served => {
                *seen = None;
                return Observation::Served;
            }
            Answer::Unreachable(why) => {
                *seen = None;
                return Observation::Unreachable(why);
            }
            Answer::Unserved(answer) => answer,
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

    fn ask(&self, within: Duration) -> Answer {
        stats::count_http_request();
        let response = match self.client.get(&self.url).timeout(within).send() {
            Ok(r) => r,
            Err(e) if e.is_redirect() => return Answer::Unserved(Unserved::TooManyRedirects),
            Err(e) if e.is_timeout() => return Answer::Unreachable("timed out".into()),
            Err(e) if e.is_connect() => return Answer::Unreachable("connection failed".into()),
            Err(e) => return Answer::Unreachable(e.to_string()),
        };
        let status = response.status();
        if !status.is_success() {
            return Answer::Unserved(Unserved::Status(status.as_u16()));
        }
        // A token file is a few dozen bytes and DigiCert reads at most 5000: read no more than
        // MAX_BODY, so a huge page is "other content" at once, not a slow read against the deadline.
        let mut body = Vec::new();
        let read = response.take(MAX_BODY).read_to_end(&mut body);
        match read.map(|_| String::from_utf8_lossy(&body)) {
            Ok(body) if body.trim() == self.record.value.trim() => Answer::Served,
            Ok(body) => Answer::Unserved(Unserved::OtherContent(
                status.as_u16(),
                body.trim().chars().take(40).collect(),
            )),
            Err(e) => Answer::Unreachable(format!("body could not be read: {e}")),
        }
    }
}
