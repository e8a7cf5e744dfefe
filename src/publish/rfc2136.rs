//! The `rfc2136` provider: adds and removes TXT/CNAME records with TSIG-signed DNS UPDATEs sent to the
//! zone's primary server.
//!
//! It owns the UPDATE messages and nothing else: it never waits for secondaries (that is
//! `propagation::dns`), never prints, and never follows CNAMEs (records arrive with final names). Adding
//! always appends (RFC 2136 2.5.1), so other values at a name (a wildcard and its base name share one TXT
//! name; other people's records) survive; cleanup deletes exactly each (name, type, value) it added
//! (2.5.4) and leaves values that were there before. A run's records go out as one UPDATE per zone; when
//! a later zone fails, what earlier zones got is taken back, so `present` is all or nothing.
//!
//! Settings (flags / certbot ini key / default):
//! - `--rfc2136-server HOST[:PORT]` / `dns_rfc2136_server` + `dns_rfc2136_port`: the primary; port 53.
//! - `--tsig-key NAME` / `dns_rfc2136_name`: the TSIG key name; required.
//! - `--tsig-secret-file FILE`, env `DCV_TSIG_SECRET` / `dns_rfc2136_secret`: base64 secret; required.
//! - `--tsig-algorithm` / `dns_rfc2136_algorithm`: hmac-sha256 (also hmac-sha384, hmac-sha512; the
//!   DNS library signs with nothing else, so md5/sha1/sha224 are refused up front). certbot's own
//!   default is HMAC-MD5, so an ini without the key means hmac-sha256 here, not what certbot assumed.
//! - `--rfc2136-zone ZONE`: the zone to update, instead of the SOA walk (split-horizon views).
//! - `--ttl` (60); a per-UPDATE timeout (10 s).

use crate::dnsquery::{self, matches, txt};
use crate::error::{Error, Result};
use crate::publish::Publisher;
use crate::record::{Published, Record, RecordType};
use crate::resolver::{self, Resolver};
use crate::secret::Secret;
use hickory_net::client::Client;
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::udp::UdpClientStream;
use hickory_net::xfer::{DnsHandle, FirstAnswer};
use hickory_net::{DnsError, NetError};
use hickory_proto::op::update_message::UpdateMessage;
use hickory_proto::op::{DnsRequest, Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::{DNSClass, Name, RData, TSigner};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The provider name, as given to `--provider` and stored in `Published.provider`.
pub const PROVIDER: &str = "rfc2136";

/// Seconds of clock difference the server may accept (RFC 8945 recommends 300).
const TSIG_FUDGE: u16 = 300;

/// The algorithms hickory can sign with, in the spelling BIND's `tsig-keygen -a` uses.
const SUPPORTED: &str = "hmac-sha256, hmac-sha384, hmac-sha512";

/// Everything the provider needs, resolved and defaulted before any I/O.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rfc2136Settings {
    /// The primary server that accepts UPDATEs.
    pub server: SocketAddr,
    pub key_name: String,
    /// The TSIG secret, base64.
    pub secret: Secret,
    /// The TSIG algorithm as the user wrote it (`hmac-sha256`, `HMAC-SHA512`, `sha384`, ...).
    pub algorithm: String,
    /// The zone to update; `None` finds it with the SOA walk.
    pub zone: Option<String>,
    pub ttl: u32,
    /// The longest one UPDATE (or the question before it) may take.
    pub timeout: Duration,
}

impl Rfc2136Settings {
    /// Settings with the defaults: hmac-sha256, zone from the SOA walk, TTL 60, 10 s timeout.
    pub fn new(server: SocketAddr, key_name: impl Into<String>, secret: Secret) -> Self {
        Rfc2136Settings {
            server,
            key_name: key_name.into(),
            secret,
            algorithm: "hmac-sha256".into(),
            zone: None,
            ttl: 60,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Reads a certbot-dns-rfc2136 credentials file as certbot writes it: `key = value` lines (values may be
/// quoted), `#`/`;` comments, blank lines; unknown keys are ignored. One `DataErr` lists every missing
/// required key.
pub fn parse_certbot_ini(text: &str) -> Result<Rfc2136Settings> {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty()
            || line.starts_with('#')
            || line.starts_with(';')
            || line.starts_with('[')
        {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(Error::data(format!(
                "rfc2136 credentials: line {} is not `key = value`; fix the file",
                number + 1
            )));
        };
        let value = value.trim();
        let value = strip_quotes(value);
        values.insert(key.trim().to_ascii_lowercase(), value.to_string());
    }
    let get = |key: &str| values.get(key).filter(|v| !v.is_empty()).cloned();

    let required = [
        "dns_rfc2136_server",
        "dns_rfc2136_name",
        "dns_rfc2136_secret",
    ];
    let missing: Vec<&str> = required.into_iter().filter(|k| get(k).is_none()).collect();
    if !missing.is_empty() {
        return Err(Error::data(format!(
            "rfc2136 credentials: missing {}; add them to the file",
            missing.join(", ")
        )));
    }
    let port = match get("dns_rfc2136_port") {
        None => 53,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
            Error::data(format!(
                "rfc2136 credentials: dns_rfc2136_port {p:?} is not a port number; fix the file"
            ))
        })?,
    };
    let server_text = get("dns_rfc2136_server").unwrap_or_default();
    // certbot takes an IP address and a separate port; an explicit port would be ambiguous.
    let server = server_text
        .parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, port))
        .map_err(|_| {
            Error::data(format!(
                "rfc2136 credentials: dns_rfc2136_server {server_text:?} is not an IP address; fix the file"
            ))
        })?;
    let mut settings = Rfc2136Settings::new(
        server,
        get("dns_rfc2136_name").unwrap_or_default(),
        Secret::new(get("dns_rfc2136_secret").unwrap_or_default()),
    );
    if let Some(algorithm) = get("dns_rfc2136_algorithm") {
        settings.algorithm = algorithm;
    }
    Ok(settings)
}

fn strip_quotes(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// Maps a user's algorithm name to hickory's; refuses those hickory cannot sign with.
pub fn parse_algorithm(text: &str) -> Result<TsigAlgorithm> {
    let name = text.trim().trim_end_matches('.').to_ascii_lowercase();
    let bare = name.strip_prefix("hmac-").unwrap_or(&name);
    let algorithm = match bare {
        "sha256" => TsigAlgorithm::HmacSha256,
        "sha384" => TsigAlgorithm::HmacSha384,
        "sha512" => TsigAlgorithm::HmacSha512,
        "md5" | "md5.sig-alg.reg.int" | "sha1" | "sha224" => {
            return Err(Error::config(format!(
                "rfc2136: tsig algorithm {text} is not supported (the DNS library signs only with {SUPPORTED}); generate a key with `tsig-keygen -a hmac-sha256` and pass --tsig-algorithm"
            )));
        }
        _ => {
            return Err(Error::config(format!(
                "rfc2136: unknown tsig algorithm {text:?}; use one of {SUPPORTED}"
            )));
        }
    };
    Ok(algorithm)
}

/// Publishes through RFC 2136 UPDATEs to one primary.
pub struct Rfc2136 {
    settings: Rfc2136Settings,
    signer: TSigner,
    zone: Option<Name>,
    resolver: Arc<Resolver>,
    runtime: tokio::runtime::Runtime,
}

impl Rfc2136 {
    /// Validates the settings once: the secret is base64, the algorithm is one hickory signs with, the
    /// key and zone are DNS names.
    pub fn new(settings: Rfc2136Settings, resolver: Arc<Resolver>) -> Result<Self> {
        let algorithm = parse_algorithm(&settings.algorithm)?;
        if settings.secret.is_empty() {
            return Err(Error::config(
                "rfc2136: the tsig secret is empty; pass --tsig-secret-file or DCV_TSIG_SECRET",
            ));
        }
        // Never echo the secret or the decoder's message (which quotes input bytes).
        let key = data_encoding::BASE64
            .decode(settings.secret.expose().as_bytes())
            .map_err(|_| {
                Error::config(
                    "rfc2136: the tsig secret is not valid base64; copy the `secret` value from the key file",
                )
            })?;
        let key_name = Name::from_ascii(settings.key_name.trim()).map_err(|_| {
            Error::config(format!(
                "rfc2136: tsig key name {:?} is not a valid DNS name; pass --tsig-key",
                settings.key_name
            ))
        })?;
        let signer = TSigner::new(key, algorithm, key_name, TSIG_FUDGE)
            .map_err(|e| Error::config(format!("rfc2136: cannot set up tsig: {e}")))?;
        let zone = match &settings.zone {
            Some(z) => Some(resolver::fqdn(z).map_err(|e| {
                Error::config(format!(
                    "rfc2136: --rfc2136-zone {z:?} is not a valid zone name ({})",
                    e.message()
                ))
            })?),
            None => None,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::software(format!("rfc2136: cannot start the DNS runtime: {e}")))?;
        Ok(Rfc2136 {
            settings,
            signer,
            zone,
            resolver,
            runtime,
        })
    }

    /// The zone for `name`: the override, or the SOA walk; checked to contain `name`.
    fn zone_for(&self, name: &Name) -> Result<Name> {
        let zone = match &self.zone {
            Some(zone) => zone.clone(),
            None => resolver::fqdn(&self.resolver.find_zone(&name.to_ascii())?)?,
        };
        check_inside(name, &zone)?;
        Ok(zone)
    }

    /// Whether the primary already serves exactly this value (asked directly, so no cache lies).
    fn already_there(&self, record: &Record, name: &Name) -> Result<bool> {
        let answer = dnsquery::query(
            self.settings.server,
            name,
            dns_type(record.rtype)?,
            self.settings.timeout,
        )
        .map_err(|e| {
            Error::unavailable(format!(
                "rfc2136: primary {} did not answer ({e}); check --rfc2136-server and that the server is up",
                self.settings.server
            ))
        })?;
        let at_name: Vec<&RData> = answer
            .answers
            .iter()
            .filter(|r| r.name.zone_of(name) && name.zone_of(&r.name))
            .map(|r| &r.data)
            .collect();
        // A name holds one CNAME: adding ours would silently replace someone else's, and cleanup
        // could not bring it back. Refuse before changing anything.
        if record.rtype == RecordType::Cname
            && let Some(RData::CNAME(other)) = at_name
                .iter()
                .find(|d| matches!(d, RData::CNAME(_)) && !matches(record, d))
        {
            return Err(Error::data(format!(
                "rfc2136: {} already is a CNAME to {}; dns-cname-token would replace it: remove it first or use --method dns-txt-token",
                record.name,
                other.0.to_ascii().trim_end_matches('.')
            )));
        }
        Ok(at_name.iter().any(|d| matches(record, d)))
    }

    /// Sends one signed UPDATE for `zone` carrying `records` (already in add or delete form).
    fn send_update(&self, zone: &Name, updates: Vec<hickory_proto::rr::Record>) -> Result<()> {
        let mut message = Message::new(fastrand::u16(..), MessageType::Query, OpCode::Update);
        message.metadata.recursion_desired = false;
        let mut zone_query = Query::new();
        zone_query
            .set_name(zone.clone())
            .set_query_class(DNSClass::IN)
            .set_query_type(hickory_proto::rr::RecordType::SOA);
        message.add_zone(zone_query);
        message.add_updates(updates);
        let mut edns = Edns::new();
        edns.set_max_payload(1232).set_version(0);
        message.set_edns(edns);

        let server = self.settings.server;
        let timeout = self.settings.timeout;
        let signer = self.signer.clone();
        crate::stats::count_dns_query();
        let outcome = self.runtime.block_on(async move {
            let stream = UdpClientStream::builder(server, TokioRuntimeProvider::default())
                .with_timeout(Some(timeout))
                .with_signer(Some(signer))
                .build();
            let (client, background) = Client::<TokioRuntimeProvider>::from_sender(stream);
            let background = tokio::spawn(background);
            // hickory retries a silent server on its own; this bounds the whole exchange.
            let answer = tokio::time::timeout(
                timeout,
                client.send(DnsRequest::from(message)).first_answer(),
            )
            .await;
            background.abort();
            answer
        });
        let response = match outcome {
            Err(_) => return Err(self.unavailable(zone, "timed out")),
            Ok(Err(e)) => return Err(self.net_error(zone, e)),
            Ok(Ok(response)) => response,
        };
        if let Some(tsig_error) = response.signature().and_then(|s| s.data.error) {
            return Err(self.tsig_rejected(zone, &format!("{tsig_error:?}")));
        }
        match response.response_code {
            ResponseCode::NoError => Ok(()),
            code => Err(self.rcode_error(zone, code)),
        }
    }

    fn unavailable(&self, zone: &Name, why: &str) -> Error {
        Error::unavailable(format!(
            "rfc2136: update of zone {} at {} failed: {why}; check --rfc2136-server and that the primary is up, then retry",
            zone_text(zone),
            self.settings.server
        ))
    }

    fn tsig_rejected(&self, zone: &Name, what: &str) -> Error {
        Error::no_perm(format!(
            "rfc2136: {} rejected the update of zone {} ({what}): tsig authentication failed; check that --tsig-key {} and --tsig-algorithm {} match the server's key, the secret is the right one, and the clock is within {TSIG_FUDGE}s of the server's",
            self.settings.server,
            zone_text(zone),
            self.settings.key_name,
            self.settings.algorithm.to_ascii_lowercase(),
        ))
    }

    fn net_error(&self, zone: &Name, error: NetError) -> Error {
        match error {
            NetError::Timeout => self.unavailable(zone, "timed out"),
            NetError::Dns(DnsError::ResponseCode(code)) => self.rcode_error(zone, code),
            NetError::Io(e) => self.unavailable(zone, &e.to_string()),
            other => {
                let text = other.to_string();
                let lower = text.to_ascii_lowercase();
                // A rejected signature comes back unsigned (empty MAC); hickory reports that as a
                // protocol error about truncated HMACs rather than as BADSIG (crates.md).
                if lower.contains("hmac") || lower.contains("tsig") {
                    self.tsig_rejected(zone, "unsigned or badly signed answer")
                } else if lower.contains("refused") {
                    self.unavailable(zone, "connection refused")
                } else {
                    self.unavailable(zone, &text)
                }
            }
        }
    }

    fn rcode_error(&self, zone: &Name, code: ResponseCode) -> Error {
        match code {
            ResponseCode::BADSIG => self.tsig_rejected(zone, "BADSIG"),
            ResponseCode::BADKEY => self.tsig_rejected(zone, "BADKEY"),
            ResponseCode::BADTIME => self.tsig_rejected(zone, "BADTIME"),
            ResponseCode::Refused => Error::no_perm(format!(
                "rfc2136: {} refused the update of zone {}; check that key {} may update these names (update-policy / allow-update)",
                self.settings.server,
                zone_text(zone),
                self.settings.key_name
            )),
            ResponseCode::NotAuth | ResponseCode::NotZone => Error::config(format!(
                "rfc2136: {} is not the primary for zone {} ({}): wrong zone or view: pass --rfc2136-zone with the zone that holds the names, and --rfc2136-server with its primary",
                self.settings.server,
                zone_text(zone),
                if code == ResponseCode::NotAuth {
                    "NOTAUTH"
                } else {
                    "NOTZONE"
                }
            )),
            ResponseCode::ServFail => self.unavailable(zone, "SERVFAIL"),
            other => self.unavailable(zone, &format!("server answered {other}")),
        }
    }
}

impl Publisher for Rfc2136 {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn present(&mut self, records: &[Record]) -> Result<Vec<Published>> {
        // Work out every zone and what is already there before changing anything.
        let mut published = Vec::with_capacity(records.len());
        let mut by_zone: BTreeMap<String, (Name, Vec<hickory_proto::rr::Record>)> = BTreeMap::new();
        for record in records {
            dns_type(record.rtype)?;
            let name = resolver::fqdn(&record.name)?;
            let zone = self.zone_for(&name)?;
            let preexisting = self.already_there(record, &name)?;
            let entry = by_zone
                .entry(zone_text(&zone))
                .or_insert_with(|| (zone.clone(), Vec::new()));
            if !preexisting {
                entry.1.push(hickory_proto::rr::Record::from_rdata(
                    name,
                    self.settings.ttl,
                    rdata(record)?,
                ));
            }
            let mut p = Published::new(record, PROVIDER);
            p.location = zone_text(&zone);
            p.server = Some(self.settings.server.to_string());
            p.preexisting = preexisting;
            published.push(p);
        }

        let mut done: Vec<&str> = Vec::new();
        for (zone_name, (zone, adds)) in &by_zone {
            if adds.is_empty() {
                continue;
            }
            if let Err(error) = self.send_update(zone, adds.clone()) {
                // All or nothing: take back what earlier zones got. A failure here is worth reporting
                // but the original error is the one to act on.
                let added: Vec<Published> = published
                    .iter()
                    .filter(|p| !p.preexisting && done.contains(&p.location.as_str()))
                    .cloned()
                    .collect();
                if let Err(undo) = self.cleanup(&added) {
                    return Err(Error::new(
                        error.kind(),
                        format!(
                            "{}; also could not take back the records added to {}: {}",
                            error.message(),
                            done.join(", "),
                            undo.message()
                        ),
                    ));
                }
                return Err(error);
            }
            done.push(zone_name);
        }
        Ok(published)
    }

    fn cleanup(&mut self, published: &[Published]) -> Result<()> {
        let mut by_zone: BTreeMap<String, (Name, Vec<hickory_proto::rr::Record>)> = BTreeMap::new();
        for p in published
            .iter()
            .filter(|p| p.provider == PROVIDER && !p.preexisting)
        {
            let name = resolver::fqdn(&p.record.name)?;
            let zone = resolver::fqdn(&p.location)?;
            check_inside(&name, &zone)?;
            // RFC 2136 2.5.4: class NONE, TTL 0 deletes exactly this RR; an absent one is ignored.
            let mut delete = hickory_proto::rr::Record::from_rdata(name, 0, rdata(&p.record)?);
            delete.dns_class = DNSClass::NONE;
            by_zone
                .entry(p.location.clone())
                .or_insert_with(|| (zone, Vec::new()))
                .1
                .push(delete);
        }
        // Try every zone even when one fails, so as little as possible is left behind.
        let mut first_error: Option<Error> = None;
        for (zone, deletes) in by_zone.into_values() {
            if let Err(e) = self.send_update(&zone, deletes) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// `Config` error unless `zone` contains `name` (hickory asserts this and would panic).
fn check_inside(name: &Name, zone: &Name) -> Result<()> {
    if zone.zone_of(name) {
        return Ok(());
    }
    Err(Error::config(format!(
        "rfc2136: {} is not inside zone {}; pass --rfc2136-zone with the zone that holds it",
        zone_text(name),
        zone_text(zone)
    )))
}

fn zone_text(name: &Name) -> String {
    resolver::normalize(&name.to_ascii())
}

fn dns_type(rtype: RecordType) -> Result<hickory_proto::rr::RecordType> {
    match rtype {
        RecordType::Txt => Ok(hickory_proto::rr::RecordType::TXT),
        RecordType::Cname => Ok(hickory_proto::rr::RecordType::CNAME),
        RecordType::Http => Err(Error::software(
            "rfc2136: asked to publish an http record; use --provider webroot or exec for http-token",
        )),
    }
}

/// The record's value as hickory record data.
fn rdata(record: &Record) -> Result<RData> {
    match record.rtype {
        RecordType::Txt => Ok(RData::TXT(txt(&record.value))),
        RecordType::Cname => Ok(RData::CNAME(CNAME(resolver::fqdn(&record.value)?))),
        RecordType::Http => Err(dns_type(record.rtype).unwrap_err()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = "# Target DNS server (IPv4 or IPv6 address, not a hostname)
dns_rfc2136_server = 192.0.2.1
# Target DNS port
dns_rfc2136_port = 5353
# TSIG key name
dns_rfc2136_name = keyname.
; TSIG key secret
dns_rfc2136_secret = \"4q4wM/2I180UXoMyN4INVhJNi8V9BCV+jMw2mXgZw/CSuxUT8C7NKKFs\"

dns_rfc2136_algorithm = HMAC-SHA512
dns_rfc2136_sign_query = false
";

    #[test]
    fn certbot_ini_table() {
        struct Case {
            desc: &'static str,
            text: &'static str,
            want: std::result::Result<(&'static str, &'static str, &'static str), &'static str>,
        }
        let cases = [
            Case {
                desc: "certbot's documented example, quoted secret, unknown key ignored",
                text: FULL,
                want: Ok(("192.0.2.1:5353", "keyname.", "HMAC-SHA512")),
            },
            Case {
                desc: "defaults: port 53, hmac-sha256",
                text: "dns_rfc2136_server=2001:db8::1\ndns_rfc2136_name=k\ndns_rfc2136_secret=AAAA\n",
                want: Ok(("[2001:db8::1]:53", "k", "hmac-sha256")),
            },
            Case {
                desc: "every missing key in one message",
                text: "# nothing\n\ndns_rfc2136_port = 53\n",
                want: Err("missing dns_rfc2136_server, dns_rfc2136_name, dns_rfc2136_secret"),
            },
            Case {
                desc: "empty value counts as missing",
                text: "dns_rfc2136_server = 192.0.2.1\ndns_rfc2136_name =\ndns_rfc2136_secret = AAAA\n",
                want: Err("missing dns_rfc2136_name;"),
            },
            Case {
                desc: "hostname server",
                text: "dns_rfc2136_server = ns.example.com\ndns_rfc2136_name = k\ndns_rfc2136_secret = AAAA\n",
                want: Err("is not an ip address"),
            },
            Case {
                desc: "bad port",
                text: "dns_rfc2136_server = 192.0.2.1\ndns_rfc2136_port = http\ndns_rfc2136_name = k\ndns_rfc2136_secret = AAAA\n",
                want: Err("is not a port number"),
            },
            Case {
                desc: "line without equals",
                text: "dns_rfc2136_server 192.0.2.1\n",
                want: Err("line 1 is not"),
            },
        ];
        for case in cases {
            let got = parse_certbot_ini(case.text);
            match (got, case.want) {
                (Ok(s), Ok((server, key, algorithm))) => {
                    assert_eq!(s.server.to_string(), server, "{}", case.desc);
                    assert_eq!(s.key_name, key, "{}", case.desc);
                    assert_eq!(s.algorithm, algorithm, "{}", case.desc);
                    assert_eq!(s.ttl, 60, "{}", case.desc);
                }
                (Err(e), Err(want)) => {
                    assert_eq!(e.kind(), crate::error::Kind::DataErr, "{}", case.desc);
                    assert!(
                        e.message().to_ascii_lowercase().contains(want),
                        "{}: {e}",
                        case.desc
                    );
                    assert!(
                        !e.message().contains("4q4wM"),
                        "{}: secret leaked",
                        case.desc
                    );
                }
                (got, want) => panic!("{}: got {got:?}, want {want:?}", case.desc),
            }
        }
    }

    #[test]
    fn secret_from_ini_is_unquoted_and_hidden() {
        let s = parse_certbot_ini(FULL).unwrap();
        assert!(s.secret.expose().starts_with("4q4wM"));
        assert!(!format!("{s:?}").contains("4q4wM"));
    }

    #[test]
    fn algorithms_table() {
        let table = [
            ("hmac-sha256", Some(TsigAlgorithm::HmacSha256)),
            ("HMAC-SHA512", Some(TsigAlgorithm::HmacSha512)),
            ("sha384", Some(TsigAlgorithm::HmacSha384)),
            ("hmac-sha256.", Some(TsigAlgorithm::HmacSha256)),
            ("HMAC-MD5", None),
            ("hmac-md5.sig-alg.reg.int", None),
            ("hmac-sha1", None),
            ("hmac-sha224", None),
            ("rot13", None),
        ];
        for (text, want) in table {
            match (parse_algorithm(text), want) {
                (Ok(got), Some(want)) => assert_eq!(got, want, "{text}"),
                (Err(e), None) => {
                    assert_eq!(e.kind(), crate::error::Kind::Config, "{text}");
                    assert!(e.message().contains(SUPPORTED), "{text}: {e}");
                }
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn new_validates_secret_without_echoing_it() {
        let resolver = Arc::new(Resolver::new(&["127.0.0.1:53".parse().unwrap()]).unwrap());
        let mut settings = Rfc2136Settings::new(
            "127.0.0.1:53".parse().unwrap(),
            "k",
            Secret::new("not base64 !!secretvalue"),
        );
        let err = Rfc2136::new(settings.clone(), resolver.clone())
            .err()
            .expect("bad base64");
        assert_eq!(err.kind(), crate::error::Kind::Config);
        assert!(!err.message().contains("secretvalue"), "{err}");

        settings.secret = Secret::new("AAAA");
        settings.algorithm = "hmac-md5".into();
        let err = Rfc2136::new(settings.clone(), resolver.clone())
            .err()
            .expect("md5");
        assert_eq!(err.kind(), crate::error::Kind::Config);

        settings.algorithm = "hmac-sha256".into();
        assert!(Rfc2136::new(settings, resolver).is_ok());
    }

    #[test]
    fn names_outside_the_zone_are_a_config_error_not_a_panic() {
        let name = resolver::fqdn("_acme-challenge.example.org").unwrap();
        let zone = resolver::fqdn("example.com").unwrap();
        let err = check_inside(&name, &zone).unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::Config);
        assert!(err.message().contains("--rfc2136-zone"), "{err}");
        assert!(check_inside(&name, &resolver::fqdn("example.org").unwrap()).is_ok());
    }
}
